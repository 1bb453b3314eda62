import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { getWebhookWithMappings } from '../shared/adapters/config-store.js';
import { enqueueMessages } from '../shared/adapters/queues.js';
import { writeTrace } from '../shared/adapters/trace-store.js';
import { ingestMessageSchema } from '../shared/domain/messages.js';
import { planEvent } from '../shared/domain/plan-event.js';
import { MetricName, observability } from '../shared/observability.js';
import { processFifoBatch } from '../shared/sqs-batch.js';

const { logger, metrics } = observability('mapper');

/**
 * Maps one accepted event: queue the messages its mappings produce first,
 * then record the trace, so a retry after a crash re-queues under the same
 * deduplication ids instead of losing messages.
 */
const mapRecord = async (record: SQSRecord): Promise<void> => {
  const parsed = ingestMessageSchema.safeParse(JSON.parse(record.body));
  if (!parsed.success) {
    logger.error('ingest message unreadable', {
      message_id: record.messageId,
      error_code: 'message_unreadable',
    });
    throw new Error('Ingest message does not match its schema.');
  }
  const message = parsed.data;
  logger.appendKeys({
    event_id: message.eventId,
    webhook_id: message.webhookId,
  });
  const config = await getWebhookWithMappings(message.webhookId);
  const plan = await planEvent(message, config, new Date());

  await enqueueMessages(plan.messages);
  await writeTrace(plan.trace);
  metrics.addMetric(
    MetricName.MessageQueued,
    MetricUnit.Count,
    plan.messages.length
  );
  metrics.addMetric(MetricName.MappingFailed, MetricUnit.Count, plan.failures);
  logger.info('event mapped', {
    outcome: plan.outcome,
    event_type: message.eventKey,
    messages: plan.messages.length,
    failures: plan.failures,
  });
  logger.removeKeys(['event_id', 'webhook_id']);
};

export const handler = middy((event: SQSEvent, context: Context) =>
  processFifoBatch(event, context, mapRecord)
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
