/**
 * One event's chain, stage by stage: what the admin API returns and what
 * the on-call engineer reads. Phone numbers appear only masked.
 */
export const TraceStage = {
  Received: 'received',
  Duplicate: 'duplicate',
  Captured: 'captured',
  Matched: 'matched',
  Skipped: 'skipped',
  Rejected: 'rejected',
  Queued: 'queued',
  Sent: 'sent',
  Retrying: 'retrying',
  Failed: 'failed',
  // What Meta's status callbacks report after the send.
  Delivered: 'delivered',
  Read: 'read',
  /** Held until `until`; released or cancelled later. */
  Delayed: 'delayed',
  Released: 'released',
  /** A held message cancelled by a later event (`cancelledBy`). */
  Cancelled: 'cancelled',
  /** What a cancelling mapping did, on the cancelling event's chain. */
  Cancel: 'cancel',
  /** The send may or may not have reached WhatsApp; it is not repeated. */
  Unconfirmed: 'unconfirmed',
  /** The event was put through the current mappings again (`replayId`). */
  Replayed: 'replayed',
} as const;
export type TraceStage = (typeof TraceStage)[keyof typeof TraceStage];

export interface TraceRecord {
  readonly eventId: string;
  readonly webhookId: string;
  readonly stage: TraceStage;
  readonly at: string;
  readonly eventKey?: string;
  readonly providerEventId?: string;
  readonly mappingId?: string;
  readonly recipient?: string;
  readonly template?: string;
  readonly wamid?: string;
  readonly code?: string;
  readonly reason?: string;
  /** For a delivery status: when WhatsApp says it happened. */
  readonly statusAt?: string;
  /** For a duplicate: the event that was processed the first time. */
  readonly originalEventId?: string;
  /** For a delayed message: when it is due. */
  readonly until?: string;
  /** For a cancelled message: the event that cancelled it. */
  readonly cancelledBy?: string;
  /** For a cancel: the event whose message it cancelled. */
  readonly cancelledEventId?: string;
  /** For a cancel: the mapping whose message it cancelled. */
  readonly cancelledMappingId?: string;
  /** For a replay and what it processed: the replay's id. */
  readonly replayId?: string;
  /** For a replay: who asked for it. */
  readonly requestedBy?: string;
}
