import { parseJsonExact } from './json.js';
import type { IngestMessage, PayloadRef } from './messages.js';

/**
 * A payload a capturing webhook kept, so an admin can build and preview
 * mappings against what the provider really sends.
 */
export interface CapturedPayload {
  readonly webhookId: string;
  readonly eventKey: string;
  readonly eventId: string;
  readonly receivedAt: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly bodyEncoding: 'utf8' | 'base64';
  /** Set when the body is kept in the payload store, not in the capture. */
  readonly payloadRef?: PayloadRef;
  /** Why `body` is empty, when it is. */
  readonly bodyOmitted?: string;
}

/** Payloads kept per event key: the most recent ones. */
export const CAPTURES_PER_EVENT_KEY = 5;

/** Event key used for requests that carry none. */
export const NO_EVENT_KEY = '(none)';

/**
 * The capture of an event as it was queued: a large body stays in the
 * payload store and the capture points at it (DynamoDB items stop at
 * 400 KB).
 */
export const toCapture = (message: IngestMessage): CapturedPayload => {
  const base = {
    webhookId: message.webhookId,
    eventKey: message.eventKey ?? NO_EVENT_KEY,
    eventId: message.eventId,
    receivedAt: message.receivedAt,
    headers: message.headers,
    body: message.body,
    bodyEncoding: message.bodyEncoding,
  };
  const ref = message.payloadRef;
  if (!ref) return base;

  return {
    ...base,
    payloadRef: ref,
    bodyOmitted: `the body has ${ref.bytes} bytes and is kept in the payload store`,
  };
};

/**
 * The payload as expressions see it: parsed JSON, or the text itself. A
 * body kept in the payload store is passed in as `stored`.
 */
export const captureBody = (
  capture: CapturedPayload,
  stored?: Buffer
): unknown => {
  const bytes = stored ?? Buffer.from(capture.body, capture.bodyEncoding);
  const text = bytes.toString('utf8');
  return parseJsonExact(text) ?? text;
};
