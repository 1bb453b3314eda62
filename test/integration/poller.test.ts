import { createHash, randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Functions } from '../../lib/definitions.js';
import { queueDepth } from '../../local/admin-client.js';
import type { LocalFunction } from '../../local/lambda.js';
import { type MotoServer, startMoto } from '../../local/moto.js';
import { waitFor } from '../../local/net.js';
import {
  type BatchSummary,
  type Poller,
  startPoller,
} from '../../local/poller.js';
import { localAws, queueArn } from '../../local/resources.js';

/**
 * The event source mapping's rules, against moto: record shape, partial
 * batch failures, whole-batch failure, concurrency cap.
 */
const MOTO_START_MS = 60_000;
/** Bounds a hang only; no assertion depends on how long a step takes. */
const TEST_MS = 120_000;
const WAIT = { timeoutMs: 30_000, intervalMs: 50 };

let moto: MotoServer;
let sqs: SQSClient;
let poller: Poller | undefined;
/** Lets a blocked test function finish, so the poller can stop. */
let release: () => void = () => undefined;

beforeAll(async () => {
  moto = await startMoto();
  sqs = new SQSClient(localAws(moto.endpoint));
}, MOTO_START_MS);

afterEach(async () => {
  release();
  await poller?.stop();
  poller = undefined;
}, TEST_MS);

afterAll(async () => {
  sqs?.destroy();
  await moto?.stop();
});

const newQueue = async () => {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `poll-${randomUUID().slice(0, 8)}.fifo`,
      Attributes: { FifoQueue: 'true', VisibilityTimeout: '120' },
    })
  );
  const url = QueueUrl ?? '';

  return { url, arn: await queueArn(sqs, url) };
};

const send = (url: string, group: string, body: string) =>
  sqs.send(
    new SendMessageCommand({
      QueueUrl: url,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: randomUUID(),
      MessageAttributes: {
        source: { DataType: 'String', StringValue: 'test' },
      },
    })
  );

const fn = (invoke: LocalFunction['invoke']): LocalFunction => ({
  key: 'mapper',
  name: 'test-mapper',
  definition: Functions.mapper,
  invoke,
});

const poll = (
  queue: { url: string; arn: string },
  invoke: LocalFunction['invoke'],
  limits = { batchSize: 10, maxConcurrency: 2 },
  waitSeconds?: number
) => {
  const batches: BatchSummary[] = [];
  poller = startPoller({
    sqs,
    fn: fn(invoke),
    source: { queue: 'ingest', ...limits },
    queue,
    region: 'us-east-1',
    waitSeconds,
    onBatch: (summary) => batches.push(summary),
  });

  return batches;
};

describe('startPoller', { timeout: TEST_MS }, () => {
  it('hands the function records shaped as Lambda shapes them', async () => {
    // Arrange
    const queue = await newQueue();
    await send(queue.url, 'g1', '{"n":1}');
    const events: SQSEvent[] = [];

    // Act
    poll(queue, async (event) => {
      events.push(event as SQSEvent);
      return { batchItemFailures: [] };
    });
    const [event] = await waitFor(
      async () => (events.length > 0 ? events : undefined),
      { ...WAIT, what: 'an invocation' }
    );
    await waitFor(
      async () => ((await queueDepth(sqs, queue.url)) === 0 ? true : undefined),
      { ...WAIT, what: 'the message to be deleted' }
    );

    // Assert
    expect(event?.Records).toHaveLength(1);
    expect(event?.Records[0]).toEqual({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      body: '{"n":1}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SequenceNumber: expect.stringMatching(/^\d+$/),
        MessageGroupId: 'g1',
        SenderId: expect.any(String),
        MessageDeduplicationId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      },
      messageAttributes: {
        source: {
          stringValue: 'test',
          stringListValues: [],
          binaryListValues: [],
          dataType: 'String',
        },
      },
      md5OfBody: createHash('md5').update('{"n":1}').digest('hex'),
      md5OfMessageAttributes: expect.any(String),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'us-east-1',
    });
  });

  it('deletes the records not reported as failures', async () => {
    // Arrange
    const queue = await newQueue();
    await send(queue.url, 'g1', 'ok');
    await send(queue.url, 'g2', 'fail');

    // Act
    const batches = poll(queue, async (event) => ({
      batchItemFailures: (event as SQSEvent).Records.filter(
        (record) => record.body === 'fail'
      ).map((record) => ({ itemIdentifier: record.messageId })),
    }));
    await waitFor(
      async () => {
        const handled = batches.reduce((sum, batch) => sum + batch.size, 0);
        return handled >= 2 ? true : undefined;
      },
      { ...WAIT, what: 'both records to be handled' }
    );

    // Assert
    expect(batches.reduce((sum, batch) => sum + batch.retained, 0)).toBe(1);
    expect(await queueDepth(sqs, queue.url)).toBe(1);
  });

  it('keeps the whole batch when the function throws', async () => {
    // Arrange
    const queue = await newQueue();
    await send(queue.url, 'g1', 'a');
    await send(queue.url, 'g1', 'b');

    // Act
    const batches = poll(queue, async () => {
      throw new Error('handler failed');
    });
    const [batch] = await waitFor(
      async () => (batches.length > 0 ? batches : undefined),
      { ...WAIT, what: 'a batch' }
    );

    // Assert
    expect(batch?.deleted).toBe(0);
    expect(batch?.retained).toBe(batch?.size);
    expect(batch?.error).toBeInstanceOf(Error);
    expect(await queueDepth(sqs, queue.url)).toBe(2);
  });

  it("never hands out a group's next message while one is in flight", async () => {
    // Arrange: three long polls wait on an empty queue when one group's
    // messages arrive, one per batch.
    const queue = await newQueue();
    const busy = new Set<string>();
    let overlaps = 0;
    const handled: string[] = [];
    poll(
      queue,
      async (event) => {
        const [record] = (event as SQSEvent).Records;
        const group = record?.attributes.MessageGroupId ?? '';
        if (busy.has(group)) overlaps++;
        busy.add(group);
        await new Promise((resolve) => setTimeout(resolve, 300));
        handled.push(record?.body ?? '');
        busy.delete(group);
        return { batchItemFailures: [] };
      },
      { batchSize: 1, maxConcurrency: 3 },
      3
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    // Act
    for (const body of ['m1', 'm2', 'm3']) await send(queue.url, 'g', body);
    await waitFor(async () => (handled.length === 3 ? true : undefined), {
      ...WAIT,
      what: 'the three messages to be handled',
    });

    // Assert
    expect(overlaps).toBe(0);
    expect(handled).toEqual(['m1', 'm2', 'm3']);
  });

  it('runs at most maxConcurrency batches at once', async () => {
    // Arrange
    const queue = await newQueue();
    for (let group = 0; group < 5; group++) {
      await send(queue.url, `g${group}`, `m${group}`);
    }
    let running = 0;
    let peak = 0;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });

    // Act
    const batches = poll(
      queue,
      async () => {
        running++;
        peak = Math.max(peak, running);
        await gate;
        running--;
        return undefined;
      },
      // One record per batch, so every group could be its own batch.
      { batchSize: 1, maxConcurrency: 2 }
    );
    await waitFor(async () => (running === 2 ? true : undefined), {
      ...WAIT,
      what: 'two batches in flight',
    });
    release();
    await waitFor(
      async () => ((await queueDepth(sqs, queue.url)) === 0 ? true : undefined),
      { ...WAIT, what: 'every message to be processed' }
    );

    // Assert
    expect(peak).toBe(2);
    expect(batches.reduce((sum, batch) => sum + batch.deleted, 0)).toBe(5);
  });
});
