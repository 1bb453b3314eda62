import { describe, expect, it } from 'vitest';
import {
  decideIngest,
  type IncomingRequest,
} from '../../../lambdas/shared/domain/ingest.js';
import type { ProviderId } from '../../../lambdas/shared/domain/providers.js';
import type { Webhook } from '../../../lambdas/shared/domain/webhook.js';

/**
 * Known-answer vectors whose expected signature is written out literally in
 * a provider's own SDK test suite (never recomputed here). Each one goes
 * through decideIngest, the verifier's real path: the webhook's preset, the
 * header lookup, the secret and the clock.
 */
interface PublishedVector {
  readonly provider: ProviderId;
  readonly secret: string;
  readonly body: Buffer;
  readonly headers: Record<string, string>;
  /** When the request arrives; the signed time for timestamped schemes. */
  readonly receivedAt: Date;
  readonly eventKey?: string;
  readonly providerEventId?: string;
}

/** A clock for schemes that sign no timestamp. */
const ANY_TIME = new Date('2026-01-01T00:00:00Z');

const VECTORS: Readonly<Record<string, PublishedVector>> = {
  // Source: Shopify/shopify-api-js,
  // packages/shopify-api/lib/webhooks/__tests__/validate.test.ts
  // (commit 7b21511ef0c3b369d88e7c5ec3befadd1de8ac41), "returns true for
  // valid request": the raw body and the literal hmac in the expected
  // result. The secret is apiSecretKey from
  // packages/shopify-api/lib/__tests__/test-config.ts
  // (commit 0cd63bd73e581920abde1fee85a5769f235cf41b); the topic and
  // webhook id are the defaults of webhooks/__tests__/utils.ts.
  Shopify: {
    provider: 'shopify',
    secret: 'test_secret_key',
    body: Buffer.from('{"foo": "bar"}'),
    headers: {
      'X-Shopify-Hmac-Sha256': 'B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=',
      'X-Shopify-Topic': 'products/create',
      'X-Shopify-Webhook-Id': '123456789',
    },
    receivedAt: ANY_TIME,
    eventKey: 'products/create',
    providerEventId: '123456789',
  },
  // Source: stripe/stripe-dotnet,
  // src/StripeTests/Services/Events/EventUtilityTest.cs
  // (commit 04a2fb3d77ba9e6ec1b85defe52c9f2fb98785b4): the literal
  // Stripe-Signature header, secret and timestamp of its constructor. The
  // body is src/StripeTests/Resources/event_test_signature.json
  // (commit 946a38088f3546e0e50437c72f2898e398cb40ef) with LF line endings
  // and its final newline, as the test reads it. The header also carries a
  // v0 signature, which Stripe's libraries ignore.
  Stripe: {
    provider: 'stripe',
    secret: 'webhook_secret',
    body: Buffer.from(
      [
        '{',
        '  "id": "evt_123",',
        '  "object": "event",',
        '  "account": "acct_123",',
        '  "api_version": "2017-05-25",',
        '  "created": 1533204620,',
        '  "data": {',
        '    "object": {',
        '      "id": "cus_123",',
        '      "object": "customer",',
        '      "created": 123456789,',
        '      "email": "test@stripe.com",',
        '      "livemode": false,',
        '      "metadata": {}',
        '    }',
        '  },',
        '  "livemode": false,',
        '  "pending_webhooks": 1,',
        '  "request": {',
        '    "id": "req_123",',
        '    "idempotency_key": "idempotency-key-123"',
        '  },',
        '  "type": "customer.created"',
        '}',
        '',
      ].join('\n')
    ),
    headers: {
      'Stripe-Signature':
        't=1533204620,' +
        'v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,' +
        'v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef',
    },
    receivedAt: new Date(1_533_204_620 * 1000),
    eventKey: 'customer.created',
    providerEventId: 'evt_123',
  },
  // Source: razorpay/razorpay-node, test/utils/razorpay-utils.spec.js
  // (commit 021f559e01c50065f6ac42aaad4ca6111b4617f2),
  // "validateWebhookSignature": body, secret and the literal hex signature.
  Razorpay: {
    provider: 'razorpay',
    secret: '123456',
    body: Buffer.from('{"a":1,"b":2,"c":{"d":3}}'),
    headers: {
      'X-Razorpay-Signature':
        '2fe04e22977002e6c7cb553adab8b460cb9e2a4970d5953cb27a8472752e3bbc',
    },
    receivedAt: ANY_TIME,
  },
  // Source: woocommerce/woocommerce,
  // plugins/woocommerce/tests/legacy/unit-tests/webhooks/crud.php
  // (commit 6147c5e685a97beb873ac2548044cf04d2a48a66),
  // test_generate_signature: a new WC_Webhook signs the payload 'secret'.
  // Its secret is the class default, the empty string, per 'secret' => ''
  // and generate_signature() in plugins/woocommerce/includes/class-wc-webhook.php
  // (commit 00e1bc4da70f83469010330e589878684c73a921). This product never
  // issues an empty secret; the vector pins the algorithm and encoding
  // only, and WooCommerce publishes none that exercises entity decoding.
  WooCommerce: {
    provider: 'woocommerce',
    secret: '',
    body: Buffer.from('secret'),
    headers: {
      'X-WC-Webhook-Signature': 'GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs=',
      'X-WC-Webhook-Topic': 'order.created',
    },
    receivedAt: ANY_TIME,
    eventKey: 'order.created',
  },
};

const webhookFor = (provider: ProviderId, at: Date): Webhook => ({
  webhookId: 'wh_published',
  name: `${provider} published vector`,
  provider,
  status: 'active',
  createdAt: at.toISOString(),
  updatedAt: at.toISOString(),
});

const decide = (vector: PublishedVector, body: Buffer) => {
  const request: IncomingRequest = {
    method: 'POST',
    headers: vector.headers,
    query: {},
    body,
  };

  return decideIngest(
    request,
    webhookFor(vector.provider, vector.receivedAt),
    { current: vector.secret },
    vector.receivedAt
  );
};

/** The same body with one byte in its middle altered. */
const withOneByteChanged = (body: Buffer): Buffer => {
  const changed = Buffer.from(body);
  const middle = Math.floor(changed.length / 2);
  changed[middle] = (changed[middle] ?? 0) ^ 0x01;

  return changed;
};

describe('published known-answer vectors', () => {
  describe.each(Object.entries(VECTORS))('%s', (_name, vector) => {
    it('accepts the vector as the provider’s SDK publishes it', () => {
      const decision = decide(vector, vector.body);

      expect(decision).toMatchObject({
        kind: 'accept',
        message: {
          webhookId: 'wh_published',
          eventKey: vector.eventKey,
          providerEventId: vector.providerEventId,
          body: vector.body.toString('utf8'),
        },
      });
    });

    it('rejects the vector once one byte of the body changed', () => {
      const decision = decide(vector, withOneByteChanged(vector.body));

      expect(decision).toMatchObject({
        kind: 'reject',
        status: 401,
        code: 'invalid_signature',
        reason: 'signature_mismatch',
      });
    });
  });
});
