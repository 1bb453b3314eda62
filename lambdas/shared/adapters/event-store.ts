import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Env, Tables } from '../../../lib/definitions.js';
import { requireEnv, traceExpiry } from '../config.js';
import { type IngestMessage, ingestMessageSchema } from '../domain/messages.js';
import type { TraceRecord } from '../domain/trace.js';
import { dynamo } from './clients.js';

/**
 * A copy of each accepted event, kept for replay (`INGEST#<eventId>`,
 * `MESSAGE`) as long as its trace: the ingest message as queued, with its
 * body inline or the reference to the payload store.
 */
const table = () => requireEnv(Env.LogTable);
const eventKey = (eventId: string) => ({
  pk: `INGEST#${eventId}`,
  sk: 'MESSAGE',
});
const EVENTS_INDEX = Tables.logs.indexes[0].name;

export const keepEvent = async (
  message: IngestMessage,
  now: Date
): Promise<void> => {
  await dynamo.send(
    new PutCommand({
      TableName: table(),
      Item: {
        ...eventKey(message.eventId),
        webhookId: message.webhookId,
        message: JSON.stringify(message),
        expiresAt: traceExpiry(now),
      },
    })
  );
};

/** The kept copy of an event, or `undefined` once it has expired. */
export const readKeptEvent = async (
  eventId: string
): Promise<IngestMessage | undefined> => {
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: table(), Key: eventKey(eventId) })
  );
  if (typeof Item?.message !== 'string') return undefined;
  const parsed = ingestMessageSchema.safeParse(JSON.parse(Item.message));

  return parsed.success ? parsed.data : undefined;
};

/**
 * The `received` records of a webhook's events in a window (both ends
 * included), oldest first, at most `limit`, and where to go on.
 */
export const listReceived = async (
  webhookId: string,
  window: { readonly from: string; readonly to: string },
  limit: number,
  startKey?: Record<string, unknown>
): Promise<{ records: TraceRecord[]; next?: Record<string, unknown> }> => {
  const records: TraceRecord[] = [];
  let next = startKey;
  do {
    const page = await dynamo.send(
      new QueryCommand({
        TableName: table(),
        IndexName: EVENTS_INDEX,
        KeyConditionExpression:
          'eventOfWebhook = :id AND receivedAt BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':id': webhookId,
          ':from': window.from,
          ':to': window.to,
        },
        Limit: limit - records.length,
        ExclusiveStartKey: next,
      })
    );
    records.push(...((page.Items ?? []) as TraceRecord[]));
    next = page.LastEvaluatedKey;
  } while (next && records.length < limit);

  return { records, ...(next ? { next } : {}) };
};
