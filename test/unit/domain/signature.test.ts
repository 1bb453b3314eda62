import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Providers } from '../../../lambdas/shared/domain/providers.js';
import {
  signRequest,
  verifySignature,
} from '../../../lambdas/shared/domain/signature.js';
import {
  rotateSecret,
  secretProblem,
  usableSecrets,
} from '../../../lambdas/shared/domain/webhook.js';
import { payload } from '../../fixtures/payloads.js';

const shopify = Providers.shopify.scheme;
const stripe = Providers.stripe.scheme;
const SHOPIFY_SECRET = 'shpss_test_0123456789abcdef';
const STRIPE_SECRET = 'whsec_test_0123456789abcdef';
const NOW = 1_764_000_000;

// Shopify's documented scheme: base64 of HMAC-SHA256 over the raw body,
// keyed with the app's client secret.
const shopifyDigest = (body: Buffer, secret = SHOPIFY_SECRET) =>
  createHmac('sha256', secret).update(body).digest('base64');

// Stripe's documented scheme: hex HMAC-SHA256 of "<t>.<raw body>", keyed
// with the whole endpoint secret, sent as "t=<t>,v1=<hex>".
const stripeDigest = (body: Buffer, t: number, secret = STRIPE_SECRET) =>
  createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');

describe('verifySignature', () => {
  describe('Shopify', () => {
    const body = payload('shopify-orders-create.json');

    it('accepts the sample order signed as Shopify signs it', () => {
      // Arrange
      const headers = { 'x-shopify-hmac-sha256': shopifyDigest(body) };

      // Act
      const result = verifySignature(
        shopify,
        { body, headers },
        [SHOPIFY_SECRET],
        NOW
      );

      // Assert
      expect(result).toEqual({ ok: true });
    });

    it('accepts the header sent twice, as HTTP joins it with a comma', () => {
      const digest = shopifyDigest(body);

      const result = verifySignature(
        shopify,
        { body, headers: { 'x-shopify-hmac-sha256': `${digest}, ${digest}` } },
        [SHOPIFY_SECRET],
        NOW
      );

      expect(result).toEqual({ ok: true });
    });

    it('finds the header in any case and without the X- prefix', () => {
      const digest = shopifyDigest(body);

      for (const name of ['X-Shopify-Hmac-SHA256', 'shopify-hmac-sha256']) {
        const result = verifySignature(
          shopify,
          { body, headers: { [name]: digest } },
          [SHOPIFY_SECRET],
          NOW
        );
        expect(result.ok).toBe(true);
      }
    });

    it('rejects the same order once re-serialised, as its bytes changed', () => {
      // Arrange: JSON.parse rounds the order id, stringify drops nothing else.
      const reserialised = Buffer.from(
        JSON.stringify(JSON.parse(body.toString()))
      );
      const headers = { 'x-shopify-hmac-sha256': shopifyDigest(body) };

      // Act
      const result = verifySignature(
        shopify,
        { body: reserialised, headers },
        [SHOPIFY_SECRET],
        NOW
      );

      // Assert
      expect(result).toEqual({ ok: false, reason: 'signature_mismatch' });
    });

    it('rejects a body signed with another secret', () => {
      const headers = { 'x-shopify-hmac-sha256': shopifyDigest(body, 'other') };

      const result = verifySignature(
        shopify,
        { body, headers },
        [SHOPIFY_SECRET],
        NOW
      );

      expect(result).toEqual({ ok: false, reason: 'signature_mismatch' });
    });

    it('rejects a request without the signature header', () => {
      const result = verifySignature(
        shopify,
        { body, headers: {} },
        [SHOPIFY_SECRET],
        NOW
      );

      expect(result).toEqual({ ok: false, reason: 'signature_missing' });
    });

    it.each(['not base64!', '', 'c2hvcnQ='])(
      'rejects the signature %j',
      (value) => {
        const headers = { 'x-shopify-hmac-sha256': value };

        const result = verifySignature(
          shopify,
          { body, headers },
          [SHOPIFY_SECRET],
          NOW
        );

        expect(result.ok).toBe(false);
      }
    );
  });

  describe('Stripe', () => {
    const body = payload('stripe-charge-failed.json');

    it('names the tolerance when the timestamp was sent in milliseconds', () => {
      const t = NOW * 1000;
      const headers = {
        'stripe-signature': `t=${t},v1=${stripeDigest(body, t)}`,
      };

      const result = verifySignature(
        stripe,
        { body, headers },
        [STRIPE_SECRET],
        NOW
      );

      expect(result).toEqual({
        ok: false,
        reason: 'timestamp_outside_tolerance',
      });
    });

    it('accepts the sample event signed as Stripe signs it', () => {
      const headers = {
        'stripe-signature': `t=${NOW},v1=${stripeDigest(body, NOW)}`,
      };

      const result = verifySignature(
        stripe,
        { body, headers },
        [STRIPE_SECRET],
        NOW
      );

      expect(result).toEqual({ ok: true, timestamp: NOW });
    });

    it('accepts when any one of several v1 signatures matches', () => {
      const headers = {
        'stripe-signature': [
          `t=${NOW}`,
          `v1=${stripeDigest(body, NOW, 'whsec_old')}`,
          `v1=${stripeDigest(body, NOW)}`,
          'v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39',
        ].join(','),
      };

      const result = verifySignature(
        stripe,
        { body, headers },
        [STRIPE_SECRET],
        NOW
      );

      expect(result.ok).toBe(true);
    });

    it.each([
      ['older', -301],
      ['newer', 301],
    ])('rejects a timestamp %s than the tolerance', (_label, offset) => {
      const t = NOW + offset;
      const headers = {
        'stripe-signature': `t=${t},v1=${stripeDigest(body, t)}`,
      };

      const result = verifySignature(
        stripe,
        { body, headers },
        [STRIPE_SECRET],
        NOW
      );

      expect(result).toEqual({
        ok: false,
        reason: 'timestamp_outside_tolerance',
      });
    });

    it('accepts a timestamp exactly at the tolerance', () => {
      const t = NOW - 300;
      const headers = {
        'stripe-signature': `t=${t},v1=${stripeDigest(body, t)}`,
      };

      const result = verifySignature(
        stripe,
        { body, headers },
        [STRIPE_SECRET],
        NOW
      );

      expect(result.ok).toBe(true);
    });

    it('rejects a timestamp changed after signing', () => {
      const headers = {
        'stripe-signature': `t=${NOW + 1},v1=${stripeDigest(body, NOW)}`,
      };

      const result = verifySignature(
        stripe,
        { body, headers },
        [STRIPE_SECRET],
        NOW
      );

      expect(result).toEqual({ ok: false, reason: 'signature_mismatch' });
    });

    it('reports a stale but forged request as a mismatch, not as stale', () => {
      const t = NOW - 3_600;
      const headers = {
        'stripe-signature': `t=${t},v1=${stripeDigest(body, t, 'forger')}`,
      };

      const result = verifySignature(
        stripe,
        { body, headers },
        [STRIPE_SECRET],
        NOW
      );

      expect(result).toEqual({ ok: false, reason: 'signature_mismatch' });
    });

    it('rejects a header without a timestamp as malformed', () => {
      const headers = { 'stripe-signature': `v1=${stripeDigest(body, NOW)}` };

      const result = verifySignature(
        stripe,
        { body, headers },
        [STRIPE_SECRET],
        NOW
      );

      expect(result).toEqual({ ok: false, reason: 'signature_malformed' });
    });
  });

  describe('secret rotation', () => {
    const body = payload('stripe-charge-failed.json');
    const headers = {
      'stripe-signature': `t=${NOW},v1=${stripeDigest(body, NOW, 'whsec_old')}`,
    };
    const record = {
      current: STRIPE_SECRET,
      previous: { value: 'whsec_old', expiresAt: '2026-01-02T00:00:00Z' },
    };

    it('accepts the previous secret until it expires', () => {
      const secrets = usableSecrets(record, new Date('2026-01-01T12:00:00Z'));

      expect(verifySignature(stripe, { body, headers }, secrets, NOW).ok).toBe(
        true
      );
    });

    it('refuses the previous secret after it expired', () => {
      const secrets = usableSecrets(record, new Date('2026-01-02T00:00:01Z'));

      expect(verifySignature(stripe, { body, headers }, secrets, NOW).ok).toBe(
        false
      );
    });
  });
});

describe('signRequest', () => {
  it('produces the header each provider documents', () => {
    const body = payload('stripe-charge-failed.json');

    expect(signRequest(stripe, body, STRIPE_SECRET, NOW)).toEqual({
      'stripe-signature': `t=${NOW},v1=${stripeDigest(body, NOW)}`,
    });
    expect(signRequest(shopify, body, SHOPIFY_SECRET, NOW)).toEqual({
      'x-shopify-hmac-sha256': shopifyDigest(body),
    });
  });
});

describe('rotateSecret', () => {
  const now = new Date('2026-12-03T10:00:00Z');

  it('keeps the old secret valid for the overlap and the verify token', () => {
    const rotated = rotateSecret(
      { current: 'old_secret_0123456789', verifyToken: 'tok' },
      'stripe',
      { secret: 'new_secret_0123456789', overlapHours: 24 },
      now
    );

    expect(rotated.record).toEqual({
      current: 'new_secret_0123456789',
      previous: {
        value: 'old_secret_0123456789',
        expiresAt: '2026-12-04T10:00:00.000Z',
      },
      verifyToken: 'tok',
    });
    expect(rotated.revealed).toEqual({});
    expect(usableSecrets(rotated.record, now)).toEqual([
      'new_secret_0123456789',
      'old_secret_0123456789',
    ]);
  });

  it('generates and reveals a new secret when none is given', () => {
    const rotated = rotateSecret(
      { current: 'old_secret_0123456789' },
      'standard-webhooks',
      { overlapHours: 0 },
      now
    );

    expect(rotated.revealed.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(usableSecrets(rotated.record, now)).toEqual([
      rotated.record.current,
    ]);
  });
});

describe('secretProblem', () => {
  it.each([
    ['stripe', 'sk_live_0000000000000000000000'],
    ['shopify', 'shpat_00000000000000000000000000000000'],
    ['meta', 'EAAG0000000000000000000000'],
    ['razorpay', 'rzp_live_0000000000000000'],
  ] as const)(
    'recognises a %s API key pasted as the secret',
    (provider, key) => {
      expect(secretProblem(provider, key)).toMatch(/not/);
    }
  );

  it.each([
    ['stripe', 'whsec_0123456789abcdef0123'],
    ['shopify', 'shpss_0123456789abcdef0123'],
    ['meta', '0123456789abcdef0123456789abcdef'],
  ] as const)('accepts a %s signing secret', (provider, secret) => {
    expect(secretProblem(provider, secret)).toBeUndefined();
  });
});
