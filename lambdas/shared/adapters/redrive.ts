import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { type QueueKey, Queues } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import { DependencyError } from '../domain/errors.js';
import { sqs } from './clients.js';

/** SQS hands out and takes at most ten messages per call. */
const BATCH = 10;
/** Long enough to send and delete a batch; a failure returns it soon. */
const VISIBILITY_SECONDS = 30;

/**
 * Moves up to `max` messages from a queue's dead-letter queue back to the
 * queue: each is sent again (same body; on FIFO queues the same group and
 * a deduplication id per dead letter), then deleted from the dead-letter
 * queue. A crash between the two leaves a message in both; every stage
 * handles a repeat (the ingest claim, the send ledger, the delay record).
 * A message that reached the dead-letter queue after the call started
 * stays there. Answers how many moved and whether the limit stopped it.
 * SQS's own
 * message move task runs asynchronously, answers no count, and the local
 * emulator lacks it, so the move is done here.
 */
export const redriveDeadLetters = async (
  queue: QueueKey,
  max: number
): Promise<{ moved: number; limitReached: boolean }> => {
  const definition = Queues[queue];
  const fifo = (definition as { type?: string }).type !== 'standard';
  const source = requireEnv(definition.env);
  const deadLetters = requireEnv(definition.deadLetterEnv);
  const startedAt = Date.now();
  let moved = 0;
  while (moved < max) {
    const { Messages: received = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetters,
        MaxNumberOfMessages: Math.min(BATCH, max - moved),
        VisibilityTimeout: VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['MessageGroupId', 'SentTimestamp'],
      })
    );
    // A message moved back and dead-lettered again during this call (an
    // unreadable one is, at once) is left for the next call, so each
    // dead letter is moved and counted once.
    const isNew = (message: (typeof received)[number]) =>
      Number(message.Attributes?.SentTimestamp ?? 0) >= startedAt;
    await releaseUntouched(deadLetters, received.filter(isNew));
    const Messages = received.filter((message) => !isNew(message));
    if (Messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: source,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          MessageBody: message.Body ?? '',
          ...(fifo
            ? {
                MessageGroupId:
                  message.Attributes?.MessageGroupId ?? 'redriven',
                MessageDeduplicationId: `redrive-${message.MessageId}`,
              }
            : {}),
        })),
      })
    );
    const done = (sent.Successful ?? []).map(
      (entry) => Messages[Number(entry.Id)]
    );
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: deadLetters,
          Entries: done.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message?.ReceiptHandle ?? '',
          })),
        })
      );
    }
    moved += done.length;
    if (sent.Failed && sent.Failed.length > 0) {
      const codes = sent.Failed.map((entry) => entry.Code).join(', ');
      throw new DependencyError(
        `Redriving stopped after ${moved} message(s): ${codes}.`
      );
    }
  }

  return { moved, limitReached: moved >= max };
};

/** Makes messages this call received and left alone visible again at once. */
const releaseUntouched = async (
  queueUrl: string,
  messages: readonly Message[]
): Promise<void> => {
  if (messages.length === 0) return;
  await sqs.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((message, index) => ({
        Id: String(index),
        ReceiptHandle: message.ReceiptHandle ?? '',
        VisibilityTimeout: 0,
      })),
    })
  );
};
