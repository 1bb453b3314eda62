import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { keepCapture } from '../shared/adapters/capture-store.js';
import { getWebhookWithMappings } from '../shared/adapters/config-store.js';
import { claimProviderEvent } from '../shared/adapters/dedup-store.js';
import { cancelWaiting, holdMessages } from '../shared/adapters/delay-store.js';
import { keepEvent } from '../shared/adapters/event-store.js';
import { withWholeBody } from '../shared/adapters/payload-store.js';
import {
  enqueueMessages,
  moveToDeadLetter,
} from '../shared/adapters/queues.js';
import {
  deliveryFailed,
  readLedger,
  releaseForReplay,
} from '../shared/adapters/send-ledger.js';
import { writeTrace } from '../shared/adapters/trace-store.js';
import { toCapture } from '../shared/domain/capture.js';
import {
  type IngestMessage,
  ingestMessageSchema,
  readQueueBody,
} from '../shared/domain/messages.js';
import {
  type Admit,
  duplicateTrace,
  planEvent,
  unprocessableTrace,
} from '../shared/domain/plan-event.js';
import { admitMessage, type ReplayMark } from '../shared/domain/replay.js';
import { cancellationTrace } from '../shared/domain/schedule.js';
import { WebhookStatus } from '../shared/domain/webhook.js';
import { MetricName, observability } from '../shared/observability.js';
import { processFifoBatch } from '../shared/sqs-batch.js';

const { logger, metrics } = observability('mapper');

/**
 * Maps one accepted event. A provider's re-delivery is recognised by its
 * event id and only recorded. Otherwise waiting messages it cancels are
 * cancelled, its messages queued or held, all before the trace is
 * written, so a retry after a crash repeats each step idempotently (same
 * deduplication ids, conditional records) instead of losing anything.
 */
const mapEvent = async (message: IngestMessage, now: Date): Promise<void> => {
  const config = await getWebhookWithMappings(message.webhookId);
  // Only a live webhook claims provider event ids: an event that was only
  // captured is processed when the provider sends it again after activation.
  const live = config.webhook?.status === WebhookStatus.Active;
  // A replay is the same provider event on purpose: it claims nothing.
  const replay = message.replay;
  if (live && message.providerEventId && !replay) {
    const claim = await claimProviderEvent(
      message.webhookId,
      message.providerEventId,
      message.eventId,
      now
    );
    if (!claim.claimed) {
      await writeTrace(duplicateTrace(message, claim.originalEventId, now));
      logger.info('event is a duplicate', {
        outcome: 'duplicate',
        original_event_id: claim.originalEventId,
      });
      return;
    }
  }
  // Kept for replay, as queued; a replay's copy is the one kept first.
  if (!replay) await keepForReplay(message, now);
  // Only a live webhook's mappings read the body; a capture keeps the
  // reference to a stored one.
  const whole = live ? await withWholeBody(message) : message;
  const plan = await planEvent(
    whole,
    config,
    now,
    replay && admitReplayed(replay, now)
  );

  if (plan.outcome === 'captured') await keepCapture(toCapture(message), now);
  const cancelled = await cancelWaiting(
    message.webhookId,
    message.eventId,
    plan.cancellations,
    now
  );
  await enqueueMessages(plan.messages, replay?.replayId);
  await holdMessages(plan.delayed, now);
  await writeTrace([
    ...plan.trace,
    ...cancellationTrace(message, plan.cancellations, cancelled, now),
  ]);
  const queued = plan.messages.length;
  metrics.addMetric(MetricName.MessageQueued, MetricUnit.Count, queued);
  metrics.addMetric(MetricName.MappingFailed, MetricUnit.Count, plan.failures);
  metrics.addMetric(
    MetricName.MessageDelayed,
    MetricUnit.Count,
    plan.delayed.length
  );
  metrics.addMetric(
    MetricName.MessageCancelled,
    MetricUnit.Count,
    cancelled.filter((outcome) => outcome.verdict === 'cancel').length
  );
  logger.info('event mapped', {
    outcome: plan.outcome,
    event_type: message.eventKey,
    messages: queued,
    delayed: plan.delayed.length,
    cancelled: cancelled.length,
    failures: plan.failures,
  });
};

/**
 * Keeps the event for replay. A copy the table refuses (an item over
 * 400 KB, from very large headers) only makes the event unreplayable; it
 * is still processed.
 */
const keepForReplay = async (
  message: IngestMessage,
  now: Date
): Promise<void> => {
  try {
    await keepEvent(message, now);
  } catch (error) {
    if ((error as Error).name !== 'ValidationException') throw error;
    logger.warn('event not kept for replay', {
      error_code: 'event_not_kept',
      error: error as Error,
    });
  }
};

/**
 * A replayed message may leave only if the send ledger allows it; one
 * that failed for good, or that WhatsApp could not deliver, is released
 * first when the replay asks for it. A
 * delayed one is held again only until its first due time, since its
 * delay record releases as often as it is asked.
 */
const admitReplayed =
  (replay: ReplayMark, now: Date): Admit =>
  async (outbound) => {
    const entry = await readLedger(outbound.messageKey);
    const undelivered =
      entry?.state === 'sent' && (await deliveryFailed(outbound.messageKey));
    const admission = admitMessage(
      entry?.state,
      replay.retryFailed,
      undelivered
    );
    if (admission.kind !== 'retry') return admission;
    if (
      await releaseForReplay(
        outbound.messageKey,
        replay.replayId,
        now,
        undelivered ? 'undelivered' : 'failed'
      )
    ) {
      return { kind: 'send' };
    }
    // The ledger moved on meanwhile: decide again on what it says now.
    const fresh = admitMessage(
      (await readLedger(outbound.messageKey))?.state,
      false
    );
    return fresh.kind === 'retry' ? { kind: 'send' } : fresh;
  };

const mapRecord = async (record: SQSRecord): Promise<void> => {
  const message = readQueueBody(record.body, ingestMessageSchema);
  if (message === undefined) {
    // Poison: no retry can help, and the webhook's later events would wait
    // behind it for every receive. It goes to the dead-letter queue now.
    await moveToDeadLetter(record, 'ingest');
    logger.error('ingest message unreadable, moved to dead letters', {
      message_id: record.messageId,
      error_code: 'message_unreadable',
    });
    return;
  }
  logger.appendKeys({
    event_id: message.eventId,
    webhook_id: message.webhookId,
  });
  try {
    await mapEvent(message, new Date());
  } catch (error) {
    if (!isPermanent(error)) {
      logger.error('event mapping failed; it will be retried', {
        error: error as Error,
      });
      throw error;
    }
    // Retrying cannot help, and a FIFO group would wait behind it: the
    // failure is recorded on the event's trace and the message let go.
    await writeTrace(
      unprocessableTrace(message, (error as Error).name, new Date())
    );
    metrics.addMetric(MetricName.MappingFailed, MetricUnit.Count, 1);
    logger.error('event cannot be processed', {
      outcome: 'failed',
      error_code: 'event_unprocessable',
      error: error as Error,
    });
  } finally {
    logger.removeKeys(['event_id', 'webhook_id']);
  }
};

/**
 * Errors that the same message meets on every attempt: an item the table
 * refuses, or a stored body that is gone or not the one accepted.
 */
const PERMANENT_ERRORS = new Set([
  'ValidationException',
  'NoSuchKey',
  'PayloadMismatchError',
]);

const isPermanent = (error: unknown): boolean =>
  error instanceof Error && PERMANENT_ERRORS.has(error.name);

export const handler = middy((event: SQSEvent, context: Context) =>
  processFifoBatch(event, context, mapRecord)
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
