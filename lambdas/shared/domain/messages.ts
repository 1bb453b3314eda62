import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { replayMarkSchema } from './replay.js';
import type { TemplateMessageRequest } from './whatsapp.js';

/**
 * The queue contracts between stages. Version them so a message written by
 * an older function still reads after a deploy.
 */
export const ingestMessageSchema = z.object({
  v: z.literal(1),
  eventId: z.string(),
  webhookId: z.string(),
  receivedAt: z.string(),
  eventKey: z.string().optional(),
  providerEventId: z.string().optional(),
  headers: z.record(z.string(), z.string()),
  /** The body itself; empty when it is kept in the payload store. */
  body: z.string(),
  bodyEncoding: z.enum(['utf8', 'base64']),
  /** Where a body too large for a queue message is kept whole. */
  payloadRef: z
    .object({
      key: z.string(),
      bytes: z.number().int().nonnegative(),
      sha256: z.string(),
    })
    .optional(),
  /** Set when the event is replayed: it keeps its event id. */
  replay: replayMarkSchema.optional(),
});
export type IngestMessage = z.infer<typeof ingestMessageSchema>;
export type PayloadRef = NonNullable<IngestMessage['payloadRef']>;

export const outboundMessageSchema = z.object({
  v: z.literal(1),
  eventId: z.string(),
  webhookId: z.string(),
  mappingId: z.string(),
  messageKey: z.string(),
  recipient: z.string(),
  queuedAt: z.string(),
  /** Seconds at least between two messages to this recipient. */
  minGapSeconds: z.number().nonnegative().optional(),
  request: z.custom<TemplateMessageRequest>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      (value as { type?: unknown }).type === 'template'
  ),
});
export type OutboundMessage = z.infer<typeof outboundMessageSchema>;

/**
 * A message held for a delay, as it hops on the delay queue: the message
 * to release, when it is due and where its record is.
 */
export const delayedMessageSchema = z.object({
  v: z.literal(1),
  dueAt: z.string(),
  key: z.object({ pk: z.string(), sk: z.string() }),
  message: outboundMessageSchema,
});
export type DelayedMessage = z.infer<typeof delayedMessageSchema>;

/**
 * How long a provider's event id is remembered: longer than any provider
 * re-delivers (Shopify 4 h, Stripe 3 days, Meta 7 days).
 */
export const DUPLICATE_WINDOW_SECONDS = 8 * 24 * 3600;

/** Headers that never travel past the verifier. */
const PRIVATE_HEADERS = new Set(['authorization', 'cookie', 'x-api-key']);

export const forwardableHeaders = (
  headers: Record<string, string>
): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers).filter(([name]) => !PRIVATE_HEADERS.has(name))
  );

/** Body bytes as the queue carries them: text when it is valid UTF-8. */
export const encodeBody = (
  bytes: Buffer
): Pick<IngestMessage, 'body' | 'bodyEncoding'> => {
  return isUtf8(bytes)
    ? { body: bytes.toString('utf8'), bodyEncoding: 'utf8' }
    : { body: bytes.toString('base64'), bodyEncoding: 'base64' };
};

export const decodeBody = (message: IngestMessage): Buffer => {
  if (message.payloadRef) {
    throw new Error('The body is in the payload store; attach it first.');
  }

  return Buffer.from(message.body, message.bodyEncoding);
};

/**
 * Bodies up to this size travel inside the ingest message. Larger ones are
 * kept whole in the payload store and the message carries a reference, so
 * queue messages stay small and any accepted body fits.
 */
export const INLINE_BODY_MAX_BYTES = 192 * 1024;

/** Key prefix of stored bodies in the payload store. */
export const PAYLOAD_KEY_PREFIX = 'payloads/';

/**
 * Splits a large body off an accepted event: the message to queue, and the
 * bytes to store under its key first. Small bodies stay inline.
 */
export const detachBody = (
  message: IngestMessage
): { message: IngestMessage; payload?: Buffer } => {
  const bytes = decodeBody(message);
  if (bytes.length <= INLINE_BODY_MAX_BYTES) return { message };
  const payloadRef: PayloadRef = {
    key: `${PAYLOAD_KEY_PREFIX}${message.webhookId}/${message.eventId}`,
    bytes: bytes.length,
    sha256: sha256(bytes),
  };

  return {
    message: { ...message, body: '', payloadRef },
    payload: bytes,
  };
};

/**
 * Puts a stored body back into its message, after checking it is exactly
 * the body that was accepted.
 */
export const attachBody = (
  message: IngestMessage,
  payload: Buffer
): IngestMessage => {
  const ref = message.payloadRef;
  if (!ref) return message;
  checkPayload(ref, payload);
  const { payloadRef: _stored, ...rest } = message;

  return { ...rest, ...encodeBody(payload) };
};

/** Throws unless `payload` is exactly the body `ref` was made from. */
export const checkPayload = (ref: PayloadRef, payload: Buffer): Buffer => {
  if (payload.length !== ref.bytes || sha256(payload) !== ref.sha256) {
    throw new PayloadMismatchError(ref.key);
  }

  return payload;
};

export class PayloadMismatchError extends Error {
  override name = 'PayloadMismatchError';
  constructor(key: string) {
    super(`The stored payload ${key} is not the body that was accepted.`);
  }
}

/** Identity of one message: the same event, mapping and recipient. */
export const messageKey = (
  eventId: string,
  mappingId: string,
  recipient: string
): string => sha256(`${eventId}\n${mappingId}\n${recipient}`);

/**
 * A provider's text (an event id, an event key) as part of a table key:
 * fixed-length, free of the `#` separator, and far below DynamoDB's key
 * size limits whatever the provider sent.
 */
export const keyHash = (text: string): string => sha256(text);

/** FIFO ordering key that keeps the phone number out of queue metadata. */
export const recipientGroup = (recipient: string): string =>
  `r_${sha256(recipient).slice(0, 40)}`;

const sha256 = (value: string | Buffer): string =>
  createHash('sha256').update(value).digest('hex');

/** A queue message's body as `schema` reads it, or none when it cannot. */
export const readQueueBody = <S extends z.ZodType>(
  body: string,
  schema: S
): z.infer<S> | undefined => {
  try {
    const parsed = schema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};
