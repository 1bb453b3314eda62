import {
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { Env } from '../../../lib/definitions.js';
import { requireEnv, traceExpiry } from '../config.js';
import type { LedgerState } from '../domain/delivery.js';
import {
  DUPLICATE_WINDOW_SECONDS,
  type OutboundMessage,
  recipientGroup,
} from '../domain/messages.js';
import { maskPhone } from '../domain/phone.js';
import type { TraceRecord } from '../domain/trace.js';
import { dynamo } from './clients.js';
import { STATUS_SK, sendPk } from './status-store.js';
import { traceItem } from './trace-store.js';

/**
 * The send ledger in the log table: one item per message key
 * (`SEND#<messageKey>`, `STATE`) that a send must claim first, the
 * `WAMID#<wamid>` pointer once Meta accepted it, the last send time per
 * recipient and the sender-wide pause after a rate limit or a blocked
 * account. Every change of a claim is conditional on the claim it ends.
 */

export interface LedgerEntry {
  readonly state: LedgerState;
  readonly leaseId?: string;
  /** Epoch milliseconds the claim's invocation ends by, with a margin. */
  readonly leaseUntil?: number;
  /** Requests made to WhatsApp for this message so far. */
  readonly attempts: number;
  /** The wamid of a status callback that arrived while it was sending. */
  readonly callbackWamid?: string;
}

const table = () => requireEnv(Env.LogTable);
const ledgerKey = (key: string) => ({ pk: `SEND#${key}`, sk: 'STATE' });
const recipientKey = (recipient: string) => ({
  pk: `RECIPIENT#${recipientGroup(recipient)}`,
  sk: 'LAST_SEND',
});
const PAUSE_KEY = { pk: 'SENDER#PAUSE', sk: 'STATE' };
const DAY_SECONDS = 86_400;

/**
 * Ledger items outlive any redelivery: the queues keep messages 14 days
 * and a dead letter can be redriven within another 14.
 */
const ledgerExpiry = (now: Date): number =>
  Math.max(
    traceExpiry(now),
    Math.floor(now.getTime() / 1000) +
      DUPLICATE_WINDOW_SECONDS +
      21 * DAY_SECONDS
  );

const isConditionFailure = (error: unknown): boolean => {
  const name = (error as Error).name;
  return (
    name === 'ConditionalCheckFailedException' ||
    name === 'TransactionCanceledException'
  );
};

/** Runs a conditional write; false when its condition did not hold. */
const writeIf = async (
  command: UpdateCommand | TransactWriteCommand
): Promise<boolean> => {
  try {
    await (command instanceof UpdateCommand
      ? dynamo.send(command)
      : dynamo.send(command));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
};

export const readLedger = async (
  messageKey: string
): Promise<LedgerEntry | undefined> => {
  const { Item } = await dynamo.send(
    new GetCommand({
      TableName: table(),
      Key: ledgerKey(messageKey),
      ConsistentRead: true,
    })
  );
  if (Item === undefined) return undefined;

  return {
    state: Item.state as LedgerState,
    leaseId: Item.leaseId as string | undefined,
    leaseUntil: Item.leaseUntil as number | undefined,
    attempts: Number(Item.attempts ?? 0),
    ...(typeof Item.callbackWamid === 'string'
      ? { callbackWamid: Item.callbackWamid }
      : {}),
  };
};

/**
 * Claims a message for one attempt: only a new message or one released
 * for a retry can be claimed. Answers the attempt's number, or `undefined`
 * when another claim holds it.
 */
export const claimSend = async (
  message: OutboundMessage,
  lease: { readonly id: string; readonly until: number },
  now: Date
): Promise<number | undefined> => {
  try {
    const { Attributes } = await dynamo.send(
      new UpdateCommand({
        TableName: table(),
        Key: ledgerKey(message.messageKey),
        UpdateExpression:
          'SET #state = :sending, leaseId = :leaseId, leaseUntil = :until, ' +
          'attempts = if_not_exists(attempts, :zero) + :one, ' +
          'eventId = :eventId, webhookId = :webhookId, mappingId = :mappingId, ' +
          'recipient = :recipient, updatedAt = :at, expiresAt = :expiresAt',
        ConditionExpression: 'attribute_not_exists(pk) OR #state = :retrying',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':sending': 'sending',
          ':retrying': 'retrying',
          ':leaseId': lease.id,
          ':until': lease.until,
          ':zero': 0,
          ':one': 1,
          ':eventId': message.eventId,
          ':webhookId': message.webhookId,
          ':mappingId': message.mappingId,
          ':recipient': maskPhone(message.recipient),
          ':at': now.toISOString(),
          ':expiresAt': ledgerExpiry(now),
        },
        ReturnValues: 'ALL_NEW',
      })
    );
    return Number(Attributes?.attempts ?? 1);
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
};

export interface Settlement {
  readonly state: Exclude<LedgerState, 'sending'>;
  readonly code?: string;
  readonly reason?: string;
}

/**
 * Ends the claim `leaseId` holds: `retrying` releases it, the others are
 * final. Answers false when that claim no longer holds the message, or,
 * for `unconfirmed`, when a status callback already proved it accepted.
 */
export const settleClaim = async (
  messageKey: string,
  leaseId: string,
  settlement: Settlement,
  now: Date
): Promise<boolean> => {
  return writeIf(
    new UpdateCommand({
      TableName: table(),
      Key: ledgerKey(messageKey),
      UpdateExpression:
        'SET #state = :state, code = :code, reason = :reason, ' +
        'updatedAt = :at REMOVE leaseUntil',
      ConditionExpression:
        '#state = :sending AND leaseId = :leaseId' +
        (settlement.state === 'unconfirmed'
          ? ' AND attribute_not_exists(callbackWamid)'
          : ''),
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':state': settlement.state,
        ':code': settlement.code ?? null,
        ':reason': settlement.reason ?? null,
        ':at': now.toISOString(),
        ':sending': 'sending',
        ':leaseId': leaseId,
      },
    })
  );
};

/**
 * Records Meta's acceptance in one transaction: the claim becomes `sent`
 * with the wamid, the `WAMID#` pointer is written for status callbacks, and
 * the recipient's last send time moves on.
 */
export const recordSent = async (
  message: OutboundMessage,
  leaseId: string,
  wamid: string,
  now: Date
): Promise<void> => {
  const expiresAt = ledgerExpiry(now);
  await dynamo.send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: table(),
            Key: ledgerKey(message.messageKey),
            UpdateExpression:
              'SET #state = :sent, wamid = :wamid, updatedAt = :at ' +
              'REMOVE leaseUntil, code, reason',
            ConditionExpression: '#state = :sending AND leaseId = :leaseId',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':sent': 'sent',
              ':wamid': wamid,
              ':at': now.toISOString(),
              ':sending': 'sending',
              ':leaseId': leaseId,
            },
          },
        },
        {
          Put: {
            TableName: table(),
            Item: {
              pk: `WAMID#${wamid}`,
              sk: 'MESSAGE',
              messageKey: message.messageKey,
              eventId: message.eventId,
              webhookId: message.webhookId,
              mappingId: message.mappingId,
              recipient: maskPhone(message.recipient),
              template: message.request.template.name,
              at: now.toISOString(),
              expiresAt,
            },
          },
        },
        {
          Put: {
            TableName: table(),
            Item: {
              ...recipientKey(message.recipient),
              lastSentAt: now.getTime(),
              expiresAt: Math.floor(now.getTime() / 1000) + DAY_SECONDS,
            },
          },
        },
      ],
    })
  );
};

/**
 * What a status callback proved about a message the ledger had not
 * recorded as sent: `confirmed` turned an `unconfirmed` message into
 * `sent`; `noted` left the callback's wamid on a message still `sending`,
 * for the sender to settle as sent if that attempt never reports back;
 * `settled` found it already settled otherwise.
 */
export type CallbackProof = 'confirmed' | 'noted' | 'settled';

/**
 * Records that Meta accepted `messageKey` as `wamid`, known from a status
 * callback; `trace` joins the event's chain when that turns the message
 * into `sent`, in the same transaction. Each write is conditional on the
 * state it changes, so a sender settling the message at the same moment is
 * never overwritten; `seen` is the state the ledger showed the callback.
 */
export const proveByCallback = async (
  messageKey: string,
  wamid: string,
  trace: TraceRecord,
  now: Date,
  seen: 'sending' | 'unconfirmed'
): Promise<CallbackProof> => {
  const confirm = async () =>
    (await confirmUnconfirmed(messageKey, wamid, trace, now))
      ? ('confirmed' as const)
      : undefined;
  const note = async () =>
    (await writeIf(
      new UpdateCommand({
        TableName: table(),
        Key: ledgerKey(messageKey),
        UpdateExpression: 'SET callbackWamid = :wamid',
        ConditionExpression: '#state = :sending',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':wamid': wamid, ':sending': 'sending' },
      })
    ))
      ? ('noted' as const)
      : undefined;
  // Only the write that fits the state last read is tried: a transaction
  // bound to fail still costs a write. A message that turned from sending
  // to unconfirmed meanwhile is read again; no other change comes back.
  let state: LedgerState | undefined = seen;
  for (let round = 0; round < 3; round += 1) {
    const proof =
      state === 'sending'
        ? await note()
        : state === 'unconfirmed'
          ? await confirm()
          : 'settled';
    if (proof !== undefined) return proof;
    state = (await readLedger(messageKey))?.state;
  }

  return 'settled';
};

const confirmUnconfirmed = async (
  messageKey: string,
  wamid: string,
  trace: TraceRecord,
  now: Date
): Promise<boolean> =>
  writeIf(
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: table(),
            Key: ledgerKey(messageKey),
            UpdateExpression:
              'SET #state = :sent, wamid = :wamid, confirmedBy = :by, ' +
              'updatedAt = :at REMOVE leaseUntil, code, reason',
            ConditionExpression: '#state = :unconfirmed',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':sent': 'sent',
              ':wamid': wamid,
              ':by': 'status_callback',
              ':at': now.toISOString(),
              ':unconfirmed': 'unconfirmed',
            },
          },
        },
        {
          Put: {
            TableName: table(),
            Item: traceItem(trace, 0, traceExpiry(now)),
          },
        },
      ],
    })
  );

/** When a message last left for `recipient`, in epoch milliseconds. */
export const lastSentTo = async (
  recipient: string
): Promise<number | undefined> => {
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: table(), Key: recipientKey(recipient) })
  );
  const at = Item?.lastSentAt;

  return typeof at === 'number' ? at : undefined;
};

/**
 * Takes the recipient's next send slot: succeeds only if no message left
 * for them within `minGapMs`, so two sends cannot both pass the spacing
 * check even if one recipient's messages were ever handled at once.
 */
export const reserveRecipient = async (
  recipient: string,
  minGapMs: number,
  now: number
): Promise<boolean> => {
  return writeIf(
    new UpdateCommand({
      TableName: table(),
      Key: recipientKey(recipient),
      UpdateExpression: 'SET lastSentAt = :now, expiresAt = :expiresAt',
      ConditionExpression:
        'attribute_not_exists(lastSentAt) OR lastSentAt <= :cutoff',
      ExpressionAttributeValues: {
        ':now': now,
        ':cutoff': now - minGapMs,
        ':expiresAt': Math.floor(now / 1000) + DAY_SECONDS,
      },
    })
  );
};

/** Until when every send waits, in epoch milliseconds (0 for none). */
export const readPause = async (): Promise<number> => {
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: table(), Key: PAUSE_KEY })
  );
  const until = Item?.pausedUntil;

  return typeof until === 'number' ? until : 0;
};

/** Makes every send wait until `until`, unless a longer pause is on. */
export const pauseSending = async (
  until: number,
  code: string,
  now: Date
): Promise<void> => {
  await writeIf(
    new UpdateCommand({
      TableName: table(),
      Key: PAUSE_KEY,
      UpdateExpression:
        'SET pausedUntil = :until, code = :code, updatedAt = :at, ' +
        'expiresAt = :expiresAt',
      ConditionExpression:
        'attribute_not_exists(pausedUntil) OR pausedUntil < :until',
      ExpressionAttributeValues: {
        ':until': until,
        ':code': code,
        ':at': now.toISOString(),
        ':expiresAt': Math.floor(until / 1000) + DAY_SECONDS,
      },
    })
  );
};

/**
 * Releases a message that failed for good so a replay may send it again:
 * it becomes claimable (`retrying`) with its attempts counted afresh. One
 * that WhatsApp accepted and then could not deliver (`undelivered`: the
 * ledger says `sent`, its status `failed`) is released the same way, and
 * its status is cleared in the same transaction so the new send's
 * statuses are recorded; the failure stays on the event's chain. Answers
 * false when the ledger or the status says something else by now.
 */
export const releaseForReplay = async (
  messageKey: string,
  replayId: string,
  now: Date,
  failure: 'failed' | 'undelivered' = 'failed'
): Promise<boolean> => {
  const release = {
    TableName: table(),
    Key: ledgerKey(messageKey),
    UpdateExpression:
      'SET #state = :retrying, attempts = :zero, code = :code, ' +
      'reason = :reason, updatedAt = :at REMOVE callbackWamid',
    ConditionExpression: '#state = :was',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: {
      ':retrying': 'retrying',
      ':was': failure === 'failed' ? 'failed' : 'sent',
      ':zero': 0,
      ':code': 'replay',
      ':reason': `released for replay ${replayId}`,
      ':at': now.toISOString(),
    },
  };
  if (failure === 'failed') return writeIf(new UpdateCommand(release));

  return writeIf(
    new TransactWriteCommand({
      TransactItems: [
        { Update: release },
        {
          Delete: {
            TableName: table(),
            Key: { pk: sendPk(messageKey), sk: STATUS_SK },
            ConditionExpression: '#status = :failed',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':failed': 'failed' },
          },
        },
      ],
    })
  );
};

/** Whether WhatsApp reported that it could not deliver an accepted message. */
export const deliveryFailed = async (messageKey: string): Promise<boolean> => {
  const { Item } = await dynamo.send(
    new GetCommand({
      TableName: table(),
      Key: { pk: sendPk(messageKey), sk: STATUS_SK },
      ConsistentRead: true,
    })
  );

  return Item?.status === 'failed';
};
