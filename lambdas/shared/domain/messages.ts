import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { z } from 'zod';
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
  body: z.string(),
  bodyEncoding: z.enum(['utf8', 'base64']),
});
export type IngestMessage = z.infer<typeof ingestMessageSchema>;

export const outboundMessageSchema = z.object({
  v: z.literal(1),
  eventId: z.string(),
  webhookId: z.string(),
  mappingId: z.string(),
  messageKey: z.string(),
  recipient: z.string(),
  queuedAt: z.string(),
  request: z.custom<TemplateMessageRequest>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      (value as { type?: unknown }).type === 'template'
  ),
});
export type OutboundMessage = z.infer<typeof outboundMessageSchema>;

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

export const decodeBody = (message: IngestMessage): Buffer =>
  Buffer.from(message.body, message.bodyEncoding);

/** Identity of one message: the same event, mapping and recipient. */
export const messageKey = (
  eventId: string,
  mappingId: string,
  recipient: string
): string => sha256(`${eventId}\n${mappingId}\n${recipient}`);

/** FIFO ordering key that keeps the phone number out of queue metadata. */
export const recipientGroup = (recipient: string): string =>
  `r_${sha256(recipient).slice(0, 40)}`;

const sha256 = (value: string | Buffer): string =>
  createHash('sha256').update(value).digest('hex');
