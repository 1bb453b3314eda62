import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { isCountryCode } from './phone.js';
import {
  GENERIC_PROVIDER,
  type GenericSource,
  genericPreset,
  genericSourceSchema,
  PROVIDER_IDS,
  type ProviderId,
  type ProviderPreset,
  Providers,
} from './providers.js';

/**
 * A webhook in `capture` verifies and records events but sends nothing;
 * `active` processes them live.
 */
export const WebhookStatus = { Capture: 'capture', Active: 'active' } as const;
export type WebhookStatus = (typeof WebhookStatus)[keyof typeof WebhookStatus];

export interface Webhook {
  readonly webhookId: string;
  readonly name: string;
  readonly provider: ProviderId;
  readonly status: WebhookStatus;
  /** ISO 3166 country for phone numbers written without a country code. */
  readonly defaultCountry?: string;
  /** Seconds at least between two messages to one recipient (default 6). */
  readonly minGapSeconds?: number;
  /** How a `generic` source signs and where its event key is. */
  readonly source?: GenericSource;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What Secrets Manager holds for one webhook. */
export interface SecretRecord {
  readonly current: string;
  /** The secret before a rotation, still accepted until `expiresAt`. */
  readonly previous?: { readonly value: string; readonly expiresAt: string };
  /** The token Meta's subscription challenge must present. */
  readonly verifyToken?: string;
}

/** Providers whose secret cannot be chosen, so it must be pasted in. */
const PROVIDERS_ISSUING_SECRETS = new Set<ProviderId>([
  'shopify',
  'stripe',
  'meta',
]);
/** True when only the provider can issue the signing secret. */
export const issuesOwnSecret = (provider: ProviderId): boolean =>
  PROVIDERS_ISSUING_SECRETS.has(provider);

/** Why a secret must be pasted in, for providers that issue their own. */
export const OWN_SECRET_NEEDED =
  'this provider issues the signing secret itself: paste it as secret';

const MIN_SECRET_LENGTH = 16;
/** The longest spacing a webhook may ask for: one message a day. */
const MAX_MIN_GAP_SECONDS = 86_400;
const MAX_SECRET_LENGTH = 256;

/** Why a pasted secret cannot be the provider's, if it cannot. */
export const secretProblem = (
  provider: ProviderId,
  secret: string | undefined
): string | undefined => {
  const form =
    provider === GENERIC_PROVIDER
      ? undefined
      : (Providers[provider] as ProviderPreset).secretForm;

  if (secret === undefined || form === undefined) return undefined;
  const unlike = form.pattern !== undefined && !form.pattern.test(secret);
  const mistaken = form.mistaken?.test(secret) ?? false;

  return unlike || mistaken ? form.hint : undefined;
};

/** A secret a provider issued, as an admin pastes it. */
function secretField() {
  // Copied secrets often carry a stray space or line break at either end.
  return z
    .string()
    .trim()
    .min(MIN_SECRET_LENGTH)
    .max(MAX_SECRET_LENGTH)
    .regex(/^\S+$/, 'must not contain white space')
    .optional();
}

export const createWebhookSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    provider: z.enum(PROVIDER_IDS as [ProviderId, ...ProviderId[]]),
    secret: secretField(),
    defaultCountry: z
      .string()
      .length(2)
      .refine(
        isCountryCode,
        'must be an ISO 3166 country code such as US or IN'
      )
      .transform((value) => value.toUpperCase())
      .optional(),
    minGapSeconds: z.number().int().min(0).max(MAX_MIN_GAP_SECONDS).optional(),
    source: genericSourceSchema.optional(),
  })
  .refine(
    (input) => input.secret !== undefined || !issuesOwnSecret(input.provider),
    { message: OWN_SECRET_NEEDED, path: ['secret'] }
  )
  .superRefine((input, context) => {
    const problem = secretProblem(input.provider, input.secret);
    if (problem) {
      context.addIssue({ code: 'custom', message: problem, path: ['secret'] });
    }
  })
  .refine(
    (input) =>
      (input.provider === GENERIC_PROVIDER) === (input.source !== undefined),
    {
      message: 'a generic webhook needs a source description, and only it',
      path: ['source'],
    }
  );

export type CreateWebhookInput = z.infer<typeof createWebhookSchema>;

/** What the admin sees once, at creation: never stored in clear again. */
export interface RevealedSecrets {
  readonly secret?: string;
  readonly verifyToken?: string;
}

/**
 * A new webhook, in capture mode, with its secret record: the secret the
 * provider issued, or a generated one the admin pastes into the provider.
 */
export const newWebhook = (
  input: CreateWebhookInput,
  now: Date
): { webhook: Webhook; record: SecretRecord; revealed: RevealedSecrets } => {
  const at = now.toISOString();
  const webhook: Webhook = {
    webhookId: `wh_${randomBytes(12).toString('base64url')}`,
    name: input.name,
    provider: input.provider,
    status: WebhookStatus.Capture,
    ...(input.defaultCountry ? { defaultCountry: input.defaultCountry } : {}),
    ...(input.minGapSeconds !== undefined
      ? { minGapSeconds: input.minGapSeconds }
      : {}),
    ...(input.source ? { source: input.source } : {}),
    createdAt: at,
    updatedAt: at,
  };
  const secret = input.secret ?? generateSecret(input.provider);
  const verifyToken = presetFor(webhook).subscriptionChallenge
    ? randomBytes(18).toString('base64url')
    : undefined;
  const record: SecretRecord = {
    current: secret,
    ...(verifyToken ? { verifyToken } : {}),
  };
  const revealed: RevealedSecrets = {
    ...(input.secret === undefined ? { secret } : {}),
    ...(verifyToken ? { verifyToken } : {}),
  };

  return { webhook, record, revealed };
};

/** How a webhook's requests are verified and read. */
export const presetFor = (webhook: Webhook): ProviderPreset =>
  webhook.provider === GENERIC_PROVIDER
    ? genericPreset(webhook.source as GenericSource)
    : Providers[webhook.provider];

/**
 * 32 random bytes, as strong as an HMAC-SHA256 key can use, in the form the
 * provider's own libraries expect.
 */
export const generateSecret = (provider: ProviderId): string =>
  provider === 'standard-webhooks'
    ? `whsec_${randomBytes(32).toString('base64')}`
    : `wapto_${randomBytes(32).toString('base64url')}`;

/** How long the old secret keeps verifying after a rotation, by default. */
export const DEFAULT_ROTATION_OVERLAP_HOURS = 24;
const MAX_ROTATION_OVERLAP_HOURS = 168;
const HOUR_MS = 3_600_000;

export const rotateSecretSchema = z.strictObject({
  /** The provider's new secret; a new one is generated when absent. */
  secret: secretField(),
  overlapHours: z
    .number()
    .min(0)
    .max(MAX_ROTATION_OVERLAP_HOURS)
    .default(DEFAULT_ROTATION_OVERLAP_HOURS),
});

/**
 * The record after a rotation: the new secret verifies at once, and the
 * old one keeps verifying until the overlap ends, so deliveries signed
 * before the provider switched still pass.
 */
export const rotateSecret = (
  record: SecretRecord,
  provider: ProviderId,
  input: z.infer<typeof rotateSecretSchema>,
  now: Date
): {
  record: SecretRecord;
  revealed: RevealedSecrets;
  previousValidUntil: string;
} => {
  const secret = input.secret ?? generateSecret(provider);
  const previousValidUntil = new Date(
    now.getTime() + input.overlapHours * HOUR_MS
  ).toISOString();

  return {
    record: {
      current: secret,
      previous: { value: record.current, expiresAt: previousValidUntil },
      ...(record.verifyToken ? { verifyToken: record.verifyToken } : {}),
    },
    revealed: input.secret === undefined ? { secret } : {},
    previousValidUntil,
  };
};

/** Secrets that verify requests right now. */
export const usableSecrets = (record: SecretRecord, now: Date): string[] => {
  const previous = record.previous;
  const previousValid =
    previous !== undefined && Date.parse(previous.expiresAt) > now.getTime();

  return previousValid ? [record.current, previous.value] : [record.current];
};

export const parseSecretRecord = (text: string): SecretRecord | undefined => {
  try {
    const value = JSON.parse(text) as Partial<SecretRecord>;
    return typeof value.current === 'string'
      ? (value as SecretRecord)
      : undefined;
  } catch {
    return undefined;
  }
};
