import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { isCountryCode } from './phone.js';
import { PROVIDER_IDS, type ProviderId } from './providers.js';

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
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What Secrets Manager holds for one webhook. */
export interface SecretRecord {
  readonly current: string;
  /** The secret before a rotation, still accepted until `expiresAt`. */
  readonly previous?: { readonly value: string; readonly expiresAt: string };
}

const MIN_SECRET_LENGTH = 16;
const MAX_SECRET_LENGTH = 256;

export const createWebhookSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  provider: z.enum(PROVIDER_IDS as [ProviderId, ...ProviderId[]]),
  secret: z
    .string()
    .min(MIN_SECRET_LENGTH)
    .max(MAX_SECRET_LENGTH)
    .regex(/^\S+$/, 'must not contain white space')
    .optional(),
  defaultCountry: z
    .string()
    .length(2)
    .refine(isCountryCode, 'must be an ISO 3166 country code such as US or IN')
    .transform((value) => value.toUpperCase())
    .optional(),
});

export type CreateWebhookInput = z.infer<typeof createWebhookSchema>;

/** A new webhook, in capture mode, with its secret (generated if none). */
export const newWebhook = (
  input: CreateWebhookInput,
  now: Date
): { webhook: Webhook; secret: string; generated: boolean } => {
  const at = now.toISOString();
  const webhook: Webhook = {
    webhookId: `wh_${randomBytes(12).toString('base64url')}`,
    name: input.name,
    provider: input.provider,
    status: WebhookStatus.Capture,
    ...(input.defaultCountry ? { defaultCountry: input.defaultCountry } : {}),
    createdAt: at,
    updatedAt: at,
  };
  const secret = input.secret ?? generateSecret();

  return { webhook, secret, generated: input.secret === undefined };
};

/** 32 random bytes: as strong as the HMAC-SHA256 key can use. */
export const generateSecret = (): string =>
  `wapto_${randomBytes(32).toString('base64url')}`;

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
