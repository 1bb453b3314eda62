import { z } from 'zod';
import type { LedgerState } from './delivery.js';
import { type TraceRecord, TraceStage } from './trace.js';

/**
 * Replay: an accepted event put through the current mappings again, under
 * its own event id, so every message keeps its message key and the send
 * ledger decides what may leave. Pure rules; the admin route and the
 * mapper carry them out.
 */

/** Events one replay call examines at most; more are reached by `cursor`. */
export const MAX_REPLAY_EVENTS = 500;

const isoTime = z.iso.datetime({ offset: true });

export const replayRequestSchema = z.strictObject({
  /** Events whose chain has a failure not yet answered by a replay. */
  failed: z.literal(true).optional(),
  /** Events received in this window, both ends included. */
  from: isoTime.optional(),
  to: isoTime.optional(),
  /** Messages whose ledger says `failed` are tried once more. */
  retryFailed: z.boolean().optional(),
  /** Only report what would be replayed. */
  dryRun: z.boolean().optional(),
  /** Where the previous call stopped (its `next`). */
  cursor: z.string().min(1).max(2000).optional(),
});
export type ReplayRequest = z.infer<typeof replayRequestSchema>;

export interface ReplaySelection {
  readonly mode: 'failed' | 'window';
  readonly from: string;
  readonly to: string;
  readonly retryFailed: boolean;
  readonly dryRun: boolean;
}

/** A request the route refuses: a machine code and one sentence. */
export interface ReplayProblem {
  readonly code: string;
  readonly message: string;
}

/**
 * The events a request selects, or why it selects none. Without a
 * window, `failed` looks at every event still kept (from the epoch to now).
 */
export const readSelection = (
  request: ReplayRequest,
  now: Date
): ReplaySelection | ReplayProblem => {
  const hasWindow = request.from !== undefined || request.to !== undefined;
  if (!request.failed && !hasWindow) {
    return {
      code: 'replay_selection_missing',
      message:
        'Say which events to replay: "failed": true, or "from" and "to".',
    };
  }
  if (hasWindow && (request.from === undefined || request.to === undefined)) {
    return {
      code: 'invalid_window',
      message: 'A window needs both "from" and "to".',
    };
  }
  const from = new Date(request.from ?? 0).toISOString();
  const to = (request.to ? new Date(request.to) : now).toISOString();
  if (from > to) {
    return {
      code: 'invalid_window',
      message: '"from" must not be later than "to".',
    };
  }

  return {
    mode: request.failed ? 'failed' : 'window',
    from,
    to,
    retryFailed: request.retryFailed ?? false,
    dryRun: request.dryRun ?? false,
  };
};

/** Stages that mean something the event should have done did not happen. */
const FAILURE_STAGES: ReadonlySet<string> = new Set([
  TraceStage.Failed,
  TraceStage.Rejected,
  TraceStage.Unconfirmed,
]);

export type EventVerdict =
  | { readonly replay: true }
  | { readonly replay: false; readonly code: string; readonly reason: string };

/**
 * Whether an event's chain calls for a replay. A provider's re-delivery is
 * never replayed: its messages would carry another event id, so the ledger
 * could not recognise them; its original is replayed instead. In `failed`
 * mode only failures newer than the event's last replay count, so a
 * replay that worked takes the event off the list.
 */
export const judgeEvent = (
  records: readonly TraceRecord[],
  mode: ReplaySelection['mode']
): EventVerdict => {
  if (records.some((record) => record.stage === TraceStage.Duplicate)) {
    return {
      replay: false,
      code: 'duplicate_delivery',
      reason: 'a re-delivery of another event; replay that one instead',
    };
  }
  if (mode === 'window') return { replay: true };
  const lastReplay =
    records
      .filter((record) => record.stage === TraceStage.Replayed)
      .map((record) => record.at)
      .sort()
      .at(-1) ?? '';
  const failed = records.some(
    (record) => FAILURE_STAGES.has(record.stage) && record.at > lastReplay
  );

  return failed
    ? { replay: true }
    : {
        replay: false,
        code: 'no_failure',
        reason: 'nothing failed since the event was last processed',
      };
};

/** What a replay does with one message its event maps to again. */
export type MessageAdmission =
  | { readonly kind: 'send' }
  /** Failed before: the ledger is released so the sender may try again. */
  | { readonly kind: 'retry' }
  | { readonly kind: 'skip'; readonly code: string; readonly reason: string };

/**
 * Whether a replayed message may be queued, by its ledger state. Nothing
 * delivered, or possibly delivered, ever leaves again; a permanent
 * failure, before or after WhatsApp accepted the message
 * (`undelivered`: its status callback said `failed`), is tried again
 * only when asked. A message waiting for a retry may be queued twice: the
 * ledger's claim lets only one copy send.
 */
export const admitMessage = (
  state: LedgerState | undefined,
  retryFailed: boolean,
  undelivered = false
): MessageAdmission => {
  if (state === 'sent' && undelivered) {
    return retryFailed
      ? { kind: 'retry' }
      : {
          kind: 'skip',
          code: 'failed_before',
          reason:
            'WhatsApp accepted this message and then could not deliver it; ' +
            'replay with "retryFailed": true to try again',
        };
  }
  switch (state) {
    case undefined:
    case 'retrying':
      return { kind: 'send' };
    case 'sent':
      return {
        kind: 'skip',
        code: 'already_sent',
        reason: 'this message was sent before; it is never sent twice',
      };
    case 'unconfirmed':
      return {
        kind: 'skip',
        code: 'already_unconfirmed',
        reason:
          'an earlier attempt may have reached WhatsApp; it is not sent again',
      };
    case 'sending':
      return {
        kind: 'skip',
        code: 'in_progress',
        reason: 'an attempt to send this message is under way',
      };
    case 'failed':
      return retryFailed
        ? { kind: 'retry' }
        : {
            kind: 'skip',
            code: 'failed_before',
            reason:
              'this message failed for good before; replay with "retryFailed": true to try again',
          };
  }
};

/** What a replay marks on each event it puts back on the ingest queue. */
export const replayMarkSchema = z.object({
  replayId: z.string(),
  requestedAt: z.string(),
  retryFailed: z.boolean(),
});
export type ReplayMark = z.infer<typeof replayMarkSchema>;

/** The `replayed` record on the original event's chain. */
export const replayedTrace = (
  event: { readonly eventId: string; readonly webhookId: string },
  mark: ReplayMark,
  selection: ReplaySelection,
  requestedBy: string,
  count: number
): TraceRecord => ({
  eventId: event.eventId,
  webhookId: event.webhookId,
  stage: TraceStage.Replayed,
  at: mark.requestedAt,
  replayId: mark.replayId,
  requestedBy,
  reason:
    `replayed with ${count - 1} other event(s) ` +
    (selection.mode === 'failed'
      ? 'because something in its chain failed'
      : `received from ${selection.from} to ${selection.to}`) +
    (selection.retryFailed ? '; failed messages are tried again' : ''),
});
