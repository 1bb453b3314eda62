import { createHash } from 'node:crypto';
import { ConfigError } from './errors.js';
import type { DelayedMessage } from './messages.js';
import { maskPhone } from './phone.js';
import { type TraceRecord, TraceStage } from './trace.js';

/**
 * Delayed messages. SQS FIFO queues take no per-message delay, so a held
 * message waits on a standard queue in hops of at most 15 minutes (the
 * longest delay SQS gives one message), each hop a new message, until it is
 * due. A record per held message in the log table says whether it is still
 * waiting, was released or was cancelled; a conditional write on that
 * record settles a release racing a cancellation.
 */

/** The longest delay SQS gives one message on a standard queue. */
export const MAX_HOP_SECONDS = 900;
/** The longest delay a mapping may ask for: a day. */
export const MAX_DELAY_SECONDS = 86_400;

export const DelayState = {
  Waiting: 'waiting',
  Released: 'released',
  Cancelled: 'cancelled',
} as const;
export type DelayState = (typeof DelayState)[keyof typeof DelayState];

/**
 * Reads the hop length from its environment value: a whole number of
 * seconds from 1 to 900, 900 when unset. Shorter hops exist for tests.
 */
export const parseHopSeconds = (raw: string | undefined): number => {
  if (raw === undefined || raw === '') return MAX_HOP_SECONDS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_HOP_SECONDS) {
    throw new ConfigError(
      `The delay hop must be a whole number of seconds from 1 to ${MAX_HOP_SECONDS}, not "${raw}".`
    );
  }

  return value;
};

/** When a message delayed by `delaySeconds` from `acceptedAt` is due. */
export const dueTime = (acceptedAt: string, delaySeconds: number): string =>
  new Date(Date.parse(acceptedAt) + delaySeconds * 1000).toISOString();

export const isDue = (dueAt: string, now: Date): boolean =>
  now.getTime() >= Date.parse(dueAt);

/**
 * Seconds the next hop waits: what remains until `dueAt`, rounded up so a
 * message never arrives early, at most one hop; 0 once it is due.
 */
export const nextHopSeconds = (
  dueAt: string,
  now: Date,
  hopSeconds: number
): number => {
  const remainingMs = Date.parse(dueAt) - now.getTime();
  if (remainingMs <= 0) return 0;

  return Math.min(Math.ceil(remainingMs / 1000), hopSeconds);
};

/** Every hop a delay takes when nothing else runs late. */
export const hopsFor = (delaySeconds: number, hopSeconds: number): number[] => {
  const hops: number[] = [];
  const start = new Date(0);
  const dueAt = dueTime(start.toISOString(), delaySeconds);
  let now = start;
  for (;;) {
    const hop = nextHopSeconds(dueAt, now, hopSeconds);
    if (hop === 0) return hops;
    hops.push(hop);
    now = new Date(now.getTime() + hop * 1000);
  }
};

/** Where a held message's record lives in the log table. */
export interface DelayKey {
  readonly pk: string;
  readonly sk: string;
}

/**
 * One partition per webhook and business key, so a later event with the
 * same key finds every message still waiting for it; the sort key starts
 * with the mapping so a cancellation reads only the mappings it names.
 * Without a business key the message cannot be cancelled and gets a
 * partition of its own. Keys are hashed: they may be long or personal.
 */
export const delayKey = (
  webhookId: string,
  businessKey: string | undefined,
  mappingId: string,
  messageKey: string
): DelayKey => ({
  pk:
    businessKey === undefined
      ? `DELAY#${webhookId}#none-${messageKey}`
      : delayPartition(webhookId, businessKey),
  sk: `${mappingId}#${messageKey}`,
});

export const delayPartition = (webhookId: string, businessKey: string) =>
  `DELAY#${webhookId}#${createHash('sha256').update(businessKey).digest('hex')}`;

/** The sort key prefix of one mapping's held messages. */
export const delayMappingPrefix = (mappingId: string): string =>
  `${mappingId}#`;

/** What a held message's record says about it. */
export interface HeldMessage {
  readonly eventId: string;
  readonly mappingId: string;
  readonly messageKey: string;
  /** Masked. */
  readonly recipient: string;
  readonly template: string;
  readonly dueAt: string;
  readonly state: DelayState;
  readonly cancelledBy?: string;
}

export type CancelVerdict = 'cancel' | 'released' | 'cancelled' | 'own';

/**
 * Whether an event may cancel a held message: only one still waiting, and
 * never one its own event held (a mapping that cancels itself replaces the
 * earlier events' messages, not the one it just held). A cancellation of
 * this same event found again on a retry is repeated, so its trace is
 * written even after a crash.
 */
export const cancelVerdict = (
  held: HeldMessage,
  cancellingEventId: string
): CancelVerdict => {
  if (held.eventId === cancellingEventId) return 'own';
  if (held.state === DelayState.Waiting) return 'cancel';
  if (
    held.state === DelayState.Cancelled &&
    held.cancelledBy === cancellingEventId
  ) {
    return 'cancel';
  }

  return held.state;
};

/** The record of a message held by the mapper, before any hop. */
export const heldMessageOf = (delayed: DelayedMessage): HeldMessage => ({
  eventId: delayed.message.eventId,
  mappingId: delayed.message.mappingId,
  messageKey: delayed.message.messageKey,
  recipient: maskPhone(delayed.message.recipient),
  template: delayed.message.request.template.name,
  dueAt: delayed.dueAt,
  state: DelayState.Waiting,
});

/** What a cancelling mapping asks for, once its business key is known. */
export interface CancelPlan {
  /** The cancelling mapping. */
  readonly mappingId: string;
  /** The mappings whose held messages it cancels. */
  readonly cancels: readonly string[];
  readonly businessKey: string;
}

/** One held message a cancellation found, and what became of it. */
export interface CancelOutcome {
  readonly plan: CancelPlan;
  readonly target: string;
  readonly held: HeldMessage;
  readonly verdict: CancelVerdict;
}

interface EventRef {
  readonly eventId: string;
  readonly webhookId: string;
  readonly eventKey?: string;
}

/**
 * The trace of a cancellation: on the cancelling event's chain, what each
 * cancelling mapping did (cancelled, found nothing waiting, came too
 * late); on each cancelled event's chain, that its message was cancelled
 * and by which event.
 */
export const cancellationTrace = (
  event: EventRef,
  plans: readonly CancelPlan[],
  outcomes: readonly CancelOutcome[],
  now: Date
): TraceRecord[] => {
  const at = now.toISOString();
  const base = {
    eventId: event.eventId,
    webhookId: event.webhookId,
    ...(event.eventKey ? { eventKey: event.eventKey } : {}),
    at,
  };
  const trace: TraceRecord[] = [];
  for (const plan of plans) {
    for (const target of plan.cancels) {
      const found = outcomes.filter(
        (outcome) =>
          outcome.plan === plan &&
          outcome.target === target &&
          outcome.verdict !== 'own'
      );
      const cancel = {
        ...base,
        stage: TraceStage.Cancel,
        mappingId: plan.mappingId,
        cancelledMappingId: target,
      };
      if (found.length === 0) {
        trace.push({
          ...cancel,
          code: 'nothing_waiting',
          reason: `no message of mapping ${target} was waiting for this business key`,
        });
      }
      for (const { held, verdict } of found) {
        trace.push({
          ...cancel,
          cancelledEventId: held.eventId,
          recipient: held.recipient,
          ...cancelWords(verdict, target, held),
        });
        if (verdict !== 'cancel') continue;
        trace.push({
          eventId: held.eventId,
          webhookId: event.webhookId,
          stage: TraceStage.Cancelled,
          at,
          mappingId: held.mappingId,
          recipient: held.recipient,
          template: held.template,
          until: held.dueAt,
          cancelledBy: event.eventId,
          reason: `cancelled by event ${event.eventId} (mapping ${plan.mappingId}) before it was due`,
        });
      }
    }
  }

  return trace;
};

const cancelWords = (
  verdict: CancelVerdict,
  target: string,
  held: HeldMessage
): { code?: string; reason: string } => {
  if (verdict === 'cancel') {
    return {
      reason: `cancelled the waiting message of mapping ${target} from event ${held.eventId}`,
    };
  }
  if (verdict === 'released') {
    return {
      code: 'already_released',
      reason: `the message of mapping ${target} from event ${held.eventId} was already released`,
    };
  }

  return {
    code: 'already_cancelled',
    reason: `the message of mapping ${target} from event ${held.eventId} was already cancelled by event ${held.cancelledBy}`,
  };
};

/** The trace of a held message put on the outbound queue once due. */
export const releaseTrace = (
  delayed: DelayedMessage,
  now: Date
): TraceRecord => {
  const held = heldMessageOf(delayed);

  return {
    eventId: held.eventId,
    webhookId: delayed.message.webhookId,
    stage: TraceStage.Released,
    at: now.toISOString(),
    mappingId: held.mappingId,
    recipient: held.recipient,
    template: held.template,
    until: held.dueAt,
  };
};
