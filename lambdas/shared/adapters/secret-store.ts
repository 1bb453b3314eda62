import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { Env } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import { DependencyError } from '../domain/errors.js';
import {
  type AppSecretRecord,
  parseAppSecretRecord,
} from '../domain/status.js';
import { parseSecretRecord, type SecretRecord } from '../domain/webhook.js';
import { secretsManager } from './clients.js';

/**
 * Secrets stay cached in memory this long. A rotation is seen at once (the
 * verifier re-reads on a mismatch); a revoked secret stops verifying
 * within this time.
 */
const SECRET_CACHE_SECONDS = 60;

const provider = new SecretsProvider({ awsSdkV3Client: secretsManager });

const secretName = (webhookId: string) =>
  `${requireEnv(Env.WebhookSecretPrefix)}${webhookId}`;

/**
 * A webhook's signing secrets, or `undefined` if it has none stored.
 * `fresh` skips the cache, to see a rotation at once.
 */
export const readWebhookSecret = async (
  webhookId: string,
  { fresh = false } = {}
): Promise<SecretRecord | undefined> => {
  const text = await readSecretText(
    secretName(webhookId),
    'the webhook secret',
    fresh
  );

  return text === undefined ? undefined : parseSecretRecord(text);
};

/** A secret's text through the cache; `undefined` when it does not exist. */
const readSecretText = async (
  id: string,
  what: string,
  fresh = false
): Promise<string | undefined> => {
  try {
    const text = await provider.get(id, {
      maxAge: SECRET_CACHE_SECONDS,
      forceFetch: fresh,
    });
    return typeof text === 'string' ? text : undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw new DependencyError(`Reading ${what} failed.`, { cause: error });
  }
};

export const createWebhookSecret = async (
  webhookId: string,
  record: SecretRecord
): Promise<void> => {
  await secretsManager.send(
    new CreateSecretCommand({
      Name: secretName(webhookId),
      Description: `Signing secret of webhook ${webhookId}`,
      SecretString: JSON.stringify(record),
    })
  );
};

/** Stores a new version of a webhook's secret record (a rotation). */
export const putWebhookSecret = async (
  webhookId: string,
  record: SecretRecord
): Promise<void> => {
  await secretsManager.send(
    new PutSecretValueCommand({
      SecretId: secretName(webhookId),
      SecretString: JSON.stringify(record),
    })
  );
};

/** Removes a secret at once; used to undo a half-finished creation. */
export const deleteWebhookSecret = async (webhookId: string): Promise<void> => {
  await secretsManager.send(
    new DeleteSecretCommand({
      SecretId: secretName(webhookId),
      ForceDeleteWithoutRecovery: true,
    })
  );
};

/**
 * The WhatsApp access token, cached like the webhook secrets; `fresh`
 * skips the cache, to see a token replaced after Meta refused the old one.
 */
export const readWhatsAppToken = async ({
  fresh = false,
} = {}): Promise<string> => {
  const token = await provider.get(requireEnv(Env.WhatsAppTokenSecret), {
    maxAge: SECRET_CACHE_SECONDS,
    forceFetch: fresh,
  });
  if (typeof token !== 'string' || token === '') {
    throw new DependencyError('The WhatsApp access token secret is empty.');
  }

  return token;
};

/**
 * The Meta app secret and verify token of the status callbacks, cached
 * like the other secrets, or `undefined` when the secret is missing or
 * not yet the documented JSON.
 */
// LIMITATION: one app secret at a time; after Meta resets it, callbacks
// signed with the old one are refused (and retried by Meta) until the new
// one is stored and the cache has expired.
export const readAppSecret = async (): Promise<AppSecretRecord | undefined> => {
  const text = await readSecretText(
    requireEnv(Env.WhatsAppAppSecret),
    'the WhatsApp app secret'
  );

  return text === undefined ? undefined : parseAppSecretRecord(text);
};

const isNotFound = (error: unknown): boolean => {
  const cause = (error as { cause?: unknown }).cause ?? error;
  return (cause as Error).name === 'ResourceNotFoundException';
};
