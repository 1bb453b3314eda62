import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tables } from '../../lib/definitions.js';
import { type MotoServer, startMoto } from '../../local/moto.js';
import {
  type AwsEndpoint,
  createResources,
  localAws,
} from '../../local/resources.js';

/**
 * The queue and table rules the product relies on, proven against moto
 * over the real AWS wire protocol (FACTS C and I).
 */
const MOTO_START_MS = 60_000;
/** Bounds a hang only; no assertion depends on how long a step takes. */
const TEST_MS = 120_000;

let moto: MotoServer;
let aws: AwsEndpoint;
let sqs: SQSClient;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  moto = await startMoto();
  aws = localAws(moto.endpoint);
  sqs = new SQSClient(aws);
  dynamo = new DynamoDBClient(aws);
}, MOTO_START_MS);

afterAll(async () => {
  sqs?.destroy();
  dynamo?.destroy();
  await moto?.stop();
});

const fifoQueue = async (attributes: Record<string, string> = {}) => {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `test-${randomUUID().slice(0, 8)}.fifo`,
      Attributes: { FifoQueue: 'true', VisibilityTimeout: '60', ...attributes },
    })
  );
  if (QueueUrl === undefined) throw new Error('moto gave no queue URL');

  return QueueUrl;
};

const send = (queueUrl: string, group: string, body: string, dedup = body) =>
  sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: dedup,
    })
  );

const receive = async (queueUrl: string, max = 10): Promise<Message[]> => {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: max,
      MessageSystemAttributeNames: ['All'],
    })
  );

  return Messages ?? [];
};

const queueArn = async (queueUrl: string): Promise<string> => {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['QueueArn'],
    })
  );

  return Attributes?.QueueArn ?? '';
};

describe('SQS FIFO in moto', { timeout: TEST_MS }, () => {
  it('holds back a group while one of its messages is in flight', async () => {
    // Arrange
    const queueUrl = await fifoQueue();
    await send(queueUrl, 'a', 'a1');
    await send(queueUrl, 'a', 'a2');
    await send(queueUrl, 'b', 'b1');
    const [first] = await receive(queueUrl, 1);
    const group = first?.Attributes?.MessageGroupId;

    // Act
    const second = await receive(queueUrl);

    // Assert
    expect(group).toBeDefined();
    expect(second.length).toBeGreaterThan(0);
    expect(second.map((m) => m.Attributes?.MessageGroupId)).not.toContain(
      group
    );
  });

  it('releases the group once the in-flight message is deleted', async () => {
    // Arrange
    const queueUrl = await fifoQueue();
    await send(queueUrl, 'a', 'a1');
    await send(queueUrl, 'a', 'a2');
    const [first] = await receive(queueUrl, 1);
    expect(await receive(queueUrl)).toEqual([]);

    // Act
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: first?.ReceiptHandle,
      })
    );
    const next = await receive(queueUrl);

    // Assert
    expect(first?.Body).toBe('a1');
    expect(next.map((m) => m.Body)).toEqual(['a2']);
  });

  it('drops a message whose deduplication id was seen before', async () => {
    // Arrange
    const queueUrl = await fifoQueue();
    await send(queueUrl, 'a', 'first', 'same-id');

    // Act
    const repeat = await send(queueUrl, 'a', 'second', 'same-id');
    const received = await receive(queueUrl);

    // Assert
    expect(repeat.MessageId).toBeDefined();
    expect(received.map((m) => m.Body)).toEqual(['first']);
  });

  it('moves a message to the DLQ after maxReceiveCount', async () => {
    // Arrange
    const deadLetterUrl = await fifoQueue();
    const queueUrl = await fifoQueue({
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: await queueArn(deadLetterUrl),
        maxReceiveCount: 2,
      }),
    });
    await send(queueUrl, 'a', 'poison');
    await send(queueUrl, 'a', 'next');
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [message] = await receive(queueUrl, 1);
      expect(message?.Body).toBe('poison');
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message?.ReceiptHandle,
          VisibilityTimeout: 0,
        })
      );
    }

    // Act
    const afterRedrive = await receive(queueUrl);
    const deadLetters = await receive(deadLetterUrl);

    // Assert
    expect(afterRedrive.map((m) => m.Body)).toEqual(['next']);
    expect(deadLetters.map((m) => m.Body)).toEqual(['poison']);
  });

  it('rejects a per-message delay other than 0', async () => {
    // Arrange
    const queueUrl = await fifoQueue();
    const delayed = (seconds: number) =>
      sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: `delay ${seconds}`,
          MessageGroupId: 'a',
          MessageDeduplicationId: `delay-${seconds}`,
          DelaySeconds: seconds,
        })
      );

    // Act
    const rejected = delayed(5);

    // Assert
    await expect(rejected).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
    await expect(delayed(0)).resolves.toHaveProperty('MessageId');
  });
});

/** The product's tables, created once for the tests that need them. */
let resourcesCreated: Promise<unknown> | undefined;
const ensureTables = () => {
  resourcesCreated ??= createResources(aws, {
    publicBaseUrl: 'http://127.0.0.1:1',
    whatsApp: {
      apiUrl: 'http://127.0.0.1:2',
      token: 't',
      phoneNumberId: '1',
      businessAccountId: '2',
    },
    statusCallbacks: { appSecret: 'a', verifyToken: 'v' },
  });

  return resourcesCreated;
};
describe('SQS standard queues in moto', { timeout: TEST_MS }, () => {
  it('holds a message for its DelaySeconds; a new message counts receives afresh', async () => {
    // Arrange
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `test-${randomUUID().slice(0, 8)}`,
        Attributes: { VisibilityTimeout: '60' },
      })
    );
    if (QueueUrl === undefined) throw new Error('moto gave no queue URL');
    const hop = (body: string) =>
      sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: body,
          DelaySeconds: 2,
        })
      );
    const receiveOne = async () =>
      (
        await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          })
        )
      ).Messages ?? [];

    // Act
    const sentAt = Date.now();
    await hop('first hop');
    const atOnce = await receiveOne();
    let first: Message[] = [];
    while (first.length === 0) first = await receiveOne();
    const firstAt = Date.now();
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl,
        ReceiptHandle: first[0]?.ReceiptHandle,
      })
    );
    await hop('second hop');
    let second: Message[] = [];
    while (second.length === 0) second = await receiveOne();

    // Assert: lower bounds only.
    expect(atOnce).toEqual([]);
    expect(firstAt - sentAt).toBeGreaterThanOrEqual(2_000);
    expect(second[0]?.Body).toBe('second hop');
    expect(second[0]?.Attributes?.ApproximateReceiveCount).toBe('1');
  });
});

describe('DynamoDB in moto', { timeout: TEST_MS }, () => {
  it('lets exactly one of two racing conditional updates win', async () => {
    // Arrange: a held message's record, released and cancelled at once.
    const TableName = `race-${randomUUID().slice(0, 8)}`;
    await dynamo.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      })
    );
    const key = { pk: { S: 'DELAY#wh#key' }, sk: { S: 'm#k' } };
    await dynamo.send(
      new PutItemCommand({
        TableName,
        Item: { ...key, state: { S: 'waiting' } },
      })
    );
    const settle = (state: string) =>
      dynamo.send(
        new UpdateItemCommand({
          TableName,
          Key: key,
          UpdateExpression: 'SET #state = :to',
          ConditionExpression: '#state = :waiting',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':to': { S: state },
            ':waiting': { S: 'waiting' },
          },
        })
      );

    // Act
    const results = await Promise.allSettled([
      settle('released'),
      settle('cancelled'),
    ]);

    // Assert
    expect(results.map((result) => result.status).sort()).toEqual([
      'fulfilled',
      'rejected',
    ]);
    const loser = results.find((result) => result.status === 'rejected');
    expect((loser as PromiseRejectedResult).reason).toBeInstanceOf(
      ConditionalCheckFailedException
    );
  });

  it('fails a conditional put on an existing key', async () => {
    // Arrange
    await ensureTables();
    const put = () =>
      dynamo.send(
        new PutItemCommand({
          TableName: Tables.config.localName,
          Item: { pk: { S: 'WEBHOOK#w1' }, sk: { S: 'CONFIG' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        })
      );
    await put();

    // Act
    const repeat = put();

    // Assert
    await expect(repeat).rejects.toBeInstanceOf(
      ConditionalCheckFailedException
    );
  });

  it('cancels a whole transaction when its conditional update fails', async () => {
    // Arrange: a rank that only grows, and an item written beside it.
    await ensureTables();
    const table = Tables.logs.localName;
    const key = { pk: { S: `SEND#${randomUUID()}` }, sk: { S: 'STATUS' } };
    const moveTo = (rank: number, note: string) =>
      dynamo.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Update: {
                TableName: table,
                Key: key,
                UpdateExpression: 'SET #rank = :rank',
                ConditionExpression:
                  'attribute_not_exists(pk) OR #rank < :rank',
                ExpressionAttributeNames: { '#rank': 'rank' },
                ExpressionAttributeValues: { ':rank': { N: String(rank) } },
              },
            },
            {
              Put: {
                TableName: table,
                Item: { pk: key.pk, sk: { S: `NOTE#${note}` } },
              },
            },
          ],
        })
      );
    await moveTo(3, 'three');

    // Act
    const lower = moveTo(1, 'one');

    // Assert
    await expect(lower).rejects.toMatchObject({
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, {}],
    });
    const { Item } = await dynamo.send(
      new GetItemCommand({ TableName: table, Key: key })
    );
    const note = await dynamo.send(
      new GetItemCommand({
        TableName: table,
        Key: { pk: key.pk, sk: { S: 'NOTE#one' } },
      })
    );
    expect(Item?.rank).toEqual({ N: '3' });
    expect(note.Item).toBeUndefined();
  });
});
