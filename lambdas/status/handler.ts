import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { readAppSecret } from '../shared/adapters/secret-store.js';
import { proveByCallback } from '../shared/adapters/send-ledger.js';
import {
  findMessage,
  recordStatus,
  type StatusOutcome,
} from '../shared/adapters/status-store.js';
import { rawBodyBytes } from '../shared/domain/http.js';
import {
  acceptanceTrace,
  decideStatusRequest,
  type MessageRef,
  type StatusCallback,
  type StatusUpdate,
  statusTrace,
} from '../shared/domain/status.js';
import { httpErrors, jsonResponse, withAllow } from '../shared/http-errors.js';
import { MetricName, observability } from '../shared/observability.js';

const { logger, metrics } = observability('status');

/**
 * Meta's status callback URL. GET answers the subscription challenge; POST
 * verifies `X-Hub-Signature-256` over the exact bytes, then records each
 * status that moves its message on, with its trace record. A status for a
 * message this product did not send is answered 200 (Meta would retry it
 * for days otherwise); a failed write throws, so the answer is 5xx and
 * Meta retries the whole callback.
 */
const receive = async (
  event: APIGatewayProxyEventV2
): Promise<APIGatewayProxyStructuredResultV2> => {
  const request = {
    method: event.requestContext.http.method,
    headers: event.headers ?? {},
    query: event.queryStringParameters ?? {},
    body: rawBodyBytes(event.body, event.isBase64Encoded),
  };
  const decision = decideStatusRequest(
    request,
    await readAppSecret(),
    new Date()
  );

  switch (decision.kind) {
    case 'reject': {
      metrics.addDimension('reason', decision.reason);
      metrics.addMetric(MetricName.StatusRejected, MetricUnit.Count, 1);
      const log = decision.status >= 500 ? logger.error : logger.warn;
      log.call(logger, 'status callback rejected', {
        outcome: 'rejected',
        error_code: decision.code,
        reason: decision.reason,
        payload_bytes: request.body.length,
      });
      return withAllow(
        jsonResponse(decision.status, {
          code: decision.code,
          message: decision.message,
        }),
        decision.allow
      );
    }
    case 'challenge':
      logger.info('subscription challenge answered', { outcome: 'challenge' });
      return {
        statusCode: 200,
        headers: { 'content-type': 'text/plain' },
        body: decision.answer,
      };
    case 'accept':
      return jsonResponse(200, {
        status: 'received',
        ...(await recordCounted(decision.callback)),
      });
  }
};

/** Counts a failed write before the 5xx that makes Meta retry. */
const recordCounted = async (callback: StatusCallback): Promise<Tally> => {
  try {
    return await recordAll(callback);
  } catch (error) {
    metrics.addDimension('reason', 'write_failed');
    metrics.addMetric(MetricName.StatusRejected, MetricUnit.Count, 1);
    throw error;
  }
};

type Tally = Record<StatusOutcome | 'unmatched' | 'ignored', number>;

/** Records the statuses one at a time, in the order Meta listed them. */
const recordAll = async (callback: StatusCallback): Promise<Tally> => {
  const tally: Tally = {
    recorded: 0,
    unchanged: 0,
    unmatched: 0,
    ignored: callback.ignoredStatuses + callback.inboundMessages,
  };
  for (const update of callback.updates) {
    tally[await recordOne(update)] += 1;
  }
  count(MetricName.StatusRecorded, tally.recorded);
  count(MetricName.StatusUnchanged, tally.unchanged);
  count(MetricName.StatusUnmatched, tally.unmatched);
  count(MetricName.StatusIgnored, tally.ignored);
  if (tally.ignored > 0) {
    logger.info('callback items ignored', {
      outcome: 'ignored',
      inbound_messages: callback.inboundMessages,
      unknown_statuses: callback.ignoredStatuses,
    });
  }

  return tally;
};

// LIMITATION: a status without the echoed message key that arrives before
// the sender wrote its wamid pointer is answered 200 as unmatched, and is
// lost; with the key it always finds the ledger, claimed before the send.
const recordOne = async (
  update: StatusUpdate
): Promise<StatusOutcome | 'unmatched'> => {
  const message = await findMessage(update);
  if (message === undefined) {
    logger.warn('status for an unknown message', {
      outcome: 'unmatched',
      wamid: update.wamid,
      status: update.status,
    });
    return 'unmatched';
  }
  const now = new Date();
  const seen = message.acceptanceUnrecorded;
  if (seen) await proveAcceptance(message, update, now, seen);
  const outcome = await recordStatus(
    message,
    update,
    statusTrace(message, update, now),
    now
  );
  const log = update.status === 'failed' ? logger.error : logger.info;
  log.call(logger, `message ${update.status}`, {
    outcome: outcome === 'recorded' ? update.status : 'unchanged',
    event_id: message.eventId,
    webhook_id: message.webhookId,
    mapping_id: message.mappingId,
    wamid: update.wamid,
    error_code: update.code,
    reason: update.reason,
  });

  return outcome;
};

/**
 * A status for a message the sender has not recorded as sent proves Meta
 * accepted it: an `unconfirmed` message becomes `sent`, and one still
 * `sending` keeps the wamid for the sender to settle if its attempt died.
 */
const proveAcceptance = async (
  message: MessageRef,
  update: StatusUpdate,
  now: Date,
  seen: 'sending' | 'unconfirmed'
): Promise<void> => {
  const proof = await proveByCallback(
    message.messageKey,
    update.wamid,
    acceptanceTrace(message, update, now),
    now,
    seen
  );
  if (proof === 'settled') return;
  if (proof === 'confirmed') {
    metrics.addMetric(MetricName.MessageConfirmed, MetricUnit.Count, 1);
  }
  logger.info(
    proof === 'confirmed'
      ? 'unconfirmed message confirmed sent by its status'
      : 'status arrived while the message was sending; its wamid is kept',
    {
      outcome: proof,
      event_id: message.eventId,
      webhook_id: message.webhookId,
      mapping_id: message.mappingId,
      wamid: update.wamid,
    }
  );
};

const count = (name: string, value: number) => {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
};

export const handler = middy(receive)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(httpErrors(logger));
