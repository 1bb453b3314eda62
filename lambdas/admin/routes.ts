import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { z } from 'zod';
import { Env } from '../../lib/definitions.js';
import {
  createWebhook,
  getWebhookWithMappings,
  listWebhooks,
  putMapping,
  setWebhookStatus,
} from '../shared/adapters/config-store.js';
import {
  createWebhookSecret,
  deleteWebhookSecret,
  putWebhookSecret,
  readWebhookSecret,
} from '../shared/adapters/secret-store.js';
import { listEvents, readTrace } from '../shared/adapters/trace-store.js';
import { optionalEnv } from '../shared/config.js';
import { NotFoundError, ValidationError } from '../shared/domain/errors.js';
import {
  expressionProblems,
  type Mapping,
  mappingInputSchema,
} from '../shared/domain/mapping.js';
import {
  createWebhookSchema,
  newWebhook,
  rotateSecret,
  rotateSecretSchema,
  type Webhook,
  WebhookStatus,
} from '../shared/domain/webhook.js';

/** What a route answers: a status and a JSON body. */
export interface RouteResult {
  readonly status: number;
  readonly body: unknown;
}

type Route = (event: APIGatewayProxyEventV2) => Promise<RouteResult>;

const MAPPING_ID = /^[A-Za-z0-9_-]{1,64}$/;
const DEFAULT_EVENT_LIMIT = 25;
const MAX_EVENT_LIMIT = 100;

const param = (event: APIGatewayProxyEventV2, name: string): string =>
  event.pathParameters?.[name] ?? '';

/** Parses and validates a JSON body, or explains exactly what is wrong. */
const readBody = <S extends z.ZodType>(
  event: APIGatewayProxyEventV2,
  schema: S
): z.infer<S> => {
  const text = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
    : (event.body ?? '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ValidationError('invalid_json', 'The body is not valid JSON.');
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new ValidationError(
      'invalid_request',
      'The body does not match what this route takes.',
      result.error.issues.map(
        (issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`
      )
    );
  }

  return result.data;
};

/** The public URL a provider posts to. */
const webhookUrl = (event: APIGatewayProxyEventV2, webhookId: string) => {
  const base =
    optionalEnv(Env.PublicBaseUrl) ??
    `https://${event.requestContext.domainName}`;
  return `${base.replace(/\/+$/, '')}/webhooks/${webhookId}`;
};

const requireWebhook = async (webhookId: string) => {
  const config = await getWebhookWithMappings(webhookId);
  if (!config.webhook) {
    throw new NotFoundError('webhook_not_found', `No webhook ${webhookId}.`);
  }

  return { webhook: config.webhook, mappings: config.mappings };
};

const createWebhookRoute: Route = async (event) => {
  const input = readBody(event, createWebhookSchema);
  const { webhook, record, revealed } = newWebhook(input, new Date());
  // The secret goes first: a webhook never exists without one, and a
  // failed config write removes the secret again.
  await createWebhookSecret(webhook.webhookId, record);
  try {
    await createWebhook(webhook);
  } catch (error) {
    await deleteWebhookSecret(webhook.webhookId);
    throw error;
  }

  return {
    status: 201,
    body: {
      webhook,
      url: webhookUrl(event, webhook.webhookId),
      ...revealed,
    },
  };
};

const putMappingRoute: Route = async (event) => {
  const webhookId = param(event, 'webhookId');
  const mappingId = param(event, 'mappingId');
  if (!MAPPING_ID.test(mappingId)) {
    throw new ValidationError(
      'invalid_mapping_id',
      'A mapping id has 1 to 64 letters, digits, dashes or underscores.'
    );
  }
  const input = readBody(event, mappingInputSchema);
  const problems = expressionProblems(input);
  if (problems.length > 0) {
    throw new ValidationError(
      'invalid_expression',
      'An expression in the mapping does not compile.',
      problems
    );
  }
  await requireWebhook(webhookId);
  const mapping: Mapping = {
    ...input,
    mappingId,
    webhookId,
    updatedAt: new Date().toISOString(),
  };
  await putMapping(mapping);

  return { status: 200, body: { mapping } };
};

const activateRoute: Route = async (event) => {
  const webhookId = param(event, 'webhookId');
  const webhook = await setWebhookStatus(
    webhookId,
    WebhookStatus.Active,
    new Date()
  );
  if (!webhook) {
    throw new NotFoundError('webhook_not_found', `No webhook ${webhookId}.`);
  }

  return { status: 200, body: { webhook } };
};

const rotateSecretRoute: Route = async (event) => {
  const { webhook } = await requireWebhook(param(event, 'webhookId'));
  const input = readBody(event, rotateSecretSchema);
  const current = await readWebhookSecret(webhook.webhookId, { fresh: true });
  if (!current) {
    throw new NotFoundError(
      'secret_not_found',
      `Webhook ${webhook.webhookId} has no stored secret.`
    );
  }
  const rotated = rotateSecret(current, webhook.provider, input, new Date());
  await putWebhookSecret(webhook.webhookId, rotated.record);

  return {
    status: 200,
    body: {
      webhookId: webhook.webhookId,
      previousValidUntil: rotated.previousValidUntil,
      ...rotated.revealed,
    },
  };
};

const getWebhookRoute: Route = async (event) => {
  const { webhook, mappings } = await requireWebhook(param(event, 'webhookId'));
  return {
    status: 200,
    body: { webhook, url: webhookUrl(event, webhook.webhookId), mappings },
  };
};

const listWebhooksRoute: Route = async (event) => {
  const webhooks = await listWebhooks();
  return {
    status: 200,
    body: {
      webhooks: webhooks.map((webhook: Webhook) => ({
        ...webhook,
        url: webhookUrl(event, webhook.webhookId),
      })),
    },
  };
};

const listEventsRoute: Route = async (event) => {
  const webhookId = param(event, 'webhookId');
  await requireWebhook(webhookId);
  const requested = Number(event.queryStringParameters?.limit);
  const limit =
    Number.isInteger(requested) && requested > 0
      ? Math.min(requested, MAX_EVENT_LIMIT)
      : DEFAULT_EVENT_LIMIT;

  return { status: 200, body: { events: await listEvents(webhookId, limit) } };
};

const getEventRoute: Route = async (event) => {
  const eventId = param(event, 'eventId');
  const records = await readTrace(eventId);
  if (records.length === 0) {
    throw new NotFoundError(
      'event_not_found',
      `No records for event ${eventId}.`
    );
  }

  return { status: 200, body: { eventId, records } };
};

/** Admin routes by API Gateway route key; see `Routes` in definitions. */
export const adminRoutes: Readonly<Record<string, Route>> = {
  'POST /admin/webhooks': createWebhookRoute,
  'GET /admin/webhooks': listWebhooksRoute,
  'GET /admin/webhooks/{webhookId}': getWebhookRoute,
  'PUT /admin/webhooks/{webhookId}/mappings/{mappingId}': putMappingRoute,
  'POST /admin/webhooks/{webhookId}/activate': activateRoute,
  'POST /admin/webhooks/{webhookId}/rotate-secret': rotateSecretRoute,
  'GET /admin/webhooks/{webhookId}/events': listEventsRoute,
  'GET /admin/events/{eventId}': getEventRoute,
};
