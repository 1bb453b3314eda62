import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  delayHopSeconds,
  hopAgain,
  releaseHeld,
} from '../shared/adapters/delay-store.js';
import { enqueueMessages } from '../shared/adapters/queues.js';
import { writeTrace } from '../shared/adapters/trace-store.js';
import {
  type DelayedMessage,
  delayedMessageSchema,
} from '../shared/domain/messages.js';
import { nextHopSeconds, releaseTrace } from '../shared/domain/schedule.js';
import { MetricName, observability } from '../shared/observability.js';
import { processStandardBatch } from '../shared/sqs-batch.js';

const { logger, metrics } = observability('release');

const readDelayedMessage = (record: SQSRecord): DelayedMessage => {
  const parsed = delayedMessageSchema.safeParse(JSON.parse(record.body));
  if (!parsed.success) {
    logger.error('delayed message unreadable', {
      message_id: record.messageId,
      error_code: 'message_unreadable',
    });
    throw new Error('Delayed message does not match its schema.');
  }

  return parsed.data;
};

/**
 * One hop of a held message. Not yet due: it goes back on the delay queue
 * as a new message for the next hop. Due: its record is settled as
 * released unless a cancellation won, then it joins the outbound queue
 * under its message key, and its trace says so. A failure hands the
 * record back to the queue; the steps are safe to repeat.
 */
const releaseRecord = async (record: SQSRecord): Promise<void> => {
  const delayed = readDelayedMessage(record);
  const { message } = delayed;
  const keys = {
    event_id: message.eventId,
    webhook_id: message.webhookId,
    mapping_id: message.mappingId,
  };
  const now = new Date();
  const hop = nextHopSeconds(delayed.dueAt, now, delayHopSeconds());
  if (hop > 0) {
    await hopAgain(delayed, hop);
    logger.debug('held message hops again', { ...keys, hop_seconds: hop });
    return;
  }
  const verdict = await releaseHeld(delayed.key, now);
  if (!verdict.released) {
    logger.info('held message was cancelled', {
      ...keys,
      outcome: 'cancelled',
      cancelled_by: verdict.cancelledBy,
    });
    return;
  }
  await enqueueMessages([message]);
  await writeTrace([releaseTrace(delayed, now)]);
  metrics.addMetric(MetricName.MessageReleased, MetricUnit.Count, 1);
  logger.info('held message released', { ...keys, outcome: 'released' });
};

export const handler = middy((event: SQSEvent, context: Context) =>
  processStandardBatch(event, context, releaseRecord)
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
