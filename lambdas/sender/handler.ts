import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { Env, Functions } from '../../lib/definitions.js';
import { holdMessages, moveToDeadLetter } from '../shared/adapters/queues.js';
import {
  claimSend,
  lastSentTo,
  pauseSending,
  readLedger,
  readPause,
  recordSent,
  reserveRecipient,
  type Settlement,
  settleClaim,
} from '../shared/adapters/send-ledger.js';
import { writeTrace } from '../shared/adapters/trace-store.js';
import {
  postMessage,
  SEND_TIMEOUT_MS,
} from '../shared/adapters/whatsapp-client.js';
import { optionalEnv } from '../shared/config.js';
import {
  afterFreshToken,
  backoffSeconds,
  DEFAULT_MIN_GAP_SECONDS,
  DEFAULT_RETRY_POLICY,
  decideClaim,
  type FinalAction,
  gapWaitMs,
  holdSeconds,
  judgeOutcome,
  LEASE_MARGIN_MS,
  mayRetry,
  reserveSendSlot,
  sendIntervalMs,
} from '../shared/domain/delivery.js';
import {
  type OutboundMessage,
  outboundMessageSchema,
  readQueueBody,
} from '../shared/domain/messages.js';
import { maskPhone } from '../shared/domain/phone.js';
import { type TraceRecord, TraceStage } from '../shared/domain/trace.js';
import { MetricName, observability } from '../shared/observability.js';
import { processFifoBatch } from '../shared/sqs-batch.js';

const { logger, metrics } = observability('sender');

const POLICY = DEFAULT_RETRY_POLICY;
/** How long every send stops after Meta says the account cannot send. */
const STOP_SECONDS = 900;

/**
 * Each invocation paces its own sends so that all the event source's
 * concurrent invocations together stay under the number's throughput:
 * no two of its requests start closer than this, whichever recipients'
 * messages are in flight.
 */
const SEND_INTERVAL_MS = sendIntervalMs(
  Number(optionalEnv(Env.WhatsAppThroughput)),
  Functions.sender.source.maxConcurrency
);

/**
 * State of this execution environment, which runs one batch at a time and
 * its message groups at once. Send slots are taken without an await
 * between reading and storing, so groups never share one.
 */
const environment = {
  /** The next free slot, reserved before a send's ledger writes. */
  nextSlotAt: undefined as number | undefined,
  /** The earliest the next request may start, taken just before it. */
  nextStartAt: undefined as number | undefined,
  pausedUntil: 0,
};

/** Thrown to leave a record in the queue for `seconds`, not as an attempt. */
class HoldError extends Error {
  override name = 'HoldError';
  constructor(
    readonly seconds: number,
    reason: string
  ) {
    super(reason);
  }
}

/**
 * Sends each outbound message at most once. A message is claimed in the
 * send ledger before its request and settled after Meta's answer; a
 * redelivered message whose ledger is settled is acknowledged without a
 * request, and one whose attempt died without a verdict is recorded
 * `unconfirmed`, never sent again on its own. Waits (backoff, spacing,
 * pauses) extend the message's visibility, which holds its FIFO group.
 * The batch's recipients (its message groups) are served at once, each
 * one's messages in order, so several requests can await Meta's answer
 * while the invocation's pace still spaces their starts.
 */
// LIMITATION: other invocations see a sender-wide pause at their next batch,
// so each may still send (and be refused) the rest of its current batch;
// requests already waiting for an answer in this one cannot be recalled.
const sendBatch = async (
  event: SQSEvent,
  context: Context
): Promise<SQSBatchResponse> => {
  environment.pausedUntil = Math.max(
    environment.pausedUntil,
    await readPause()
  );
  const holds = new Map<string, number>();
  const response = await processFifoBatch(
    event,
    context,
    async (record) => {
      try {
        await sendRecord(record, context);
      } catch (error) {
        if (error instanceof HoldError) {
          holds.set(record.messageId, error.seconds);
          logger.info('message held', {
            message_id: record.messageId,
            outcome: 'held',
            hold_seconds: error.seconds,
            reason: error.message,
          });
        }
        throw error;
      }
      // Held records are answered as failures; holding them all is no error.
    },
    { throwOnFullBatchFailure: false, groupsAtOnce: true }
  );
  await applyHolds(event.Records, response, holds);

  return response;
};

/**
 * Sets how long each held record stays away. A record failed only because
 * an earlier one of its group was held is made visible at once: the held
 * one keeps the group locked, and comes first when it returns. Records
 * that failed otherwise return after the visibility timeout.
 */
const applyHolds = async (
  records: readonly SQSRecord[],
  response: SQSBatchResponse,
  holds: ReadonlyMap<string, number>
): Promise<void> => {
  const failed = new Set(
    response.batchItemFailures.map((item) => item.itemIdentifier)
  );
  const heldGroups = new Set<string>();
  const changes: { receiptHandle: string; seconds: number }[] = [];
  for (const record of records) {
    if (!failed.has(record.messageId)) continue;
    const group = record.attributes.MessageGroupId ?? '';
    const seconds = holds.get(record.messageId);
    if (seconds !== undefined) {
      heldGroups.add(group);
      changes.push({ receiptHandle: record.receiptHandle, seconds });
    } else if (heldGroups.has(group)) {
      changes.push({ receiptHandle: record.receiptHandle, seconds: 0 });
    }
  }
  try {
    await holdMessages(changes);
  } catch (error) {
    logger.error('holding messages failed; they return later', {
      error: error as Error,
    });
  }
};

const sendRecord = async (
  record: SQSRecord,
  context: Context
): Promise<void> => {
  const message = readQueueBody(record.body, outboundMessageSchema);
  if (message === undefined) {
    // Poison: no retry can help, and waiting for maxReceiveCount would
    // take hours. It goes to the dead-letter queue now.
    await moveToDeadLetter(record, 'outbound');
    logger.error('outbound message unreadable, moved to dead letters', {
      message_id: record.messageId,
      error_code: 'message_unreadable',
    });
    return;
  }
  holdIfPaused();
  const now = Date.now();
  const entry = await readLedger(message.messageKey);
  const decision = decideClaim(entry, now);
  if (decision.kind === 'done') {
    logger.info('message already settled, acknowledged', {
      ...logKeys(message),
      outcome: decision.state,
    });
    // A copy queued again (a redelivery, a redrive, a replay) gets its
    // outcome on the chain too, so no `queued` record looks pending.
    await writeTraceSafely(message, {
      stage: TraceStage.Skipped,
      code: `already_${decision.state}`,
      reason: `this message is already ${decision.state}; it is not sent again`,
    });
    return;
  }
  if (decision.kind === 'wait') {
    throw new HoldError(
      holdSeconds(decision.waitMs),
      'an earlier attempt may still be running'
    );
  }
  if (decision.kind === 'confirmed') {
    // The attempt died after Meta accepted it, as a status callback showed.
    return recordAccepted(message, entry?.leaseId ?? '', decision.wamid);
  }
  if (decision.kind === 'unconfirmed') {
    await settle(message, entry?.leaseId ?? '', {
      kind: 'unconfirmed',
      code: 'attempt_interrupted',
      reason:
        'an attempt stopped after its request may have reached WhatsApp ' +
        'and before the answer was recorded; it is not sent again',
    });
    return;
  }
  const firstReceived = Number(
    record.attributes.ApproximateFirstReceiveTimestamp
  );
  const ageSeconds = Number.isFinite(firstReceived)
    ? Math.max(0, (now - firstReceived) / 1000)
    : 0;
  await waitForTurn(message, context, now);
  await attempt(message, context, ageSeconds);
};

/** Holds the message unless this recipient, this time and pace allow it. */
const waitForTurn = async (
  message: OutboundMessage,
  context: Context,
  now: number
): Promise<void> => {
  const minGapSeconds = message.minGapSeconds ?? DEFAULT_MIN_GAP_SECONDS;
  const gap = gapWaitMs(
    await lastSentTo(message.recipient),
    minGapSeconds,
    now
  );
  if (gap > 0) {
    throw new HoldError(
      holdSeconds(gap),
      'the recipient had a message just now'
    );
  }
  const slotAt = reserveSlot(context);
  if (slotAt === undefined) {
    throw new HoldError(holdSeconds(0), 'too little time left to send');
  }
  await sleepUntil(slotAt);
  // Another recipient's send may have paused every send meanwhile.
  holdIfPaused();
  if (
    !(await reserveRecipient(
      message.recipient,
      minGapSeconds * 1000,
      Date.now()
    ))
  ) {
    throw new HoldError(
      holdSeconds(minGapSeconds * 1000),
      'another message to the recipient is leaving'
    );
  }
};

const holdIfPaused = (): void => {
  const now = Date.now();
  if (environment.pausedUntil > now) {
    throw new HoldError(
      holdSeconds(environment.pausedUntil - now + jitterMs()),
      'sending is paused'
    );
  }
};

/**
 * Takes this invocation's next send slot, or none when a request starting
 * then could not finish inside the invocation (its outcome would be lost).
 */
const reserveSlot = (context: Context): number | undefined => {
  const now = Date.now();
  const slot = reserveSendSlot(environment.nextSlotAt, SEND_INTERVAL_MS, now);
  const needed = slot.startAt - now + SEND_TIMEOUT_MS + LEASE_MARGIN_MS;
  if (context.getRemainingTimeInMillis() < needed) return undefined;
  environment.nextSlotAt = slot.nextFreeAt;

  return slot.startAt;
};

/**
 * Waits until a request may leave. Slots are taken before the ledger
 * writes and the token read, which can outlast the wait for the next
 * slot, so the requests themselves are spaced too.
 */
const startRequest = async (): Promise<void> => {
  const start = reserveSendSlot(
    environment.nextStartAt,
    SEND_INTERVAL_MS,
    Date.now()
  );
  environment.nextStartAt = start.nextFreeAt;
  await sleepUntil(start.startAt);
};

const sleepUntil = async (at: number): Promise<void> => {
  const wait = at - Date.now();
  if (wait > 0) await sleep(wait);
};

const attempt = async (
  message: OutboundMessage,
  context: Context,
  ageSeconds: number
): Promise<void> => {
  const lease = {
    id: randomUUID(),
    until: Date.now() + context.getRemainingTimeInMillis() + LEASE_MARGIN_MS,
  };
  const attempts = await claimSend(message, lease, new Date());
  if (attempts === undefined) {
    throw new HoldError(holdSeconds(0), 'another attempt holds the message');
  }
  const request = {
    ...message.request,
    biz_opaque_callback_data: message.messageKey,
  };
  const first = judgeOutcome(
    await postMessage(request, { pace: startRequest })
  );
  let action: FinalAction;
  if (first.kind !== 'refresh_token') action = first;
  else {
    // The token may have been replaced since it was cached: read it again
    // and send once more, in a slot of its own.
    const slotAt = reserveSlot(context);
    if (slotAt === undefined) {
      // No time for a second request: the refused one provably did not send.
      action = {
        kind: 'retry',
        scope: 'message',
        code: first.code,
        reason: first.reason,
      };
    } else {
      await sleepUntil(slotAt);
      action = afterFreshToken(
        judgeOutcome(
          await postMessage(request, { freshToken: true, pace: startRequest })
        )
      );
    }
  }
  await act(message, lease.id, action, attempts, ageSeconds);
};

const act = async (
  message: OutboundMessage,
  leaseId: string,
  action: FinalAction,
  attempts: number,
  ageSeconds: number
): Promise<void> => {
  if (action.kind === 'sent')
    return recordAccepted(message, leaseId, action.wamid);
  if (action.kind === 'failed' || action.kind === 'unconfirmed') {
    return settle(message, leaseId, action);
  }
  const stop = action.kind === 'stop';
  const wait = stop
    ? STOP_SECONDS + Math.ceil(jitterMs() / 1000)
    : backoffSeconds(attempts, action.scope, Math.random);
  if (stop || action.scope === 'sender') {
    environment.pausedUntil = Date.now() + wait * 1000;
    await pauseSending(environment.pausedUntil, action.code, new Date());
  }
  if (stop) {
    metrics.addMetric(MetricName.SendingStopped, MetricUnit.Count, 1);
    logger.error('WhatsApp refused the account: sending stopped', {
      ...logKeys(message),
      error_code: action.code,
      reason: action.reason,
      paused_seconds: wait,
    });
  }
  if (!mayRetry(attempts, ageSeconds, wait, POLICY)) {
    return settle(message, leaseId, {
      kind: 'failed',
      code: action.code,
      reason: `gave up after ${attempts} attempt(s): ${action.reason}`,
    });
  }
  await settle(message, leaseId, {
    kind: 'retrying',
    code: action.code,
    reason: `${action.reason}; next attempt in ${wait} s`,
  });
  throw new HoldError(wait, action.reason);
};

const recordAccepted = async (
  message: OutboundMessage,
  leaseId: string,
  wamid: string
): Promise<void> => {
  try {
    await recordSent(message, leaseId, wamid, new Date());
  } catch (error) {
    // The message is sent; a retry would find its claim and never resend.
    logger.error('send ledger write failed after send', {
      ...logKeys(message),
      wamid,
      error: error as Error,
    });
  }
  metrics.addMetric(MetricName.MessageSent, MetricUnit.Count, 1);
  logger.info('message sent', { ...logKeys(message), outcome: 'sent', wamid });
  await writeTraceSafely(message, { stage: TraceStage.Sent, wamid });
};

type Verdict = {
  readonly kind: 'failed' | 'unconfirmed' | 'retrying';
  readonly code: string;
  readonly reason: string;
};

/** Ends the claim, counts it, logs it and traces it. */
const settle = async (
  message: OutboundMessage,
  leaseId: string,
  verdict: Verdict
): Promise<void> => {
  const settlement: Settlement = {
    state: verdict.kind,
    code: verdict.code,
    reason: verdict.reason,
  };
  const settled = await settleClaim(
    message.messageKey,
    leaseId,
    settlement,
    new Date()
  );
  if (!settled) {
    const proven = await provenWamid(message.messageKey, leaseId, verdict);
    if (proven !== undefined) {
      return recordAccepted(message, leaseId, proven);
    }
    logger.warn('send claim changed hands; nothing recorded', logKeys(message));
    return;
  }
  const metric = {
    failed: MetricName.MessageFailed,
    unconfirmed: MetricName.MessageUnconfirmed,
    retrying: MetricName.MessageRetried,
  }[verdict.kind];
  metrics.addMetric(metric, MetricUnit.Count, 1);
  const fields = {
    ...logKeys(message),
    outcome: verdict.kind,
    error_code: verdict.code,
    reason: verdict.reason,
  };
  if (verdict.kind === 'retrying')
    logger.warn('message will be retried', fields);
  else logger.error(`message ${verdict.kind}`, fields);
  await writeTraceSafely(message, {
    stage: {
      failed: TraceStage.Failed,
      unconfirmed: TraceStage.Unconfirmed,
      retrying: TraceStage.Retrying,
    }[verdict.kind],
    code: verdict.code,
    reason: verdict.reason,
  });
};

/**
 * The wamid a status callback left on a message this claim still holds,
 * when that is why it could not be settled `unconfirmed`.
 */
const provenWamid = async (
  messageKey: string,
  leaseId: string,
  verdict: Verdict
): Promise<string | undefined> => {
  if (verdict.kind !== 'unconfirmed') return undefined;
  const entry = await readLedger(messageKey);

  return entry?.state === 'sending' && entry.leaseId === leaseId
    ? entry.callbackWamid
    : undefined;
};

/** The ledger holds the truth; a lost trace record must not resend. */
const writeTraceSafely = async (
  message: OutboundMessage,
  outcome: Pick<TraceRecord, 'stage' | 'wamid' | 'code' | 'reason'>
): Promise<void> => {
  try {
    await writeTrace([traceOf(message, outcome)]);
  } catch (error) {
    logger.error('trace write failed', {
      ...logKeys(message),
      error: error as Error,
    });
  }
};

const traceOf = (
  message: OutboundMessage,
  outcome: Pick<TraceRecord, 'stage' | 'wamid' | 'code' | 'reason'>
): TraceRecord => ({
  eventId: message.eventId,
  webhookId: message.webhookId,
  mappingId: message.mappingId,
  recipient: maskPhone(message.recipient),
  template: message.request.template.name,
  at: new Date().toISOString(),
  ...outcome,
});

const logKeys = (message: OutboundMessage) => ({
  event_id: message.eventId,
  webhook_id: message.webhookId,
  mapping_id: message.mappingId,
  recipient: maskPhone(message.recipient),
});

/** Up to a second, so held messages do not all return at once. */
const jitterMs = (): number => Math.floor(Math.random() * 1000);

export const handler = middy(sendBatch)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
