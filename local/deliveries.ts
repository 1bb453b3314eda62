import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Providers } from '../lambdas/shared/domain/providers.js';
import {
  type SignatureScheme,
  signRequest,
} from '../lambdas/shared/domain/signature.js';
import { STATUS_CALLBACK_PATH } from '../lib/definitions.js';
import { PROJECT_ROOT } from './paths.js';

/**
 * Webhook deliveries as the providers send them: the fixture's exact
 * bytes, the providers' own headers and a signature made with their
 * scheme. Used by the demo and the integration tests.
 */
export interface Delivery {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** A fixture's bytes, untouched: pretty-printing and escapes are signed. */
export const readFixture = (name: string): Buffer =>
  readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'payloads', name));

/** Test secrets in each provider's format, made fresh for every run. */
export const testSecrets = () => ({
  shopify: `shpss_${randomBytes(16).toString('hex')}`,
  stripe: `whsec_${randomBytes(24).toString('base64').replace(/[+/=]/g, '')}`,
});

const signature = (
  scheme: SignatureScheme,
  body: Buffer,
  secret: string,
  now: Date
): string => {
  const header = signRequest(scheme, body, secret, now.getTime() / 1000);
  const value = Object.values(header)[0];
  if (value === undefined) throw new Error('The scheme produced no header.');

  return value;
};

export interface ShopifyDeliveryInput {
  readonly body: Buffer;
  readonly secret: string;
  readonly topic: string;
  readonly shopDomain?: string;
  readonly now?: Date;
}

/** A delivery with the headers Shopify sends and its HMAC-SHA256 (base64). */
export const shopifyDelivery = (input: ShopifyDeliveryInput): Delivery => {
  const now = input.now ?? new Date();

  return {
    body: input.body,
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'Shopify-Captain-Hook',
      'X-Shopify-Topic': input.topic,
      'X-Shopify-Shop-Domain': input.shopDomain ?? 'wapto-demo.myshopify.com',
      'X-Shopify-API-Version': '2025-10',
      'X-Shopify-Webhook-Id': randomUUID(),
      'X-Shopify-Event-Id': randomUUID(),
      'X-Shopify-Triggered-At': now.toISOString(),
      'X-Shopify-Hmac-Sha256': signature(
        Providers.shopify.scheme,
        input.body,
        input.secret,
        now
      ),
    },
  };
};

export interface StripeDeliveryInput {
  readonly body: Buffer;
  readonly secret: string;
  readonly now?: Date;
}

/** A delivery with Stripe's headers and its `t=…,v1=…` signature. */
export const stripeDelivery = (input: StripeDeliveryInput): Delivery => ({
  body: input.body,
  headers: {
    'Content-Type': 'application/json; charset=utf-8',
    'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
    Accept: '*/*; q=0.5, application/xml',
    'Cache-Control': 'no-cache',
    'Stripe-Signature': signature(
      Providers.stripe.scheme,
      input.body,
      input.secret,
      input.now ?? new Date()
    ),
  },
});

/** The same delivery with one signature digit changed. */
export const tamperStripeSignature = (delivery: Delivery): Delivery => {
  const value = delivery.headers['Stripe-Signature'] ?? '';
  const last = value.at(-1) === '0' ? '1' : '0';

  return {
    ...delivery,
    headers: {
      ...delivery.headers,
      'Stripe-Signature': value.slice(0, -1) + last,
    },
  };
};

/** Posts a delivery to the local API. */
export const deliver = async (
  apiUrl: string,
  webhookId: string,
  delivery: Delivery
): Promise<{ status: number; body: unknown }> => {
  const response = await fetch(`${apiUrl}/webhooks/${webhookId}`, {
    method: 'POST',
    headers: delivery.headers,
    body: new Uint8Array(delivery.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Keep the text: a non-JSON answer is itself worth showing.
  }

  return { status: response.status, body };
};

/** The `X-Hub-Signature-256` Meta sends with `body`, signed with `appSecret`. */
export const metaSignature = (body: string, appSecret: string): string =>
  Object.values(
    signRequest(
      Providers.meta.scheme,
      Buffer.from(body),
      appSecret,
      Date.now() / 1000
    )
  )[0] ?? '';

/** Posts a status callback to the local API with the signature given. */
export const postStatusCallback = async (
  apiUrl: string,
  body: string,
  signature: string
): Promise<{ status: number; body: unknown }> => {
  const response = await fetch(`${apiUrl}${STATUS_CALLBACK_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signature,
    },
    body,
  });
  const text = await response.text();

  return { status: response.status, body: JSON.parse(text) };
};
