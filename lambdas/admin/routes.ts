import { randomUUID } from 'node:crypto';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithIAMAuthorizer,
} from 'aws-lambda';
import { z } from 'zod';
import { Env, type QueueKey, Queues } from '../../lib/definitions.js';
import { listCaptures } from '../shared/adapters/capture-store.js';
import {
  createWebhook,
  getWebhookWithMappings,
  listWebhooks,
  putMapping,
  setWebhookStatus,
} from '../shared/adapters/config-store.js';
import { listReceived, readKeptEvent } from '../shared/adapters/event-store.js';
import { readPayload } from '../shared/adapters/payload-store.js';
import { enqueueReplays } from '../shared/adapters/queues.js';
import { redriveDeadLetters } from '../shared/adapters/redrive.js';
import {
  createWebhookSecret,
  deleteWebhookSecret,
  putWebhookSecret,
  readWebhookSecret,
} from '../shared/adapters/secret-store.js';
import { readTemplates } from '../shared/adapters/template-source.js';
import {
  listEvents,
  readTrace,
  writeTrace,
} from '../shared/adapters/trace-store.js';
import { optionalEnv } from '../shared/config.js';
import { type CapturedPayload, captureBody } from '../shared/domain/capture.js';
import { checkMapping } from '../shared/domain/contract.js';
import { NotFoundError, ValidationError } from '../shared/domain/errors.js';
import { parseJsonExact } from '../shared/domain/json.js';
import {
  evaluateMapping,
  expressionProblems,
  MAPPING_ID,
  type Mapping,
  type MappingInput,
  type MappingOutcome,
  mappingInputSchema,
  matchesEventKey,
  sendsTemplate,
} from '../shared/domain/mapping.js';
import type { IngestMessage, PayloadRef } from '../shared/domain/messages.js';
import {
  judgeEvent,
  MAX_REPLAY_EVENTS,
  type ReplayMark,
  type ReplaySelection,
  readSelection,
  replayedTrace,
  replayRequestSchema,
} from '../shared/domain/replay.js';
import type { TraceRecord } from '../shared/domain/trace.js';
import {
  createWebhookSchema,
  issuesOwnSecret,
  newWebhook,
  OWN_SECRET_NEEDED,
  rotateSecret,
  rotateSecretSchema,
  secretProblem,
  type Webhook,
  WebhookStatus,
} from '../shared/domain/webhook.js';

/** What a route answers: a status and a JSON body. */
export interface RouteResult {
  readonly status: number;
  readonly body: unknown;
}

type Route = (event: APIGatewayProxyEventV2) => Promise<RouteResult>;

const DEFAULT_EVENT_LIMIT = 25;
const MAX_EVENT_LIMIT = 100;

const param = (event: APIGatewayProxyEventV2, name: string): string =>
  event.pathParameters?.[name] ?? '';

/** Parses and validates a JSON body, or explains exactly what is wrong. */
const readBody = <S extends z.ZodType>(
  event: APIGatewayProxyEventV2,
  schema: S,
  { emptyAs }: { emptyAs?: string } = {}
): z.infer<S> => {
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
    : (event.body ?? '');
  const text = raw.trim() === '' && emptyAs !== undefined ? emptyAs : raw;
  // Exact: a previewed payload keeps its integers beyond 2^53, as events do.
  const json = parseJsonExact(text);
  if (json === undefined) {
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
    throw new NotFoundError('webhook_not_found', 'No webhook has this id.');
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

/** Far above any real mapping, far below a table item's 400 KB. */
const MAX_MAPPING_BYTES = 64 * 1024;

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
  const bytes = Buffer.byteLength(JSON.stringify(input));
  if (bytes > MAX_MAPPING_BYTES) {
    throw new ValidationError(
      'mapping_too_large',
      `The mapping has ${bytes} bytes; a mapping may have ${MAX_MAPPING_BYTES}.`
    );
  }
  const problems = expressionProblems(input);
  if (problems.length > 0) {
    throw new ValidationError(
      'invalid_expression',
      'An expression in the mapping does not compile.',
      problems
    );
  }
  await requireWebhook(webhookId);
  const checked = await checkAgainstTemplates(input);
  if ('problems' in checked) {
    throw new ValidationError(
      'template_mismatch',
      'The mapping does not fit the approved WhatsApp template.',
      checked.problems
    );
  }
  const mapping: Mapping = {
    ...input,
    approvedTemplate: checked.approvedTemplate,
    mappingId,
    webhookId,
    updatedAt: new Date().toISOString(),
  };
  await putMapping(mapping);

  return { status: 200, body: { mapping } };
};

/**
 * Checks a mapping against the account's templates; a mismatch found on
 * cached templates is checked again on fresh ones, so a template approved
 * a moment ago is seen.
 */
const checkAgainstTemplates = async (
  mapping: MappingInput
): Promise<ReturnType<typeof checkMapping>> => {
  // A mapping that only cancels sends nothing, so no template is read.
  if (!sendsTemplate(mapping)) return {};
  const list = await readTemplates();
  const checked = checkMapping(mapping, list.templates, list.unreadable);
  if (!('problems' in checked) || !list.cached) return checked;
  const fresh = await readTemplates({ fresh: true });

  return checkMapping(mapping, fresh.templates, fresh.unreadable);
};

const previewSchema = z.strictObject({
  /** An unsaved mapping to preview instead of the saved one. */
  mapping: mappingInputSchema.optional(),
  payload: z
    .strictObject({
      body: z.unknown().optional(),
      headers: z.record(z.string(), z.string()).optional(),
      eventKey: z.string().trim().min(1).max(200).optional(),
    })
    .optional(),
});

type PreviewRequest = z.infer<typeof previewSchema>;

/**
 * Renders a mapping against a payload, or the latest one captured for its
 * event key, into the exact WhatsApp requests it would send. Nothing is
 * sent or queued.
 */
const previewRoute: Route = async (event) => {
  const { webhook, mappings } = await requireWebhook(param(event, 'webhookId'));
  const mappingId = param(event, 'mappingId');
  const request = readBody(event, previewSchema, { emptyAs: '{}' });
  const mapping =
    request.mapping ?? mappings.find((item) => item.mappingId === mappingId);
  if (mapping === undefined) {
    throw new NotFoundError(
      'mapping_not_found',
      'No mapping has this id; send one in "mapping" to preview it unsaved.'
    );
  }
  const payload = await previewPayload(webhook.webhookId, mapping, request);
  const input = {
    body: payload.body,
    headers: payload.headers,
    webhook: {
      webhookId: webhook.webhookId,
      name: webhook.name,
      provider: webhook.provider,
    },
  };
  const outcome = await previewOutcome(
    mapping,
    payload.eventKey,
    input,
    webhook
  );

  return {
    status: 200,
    body: {
      mappingId,
      saved: request.mapping === undefined,
      payload: payload.source,
      ...outcome,
    },
  };
};

type PreviewOutcome =
  | MappingOutcome
  | { readonly status: 'invalid'; readonly problems: string[] };

const previewOutcome = async (
  mapping: MappingInput,
  eventKey: string | undefined,
  input: Parameters<typeof evaluateMapping>[1],
  webhook: Webhook
): Promise<PreviewOutcome> => {
  const problems = expressionProblems(mapping);
  if (problems.length > 0) return { status: 'invalid', problems };
  const checked = await checkAgainstTemplates(mapping);
  if ('problems' in checked) {
    return { status: 'invalid', problems: checked.problems };
  }
  if (eventKey !== undefined && !matchesEventKey(mapping.eventKey, eventKey)) {
    return {
      status: 'skipped',
      reason: `the mapping is for event key ${mapping.eventKey}, not ${eventKey}`,
    };
  }

  return evaluateMapping(
    { ...mapping, approvedTemplate: checked.approvedTemplate },
    input,
    webhook.defaultCountry
  );
};

/** The supplied payload, or the latest captured for the event key. */
const previewPayload = async (
  webhookId: string,
  mapping: MappingInput,
  { payload }: PreviewRequest
) => {
  if (payload?.body !== undefined) {
    const headers = Object.fromEntries(
      Object.entries(payload.headers ?? {}).map(([name, value]) => [
        name.toLowerCase(),
        value,
      ])
    );
    return {
      body: payload.body,
      headers,
      eventKey: payload.eventKey,
      source: { kind: 'supplied', eventKey: payload.eventKey },
    };
  }
  const eventKey = payload?.eventKey ?? mapping.eventKey;
  const exact = eventKey.includes('*') ? undefined : eventKey;
  const captures = await listCaptures(webhookId, exact);
  const latest = captures.find((capture) =>
    matchesEventKey(eventKey, capture.eventKey)
  );
  if (latest === undefined) {
    throw new NotFoundError(
      'capture_not_found',
      `No payload was captured for event key ${eventKey}; send one in "payload".`
    );
  }
  if (latest.bodyOmitted && !latest.payloadRef) {
    throw new ValidationError(
      'capture_body_omitted',
      'The latest captured payload was too large to keep; send one in "payload".'
    );
  }
  const stored = latest.payloadRef && (await readStored(latest.payloadRef));

  return {
    body: captureBody(latest, stored),
    headers: latest.headers,
    eventKey: latest.eventKey,
    source: {
      kind: 'capture',
      eventKey: latest.eventKey,
      eventId: latest.eventId,
      receivedAt: latest.receivedAt,
    },
  };
};

/** A captured body from the payload store, which may have expired it. */
const readStored = async (ref: PayloadRef): Promise<Buffer> => {
  try {
    return await readPayload(ref);
  } catch (error) {
    if ((error as Error).name !== 'NoSuchKey') throw error;
    throw new ValidationError(
      'capture_body_expired',
      'The latest captured payload has expired from the payload store; send one in "payload".'
    );
  }
};

/** Activates a webhook (live) or puts it back to capturing only. */
const statusRoute =
  (status: WebhookStatus): Route =>
  async (event) => {
    const webhook = await setWebhookStatus(
      param(event, 'webhookId'),
      status,
      new Date()
    );
    if (!webhook) {
      throw new NotFoundError('webhook_not_found', 'No webhook has this id.');
    }

    return { status: 200, body: { webhook } };
  };

/** A kept body as the admin sees it: JSON, text, or bytes as base64. */
const capturedBodyView = (capture: CapturedPayload) => {
  if (capture.bodyOmitted) return { bodyOmitted: capture.bodyOmitted };
  // Bodies that are not UTF-8 travel as base64; text would garble them.
  if (capture.bodyEncoding === 'base64') return { bodyBase64: capture.body };

  return { body: captureBody(capture) };
};

const capturesRoute: Route = async (event) => {
  const { webhook } = await requireWebhook(param(event, 'webhookId'));
  const eventKey = event.queryStringParameters?.eventKey;
  const captures = await listCaptures(webhook.webhookId, eventKey);

  return {
    status: 200,
    body: {
      captures: captures.map((capture) => ({
        eventKey: capture.eventKey,
        eventId: capture.eventId,
        receivedAt: capture.receivedAt,
        headers: capture.headers,
        ...capturedBodyView(capture),
      })),
    },
  };
};

const rotateSecretRoute: Route = async (event) => {
  const { webhook } = await requireWebhook(param(event, 'webhookId'));
  const input = readBody(event, rotateSecretSchema, { emptyAs: '{}' });
  const problem =
    input.secret === undefined && issuesOwnSecret(webhook.provider)
      ? OWN_SECRET_NEEDED
      : secretProblem(webhook.provider, input.secret);
  if (problem) {
    throw new ValidationError('invalid_request', 'The secret is not usable.', [
      `secret: ${problem}`,
    ]);
  }
  const current = await readWebhookSecret(webhook.webhookId, { fresh: true });
  if (!current) {
    throw new NotFoundError(
      'secret_not_found',
      'This webhook has no stored secret.'
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
  const limit = readLimit(event.queryStringParameters?.limit);

  return { status: 200, body: { events: await listEvents(webhookId, limit) } };
};

/** The `limit` query parameter: a whole number from 1 to the maximum. */
const readLimit = (text: string | undefined): number => {
  if (text === undefined) return DEFAULT_EVENT_LIMIT;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > MAX_EVENT_LIMIT) {
    throw new ValidationError(
      'invalid_limit',
      `limit must be a whole number from 1 to ${MAX_EVENT_LIMIT}.`
    );
  }

  return limit;
};

const getEventRoute: Route = async (event) => {
  const eventId = param(event, 'eventId');
  const records = await readTrace(eventId);
  if (records.length === 0) {
    throw new NotFoundError(
      'event_not_found',
      'No event has this id yet; an accepted event appears once it is ' +
        'mapped, usually within seconds, longer while its webhook has a backlog.'
    );
  }

  return { status: 200, body: { eventId, records } };
};

/** Chain reads and lookups run this many at a time. */
const PARALLEL_READS = 10;

const inParallel = async <T, R>(
  items: readonly T[],
  work: (item: T) => Promise<R>
): Promise<R[]> => {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += PARALLEL_READS) {
    results.push(
      ...(await Promise.all(
        items.slice(start, start + PARALLEL_READS).map(work)
      ))
    );
  }
  return results;
};

/** Where a replay stopped, as an opaque token for the next call. */
const writeCursor = (key: Record<string, unknown>): string =>
  Buffer.from(JSON.stringify(key)).toString('base64url');

const readCursor = (
  cursor: string,
  webhookId: string
): Record<string, unknown> => {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (key?.eventOfWebhook === webhookId && typeof key.pk === 'string') {
      return key as Record<string, unknown>;
    }
  } catch {
    // Falls through to the error below.
  }
  throw new ValidationError(
    'invalid_cursor',
    "The cursor is not one this webhook's replay answered with."
  );
};

interface Examined {
  readonly eventId: string;
  readonly receivedAt: string;
  readonly eventKey?: string;
  readonly kept?: IngestMessage;
  readonly code?: string;
  readonly reason?: string;
}

// LIMITATION: a kept copy whose large body has left the payload bucket is
// still replayed, and the mapper records it `event_unprocessable`.
/** Judges one listed event and finds its kept copy if it is replayed. */
const examineEvent = async (
  received: TraceRecord,
  selection: ReplaySelection
): Promise<Examined> => {
  const about = {
    eventId: received.eventId,
    receivedAt: received.at,
    ...(received.eventKey ? { eventKey: received.eventKey } : {}),
  };
  const verdict = judgeEvent(await readTrace(received.eventId), selection.mode);
  if (!verdict.replay) return { ...about, ...verdict };
  const kept = await readKeptEvent(received.eventId);
  if (kept === undefined) {
    return {
      ...about,
      code: 'not_kept',
      reason:
        'no copy of the event is kept: it expired, or it was accepted before replay existed',
    };
  }

  return { ...about, kept };
};

/** The IAM caller, as API Gateway names it. */
const callerOf = (event: APIGatewayProxyEventV2): string =>
  (event as APIGatewayProxyEventV2WithIAMAuthorizer).requestContext.authorizer
    ?.iam?.userArn ?? 'an unknown caller';

/**
 * Puts a webhook's failed events, or those of a window, through the
 * current mappings again, under their own event ids: the send ledger
 * keeps anything sent from leaving twice. At most `MAX_REPLAY_EVENTS`
 * events are examined per call; `next` goes on from there.
 */
const replayRoute: Route = async (event) => {
  const { webhook } = await requireWebhook(param(event, 'webhookId'));
  const request = readBody(event, replayRequestSchema);
  const now = new Date();
  const selection = readSelection(request, now);
  if ('code' in selection) {
    throw new ValidationError(selection.code, selection.message);
  }
  const startKey =
    request.cursor === undefined
      ? undefined
      : readCursor(request.cursor, webhook.webhookId);
  const page = await listReceived(
    webhook.webhookId,
    selection,
    MAX_REPLAY_EVENTS,
    startKey
  );
  const examined = await inParallel(page.records, (record) =>
    examineEvent(record, selection)
  );
  const chosen = examined.flatMap((item) => (item.kept ? [item.kept] : []));
  const mark: ReplayMark = {
    replayId: randomUUID(),
    requestedAt: now.toISOString(),
    retryFailed: selection.retryFailed,
  };
  if (!selection.dryRun && chosen.length > 0) {
    await enqueueReplays(chosen.map((kept) => ({ ...kept, replay: mark })));
    await writeTrace(
      chosen.map((kept) =>
        replayedTrace(kept, mark, selection, callerOf(event), chosen.length)
      ),
      now
    );
  }
  const chosenOutcome = selection.dryRun ? 'would_replay' : 'replayed';

  return {
    status: selection.dryRun ? 200 : 202,
    body: {
      webhookId: webhook.webhookId,
      ...(selection.dryRun ? {} : { replayId: mark.replayId }),
      dryRun: selection.dryRun,
      mode: selection.mode,
      from: selection.from,
      to: selection.to,
      examined: examined.length,
      replayed: chosen.length,
      events: examined.map(({ kept, ...item }) => ({
        ...item,
        outcome: kept ? chosenOutcome : 'skipped',
      })),
      ...(page.next ? { next: writeCursor(page.next) } : {}),
    },
  };
};

/** Dead letters moved back per call at most. */
const MAX_REDRIVE = 100;

const isQueueKey = (name: string): name is QueueKey =>
  Object.hasOwn(Queues, name);

const redriveRequestSchema = z.strictObject({
  limit: z.number().int().min(1).max(MAX_REDRIVE).optional(),
});

/**
 * Moves a queue's dead letters back to it, up to `limit` (at most
 * `MAX_REDRIVE`) a call; the body may be empty.
 */
const redriveRoute: Route = async (event) => {
  const queue = param(event, 'queue');
  if (!isQueueKey(queue)) {
    throw new ValidationError(
      'invalid_queue',
      `queue must be one of ${Object.keys(Queues).join(', ')}.`
    );
  }
  const { limit = MAX_REDRIVE } = readBody(event, redriveRequestSchema, {
    emptyAs: '{}',
  });
  const result = await redriveDeadLetters(queue, limit);

  return { status: 200, body: { queue, ...result } };
};

/** Admin routes by API Gateway route key; see `Routes` in definitions. */
export const adminRoutes: Readonly<Record<string, Route>> = {
  'POST /admin/webhooks': createWebhookRoute,
  'GET /admin/webhooks': listWebhooksRoute,
  'GET /admin/webhooks/{webhookId}': getWebhookRoute,
  'PUT /admin/webhooks/{webhookId}/mappings/{mappingId}': putMappingRoute,
  'POST /admin/webhooks/{webhookId}/mappings/{mappingId}/preview': previewRoute,
  'POST /admin/webhooks/{webhookId}/activate': statusRoute(
    WebhookStatus.Active
  ),
  'POST /admin/webhooks/{webhookId}/deactivate': statusRoute(
    WebhookStatus.Capture
  ),
  'GET /admin/webhooks/{webhookId}/captures': capturesRoute,
  'POST /admin/webhooks/{webhookId}/rotate-secret': rotateSecretRoute,
  'GET /admin/webhooks/{webhookId}/events': listEventsRoute,
  'GET /admin/events/{eventId}': getEventRoute,
  'POST /admin/webhooks/{webhookId}/replay': replayRoute,
  'POST /admin/queues/{queue}/redrive': redriveRoute,
};
