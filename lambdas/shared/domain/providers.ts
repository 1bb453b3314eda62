import { findHeader, type HeaderMap } from './http.js';
import { readPath } from './json.js';
import type { SignatureScheme } from './signature.js';

/** Where a value lives in a request: a header, or a path in a JSON body. */
export type FieldLocation =
  | { readonly header: readonly string[] }
  | { readonly bodyPath: string };

/**
 * Everything the product needs to know about one provider's webhooks, as
 * data: how it signs, and where its event key and event id are.
 */
export interface ProviderPreset {
  readonly label: string;
  readonly scheme: SignatureScheme;
  readonly eventKey: FieldLocation;
  readonly eventId: FieldLocation;
}

/** Stripe's libraries reject signatures older than five minutes. */
const STRIPE_TOLERANCE_SECONDS = 300;

export const Providers = {
  shopify: {
    label: 'Shopify',
    scheme: {
      // Shopify has started sending header names without the `X-` prefix.
      header: ['x-shopify-hmac-sha256', 'shopify-hmac-sha256'],
      algorithm: 'sha256',
      encoding: 'base64',
      layout: { kind: 'plain' },
      signedContent: '{body}',
    },
    eventKey: { header: ['x-shopify-topic', 'shopify-topic'] },
    // The event id is shared by every delivery of one event, even across
    // subscriptions; the webhook id is the fallback for older senders.
    eventId: {
      header: [
        'x-shopify-event-id',
        'shopify-event-id',
        'x-shopify-webhook-id',
        'shopify-webhook-id',
      ],
    },
  },
  stripe: {
    label: 'Stripe',
    scheme: {
      header: ['stripe-signature'],
      algorithm: 'sha256',
      encoding: 'hex',
      layout: { kind: 'keyed', signatureKey: 'v1', timestampKey: 't' },
      signedContent: '{timestamp}.{body}',
      toleranceSeconds: STRIPE_TOLERANCE_SECONDS,
    },
    eventKey: { bodyPath: 'type' },
    eventId: { bodyPath: 'id' },
  },
} as const satisfies Record<string, ProviderPreset>;

export type ProviderId = keyof typeof Providers;

export const PROVIDER_IDS = Object.keys(Providers) as ProviderId[];

export const isProviderId = (value: string): value is ProviderId =>
  Object.hasOwn(Providers, value);

/** Reads a field from a request; only strings and numbers count. */
export const readField = (
  location: FieldLocation,
  headers: HeaderMap,
  body: unknown
): string | undefined => {
  const value =
    'header' in location
      ? findHeader(headers, location.header)
      : readPath(body, location.bodyPath);
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || value.trim() === '') return undefined;

  return value.trim();
};
