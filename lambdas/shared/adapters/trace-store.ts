import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Env, Tables } from '../../../lib/definitions.js';
import { requireEnv, traceExpiry } from '../config.js';
import { DependencyError } from '../domain/errors.js';
import { type TraceRecord, TraceStage } from '../domain/trace.js';
import { dynamo } from './clients.js';

/**
 * Trace records in the log table: one partition per event, sorted by time,
 * and an index by webhook for listing recent events.
 */
const BATCH_WRITE_LIMIT = 25;
const MAX_WRITE_ATTEMPTS = 5;
const EVENTS_INDEX = Tables.logs.indexes[0].name;

const table = () => requireEnv(Env.LogTable);
const eventPk = (eventId: string) => `EVENT#${eventId}`;

/**
 * A trace record as the log table keeps it: in its event's partition,
 * sorted by time (`index` orders records written at the same moment).
 */
export const traceItem = (
  record: TraceRecord,
  index: number,
  expiresAt: number
): Record<string, unknown> => ({
  pk: eventPk(record.eventId),
  sk: `${record.at}#${String(index).padStart(3, '0')}#${record.stage}#${
    record.mappingId ?? ''
  }#${record.recipient ?? ''}`,
  ...record,
  ...(record.stage === TraceStage.Received
    ? { eventOfWebhook: record.webhookId, receivedAt: record.at }
    : {}),
  expiresAt,
});

export const writeTrace = async (
  records: readonly TraceRecord[],
  now = new Date()
): Promise<void> => {
  const expiresAt = traceExpiry(now);
  const items = records.map((record, index) => ({
    PutRequest: { Item: traceItem(record, index, expiresAt) },
  }));
  for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
    await writeBatch(items.slice(start, start + BATCH_WRITE_LIMIT));
  }
};

type WriteRequest = { PutRequest: { Item: Record<string, unknown> } };

const writeBatch = async (requests: WriteRequest[]): Promise<void> => {
  let pending = requests;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > MAX_WRITE_ATTEMPTS) {
      throw new DependencyError('Trace records could not all be written.');
    }
    const result = await dynamo.send(
      new BatchWriteCommand({ RequestItems: { [table()]: pending } })
    );
    pending = (result.UnprocessedItems?.[table()] ?? []) as WriteRequest[];
  }
};

const toRecord = (item: Record<string, unknown>): TraceRecord => {
  const {
    pk: _pk,
    sk: _sk,
    expiresAt: _expiresAt,
    eventOfWebhook: _eventOfWebhook,
    receivedAt: _receivedAt,
    ...record
  } = item;
  return record as unknown as TraceRecord;
};

export const readTrace = async (eventId: string): Promise<TraceRecord[]> => {
  const records: TraceRecord[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new QueryCommand({
        TableName: table(),
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': eventPk(eventId) },
        ExclusiveStartKey: startKey,
      })
    );
    records.push(...(page.Items ?? []).map(toRecord));
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  return records;
};

/** The most recent events of a webhook, newest first. */
export const listEvents = async (
  webhookId: string,
  limit: number
): Promise<TraceRecord[]> => {
  const { Items } = await dynamo.send(
    new QueryCommand({
      TableName: table(),
      IndexName: EVENTS_INDEX,
      KeyConditionExpression: 'eventOfWebhook = :id',
      ExpressionAttributeValues: { ':id': webhookId },
      ScanIndexForward: false,
      Limit: limit,
    })
  );

  return (Items ?? []).map(toRecord);
};
