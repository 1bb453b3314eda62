import { randomUUID } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { MAX_WEBHOOK_BODY_BYTES } from '../../lib/definitions.js';
import { getWebhook } from '../shared/adapters/config-store.js';
import { enqueueEvent } from '../shared/adapters/queues.js';
import { readWebhookSecret } from '../shared/adapters/secret-store.js';
import {
  AuthenticationError,
  NotFoundError,
  PayloadTooLargeError,
} from '../shared/domain/errors.js';
import { normaliseHeaders, rawBodyBytes } from '../shared/domain/http.js';
import { parseJsonExact } from '../shared/domain/json.js';
import {
  encodeBody,
  forwardableHeaders,
  type IngestMessage,
  ingestDeduplicationId,
} from '../shared/domain/messages.js';
import { Providers, readField } from '../shared/domain/providers.js';
import { verifySignature } from '../shared/domain/signature.js';
import { usableSecrets } from '../shared/domain/webhook.js';
import { httpErrors, jsonResponse } from '../shared/http-errors.js';
import { MetricName, observability } from '../shared/observability.js';
import { TtlCache } from '../shared/ttl-cache.js';

const { logger, metrics } = observability('verifier');

/** Config changes reach a warm verifier within this time. */
const webhookCache = new TtlCache<Awaited<ReturnType<typeof getWebhook>>>(
  60_000
);

const rejected = (reason: string, webhookId?: string) => {
  metrics.addDimension('reason', reason);
  metrics.addMetric(MetricName.WebhookRejected, MetricUnit.Count, 1);
  logger.warn('webhook rejected', {
    outcome: 'rejected',
    reason,
    webhook_id: webhookId,
  });
};

/**
 * Verifies a provider's request over its exact bytes and answers only once
 * the event sits in the ingest queue. Nothing else happens on this path.
 */
const verify = async (
  event: APIGatewayProxyEventV2
): Promise<APIGatewayProxyStructuredResultV2> => {
  const webhookId = event.pathParameters?.webhookId ?? '';
  const body = rawBodyBytes(event.body, event.isBase64Encoded);
  if (body.length > MAX_WEBHOOK_BODY_BYTES) {
    rejected('payload_too_large', webhookId);
    throw new PayloadTooLargeError(
      `The body has ${body.length} bytes; the limit is ${MAX_WEBHOOK_BODY_BYTES}.`
    );
  }
  const webhook = await webhookCache.get(webhookId, () =>
    getWebhook(webhookId)
  );
  const secret = webhook && (await readWebhookSecret(webhookId));
  if (!webhook || !secret) {
    rejected('webhook_not_found', webhookId);
    throw new NotFoundError('webhook_not_found', 'No webhook has this URL.');
  }
  const preset = Providers[webhook.provider];
  const headers = normaliseHeaders(event.headers ?? {});
  const now = new Date();
  const result = verifySignature(
    preset.scheme,
    { body, headers },
    usableSecrets(secret, now),
    now.getTime() / 1000
  );
  if (!result.ok) {
    rejected(result.reason, webhookId);
    throw result.reason === 'timestamp_outside_tolerance'
      ? new AuthenticationError(
          'timestamp_outside_tolerance',
          'The signed timestamp is too far from the current time.'
        )
      : new AuthenticationError(
          'invalid_signature',
          'The request signature is missing or does not verify.'
        );
  }

  const parsed = parseJsonExact(body.toString('utf8'));
  const message: IngestMessage = {
    v: 1,
    eventId: randomUUID(),
    webhookId,
    receivedAt: now.toISOString(),
    eventKey: readField(preset.eventKey, headers, parsed),
    providerEventId: readField(preset.eventId, headers, parsed),
    headers: forwardableHeaders(headers),
    ...encodeBody(body),
  };
  await enqueueEvent(
    message,
    ingestDeduplicationId(webhookId, message.providerEventId, body)
  );
  metrics.addMetric(MetricName.WebhookAccepted, MetricUnit.Count, 1);
  logger.info('webhook accepted', {
    outcome: 'accepted',
    event_id: message.eventId,
    webhook_id: webhookId,
    event_type: message.eventKey,
    payload_bytes: body.length,
  });

  return jsonResponse(202, { eventId: message.eventId, status: 'accepted' });
};

export const handler = middy(verify)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(httpErrors(logger));
