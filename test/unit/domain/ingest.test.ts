import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideIngest,
  type IncomingRequest,
  MAX_WEBHOOK_BODY_BYTES,
} from '../../../lambdas/shared/domain/ingest.js';
import { Providers } from '../../../lambdas/shared/domain/providers.js';
import { signRequest } from '../../../lambdas/shared/domain/signature.js';
import type { Webhook } from '../../../lambdas/shared/domain/webhook.js';
import { payload } from '../../fixtures/payloads.js';

const NOW = new Date('2026-12-03T10:00:00Z');
const SECONDS = NOW.getTime() / 1000;
const SECRET = 'test_secret_0123456789';

const webhook = (provider: Webhook['provider']): Webhook => ({
  webhookId: 'wh_1',
  name: provider,
  provider,
  status: 'active',
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
});

const post = (
  body: Buffer,
  headers: Record<string, string> = {}
): IncomingRequest => ({ method: 'POST', headers, query: {}, body });

const signedStripe = (body: Buffer, extra: Record<string, string> = {}) =>
  post(body, {
    ...signRequest(Providers.stripe.scheme, body, SECRET, SECONDS),
    'content-type': 'application/json',
    ...extra,
  });

describe('decideIngest', () => {
  it('accepts a signed Stripe event with its key and id', () => {
    const body = payload('stripe-charge-failed.json');

    const decision = decideIngest(
      signedStripe(body),
      webhook('stripe'),
      { current: SECRET },
      NOW
    );

    expect(decision).toMatchObject({
      kind: 'accept',
      message: {
        webhookId: 'wh_1',
        eventKey: 'charge.failed',
        providerEventId: 'evt_000000000000000000000000',
        body: body.toString('utf8'),
        bodyEncoding: 'utf8',
      },
    });
  });

  it('gives every delivery of one event its provider event id', () => {
    const body = payload('stripe-charge-failed.json');
    const first = decideIngest(
      signedStripe(body),
      webhook('stripe'),
      { current: SECRET },
      NOW
    );
    const later = new Date(NOW.getTime() + 60_000);
    const retry = decideIngest(
      post(
        body,
        signRequest(
          Providers.stripe.scheme,
          body,
          SECRET,
          later.getTime() / 1000
        )
      ),
      webhook('stripe'),
      { current: SECRET },
      later
    );

    expect(first.kind === 'accept' && retry.kind === 'accept').toBe(true);
    if (first.kind === 'accept' && retry.kind === 'accept') {
      expect(retry.message.providerEventId).toBe(first.message.providerEventId);
      expect(retry.message.eventId).not.toBe(first.message.eventId);
    }
  });

  it('keeps a body that is not UTF-8 as base64, byte for byte', () => {
    const body = Buffer.from([0xff, 0xfe, 0x00, 0x41]);

    const decision = decideIngest(
      signedStripe(body),
      webhook('stripe'),
      { current: SECRET },
      NOW
    );

    expect(decision).toMatchObject({
      kind: 'accept',
      message: { body: body.toString('base64'), bodyEncoding: 'base64' },
    });
  });

  it.each([
    [
      'escaped slashes and ampersands',
      '{"url":"https:\\/\\/x.test\\/?a=1\\u0026b=2"}',
    ],
    ['emoji and non-Latin text', '{"note":"Gracias 🙏 — 注文ありがとう"}'],
    ['upper-case escapes', '{"note":"\\u001B[31m"}'],
    ['pretty printing and a final newline', '{\n  "id": 1\n}\n'],
  ])('verifies %s over the bytes as sent', (_label, text) => {
    const body = Buffer.from(text, 'utf8');

    const decision = decideIngest(
      signedStripe(body),
      webhook('stripe'),
      { current: SECRET },
      NOW
    );

    expect(decision).toMatchObject({ kind: 'accept', message: { body: text } });
  });

  it('verifies when repeated signature headers arrive comma-joined', () => {
    // API Gateway joins repeated headers with commas (payload format 2.0).
    const body = payload('stripe-charge-failed.json');
    const stale = signRequest(
      Providers.stripe.scheme,
      body,
      'old_secret_0123',
      SECONDS
    );
    const fresh = signRequest(Providers.stripe.scheme, body, SECRET, SECONDS);
    const joined = `${stale['stripe-signature']},${fresh['stripe-signature']}`;

    const decision = decideIngest(
      post(body, { 'stripe-signature': joined }),
      webhook('stripe'),
      { current: SECRET },
      NOW
    );

    expect(decision.kind).toBe('accept');
  });

  it('answers 404 for an unknown webhook', () => {
    const decision = decideIngest(
      post(Buffer.from('{}')),
      undefined,
      undefined,
      NOW
    );

    expect(decision).toMatchObject({ status: 404, code: 'webhook_not_found' });
  });

  it('answers 405 with the allowed methods for another method', () => {
    const decision = decideIngest(
      { method: 'PUT', headers: {}, query: {}, body: Buffer.alloc(0) },
      webhook('stripe'),
      { current: SECRET },
      NOW
    );

    expect(decision).toMatchObject({
      status: 405,
      code: 'method_not_allowed',
      allow: 'POST',
    });
  });

  it('answers 413 for a body over the limit', () => {
    const body = Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 1, 0x20);

    const decision = decideIngest(
      signedStripe(body),
      webhook('stripe'),
      { current: SECRET },
      NOW
    );

    expect(decision).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('answers 401 with one generic code whatever part failed', () => {
    const body = payload('stripe-charge-failed.json');
    const tampered = Buffer.from(body.toString().replace('2000', '2001'));
    const signed = signRequest(Providers.stripe.scheme, body, SECRET, SECONDS);

    const decisions = [
      post(body),
      post(body, { 'stripe-signature': 'garbage' }),
      post(tampered, signed),
      post(body, signRequest(Providers.stripe.scheme, body, 'other', SECONDS)),
    ].map((request) =>
      decideIngest(request, webhook('stripe'), { current: SECRET }, NOW)
    );

    for (const decision of decisions) {
      expect(decision).toMatchObject({
        status: 401,
        code: 'invalid_signature',
      });
    }
  });

  describe('WooCommerce', () => {
    it('answers the unsigned creation ping with 200 and queues nothing', () => {
      const request = post(Buffer.from('webhook_id=12'), {
        'content-type': 'application/x-www-form-urlencoded',
      });

      const decision = decideIngest(
        request,
        webhook('woocommerce'),
        { current: SECRET },
        NOW
      );

      expect(decision).toEqual({ kind: 'ping' });
    });

    it('still refuses an unsigned JSON body', () => {
      const request = post(payload('woocommerce-order-created.json'));

      const decision = decideIngest(
        request,
        webhook('woocommerce'),
        { current: SECRET },
        NOW
      );

      expect(decision).toMatchObject({ status: 401 });
    });
  });

  describe('Meta subscription challenge', () => {
    const challenge = (token: string, mode = 'subscribe'): IncomingRequest => ({
      method: 'GET',
      headers: {},
      query: {
        'hub.mode': mode,
        'hub.verify_token': token,
        'hub.challenge': '1158201444',
      },
      body: Buffer.alloc(0),
    });
    const record = { current: SECRET, verifyToken: 'verify-me-0123' };

    it('echoes the challenge when the verify token matches', () => {
      const decision = decideIngest(
        challenge('verify-me-0123'),
        webhook('meta'),
        record,
        NOW
      );

      expect(decision).toEqual({ kind: 'challenge', answer: '1158201444' });
    });

    it.each([
      ['a wrong token', challenge('verify-me-0124')],
      ['another mode', challenge('verify-me-0123', 'unsubscribe')],
      // As many characters as the token, but more bytes.
      ['a same-length token in other bytes', challenge('éerify-me-0123')],
      ['an empty token', challenge('')],
    ])('answers 403 for %s', (_label, request) => {
      const decision = decideIngest(request, webhook('meta'), record, NOW);

      expect(decision).toMatchObject({ status: 403, code: 'challenge_failed' });
    });
  });

  it('never accepts a forgery and never throws, whatever arrives', () => {
    const headerName = fc.constantFrom(
      'stripe-signature',
      'Stripe-Signature',
      'x-shopify-hmac-sha256',
      'webhook-signature',
      'content-type'
    );
    fc.assert(
      fc.property(
        fc.constantFrom(
          ...(Object.keys(Providers) as (keyof typeof Providers)[])
        ),
        fc.uint8Array({ maxLength: 2048 }),
        fc.dictionary(headerName, fc.string({ maxLength: 200 })),
        fc.constantFrom('POST', 'GET', 'PUT', 'DELETE'),
        (provider, bytes, headers, method) => {
          const request = {
            method,
            headers,
            query: {},
            body: Buffer.from(bytes),
          };

          const decision = decideIngest(
            request,
            webhook(provider),
            { current: SECRET },
            NOW
          );

          expect(decision.kind).not.toBe('accept');
          if (decision.kind === 'reject')
            expect(decision.status).toBeLessThan(500);
        }
      ),
      { numRuns: 2_000 }
    );
  });
});
