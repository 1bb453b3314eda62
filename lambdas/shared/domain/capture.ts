import { parseJsonExact } from './json.js';
import { decodeBody, type IngestMessage } from './messages.js';

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
  /** Set when the body was too large to keep beside the other fields. */
  readonly bodyOmitted?: string;
}

/** Payloads kept per event key: the most recent ones. */
export const CAPTURES_PER_EVENT_KEY = 5;

/** What one stored item may hold of a body (DynamoDB items stop at 400 KB). */
const MAX_CAPTURED_BODY_BYTES = 300 * 1024;

/** Event key used for requests that carry none. */
export const NO_EVENT_KEY = '(none)';

export const toCapture = (message: IngestMessage): CapturedPayload => {
  const base = {
    webhookId: message.webhookId,
    eventKey: message.eventKey ?? NO_EVENT_KEY,
    eventId: message.eventId,
    receivedAt: message.receivedAt,
    headers: message.headers,
  };
  const size = decodeBody(message).length;
  if (size > MAX_CAPTURED_BODY_BYTES) {
    return {
      ...base,
      body: '',
      bodyEncoding: 'utf8',
      bodyOmitted: `the body has ${size} bytes; captures keep up to ${MAX_CAPTURED_BODY_BYTES}`,
    };
  }

  return { ...base, body: message.body, bodyEncoding: message.bodyEncoding };
};

/** The payload as expressions see it: parsed JSON, or the text itself. */
export const captureBody = (capture: CapturedPayload): unknown => {
  const text = Buffer.from(capture.body, capture.bodyEncoding).toString('utf8');
  return parseJsonExact(text) ?? text;
};
