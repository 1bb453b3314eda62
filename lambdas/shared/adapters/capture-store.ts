import {
  BatchWriteCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { Env } from '../../../lib/definitions.js';
import { requireEnv, traceExpiry } from '../config.js';
import {
  CAPTURES_PER_EVENT_KEY,
  type CapturedPayload,
} from '../domain/capture.js';
import { keyHash } from '../domain/messages.js';
import { dynamo } from './clients.js';

/**
 * Captured payloads in the log table: one partition per webhook, sorted by
 * event key then arrival, expiring with the trace records.
 */
const table = () => requireEnv(Env.LogTable);
const capturePk = (webhookId: string) => `CAPTURE#${webhookId}`;
// Hashed, so `a` never lists the captures of `a#b` and any length fits.
const keyPrefix = (eventKey: string) => `${keyHash(eventKey)}#`;

type Item = Record<string, unknown>;

const toCapture = (item: Item): CapturedPayload => {
  const { pk: _pk, sk: _sk, expiresAt: _expiresAt, ...capture } = item;
  return capture as unknown as CapturedPayload;
};

/** Keeps a payload and drops the older ones beyond the per-key limit. */
export const keepCapture = async (
  capture: CapturedPayload,
  now = new Date()
): Promise<void> => {
  const pk = capturePk(capture.webhookId);
  await dynamo.send(
    new PutCommand({
      TableName: table(),
      Item: {
        pk,
        sk: `${keyPrefix(capture.eventKey)}${capture.receivedAt}#${capture.eventId}`,
        ...capture,
        expiresAt: traceExpiry(now),
      },
    })
  );
  const { Items = [] } = await dynamo.send(
    new QueryCommand({
      TableName: table(),
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': pk,
        ':prefix': keyPrefix(capture.eventKey),
      },
      ProjectionExpression: 'pk, sk',
      ScanIndexForward: false,
    })
  );
  const stale = Items.slice(CAPTURES_PER_EVENT_KEY);
  if (stale.length === 0) return;
  await dynamo.send(
    new BatchWriteCommand({
      RequestItems: {
        [table()]: stale.map((key) => ({ DeleteRequest: { Key: key } })),
      },
    })
  );
};

/** The kept payloads of a webhook, newest first, optionally of one key. */
export const listCaptures = async (
  webhookId: string,
  eventKey?: string
): Promise<CapturedPayload[]> => {
  const { Items = [] } = await dynamo.send(
    new QueryCommand({
      TableName: table(),
      KeyConditionExpression: eventKey
        ? 'pk = :pk AND begins_with(sk, :prefix)'
        : 'pk = :pk',
      ExpressionAttributeValues: {
        ':pk': capturePk(webhookId),
        ...(eventKey ? { ':prefix': keyPrefix(eventKey) } : {}),
      },
    })
  );

  return Items.map(toCapture).sort((a, b) =>
    b.receivedAt.localeCompare(a.receivedAt)
  );
};
