import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  genericPreset,
  genericSourceSchema,
  Providers,
  readField,
} from '../../../lambdas/shared/domain/providers.js';
import {
  signRequest,
  verifySignature,
} from '../../../lambdas/shared/domain/signature.js';
import { payload } from '../../fixtures/payloads.js';

const NOW = 1_764_000_000;

describe('provider presets: known-answer vectors', () => {
  it('verifies the Standard Webhooks reference vector', () => {
    // Source: standard-webhooks/standard-webhooks,
    // libraries/javascript/src/webhook.test.ts, "sign function works".
    const headers = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    const body = Buffer.from('{"test": 2432232314}');

    const result = verifySignature(
      Providers['standard-webhooks'].scheme,
      { body, headers },
      ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      1614265330
    );

    expect(result).toEqual({ ok: true, timestamp: 1614265330 });
  });

  it('verifies the reference vector when its header was sent twice', () => {
    // A repeated header arrives comma-joined: "v1,<other>, v1,<vector>".
    const headers = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature':
        'v1,BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=, v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    const body = Buffer.from('{"test": 2432232314}');

    const result = verifySignature(
      Providers['standard-webhooks'].scheme,
      { body, headers },
      ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      1614265330
    );

    expect(result).toEqual({ ok: true, timestamp: 1614265330 });
  });

  it('signs the Standard Webhooks reference vector identically', () => {
    const headers = signRequest(
      Providers['standard-webhooks'].scheme,
      Buffer.from('{"test": 2432232314}'),
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      1614265330,
      'msg_p5jXN8AQM9LWM0D4loKWxJek'
    );

    expect(headers).toEqual({
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      'webhook-timestamp': '1614265330',
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    });
  });

  it.each(['github', 'meta'] as const)(
    'verifies GitHub’s published X-Hub-Signature-256 vector with %s',
    (provider) => {
      // Source: docs.github.com, "Validating webhook deliveries", testing
      // the webhook payload validation.
      const headers = {
        'X-Hub-Signature-256':
          'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
      };

      const result = verifySignature(
        Providers[provider].scheme,
        { body: Buffer.from('Hello, World!'), headers },
        ["It's a Secret to Everybody"],
        NOW
      );

      expect(result.ok).toBe(true);
    }
  );

  it('accepts one valid signature among several Standard Webhooks entries', () => {
    const scheme = Providers['standard-webhooks'].scheme;
    const body = Buffer.from('{"type":"contact.created"}');
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const signed = signRequest(scheme, body, secret, NOW, 'msg_1');
    const headers = {
      ...signed,
      'webhook-signature': [
        'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
        'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
        signed['webhook-signature'],
      ].join(' '),
    };

    expect(verifySignature(scheme, { body, headers }, [secret], NOW).ok).toBe(
      true
    );
  });
});

describe('provider presets: documented algorithms over the samples', () => {
  it('verifies WooCommerce with the secret’s HTML entities decoded', () => {
    // WooCommerce hashes with wp_specialchars_decode($secret, ENT_QUOTES).
    const body = payload('woocommerce-order-created.json');
    const digest = createHmac('sha256', `a&b"c'd`)
      .update(body)
      .digest('base64');
    const headers = { 'X-WC-Webhook-Signature': digest };

    const result = verifySignature(
      Providers.woocommerce.scheme,
      { body, headers },
      ['a&amp;b&quot;c&#039;d'],
      NOW
    );

    expect(result.ok).toBe(true);
  });

  it('verifies Razorpay: hex HMAC-SHA256 of the raw body', () => {
    const body = payload('razorpay-payment-failed.json');
    const digest = createHmac('sha256', 'rzp_secret')
      .update(body)
      .digest('hex');

    const result = verifySignature(
      Providers.razorpay.scheme,
      { body, headers: { 'x-razorpay-signature': digest } },
      ['rzp_secret'],
      NOW
    );

    expect(result.ok).toBe(true);
  });

  it('verifies a WhatsApp status callback over Meta’s exact bytes', () => {
    const body = payload('whatsapp-status-delivered.json');
    const digest = createHmac('sha256', 'app_secret')
      .update(body)
      .digest('hex');

    const result = verifySignature(
      Providers.meta.scheme,
      { body, headers: { 'x-hub-signature-256': `sha256=${digest}` } },
      ['app_secret'],
      NOW
    );

    expect(result.ok).toBe(true);
  });
});

describe('event keys and ids', () => {
  it.each([
    [
      'woocommerce',
      'woocommerce-order-created.json',
      { 'x-wc-webhook-topic': 'order.created' },
      'order.created',
      'order.created:727:2017-03-22T19:28:08',
    ],
    [
      'razorpay',
      'razorpay-payment-failed.json',
      { 'x-razorpay-event-id': 'JL5Ai0Gcj5r9cR' },
      'payment.failed',
      'JL5Ai0Gcj5r9cR',
    ],
    ['meta', 'whatsapp-status-read.json', {}, 'messages', undefined],
    [
      'stripe',
      'stripe-charge-failed.json',
      {},
      'charge.failed',
      'evt_000000000000000000000000',
    ],
  ] as const)('reads %s', (provider, file, headers, key, id) => {
    const preset = Providers[provider];
    const body = JSON.parse(payload(file).toString());

    expect(readField(preset.eventKey, headers, body)).toBe(key);
    expect(
      'eventId' in preset ? readField(preset.eventId, headers, body) : undefined
    ).toBe(id);
  });
});

describe('generic sources', () => {
  it('verifies a timestamped sha512 base64 scheme described by an admin', () => {
    const source = genericSourceSchema.parse({
      header: ['X-ERP-Signature'],
      prefix: 'v1=',
      algorithm: 'sha512',
      encoding: 'base64',
      signedContent: '{timestamp}:{body}',
      timestampHeader: ['X-ERP-Timestamp'],
      toleranceSeconds: 120,
      eventKey: { bodyPath: 'event' },
    });
    const body = Buffer.from('{"event":"invoice.overdue"}');
    const digest = createHmac('sha512', 'erp-secret')
      .update(`${NOW}:`)
      .update(body)
      .digest('base64');
    const headers = {
      'x-erp-signature': `v1=${digest}`,
      'x-erp-timestamp': String(NOW),
    };
    const preset = genericPreset(source);

    expect(
      verifySignature(
        preset.scheme,
        { body, headers },
        ['erp-secret'],
        NOW + 119
      )
    ).toEqual({ ok: true, timestamp: NOW });
    expect(
      verifySignature(
        preset.scheme,
        { body, headers },
        ['erp-secret'],
        NOW - 121
      )
    ).toEqual({ ok: false, reason: 'timestamp_outside_tolerance' });
  });

  it('gives a signed timestamp a five-minute window by default', () => {
    const source = genericSourceSchema.parse({
      header: ['x-sig'],
      algorithm: 'sha256',
      encoding: 'hex',
      signedContent: '{timestamp}.{body}',
      timestampHeader: ['x-ts'],
      eventKey: { header: ['x-event'] },
    });

    expect(genericPreset(source).scheme.toleranceSeconds).toBe(300);
  });

  it.each([
    ['an unknown placeholder', { signedContent: '{ts}.{body}' }],
    ['a tolerance without a timestamp', { toleranceSeconds: 60 }],
  ])('refuses %s', (_label, change) => {
    const result = genericSourceSchema.safeParse({
      header: ['x-sig'],
      algorithm: 'sha256',
      encoding: 'hex',
      eventKey: { header: ['x-event'] },
      ...change,
    });

    expect(result.success).toBe(false);
  });

  it('refuses a signed string that needs a header it does not name', () => {
    const result = genericSourceSchema.safeParse({
      header: ['x-sig'],
      algorithm: 'sha256',
      encoding: 'hex',
      signedContent: '{timestamp}.{body}',
      eventKey: { header: ['x-event'] },
    });

    expect(result.success).toBe(false);
  });
});
