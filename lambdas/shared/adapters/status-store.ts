import { BatchGetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { Env } from '../../../lib/definitions.js';
import { requireEnv, traceExpiry } from '../config.js';
import {
  type MessageRef,
  STATUS_RANK,
  type StatusUpdate,
} from '../domain/status.js';
import type { TraceRecord } from '../domain/trace.js';
import { dynamo } from './clients.js';
import { traceItem } from './trace-store.js';

/**
 * Delivery statuses in the log table, beside the send side's records:
 * - the send ledger `SEND#<messageKey>` / `STATE` (eventId, webhookId,
 *   mappingId, wamid once sent), written before each send;
 * - the wamid pointer `WAMID#<wamid>` / `MESSAGE` (messageKey, eventId,
 *   webhookId, mappingId, masked recipient, template), written once Meta
 *   accepted the message;
 * - the latest status `SEND#<messageKey>` / `STATUS`, owned here.
 */
const table = () => requireEnv(Env.LogTable);

export const sendPk = (messageKey: string) => `SEND#${messageKey}`;
export const LEDGER_SK = 'STATE';
export const STATUS_SK = 'STATUS';
export const wamidPk = (wamid: string) => `WAMID#${wamid}`;
export const POINTER_SK = 'MESSAGE';

type Item = Record<string, unknown>;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/**
 * The message a status is about: found by the message key Meta echoed
 * (`biz_opaque_callback_data`, read from the send ledger) and by the
 * wamid pointer, in one read; `undefined` when neither is known.
 */
export const findMessage = async (
  update: StatusUpdate
): Promise<MessageRef | undefined> => {
  const keys = [
    { pk: wamidPk(update.wamid), sk: POINTER_SK },
    ...(update.messageKey
      ? [{ pk: sendPk(update.messageKey), sk: LEDGER_SK }]
      : []),
  ];
  const { Responses, UnprocessedKeys } = await dynamo.send(
    new BatchGetCommand({
      RequestItems: { [table()]: { Keys: keys, ConsistentRead: true } },
    })
  );
  if (Object.keys(UnprocessedKeys ?? {}).length > 0) {
    throw new Error('The message lookup was throttled.');
  }
  const items = Responses?.[table()] ?? [];
  const pointer = items.find((item) => item.pk === keys[0]?.pk);
  const ledger = items.find((item) => item.sk === LEDGER_SK);

  return messageRef(pointer, ledger, update.messageKey);
};

const messageRef = (
  pointer: Item | undefined,
  ledger: Item | undefined,
  echoedKey: string | undefined
): MessageRef | undefined => {
  const found = pointer ?? ledger;
  const messageKey = text(pointer?.messageKey) ?? echoedKey;
  const eventId = text(found?.eventId);
  const webhookId = text(found?.webhookId);
  if (!found || !messageKey || !eventId || !webhookId) return undefined;
  const mappingId = text(found.mappingId);
  const recipient = text(pointer?.recipient);
  const template = text(pointer?.template);
  const unrecorded =
    pointer === undefined &&
    (ledger?.state === 'sending' || ledger?.state === 'unconfirmed')
      ? (ledger.state as 'sending' | 'unconfirmed')
      : undefined;

  return {
    messageKey,
    eventId,
    webhookId,
    ...(mappingId ? { mappingId } : {}),
    ...(recipient ? { recipient } : {}),
    ...(template ? { template } : {}),
    ...(unrecorded ? { acceptanceUnrecorded: unrecorded } : {}),
  };
};

export type StatusOutcome = 'recorded' | 'unchanged';

/**
 * Moves the message's latest status on to `update`, only if it is
 * further (a DynamoDB condition on the rank), and appends `trace` to the
 * event's chain in the same transaction: both happen or neither does, so
 * a retried callback never leaves a status without its trace record.
 * A status that is not further changes nothing and answers `unchanged`.
 */
export const recordStatus = async (
  message: MessageRef,
  update: StatusUpdate,
  trace: TraceRecord | undefined,
  now: Date
): Promise<StatusOutcome> => {
  const expiresAt = traceExpiry(now);
  const failure = update.code !== undefined || update.reason !== undefined;
  try {
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: table(),
              Key: { pk: sendPk(message.messageKey), sk: STATUS_SK },
              UpdateExpression:
                'SET #status = :status, #rank = :rank, wamid = :wamid, ' +
                'eventId = :eventId, webhookId = :webhookId, ' +
                'statusAt = :statusAt, updatedAt = :updatedAt, ' +
                'expiresAt = :expiresAt' +
                (failure ? ', code = :code, reason = :reason' : ''),
              ConditionExpression: 'attribute_not_exists(pk) OR #rank < :rank',
              ExpressionAttributeNames: {
                '#status': 'status',
                '#rank': 'rank',
              },
              ExpressionAttributeValues: {
                ':status': update.status,
                ':rank': STATUS_RANK[update.status],
                ':wamid': update.wamid,
                ':eventId': message.eventId,
                ':webhookId': message.webhookId,
                ':statusAt': update.statusAt,
                ':updatedAt': now.toISOString(),
                ':expiresAt': expiresAt,
                ...(failure
                  ? {
                      ':code': update.code ?? '',
                      ':reason': update.reason ?? '',
                    }
                  : {}),
              },
            },
          },
          ...(trace
            ? [
                {
                  Put: {
                    TableName: table(),
                    Item: traceItem(trace, 0, expiresAt),
                  },
                },
              ]
            : []),
        ],
      })
    );
    return 'recorded';
  } catch (error) {
    if (isStale(error)) return 'unchanged';
    throw error;
  }
};

/** The transaction failed only because the status is not further. */
const isStale = (error: unknown): boolean => {
  const { name, CancellationReasons } = error as {
    name?: string;
    CancellationReasons?: { Code?: string }[];
  };

  return (
    name === 'TransactionCanceledException' &&
    CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
  );
};
