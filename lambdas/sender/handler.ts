import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { writeTrace } from '../shared/adapters/trace-store.js';
import { postMessage } from '../shared/adapters/whatsapp-client.js';
import {
  type OutboundMessage,
  outboundMessageSchema,
} from '../shared/domain/messages.js';
import { maskPhone } from '../shared/domain/phone.js';
import { type TraceRecord, TraceStage } from '../shared/domain/trace.js';
import {
  judgeSendResponse,
  type SendVerdict,
} from '../shared/domain/whatsapp.js';
import { MetricName, observability } from '../shared/observability.js';
import { processFifoBatch } from '../shared/sqs-batch.js';

const { logger, metrics } = observability('sender');

/** Thrown to hand a record back to the queue for another attempt. */
class RetryLaterError extends Error {
  override name = 'RetryLaterError';
}

// LIMITATION: no send-side idempotency record yet, so a crash between
// Meta's answer and the queue delete can send a message twice.
const sendRecord = async (record: SQSRecord): Promise<void> => {
  const parsed = outboundMessageSchema.safeParse(JSON.parse(record.body));
  if (!parsed.success) {
    logger.error('outbound message unreadable', {
      message_id: record.messageId,
      error_code: 'message_unreadable',
    });
    throw new Error('Outbound message does not match its schema.');
  }
  const message = parsed.data;
  const verdict = await attemptSend(message);
  const attempt = Number(record.attributes.ApproximateReceiveCount);
  await recordVerdict(message, verdict);
  const keys = {
    event_id: message.eventId,
    webhook_id: message.webhookId,
    mapping_id: message.mappingId,
    recipient: maskPhone(message.recipient),
    attempt,
  };
  if (verdict.kind === 'sent') {
    metrics.addMetric(MetricName.MessageSent, MetricUnit.Count, 1);
    logger.info('message sent', {
      ...keys,
      outcome: 'sent',
      wamid: verdict.wamid,
    });
    return;
  }
  if (verdict.kind === 'failed') {
    metrics.addMetric(MetricName.MessageFailed, MetricUnit.Count, 1);
    logger.error('message failed', {
      ...keys,
      outcome: 'failed',
      error_code: verdict.code,
      reason: verdict.reason,
    });
    return;
  }
  logger.warn('message will be retried', {
    ...keys,
    outcome: 'retry',
    error_code: verdict.code,
    reason: verdict.reason,
  });
  throw new RetryLaterError(`${verdict.code}: ${verdict.reason}`);
};

/**
 * Writes the attempt's trace record. Once Meta accepted the message a
 * failed write must not hand the record back, or it would be sent again.
 */
const recordVerdict = async (
  message: OutboundMessage,
  verdict: SendVerdict
): Promise<void> => {
  try {
    await writeTrace([traceOf(message, verdict)]);
  } catch (error) {
    if (verdict.kind !== 'sent') throw error;
    logger.error('trace write failed after send', {
      event_id: message.eventId,
      wamid: verdict.wamid,
      error: error as Error,
    });
  }
};

const attemptSend = async (message: OutboundMessage): Promise<SendVerdict> => {
  try {
    const response = await postMessage(message.request);
    return judgeSendResponse(response.status, response.body);
  } catch (error) {
    return {
      kind: 'retry',
      code: 'network_error',
      reason: `WhatsApp could not be reached: ${(error as Error).name}`,
    };
  }
};

const traceOf = (
  message: OutboundMessage,
  verdict: SendVerdict
): TraceRecord => {
  const base = {
    eventId: message.eventId,
    webhookId: message.webhookId,
    mappingId: message.mappingId,
    recipient: maskPhone(message.recipient),
    template: message.request.template.name,
    at: new Date().toISOString(),
  };
  if (verdict.kind === 'sent') {
    return { ...base, stage: TraceStage.Sent, wamid: verdict.wamid };
  }

  return {
    ...base,
    stage: verdict.kind === 'failed' ? TraceStage.Failed : TraceStage.Retrying,
    code: verdict.code,
    reason: verdict.reason,
  };
};

export const handler = middy((event: SQSEvent, context: Context) =>
  processFifoBatch(event, context, sendRecord)
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
