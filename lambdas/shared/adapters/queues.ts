import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { Env, Queues } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import { DependencyError } from '../domain/errors.js';
import {
  type DelayedMessage,
  type IngestMessage,
  keyHash,
  type OutboundMessage,
  recipientGroup,
} from '../domain/messages.js';
import { sqs } from './clients.js';

/** SQS takes at most ten entries per batch call. */
const SQS_BATCH_LIMIT = 10;

/**
 * Puts an accepted event on the ingest queue, grouped by webhook so one
 * source's events are mapped in arrival order. Each delivery is its own
 * message (the mapper recognises a provider's re-deliveries durably and
 * records them); the deduplication id only absorbs this call's retries.
 * FIFO queues take no per-message delay, so none is ever set here.
 */
export const enqueueEvent = async (message: IngestMessage): Promise<void> => {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: requireEnv(Env.IngestQueueUrl),
      MessageBody: JSON.stringify(message),
      MessageGroupId: message.webhookId,
      MessageDeduplicationId: message.eventId,
    })
  );
};

type BatchEntry = Omit<SendMessageBatchRequestEntry, 'Id'>;

/** Sends entries ten at a time; any refused entry fails the call. */
const sendInBatches = async (
  queueUrl: string,
  entries: readonly BatchEntry[],
  what: string
): Promise<void> => {
  for (let start = 0; start < entries.length; start += SQS_BATCH_LIMIT) {
    const chunk = entries.slice(start, start + SQS_BATCH_LIMIT);
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((entry, index) => ({ ...entry, Id: String(index) })),
      })
    );
    if (result.Failed && result.Failed.length > 0) {
      const codes = result.Failed.map((entry) => entry.Code).join(', ');
      throw new DependencyError(`${what} failed: ${codes}.`);
    }
  }
};

/**
 * Puts replayed events back on the ingest queue, each in its webhook's
 * group, deduplicated per event and replay.
 */
export const enqueueReplays = (
  messages: readonly IngestMessage[]
): Promise<void> =>
  sendInBatches(
    requireEnv(Env.IngestQueueUrl),
    messages.map((message) => ({
      MessageBody: JSON.stringify(message),
      MessageGroupId: message.webhookId,
      MessageDeduplicationId: keyHash(
        `${message.eventId}\n${message.replay?.replayId ?? ''}`
      ),
    })),
    'Queueing replays'
  );

/**
 * Puts messages on the outbound queue, one FIFO group per recipient. A
 * replay's copies get their own deduplication ids, so SQS does not drop
 * them as repeats of the first queueing; the send ledger keeps them from
 * sending twice.
 */
export const enqueueMessages = (
  messages: readonly OutboundMessage[],
  replayId?: string
): Promise<void> =>
  sendInBatches(
    requireEnv(Env.OutboundQueueUrl),
    messages.map((message) => ({
      MessageBody: JSON.stringify(message),
      MessageGroupId: recipientGroup(message.recipient),
      MessageDeduplicationId: replayId
        ? keyHash(`${message.messageKey}\n${replayId}`)
        : message.messageKey,
    })),
    'Queueing messages'
  );

/**
 * Puts held messages on the delay queue, each for its next hop (at most
 * 900 s, none once due). Every hop is a new message, so waiting is never
 * counted as a receive towards the dead-letter queue.
 */
export const enqueueHops = (
  hops: readonly { message: DelayedMessage; delaySeconds: number }[]
): Promise<void> =>
  sendInBatches(
    requireEnv(Env.DelayQueueUrl),
    hops.map((hop) => ({
      MessageBody: JSON.stringify(hop.message),
      DelaySeconds: hop.delaySeconds,
    })),
    'Holding messages'
  );

/**
 * Keeps received outbound messages away for the given seconds (0 makes one
 * visible at once). On a FIFO queue a message kept away holds its group.
 */
export const holdMessages = async (
  holds: readonly { receiptHandle: string; seconds: number }[]
): Promise<void> => {
  for (let start = 0; start < holds.length; start += SQS_BATCH_LIMIT) {
    const chunk = holds.slice(start, start + SQS_BATCH_LIMIT);
    const result = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: requireEnv(Env.OutboundQueueUrl),
        Entries: chunk.map((hold, index) => ({
          Id: String(index),
          ReceiptHandle: hold.receiptHandle,
          VisibilityTimeout: hold.seconds,
        })),
      })
    );
    if (result.Failed && result.Failed.length > 0) {
      const codes = result.Failed.map((entry) => entry.Code).join(', ');
      throw new DependencyError(`Holding messages failed: ${codes}.`);
    }
  }
};

/**
 * Moves a message no attempt can help from a FIFO queue to its
 * dead-letter queue, in its own message group, so the group's later
 * messages need not wait for `maxReceiveCount` receives.
 */
export const moveToDeadLetter = async (
  record: SQSRecord,
  queue: 'ingest' | 'outbound'
): Promise<void> => {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: requireEnv(Queues[queue].deadLetterEnv),
      MessageBody: record.body,
      MessageGroupId: record.attributes.MessageGroupId ?? 'unreadable',
      MessageDeduplicationId: record.messageId,
    })
  );
};
