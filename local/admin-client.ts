import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { TraceRecord } from '../lambdas/shared/domain/trace.js';
import type { Webhook } from '../lambdas/shared/domain/webhook.js';
import type { TemplateMessageRequest } from '../lambdas/shared/domain/whatsapp.js';
import { waitFor } from './net.js';
import type { RecordedRequest } from './whatsapp-standin.js';

/** An answer the admin API was not expected to give. */
export class ApiCallError extends Error {
  constructor(
    readonly call: string,
    readonly status: number,
    readonly body: unknown
  ) {
    super(`${call} answered ${status}: ${JSON.stringify(body)}`);
    this.name = 'ApiCallError';
  }
}

/** The admin API's answer to a mapping preview. */
export interface MappingPreview {
  readonly mappingId: string;
  readonly saved: boolean;
  readonly payload: {
    readonly kind: 'supplied' | 'capture';
    readonly eventKey?: string;
    readonly eventId?: string;
  };
  readonly status: 'matched' | 'skipped' | 'failed' | 'invalid';
  readonly messages?: readonly {
    readonly recipient: string;
    readonly request: TemplateMessageRequest;
  }[];
  readonly rejected?: readonly {
    readonly raw: string;
    readonly reason: string;
  }[];
  readonly reason?: string;
  readonly problems?: readonly string[];
}

/** The admin API's answer to a replay. */
export interface ReplayAnswer {
  readonly replayId?: string;
  readonly dryRun: boolean;
  readonly mode: 'failed' | 'window';
  readonly examined: number;
  readonly replayed: number;
  readonly events: readonly {
    readonly eventId: string;
    readonly receivedAt: string;
    readonly outcome: 'replayed' | 'would_replay' | 'skipped';
    readonly code?: string;
  }[];
  readonly next?: string;
}

export interface CreatedWebhook {
  readonly webhook: Webhook;
  readonly url: string;
  readonly secret?: string;
}

/**
 * A small client of the admin API over HTTP, as a console or a script
 * would call it. Locally the admin routes need no signature.
 */
export const adminClient = (apiUrl: string) => {
  const call = async (
    method: string,
    path: string,
    expected: number,
    body?: unknown
  ): Promise<unknown> => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers:
        body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (response.status !== expected) {
      throw new ApiCallError(`${method} ${path}`, response.status, json);
    }

    return json;
  };

  return {
    createWebhook: (input: Record<string, unknown>) =>
      call('POST', '/admin/webhooks', 201, input) as Promise<CreatedWebhook>,
    putMapping: (webhookId: string, mappingId: string, mapping: unknown) =>
      call(
        'PUT',
        `/admin/webhooks/${webhookId}/mappings/${mappingId}`,
        200,
        mapping
      ),
    /**
     * What a mapping would send for a payload (or the latest captured
     * one): `{ mapping?, payload?: { body, headers?, eventKey? } }`.
     */
    previewMapping: (
      webhookId: string,
      mappingId: string,
      request: Record<string, unknown> = {}
    ) =>
      call(
        'POST',
        `/admin/webhooks/${webhookId}/mappings/${mappingId}/preview`,
        200,
        request
      ) as Promise<MappingPreview>,
    activate: (webhookId: string) =>
      call('POST', `/admin/webhooks/${webhookId}/activate`, 200),
    rotateSecret: (webhookId: string, input: Record<string, unknown>) =>
      call(
        'POST',
        `/admin/webhooks/${webhookId}/rotate-secret`,
        200,
        input
      ) as Promise<{ previousValidUntil: string; secret?: string }>,
    listEvents: async (webhookId: string): Promise<TraceRecord[]> => {
      const answer = (await call(
        'GET',
        `/admin/webhooks/${webhookId}/events`,
        200
      )) as { events: TraceRecord[] };
      return answer.events;
    },
    /**
     * Replays a webhook's events: `{ failed: true }` or `{ from, to }`,
     * with `dryRun`, `retryFailed` or `cursor`. A replay answers 202, a
     * dry run 200.
     */
    replay: (
      webhookId: string,
      request: Record<string, unknown>,
      expected = request.dryRun === true ? 200 : 202
    ) =>
      call(
        'POST',
        `/admin/webhooks/${webhookId}/replay`,
        expected,
        request
      ) as Promise<ReplayAnswer>,
    /** Moves a queue's dead letters back to it. */
    redrive: (queue: string, request?: Record<string, unknown>) =>
      call('POST', `/admin/queues/${queue}/redrive`, 200, request) as Promise<{
        queue: string;
        moved: number;
        limitReached: boolean;
      }>,
    /** The event's trace, or `undefined` while nothing is recorded yet. */
    readEvent: async (eventId: string): Promise<TraceRecord[] | undefined> => {
      try {
        const answer = (await call('GET', `/admin/events/${eventId}`, 200)) as {
          records: TraceRecord[];
        };
        return answer.records;
      } catch (error) {
        if (error instanceof ApiCallError && error.status === 404) {
          return undefined;
        }
        throw error;
      }
    },
  };
};

export type AdminClient = ReturnType<typeof adminClient>;

/** Waits, within `settle`, until an event's trace satisfies `done`. */
export const waitForTrace = (
  admin: AdminClient,
  eventId: string,
  done: (records: TraceRecord[]) => boolean,
  settle: {
    readonly timeoutMs: number;
    readonly intervalMs: number;
    readonly what: string;
  }
): Promise<TraceRecord[]> =>
  waitFor(async () => {
    const records = await admin.readEvent(eventId);
    return records && done(records) ? records : undefined;
  }, settle);

/** A sender's last word on one queued message: sent, or failed for good. */
const isSendOutcome = (record: TraceRecord): boolean =>
  record.recipient !== undefined &&
  (record.stage === 'sent' ||
    record.stage === 'failed' ||
    record.stage === 'unconfirmed');

const count = (records: readonly TraceRecord[], stage: string): number =>
  records.filter((record) => record.stage === stage).length;

/** Stages Meta's status callbacks add to a chain some time after the send. */
const STATUS_STAGES = new Set(['delivered', 'read']);

/**
 * An event's stages up to its sends, without the delivered and read that
 * Meta's callbacks append later, so a check does not race them.
 */
export const sendingStages = (records: readonly TraceRecord[]): string[] =>
  records
    .map((record) => record.stage as string)
    .filter((stage) => !STATUS_STAGES.has(stage));

/**
 * True once the mapper wrote the event's trace, every held message was
 * released or cancelled, and every queued or released message has its
 * send outcome.
 */
export const isTraceSettled = (records: readonly TraceRecord[]): boolean => {
  // The mapper writes `received` with its decisions; a sender's record
  // alone can come first.
  const mapped =
    records.some((record) => record.stage === 'received') &&
    records.some((record) => record.stage !== 'received');
  const released = count(records, 'released');
  const held = count(records, 'delayed');
  const queued = count(records, 'queued') + released;

  return (
    mapped &&
    released + count(records, 'cancelled') >= held &&
    records.filter(isSendOutcome).length >= queued
  );
};

/** The stand-in's record of every request, read over HTTP. */
export const standInRequests = async (
  standInUrl: string
): Promise<RecordedRequest[]> => {
  const response = await fetch(`${standInUrl}/_standin/requests`);
  if (!response.ok) {
    throw new Error(`The WhatsApp stand-in answered ${response.status}.`);
  }

  return (await response.json()) as RecordedRequest[];
};

/** Messages on a queue: waiting, in flight and delayed. */
export const queueDepth = async (
  sqs: SQSClient,
  queueUrl: string
): Promise<number> => {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    })
  );

  return Object.values(Attributes ?? {}).reduce(
    (sum, value) => sum + Number(value),
    0
  );
};
