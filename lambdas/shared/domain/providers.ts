import { z } from 'zod';
import { findHeader, type HeaderMap } from './http.js';
import { readPath } from './json.js';
import type { SignatureScheme } from './signature.js';

/**
 * Where a value lives in a request: a header, a path in a JSON body, or
 * several of those joined (when no single field identifies an event).
 */
export type FieldLocation =
  | { readonly header: readonly string[] }
  | { readonly bodyPath: string }
  | { readonly all: readonly FieldLocation[] };

/**
 * Everything the product needs to know about one provider's webhooks, as
 * data: how it signs, where its event key and event id are, and which
 * unsigned requests it sends to check an endpoint.
 */
export interface ProviderPreset {
  readonly label: string;
  readonly scheme: SignatureScheme;
  readonly eventKey: FieldLocation;
  readonly eventId?: FieldLocation;
  /** An unsigned setup request that gets 200 and is never queued. */
  readonly ping?: { readonly bodyPattern: RegExp };
  /** Answers Meta's GET subscription challenge with the verify token. */
  readonly subscriptionChallenge?: boolean;
  /**
   * The form of the secret the provider issues, to catch a wrong paste:
   * it must match `pattern` and must not match `mistaken` (API keys and
   * access tokens that look like secrets).
   */
  readonly secretForm?: {
    readonly pattern?: RegExp;
    readonly mistaken?: RegExp;
    readonly hint: string;
  };
}

/** Stripe's libraries reject signatures older than five minutes. */
const STRIPE_TOLERANCE_SECONDS = 300;
/** Standard Webhooks checks five minutes either way. */
const STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 300;

const hubSignature: SignatureScheme = {
  header: ['x-hub-signature-256'],
  algorithm: 'sha256',
  encoding: 'hex',
  layout: { kind: 'plain', prefix: 'sha256=' },
  signedContent: '{body}',
};

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
    secretForm: {
      mistaken: /^shp(at|ca|pa)_/,
      hint:
        'Shopify signs with the app client secret or the key shown beside ' +
        'webhooks, not an access token (shpat_, shpca_, shppa_)',
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
    secretForm: {
      pattern: /^whsec_\S+$/,
      hint: 'a Stripe signing secret starts with whsec_ (not an API key)',
    },
  },
  woocommerce: {
    label: 'WooCommerce',
    scheme: {
      header: ['x-wc-webhook-signature'],
      algorithm: 'sha256',
      encoding: 'base64',
      layout: { kind: 'plain' },
      signedContent: '{body}',
      secretFormat: 'html-entities',
    },
    eventKey: { header: ['x-wc-webhook-topic'] },
    // Its delivery id changes per attempt, so an event is the topic, the
    // resource and the moment it was modified.
    eventId: {
      all: [
        { header: ['x-wc-webhook-topic'] },
        { bodyPath: 'id' },
        { bodyPath: 'date_modified_gmt' },
      ],
    },
    // Saving a webhook in WooCommerce posts `webhook_id=<n>` unsigned and
    // keeps the webhook only if the answer is exactly 200.
    ping: { bodyPattern: /^webhook_id=\d+$/ },
  },
  razorpay: {
    label: 'Razorpay',
    scheme: {
      header: ['x-razorpay-signature'],
      algorithm: 'sha256',
      encoding: 'hex',
      layout: { kind: 'plain' },
      signedContent: '{body}',
    },
    eventKey: { bodyPath: 'event' },
    eventId: { header: ['x-razorpay-event-id'] },
    secretForm: {
      mistaken: /^rzp_(live|test)_/,
      hint:
        'Razorpay signs with the webhook secret set in its dashboard, ' +
        'not the API key id (rzp_live_, rzp_test_)',
    },
  },
  meta: {
    label: 'Meta (WhatsApp, Instagram, Messenger callbacks)',
    scheme: hubSignature,
    eventKey: { bodyPath: 'entry.0.changes.0.field' },
    subscriptionChallenge: true,
    secretForm: {
      mistaken: /^EAA/,
      hint:
        'Meta signs with the app secret (App settings > Basic), ' +
        'not an access token (EAA...)',
    },
  },
  github: {
    label: 'GitHub-style (X-Hub-Signature-256)',
    scheme: hubSignature,
    eventKey: { header: ['x-github-event'] },
    eventId: { header: ['x-github-delivery'] },
  },
  'standard-webhooks': {
    label: 'Standard Webhooks (recommended for custom systems)',
    scheme: {
      header: ['webhook-signature'],
      algorithm: 'sha256',
      encoding: 'base64',
      layout: { kind: 'versioned', version: 'v1' },
      signedContent: '{id}.{timestamp}.{body}',
      idHeader: ['webhook-id'],
      timestampHeader: ['webhook-timestamp'],
      secretFormat: 'whsec-base64',
      toleranceSeconds: STANDARD_WEBHOOKS_TOLERANCE_SECONDS,
    },
    eventKey: { bodyPath: 'type' },
    eventId: { header: ['webhook-id'] },
    secretForm: {
      pattern: /^(whsec_)?[A-Za-z0-9+/]+={0,2}$/,
      hint: 'a Standard Webhooks secret is base64, optionally after whsec_',
    },
  },
} as const satisfies Record<string, ProviderPreset>;

/** A source whose scheme the admin describes: any HMAC over the body. */
export const GENERIC_PROVIDER = 'generic';

export type ProviderId = keyof typeof Providers | typeof GENERIC_PROVIDER;

export const PROVIDER_IDS = [
  ...Object.keys(Providers),
  GENERIC_PROVIDER,
] as ProviderId[];

const headerNames = z
  .array(
    z
      .string()
      .regex(/^[A-Za-z0-9-]{1,100}$/)
      .transform((name) => name.toLowerCase())
  )
  .min(1)
  .max(5);

const bodyPath = z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/);

const fieldLocationSchema = z.union([
  z.strictObject({ header: headerNames }),
  z.strictObject({ bodyPath }),
]);

const MAX_TOLERANCE_SECONDS = 3_600;
/** Replay window of a generic source that signs a timestamp. */
const DEFAULT_GENERIC_TOLERANCE_SECONDS = 300;
const SIGNED_PLACEHOLDERS = new Set(['{body}', '{timestamp}', '{id}']);

/**
 * What an admin gives for a generic HMAC source. The signed string is a
 * template over `{body}`, `{timestamp}` and `{id}`.
 */
export const genericSourceSchema = z
  .strictObject({
    header: headerNames,
    prefix: z.string().max(20).optional(),
    algorithm: z.enum(['sha1', 'sha256', 'sha512']),
    encoding: z.enum(['hex', 'base64']),
    signedContent: z
      .string()
      .max(200)
      .refine((text) => text.includes('{body}'), 'must include {body}')
      .refine(
        (text) =>
          (text.match(/\{[^}]*\}/g) ?? []).every((name) =>
            SIGNED_PLACEHOLDERS.has(name)
          ),
        'may only use the placeholders {body}, {timestamp} and {id}'
      )
      .default('{body}'),
    timestampHeader: headerNames.optional(),
    idHeader: headerNames.optional(),
    toleranceSeconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_TOLERANCE_SECONDS)
      .optional(),
    eventKey: fieldLocationSchema,
    eventId: fieldLocationSchema.optional(),
  })
  .refine(
    (source) =>
      !source.signedContent.includes('{timestamp}') ||
      source.timestampHeader !== undefined,
    { message: 'a {timestamp} in signedContent needs a timestampHeader' }
  )
  .refine(
    (source) =>
      !source.signedContent.includes('{id}') || source.idHeader !== undefined,
    { message: 'an {id} in signedContent needs an idHeader' }
  )
  .refine(
    (source) =>
      source.toleranceSeconds === undefined ||
      source.signedContent.includes('{timestamp}'),
    { message: 'toleranceSeconds needs a {timestamp} in signedContent' }
  );

export type GenericSource = z.infer<typeof genericSourceSchema>;

/** The preset a generic source's description stands for. */
export const genericPreset = (source: GenericSource): ProviderPreset => ({
  label: 'Generic HMAC',
  scheme: {
    header: source.header,
    algorithm: source.algorithm,
    encoding: source.encoding,
    layout: { kind: 'plain', prefix: source.prefix ?? '' },
    signedContent: source.signedContent,
    ...(source.timestampHeader
      ? { timestampHeader: source.timestampHeader }
      : {}),
    ...(source.idHeader ? { idHeader: source.idHeader } : {}),
    ...(source.signedContent.includes('{timestamp}')
      ? {
          toleranceSeconds:
            source.toleranceSeconds ?? DEFAULT_GENERIC_TOLERANCE_SECONDS,
        }
      : {}),
  },
  eventKey: source.eventKey,
  ...(source.eventId ? { eventId: source.eventId } : {}),
});

/** Reads a field from a request; only strings and numbers count. */
export const readField = (
  location: FieldLocation,
  headers: HeaderMap,
  body: unknown
): string | undefined => {
  if ('all' in location) {
    const parts = location.all.map((part) => readField(part, headers, body));
    return parts.every((part) => part !== undefined)
      ? parts.join(':')
      : undefined;
  }
  const value =
    'header' in location
      ? findHeader(headers, location.header)
      : readPath(body, location.bodyPath);
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || value.trim() === '') return undefined;

  return value.trim();
};
