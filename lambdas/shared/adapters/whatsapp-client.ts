import { Env } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import { type SendOutcome, transportOutcome } from '../domain/delivery.js';
import type { TemplateMessageRequest } from '../domain/whatsapp.js';
import { readWhatsAppToken } from './secret-store.js';

/** Meta answers within seconds; beyond this the outcome is unknown. */
export const SEND_TIMEOUT_MS = 10_000;

export interface PostOptions {
  /** Read the token from the secret, not the cache. @default false */
  readonly freshToken?: boolean;
  /**
   * Awaited once the token is read, right before the request leaves, so
   * that a pace spaces the requests themselves.
   */
  readonly pace?: () => Promise<void>;
}

/**
 * Posts one message to the Cloud API's `/messages` endpoint and tells
 * what became of it: Meta's answer, a failure that proves the request
 * never left (no token, no connection), or a failure after it may have.
 */
export const postMessage = async (
  request: TemplateMessageRequest,
  { freshToken = false, pace }: PostOptions = {}
): Promise<SendOutcome> => {
  let token: string;
  try {
    token = await readWhatsAppToken({ fresh: freshToken });
  } catch (error) {
    return {
      kind: 'not_sent',
      reason: `the access token could not be read: ${(error as Error).message}`,
    };
  }
  await pace?.();
  const url = [
    requireEnv(Env.WhatsAppApiUrl).replace(/\/+$/, ''),
    requireEnv(Env.WhatsAppApiVersion),
    requireEnv(Env.WhatsAppPhoneNumberId),
    'messages',
  ].join('/');
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    const text = await response.text();

    return { kind: 'answered', status: response.status, body: parseJson(text) };
  } catch (error) {
    const codes = errorCodes(error);
    return transportOutcome(
      codes,
      `WhatsApp did not answer: ${codes.filter(Boolean).join(', ') || 'unknown error'}`
    );
  }
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** The names and codes on an error, its causes and aggregated errors. */
const errorCodes = (error: unknown, depth = 0): string[] => {
  if (typeof error !== 'object' || error === null || depth > 4) return [];
  const { name, code, cause, errors } = error as {
    name?: unknown;
    code?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  const own = [name, code].filter(
    (value): value is string => typeof value === 'string'
  );
  const nested = [
    cause,
    ...(Array.isArray(errors) ? (errors as unknown[]) : []),
  ].flatMap((inner) => errorCodes(inner, depth + 1));

  return [...own, ...nested];
};
