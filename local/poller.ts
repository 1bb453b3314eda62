import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { QueueSource } from '../lib/definitions.js';
import type { LocalFunction } from './lambda.js';
import {
  groupsOutOfOrder,
  judgeBatchResponse,
  toSqsRecord,
} from './sqs-event.js';

/** What happened to one batch, for the terminal. */
export interface BatchSummary {
  readonly functionName: string;
  readonly size: number;
  readonly deleted: number;
  /** Records left for the visibility timeout to bring back. */
  readonly retained: number;
  readonly error?: unknown;
  /** Message groups whose failures did not run to the batch's end. */
  readonly groupsOutOfOrder?: readonly string[];
}

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly fn: LocalFunction;
  readonly source: QueueSource;
  readonly queue: { readonly url: string; readonly arn: string };
  readonly region: string;
  /** Long-poll length; it bounds how long `stop()` waits for a receive. */
  readonly waitSeconds?: number;
  readonly onBatch?: (summary: BatchSummary) => void;
  readonly onError?: (error: unknown) => void;
}

export interface Poller {
  stop(): Promise<void>;
}

const RECEIVE_ERROR_PAUSE_MS = 1_000;

/**
 * Drives a function from its queue the way Lambda's event source mapping
 * does: batches of up to `batchSize` with every attribute, at most
 * `maxConcurrency` batches in flight, partial batch responses honoured,
 * and failed records left in flight until the visibility timeout returns
 * them. FIFO group order comes from the queue itself.
 *
 * One loop receives, one poll at a time, and hands each batch to its own
 * invocation: moto works out which FIFO groups are locked when a long poll
 * starts, so two polls waiting at once could each take a message of the
 * same group, which SQS never does. A group unlocked during a poll is
 * served by the next one, up to `waitSeconds` later.
 */
export const startPoller = (options: PollerOptions): Poller => {
  let stopping = false;
  const running = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopping) {
      if (running.size >= options.source.maxConcurrency) {
        await Promise.race(running);
        continue;
      }
      let messages: Message[];
      try {
        messages = await receive(options);
      } catch (error) {
        if (stopping) break;
        options.onError?.(error);
        await new Promise((done) => setTimeout(done, RECEIVE_ERROR_PAUSE_MS));
        continue;
      }
      if (messages.length === 0) continue;
      const batch: Promise<void> = processBatch(options, messages)
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => running.delete(batch));
      running.add(batch);
    }
  })();

  return {
    stop: async () => {
      stopping = true;
      await loop;
      await Promise.all(running);
    },
  };
};

const receive = async (options: PollerOptions): Promise<Message[]> => {
  const { Messages } = await options.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: options.queue.url,
      MaxNumberOfMessages: options.source.batchSize,
      WaitTimeSeconds: options.waitSeconds ?? 1,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    })
  );

  return Messages ?? [];
};

const processBatch = async (
  options: PollerOptions,
  messages: Message[]
): Promise<void> => {
  const records = messages.map((message) =>
    toSqsRecord(message, options.queue.arn, options.region)
  );
  let result: unknown;
  let error: unknown;
  try {
    result = await options.fn.invoke({ Records: records });
  } catch (thrown) {
    error = thrown;
  }
  const verdict =
    error === undefined
      ? judgeBatchResponse(result, records)
      : { kind: 'all-failed' as const, reason: 'the function threw' };
  const failed = verdict.kind === 'partial' ? verdict.failed : undefined;
  const done = failed
    ? records.filter((record) => !failed.has(record.messageId))
    : [];
  try {
    await deleteRecords(options, done);
  } catch (deleteError) {
    options.onError?.(deleteError);
  }
  const outOfOrder = failed ? groupsOutOfOrder(records, failed) : [];
  options.onBatch?.({
    functionName: options.fn.name,
    size: records.length,
    deleted: done.length,
    retained: records.length - done.length,
    error:
      error ??
      (verdict.kind === 'all-failed' ? new Error(verdict.reason) : undefined),
    ...(outOfOrder.length > 0 ? { groupsOutOfOrder: outOfOrder } : {}),
  });
};

const deleteRecords = async (
  options: PollerOptions,
  records: readonly SQSRecord[]
): Promise<void> => {
  if (records.length === 0) return;
  const { Failed } = await options.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: options.queue.url,
      Entries: records.map((record, index) => ({
        Id: String(index),
        ReceiptHandle: record.receiptHandle,
      })),
    })
  );
  if (Failed !== undefined && Failed.length > 0) {
    throw new Error(
      `Could not delete ${Failed.length} processed message(s): ` +
        Failed.map((entry) => entry.Message ?? entry.Code).join('; ')
    );
  }
};
