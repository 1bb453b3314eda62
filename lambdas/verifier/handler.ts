import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { getWebhook } from '../shared/adapters/config-store.js';
import { keepBodyWhole } from '../shared/adapters/payload-store.js';
import { enqueueEvent } from '../shared/adapters/queues.js';
import { readWebhookSecret } from '../shared/adapters/secret-store.js';
import { rawBodyBytes } from '../shared/domain/http.js';
import {
  decideIngest,
  type IncomingRequest,
  type IngestDecision,
} from '../shared/domain/ingest.js';
import { httpErrors, jsonResponse, withAllow } from '../shared/http-errors.js';
import { MetricName, observability } from '../shared/observability.js';
import { TtlCache } from '../shared/ttl-cache.js';

const { logger, metrics } = observability('verifier');

/** Config changes reach a warm verifier within this time. */
const CONFIG_CACHE_MS = 60_000;
const webhookCache = new TtlCache<Awaited<ReturnType<typeof getWebhook>>>(
  CONFIG_CACHE_MS
);

/**
 * The public webhook URL. It verifies a provider's request over its exact
 * bytes and answers only once the event sits in the ingest queue; on a warm
 * container that queue write is its only AWS call, unless the body is too
 * large for a queue message and is first stored whole.
 */
const verify = async (
  event: APIGatewayProxyEventV2
): Promise<APIGatewayProxyStructuredResultV2> => {
  const webhookId = event.pathParameters?.webhookId ?? '';
  const request = {
    method: event.requestContext.http.method,
    headers: event.headers ?? {},
    query: event.queryStringParameters ?? {},
    body: rawBodyBytes(event.body, event.isBase64Encoded),
  };
  const decision = await decide(webhookId, request);
  const keys = { webhook_id: webhookId, payload_bytes: request.body.length };

  switch (decision.kind) {
    case 'reject':
      metrics.addDimension('reason', decision.reason);
      metrics.addMetric(MetricName.WebhookRejected, MetricUnit.Count, 1);
      logger.warn('webhook rejected', {
        ...keys,
        outcome: 'rejected',
        error_code: decision.code,
        reason: decision.reason,
      });
      return withAllow(
        jsonResponse(decision.status, {
          code: decision.code,
          message: decision.message,
        }),
        decision.allow
      );
    case 'ping':
      logger.info('webhook ping answered', { ...keys, outcome: 'ping' });
      return jsonResponse(200, { status: 'ping' });
    case 'challenge':
      logger.info('subscription challenge answered', keys);
      return {
        statusCode: 200,
        headers: { 'content-type': 'text/plain' },
        body: decision.answer,
      };
    case 'accept':
      await enqueueEvent(await keepBodyWhole(decision.message));
      metrics.addMetric(MetricName.WebhookAccepted, MetricUnit.Count, 1);
      logger.info('webhook accepted', {
        ...keys,
        outcome: 'accepted',
        event_id: decision.message.eventId,
        event_type: decision.message.eventKey,
      });
      return jsonResponse(202, {
        eventId: decision.message.eventId,
        status: 'accepted',
      });
  }
};

/** Reads the webhook and its secret through the caches, then decides. */
const decide = async (
  webhookId: string,
  request: IncomingRequest
): Promise<IngestDecision> => {
  const webhook = await webhookCache.get(webhookId, () =>
    getWebhook(webhookId)
  );
  const secret = webhook && (await readWebhookSecret(webhookId));
  const decision = decideIngest(request, webhook, secret, new Date());
  if (!isMismatch(decision) || !secretRefresh.due(webhookId)) return decision;
  // A rotation may be newer than this container's cached secret.
  const fresh = await readWebhookSecret(webhookId, { fresh: true });

  return decideIngest(request, webhook, fresh, new Date());
};

const isMismatch = (decision: IngestDecision): boolean =>
  decision.kind === 'reject' && decision.reason === 'signature_mismatch';

/**
 * Allows one uncached secret read per webhook in a while, so forged
 * requests cannot turn into a stream of Secrets Manager calls.
 */
const SECRET_REFRESH_INTERVAL_MS = 5_000;
const secretRefresh = {
  last: new Map<string, number>(),
  due(webhookId: string, now = Date.now()): boolean {
    const last = this.last.get(webhookId) ?? 0;
    if (now - last < SECRET_REFRESH_INTERVAL_MS) return false;
    this.last.set(webhookId, now);
    return true;
  },
};

export const handler = middy(verify)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(httpErrors(logger));
