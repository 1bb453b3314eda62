import { z } from 'zod';
import { normaliseHeaders } from './http.js';
import {
  answerSubscription,
  type IncomingRequest,
  methodNotAllowed,
  type Rejection,
  reject,
  signatureRejection,
  tooLarge,
} from './ingest.js';
import { parseJsonExact } from './json.js';
import { maskPhonesInText } from './phone.js';
import { Providers } from './providers.js';
import { verifySignature } from './signature.js';
import { type TraceRecord, TraceStage } from './trace.js';

/**
 * Meta's status callbacks (FACTS A8): what a message became after Meta
 * accepted it. Statuses arrive in any order, more than once, several per
 * request; each message keeps the furthest one reached.
 */

/** Delivery statuses in the order a message reaches them. */
export const DELIVERY_STATUSES = [
  'sent',
  'delivered',
  'read',
  'failed',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * How far a status is: sent < delivered < read, and failed beats all of
 * them, because once Meta gives up on a message nothing follows it.
 */
export const STATUS_RANK: Readonly<Record<DeliveryStatus, number>> = {
  sent: 1,
  delivered: 2,
  read: 3,
  failed: 4,
};

/** Whether `next` moves a message on from `current` (none yet: any does). */
export const advances = (
  current: DeliveryStatus | undefined,
  next: DeliveryStatus
): boolean => current === undefined || STATUS_RANK[next] > STATUS_RANK[current];

/** The status a message ends in after `statuses`, in whatever order. */
export const finalStatus = (
  statuses: readonly DeliveryStatus[]
): DeliveryStatus | undefined =>
  statuses.reduce<DeliveryStatus | undefined>(
    (current, next) => (advances(current, next) ? next : current),
    undefined
  );

/** One status of one message, as the product keeps it. */
export interface StatusUpdate {
  readonly wamid: string;
  readonly status: DeliveryStatus;
  /** When Meta says the status happened (ISO 8601). */
  readonly statusAt: string;
  /** Our message key, when Meta echoed `biz_opaque_callback_data`. */
  readonly messageKey?: string;
  /** Meta's error code and reason, for a `failed`. */
  readonly code?: string;
  readonly reason?: string;
}

/** What one callback request carried. */
export interface StatusCallback {
  readonly updates: readonly StatusUpdate[];
  /** Inbound messages from customers: not handled, only counted. */
  readonly inboundMessages: number;
  /** Statuses this product does not track or cannot read. */
  readonly ignoredStatuses: number;
}

/** A message key is the hex SHA-256 `messageKey()` produces. */
const MESSAGE_KEY = /^[0-9a-f]{64}$/;
const TIMESTAMP = /^\d{1,12}$/;

const metaErrorSchema = z.looseObject({
  code: z.union([z.number(), z.string()]).optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional(),
});

const statusSchema = z.looseObject({
  id: z.string().min(1),
  status: z.enum(DELIVERY_STATUSES),
  timestamp: z.string().regex(TIMESTAMP),
  biz_opaque_callback_data: z.string().optional(),
  errors: z.array(metaErrorSchema).optional(),
});

const callbackSchema = z.looseObject({
  entry: z.array(
    z.looseObject({
      changes: z.array(
        z.looseObject({
          value: z
            .looseObject({
              statuses: z.array(z.unknown()).optional(),
              messages: z.array(z.unknown()).optional(),
            })
            .optional(),
        })
      ),
    })
  ),
});

/**
 * Reads a callback body: every status of every change of every entry, in
 * the order sent. A status this product does not track (or cannot read)
 * is counted and skipped, so one odd item never costs the others.
 */
export const parseStatusCallback = (
  body: Buffer
): StatusCallback | undefined => {
  const parsed = callbackSchema.safeParse(
    parseJsonExact(body.toString('utf8'))
  );
  if (!parsed.success) return undefined;
  const values = parsed.data.entry.flatMap((entry) =>
    entry.changes.flatMap((change) => (change.value ? [change.value] : []))
  );
  const items = values.flatMap((value) => value.statuses ?? []);
  const updates = items.flatMap((item) => {
    const status = statusSchema.safeParse(item);
    return status.success ? [toUpdate(status.data)] : [];
  });

  return {
    updates,
    inboundMessages: values.reduce(
      (count, value) => count + (value.messages?.length ?? 0),
      0
    ),
    ignoredStatuses: items.length - updates.length,
  };
};

const toUpdate = (item: z.infer<typeof statusSchema>): StatusUpdate => {
  const opaque = item.biz_opaque_callback_data;
  const error = item.status === 'failed' ? item.errors?.[0] : undefined;
  const reason =
    error?.error_data?.details ?? error?.message ?? error?.title ?? undefined;

  return {
    wamid: item.id,
    status: item.status,
    statusAt: new Date(Number(item.timestamp) * 1000).toISOString(),
    ...(opaque && MESSAGE_KEY.test(opaque) ? { messageKey: opaque } : {}),
    // The same form as the sender's codes for Meta's errors.
    ...(error?.code !== undefined ? { code: `meta_${error.code}` } : {}),
    // Reasons are Meta's text; a phone number in one stays masked.
    ...(reason ? { reason: maskPhonesInText(reason) } : {}),
  };
};

/** The message a status is about, as the send side recorded it. */
export interface MessageRef {
  readonly messageKey: string;
  readonly eventId: string;
  readonly webhookId: string;
  readonly mappingId?: string;
  /** Masked, as every trace keeps phone numbers. */
  readonly recipient?: string;
  readonly template?: string;
  /**
   * The sender has not recorded Meta's acceptance: its attempt is still
   * running or died (`sending`), or ended `unconfirmed`, as the ledger
   * said when the status arrived. A status proves the acceptance.
   */
  readonly acceptanceUnrecorded?: 'sending' | 'unconfirmed';
}

const STATUS_STAGES = {
  delivered: TraceStage.Delivered,
  read: TraceStage.Read,
  failed: TraceStage.Failed,
} as const;

/**
 * The trace record a status adds to its event's chain, if any: `sent` adds
 * none, since the chain already holds the send with its wamid.
 */
export const statusTrace = (
  message: MessageRef,
  update: StatusUpdate,
  now: Date
): TraceRecord | undefined => {
  if (update.status === 'sent') return undefined;

  return {
    eventId: message.eventId,
    webhookId: message.webhookId,
    stage: STATUS_STAGES[update.status],
    at: now.toISOString(),
    statusAt: update.statusAt,
    wamid: update.wamid,
    ...(message.mappingId ? { mappingId: message.mappingId } : {}),
    ...(message.recipient
      ? { recipient: maskPhonesInText(message.recipient) }
      : {}),
    ...(message.template ? { template: message.template } : {}),
    ...(update.code ? { code: update.code } : {}),
    ...(update.reason ? { reason: update.reason } : {}),
  };
};

/**
 * The `sent` record of a message whose send the sender could not record
 * (its attempt died, or ended `unconfirmed`) once a status shows Meta
 * accepted it.
 */
export const acceptanceTrace = (
  message: MessageRef,
  update: StatusUpdate,
  now: Date
): TraceRecord => ({
  eventId: message.eventId,
  webhookId: message.webhookId,
  stage: TraceStage.Sent,
  at: now.toISOString(),
  wamid: update.wamid,
  ...(message.mappingId ? { mappingId: message.mappingId } : {}),
  ...(message.recipient
    ? { recipient: maskPhonesInText(message.recipient) }
    : {}),
  ...(message.template ? { template: message.template } : {}),
  code: 'confirmed_by_status',
  reason: `WhatsApp reported the message ${update.status}, so it was accepted`,
});

/** What Secrets Manager holds for Meta's callbacks. */
export interface AppSecretRecord {
  /** The Meta app's secret, which signs every callback. */
  readonly appSecret?: string;
  /** The token Meta's subscription challenge must present. */
  readonly verifyToken?: string;
}

const appSecretSchema = z.looseObject({
  appSecret: z.string().optional(),
  verifyToken: z.string().optional(),
});

/** The secret's JSON, or `undefined` when it is not that shape. */
export const parseAppSecretRecord = (
  text: string
): AppSecretRecord | undefined => {
  try {
    const parsed = appSecretSchema.safeParse(JSON.parse(text));
    if (!parsed.success) return undefined;
    const { appSecret, verifyToken } = parsed.data;

    return {
      ...(appSecret ? { appSecret } : {}),
      ...(verifyToken ? { verifyToken } : {}),
    };
  } catch {
    return undefined;
  }
};

/** What to do with one request to the status callback URL. */
export type StatusDecision =
  | Rejection
  | { readonly kind: 'challenge'; readonly answer: string }
  | { readonly kind: 'accept'; readonly callback: StatusCallback };

/** The methods the callback URL takes, for 405's `Allow`. */
const ALLOW = 'GET, POST';

/**
 * Decides what a request to the status callback URL becomes: the answer
 * to Meta's subscription challenge, the statuses it carries once its
 * `X-Hub-Signature-256` verifies over the exact bytes, or a refusal with a
 * stable code. Unconfigured secrets refuse with 503, so Meta retries
 * until the operator has stored them.
 */
export const decideStatusRequest = (
  request: IncomingRequest,
  secret: AppSecretRecord | undefined,
  now: Date
): StatusDecision => {
  if (request.method === 'GET') {
    return answerSubscription(request.query, secret?.verifyToken);
  }
  if (request.method !== 'POST') return methodNotAllowed(ALLOW);
  const oversized = tooLarge(request.body);
  if (oversized) return oversized;
  if (!secret?.appSecret) {
    return reject(
      503,
      'not_configured',
      'The WhatsApp app secret is not stored yet; Meta will retry.'
    );
  }
  const result = verifySignature(
    Providers.meta.scheme,
    { body: request.body, headers: normaliseHeaders(request.headers) },
    [secret.appSecret],
    now.getTime() / 1000
  );
  if (!result.ok) return signatureRejection(result.reason);
  const callback = parseStatusCallback(request.body);
  if (callback === undefined) {
    return reject(
      400,
      'invalid_payload',
      'The body is not a WhatsApp Business Account callback.'
    );
  }

  return { kind: 'accept', callback };
};
