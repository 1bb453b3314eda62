import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { Env } from '../../../lib/definitions.js';
import { optionalEnv, requireEnv, traceExpiry } from '../config.js';
import type { DelayedMessage } from '../domain/messages.js';
import {
  type CancelOutcome,
  type CancelPlan,
  cancelVerdict,
  type DelayKey,
  DelayState,
  delayMappingPrefix,
  delayPartition,
  type HeldMessage,
  heldMessageOf,
  nextHopSeconds,
  parseHopSeconds,
} from '../domain/schedule.js';
import { dynamo } from './clients.js';
import { enqueueHops } from './queues.js';

/**
 * Held messages' records in the log table (`DELAY#...`, see `delayKey`):
 * written when a message is held, then settled once by a conditional
 * write, either released or cancelled, never both.
 */
const table = () => requireEnv(Env.LogTable);

let hopSeconds: number | undefined;
/** The longest hop, read once; a bad value fails the function. */
export const delayHopSeconds = (): number => {
  hopSeconds ??= parseHopSeconds(optionalEnv(Env.DelayHopSeconds));
  return hopSeconds;
};

const isConditionFailure = (error: unknown): boolean =>
  (error as Error).name === 'ConditionalCheckFailedException';

/**
 * Records each held message, then puts it on the delay queue for its
 * first hop. A retry finds the record already there and keeps it as it is
 * (it may have been cancelled meanwhile); the hop is sent again, and a
 * second hop of the same message is harmless: the release is idempotent.
 */
export const holdMessages = async (
  delayed: readonly DelayedMessage[],
  now: Date
): Promise<void> => {
  for (const message of delayed) {
    try {
      await dynamo.send(
        new PutCommand({
          TableName: table(),
          Item: {
            ...message.key,
            ...heldMessageOf(message),
            webhookId: message.message.webhookId,
            // Kept as long as a trace written when it is due.
            expiresAt: traceExpiry(new Date(message.dueAt)),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        })
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
  await enqueueHops(
    delayed.map((message) => ({
      message,
      delaySeconds: nextHopSeconds(message.dueAt, now, delayHopSeconds()),
    }))
  );
};

/** Sends a held message on its next hop. */
export const hopAgain = (
  message: DelayedMessage,
  delaySeconds: number
): Promise<void> => enqueueHops([{ message, delaySeconds }]);

/**
 * Cancels the held messages each plan names that still wait for its
 * business key. The write is conditional on the record still waiting, so
 * a release that got there first wins and is reported as such.
 * LIMITATION: only messages held before the cancelling event are found; a
 * provider that delivers the cancelling event first cancels nothing.
 */
export const cancelWaiting = async (
  webhookId: string,
  eventId: string,
  plans: readonly CancelPlan[],
  now: Date
): Promise<CancelOutcome[]> => {
  const outcomes: CancelOutcome[] = [];
  for (const plan of plans) {
    for (const target of plan.cancels) {
      const found = await heldFor(
        delayPartition(webhookId, plan.businessKey),
        delayMappingPrefix(target)
      );
      for (const { key, held } of found) {
        const verdict = cancelVerdict(held, eventId);
        const settled =
          verdict === 'cancel'
            ? await cancelOne(key, held, eventId, now)
            : held;
        outcomes.push({
          plan,
          target,
          held: settled,
          verdict: cancelVerdict(settled, eventId),
        });
      }
    }
  }

  return outcomes;
};

const heldFor = async (
  pk: string,
  prefix: string
): Promise<{ key: DelayKey; held: HeldMessage }[]> => {
  const found: { key: DelayKey; held: HeldMessage }[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new QueryCommand({
        TableName: table(),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      })
    );
    for (const item of page.Items ?? []) {
      found.push({
        key: { pk: String(item.pk), sk: String(item.sk) },
        held: item as unknown as HeldMessage,
      });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  return found;
};

/**
 * Moves a held message's record on, if `condition` still holds; false when
 * another writer settled it first.
 */
const settle = async (
  key: DelayKey,
  update: string,
  condition: string,
  values: Record<string, unknown>
): Promise<boolean> => {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: table(),
        Key: key,
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: values,
      })
    );
    return true;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return false;
  }
};

/** The record after the cancellation, or as the release left it. */
const cancelOne = async (
  key: DelayKey,
  held: HeldMessage,
  eventId: string,
  now: Date
): Promise<HeldMessage> => {
  const cancelled = await settle(
    key,
    'SET #state = :cancelled, cancelledBy = :me, cancelledAt = :at',
    '#state = :waiting OR (#state = :cancelled AND cancelledBy = :me)',
    {
      ':cancelled': DelayState.Cancelled,
      ':waiting': DelayState.Waiting,
      ':me': eventId,
      ':at': now.toISOString(),
    }
  );
  if (cancelled) {
    return { ...held, state: DelayState.Cancelled, cancelledBy: eventId };
  }

  return (await readHeld(key)) ?? held;
};

const readHeld = async (key: DelayKey): Promise<HeldMessage | undefined> => {
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: table(), Key: key, ConsistentRead: true })
  );

  return Item as HeldMessage | undefined;
};

export type ReleaseVerdict =
  | { readonly released: true }
  | { readonly released: false; readonly cancelledBy?: string };

/**
 * Marks a due message released, unless a cancellation got there first.
 * Released again on a retry, so a crash before the message was queued
 * loses nothing; a record that was never written does not hold it back.
 */
export const releaseHeld = async (
  key: DelayKey,
  now: Date
): Promise<ReleaseVerdict> => {
  const released = await settle(
    key,
    'SET #state = :released, releasedAt = :at, ' +
      'expiresAt = if_not_exists(expiresAt, :expiresAt)',
    'attribute_not_exists(pk) OR #state IN (:waiting, :released)',
    {
      ':released': DelayState.Released,
      ':waiting': DelayState.Waiting,
      ':at': now.toISOString(),
      ':expiresAt': traceExpiry(now),
    }
  );
  if (released) return { released: true };
  const held = await readHeld(key);

  return { released: false, cancelledBy: held?.cancelledBy };
};
