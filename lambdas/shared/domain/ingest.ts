import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { HeaderMap } from './http.js';
import { findHeader, normaliseHeaders } from './http.js';
import { parseJsonExact } from './json.js';
import {
  encodeBody,
  forwardableHeaders,
  type IngestMessage,
} from './messages.js';
import { type ProviderPreset, readField } from './providers.js';
import { type SignatureFailure, verifySignature } from './signature.js';
import {
  presetFor,
  type SecretRecord,
  usableSecrets,
  type Webhook,
} from './webhook.js';

/**
 * Largest webhook body accepted. Meta sends up to about 3 MB; Lambda takes
 * a request event of at most 6 MB, and a binary body arrives base64-encoded
 * (4/3 larger), so 4 MiB is what always fits. Bodies over the queue's
 * inline size are kept whole in the payload store.
 */
export const MAX_WEBHOOK_BODY_BYTES = 4 * 1024 * 1024;

export interface IncomingRequest {
  readonly method: string;
  readonly headers: HeaderMap;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

/** What to do with one request to a webhook URL. */
export type IngestDecision =
  | {
      readonly kind: 'reject';
      readonly status: number;
      readonly code: string;
      readonly message: string;
      /** Why, for logs and metrics; may be finer than `code`. */
      readonly reason: string;
      readonly allow?: string;
    }
  | { readonly kind: 'ping' }
  | { readonly kind: 'challenge'; readonly answer: string }
  | { readonly kind: 'accept'; readonly message: IngestMessage };

/** A refusal with its status, stable code and one sentence. */
export type Rejection = Extract<IngestDecision, { kind: 'reject' }>;

export const reject = (
  status: number,
  code: string,
  message: string,
  reason = code
): Rejection => ({ kind: 'reject', status, code, message, reason });

/** 405 for a method the URL does not take, naming those it does. */
export const methodNotAllowed = (allow: string): Rejection => ({
  ...reject(
    405,
    'method_not_allowed',
    `This URL takes ${allow.replace(', ', ' or ')} requests.`
  ),
  allow,
});

/** 413 for a body over {@link MAX_WEBHOOK_BODY_BYTES}, else nothing. */
export const tooLarge = (body: Buffer): Rejection | undefined =>
  body.length > MAX_WEBHOOK_BODY_BYTES
    ? reject(
        413,
        'payload_too_large',
        `The body has ${body.length} bytes; the limit is ${MAX_WEBHOOK_BODY_BYTES}.`
      )
    : undefined;

/** 401 for a signature that failed, saying nothing about which part. */
export const signatureRejection = (reason: SignatureFailure): Rejection =>
  reason === 'timestamp_outside_tolerance'
    ? reject(
        401,
        'timestamp_outside_tolerance',
        'The signed timestamp is too far from the current time.'
      )
    : reject(
        401,
        'invalid_signature',
        'The request signature is missing or does not verify.',
        reason
      );

/**
 * Decides what a request to a webhook URL becomes: accepted as an event,
 * answered as a provider's ping or subscription challenge, or refused with
 * a stable code. Authentication failures say nothing about which part of
 * the signature was wrong.
 */
export const decideIngest = (
  request: IncomingRequest,
  webhook: Webhook | undefined,
  secret: SecretRecord | undefined,
  now: Date
): IngestDecision => {
  if (!webhook || !secret) {
    return reject(404, 'webhook_not_found', 'No webhook has this URL.');
  }
  const preset = presetFor(webhook);
  const allow = preset.subscriptionChallenge ? 'GET, POST' : 'POST';
  if (request.method === 'GET' && preset.subscriptionChallenge) {
    return answerChallenge(request, secret);
  }
  if (request.method !== 'POST') return methodNotAllowed(allow);
  const oversized = tooLarge(request.body);
  if (oversized) return oversized;
  const headers = normaliseHeaders(request.headers);
  const signed = findHeader(headers, preset.scheme.header) !== undefined;
  if (!signed && preset.ping?.bodyPattern.test(request.body.toString('utf8'))) {
    return { kind: 'ping' };
  }
  const result = verifySignature(
    preset.scheme,
    { body: request.body, headers },
    usableSecrets(secret, now),
    now.getTime() / 1000
  );
  if (!result.ok) return signatureRejection(result.reason);

  return accept(preset, webhook.webhookId, request.body, headers, now);
};

const accept = (
  preset: ProviderPreset,
  webhookId: string,
  body: Buffer,
  headers: Record<string, string>,
  now: Date
): IngestDecision => {
  const parsed = parseJsonExact(body.toString('utf8'));
  const providerEventId =
    preset.eventId && readField(preset.eventId, headers, parsed);
  const message: IngestMessage = {
    v: 1,
    eventId: randomUUID(),
    webhookId,
    receivedAt: now.toISOString(),
    eventKey: readField(preset.eventKey, headers, parsed),
    providerEventId,
    headers: forwardableHeaders(headers),
    ...encodeBody(body),
  };

  return { kind: 'accept', message };
};

const answerChallenge = (
  request: IncomingRequest,
  secret: SecretRecord
): IngestDecision => answerSubscription(request.query, secret.verifyToken);

const digest = (text: string): Buffer =>
  createHash('sha256').update(text).digest();

/**
 * Meta's GET subscription challenge: answered with `hub.challenge` only
 * when `hub.mode` is `subscribe` and `hub.verify_token` is the expected
 * token (compared in constant time), else 403 `challenge_failed`.
 */
export const answerSubscription = (
  query: IncomingRequest['query'],
  verifyToken: string | undefined
): Rejection | Extract<IngestDecision, { kind: 'challenge' }> => {
  const token = query['hub.verify_token'] ?? '';
  const challenge = query['hub.challenge'] ?? '';
  const expected = verifyToken ?? '';
  // Compared as fixed-length digests: equal time whatever the lengths,
  // and no error for tokens of the same characters but other bytes.
  const tokenMatches =
    expected !== '' && timingSafeEqual(digest(token), digest(expected));
  if (query['hub.mode'] !== 'subscribe' || !tokenMatches || challenge === '') {
    return reject(
      403,
      'challenge_failed',
      'The subscription challenge does not carry the expected verify token.'
    );
  }

  return { kind: 'challenge', answer: challenge };
};
