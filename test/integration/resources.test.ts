import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deadLetterName,
  Env,
  type QueueDefinition,
  Queues,
  Tables,
  WHATSAPP_API_VERSION,
} from '../../lib/definitions.js';
import { type MotoServer, startMoto } from '../../local/moto.js';
import {
  type AwsEndpoint,
  createResources,
  type LocalResources,
  localAws,
  WHATSAPP_APP_SECRET_ID,
  WHATSAPP_TOKEN_SECRET_ID,
} from '../../local/resources.js';

const MOTO_START_MS = 60_000;
/** Bounds a hang only; no assertion depends on how long a step takes. */
const TEST_MS = 120_000;

let moto: MotoServer;
let aws: AwsEndpoint;
let resources: LocalResources;

beforeAll(async () => {
  moto = await startMoto();
  aws = localAws(moto.endpoint);
  resources = await createResources(aws, {
    publicBaseUrl: 'http://127.0.0.1:3000',
    whatsApp: {
      apiUrl: 'http://127.0.0.1:3001',
      token: 'local-test-token',
      phoneNumberId: '100000000000001',
      businessAccountId: '100000000000002',
    },
    statusCallbacks: {
      appSecret: 'local-test-app-secret',
      verifyToken: 'local-test-verify-token',
    },
    whatsAppThroughput: 40,
  });
}, MOTO_START_MS);

afterAll(async () => {
  await moto?.stop();
});

describe('createResources', { timeout: TEST_MS }, () => {
  it.each(Object.entries(Queues))(
    'creates the %s queue as definitions.ts describes it',
    async (_key, queue) => {
      // Arrange
      const sqs = new SQSClient(aws);
      const created = resources.queues[_key as keyof typeof Queues];

      // Act
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: created.url,
          AttributeNames: ['All'],
        })
      );
      sqs.destroy();

      // Assert
      expect(created.deadLetterUrl.endsWith(`/${deadLetterName(queue)}`)).toBe(
        true
      );
      expect(Attributes?.FifoQueue).toBe(
        (queue as QueueDefinition).type === 'standard' ? undefined : 'true'
      );
      expect(Attributes).toMatchObject({
        VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(queue.retentionSeconds),
        MaximumMessageSize: String(queue.maxMessageBytes),
      });
      expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: created.deadLetterArn,
        maxReceiveCount: queue.maxReceiveCount,
      });
    }
  );

  it.each(Object.entries(Tables))(
    'creates the %s table with its keys, indexes and TTL',
    async (_key, table) => {
      // Arrange
      const dynamo = new DynamoDBClient(aws);

      // Act
      const { Table } = await dynamo.send(
        new DescribeTableCommand({ TableName: table.localName })
      );
      const ttl = await dynamo.send(
        new DescribeTimeToLiveCommand({ TableName: table.localName })
      );
      dynamo.destroy();

      // Assert
      expect(Table?.KeySchema).toEqual([
        { AttributeName: table.partitionKey, KeyType: 'HASH' },
        { AttributeName: table.sortKey, KeyType: 'RANGE' },
      ]);
      expect(
        (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
          name: index.IndexName,
          keys: index.KeySchema?.map((key) => key.AttributeName),
        }))
      ).toEqual(
        table.indexes.map((index) => ({
          name: index.name,
          keys: [index.partitionKey, index.sortKey],
        }))
      );
      const ttlAttribute =
        'ttlAttribute' in table ? table.ttlAttribute : undefined;
      expect(ttl.TimeToLiveDescription?.AttributeName).toBe(ttlAttribute);
    }
  );

  it('stores the WhatsApp token secret', async () => {
    // Arrange
    const secrets = new SecretsManagerClient(aws);

    // Act
    const secret = await secrets.send(
      new GetSecretValueCommand({ SecretId: WHATSAPP_TOKEN_SECRET_ID })
    );
    secrets.destroy();

    // Assert
    expect(secret.SecretString).toBe('local-test-token');
  });

  it('stores the status callbacks secret as the documented JSON', async () => {
    // Arrange
    const secrets = new SecretsManagerClient(aws);

    // Act
    const secret = await secrets.send(
      new GetSecretValueCommand({ SecretId: WHATSAPP_APP_SECRET_ID })
    );
    secrets.destroy();

    // Assert
    expect(JSON.parse(secret.SecretString ?? '')).toStrictEqual({
      appSecret: 'local-test-app-secret',
      verifyToken: 'local-test-verify-token',
    });
    expect(resources.env[Env.WhatsAppAppSecret]).toBe(WHATSAPP_APP_SECRET_ID);
  });

  it('returns a value for every variable in Env', () => {
    // Arrange
    const names = Object.values(Env);

    // Act
    const missing = names.filter((name) => !resources.env[name]);

    // Assert
    expect(missing).toEqual([]);
    expect(resources.env[Env.WhatsAppApiVersion]).toBe(WHATSAPP_API_VERSION);
    expect(resources.env.AWS_ENDPOINT_URL).toBe(moto.endpoint);
    expect(resources.env.AWS_REGION).toBe('us-east-1');
  });

  it('paces the sender to the throughput it was given', () => {
    // Act
    const throughput = resources.env[Env.WhatsAppThroughput];

    // Assert
    expect(throughput).toBe('40');
  });
});
