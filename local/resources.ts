import {
  type AttributeDefinition,
  CreateTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type BucketDefinition,
  type BucketKey,
  Buckets,
  DEFAULT_LOG_RECORD_TTL_DAYS,
  DEFAULT_THROUGHPUT_MPS,
  DELAY_HOP_SECONDS,
  deadLetterName,
  Env,
  type EnvName,
  type QueueDefinition,
  type QueueKey,
  Queues,
  type TableDefinition,
  type TableKey,
  Tables,
  WHATSAPP_API_VERSION,
} from '../lib/definitions.js';

/** Region and account every local resource lives in (moto's defaults). */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '123456789012';

export const WEBHOOK_SECRET_PREFIX = 'wapto/local/webhooks/';
export const WHATSAPP_TOKEN_SECRET_ID = 'wapto/local/whatsapp-token';
export const WHATSAPP_APP_SECRET_ID = 'wapto/local/whatsapp-app-secret';
/** Looks like a Meta phone number id; the stand-in answers for it only. */
export const LOCAL_PHONE_NUMBER_ID = '100000000000001';
/** Looks like a WhatsApp Business Account id; its templates are local. */
export const LOCAL_BUSINESS_ACCOUNT_ID = '100000000000002';

/** Where the local AWS services answer, and with which fake credentials. */
export interface AwsEndpoint {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
  };
}

export const localAws = (endpoint: string): AwsEndpoint => ({
  endpoint,
  region: LOCAL_REGION,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
});

export interface LocalQueue {
  readonly url: string;
  readonly arn: string;
  readonly deadLetterUrl: string;
  readonly deadLetterArn: string;
}

export interface WhatsAppTarget {
  /** Base URL of the Graph API, or of the stand-in. */
  readonly apiUrl: string;
  readonly token: string;
  readonly phoneNumberId: string;
  /** The account whose approved templates the admin API reads. */
  readonly businessAccountId: string;
}

/** What signs Meta's status callbacks and answers its challenge. */
export interface StatusCallbackSecrets {
  readonly appSecret: string;
  readonly verifyToken: string;
}

export interface ResourceInputs {
  /** The local API's base URL, for links the admin API hands out. */
  readonly publicBaseUrl: string;
  readonly whatsApp: WhatsAppTarget;
  readonly statusCallbacks: StatusCallbackSecrets;
  /**
   * Longest hop of a held message; shorter than SQS's 900 s only to test
   * delays of several hops quickly. @default 900
   */
  readonly delayHopSeconds?: number;
  /**
   * Messages per second the sender paces itself to, as the stack's
   * `WhatsAppThroughput` parameter sets it. @default 80
   */
  readonly whatsAppThroughput?: number;
}

export interface LocalResources {
  readonly queues: Record<QueueKey, LocalQueue>;
  readonly tables: Record<TableKey, string>;
  readonly buckets: Record<BucketKey, string>;
  /** Every variable the functions read, plus the AWS SDK's own. */
  readonly env: Record<string, string>;
}

/**
 * Creates, in moto, every table, queue and secret that `definitions.ts`
 * describes, and returns the environment the functions run with.
 */
export const createResources = async (
  aws: AwsEndpoint,
  inputs: ResourceInputs
): Promise<LocalResources> => {
  const dynamo = new DynamoDBClient(aws);
  const sqs = new SQSClient(aws);
  const secrets = new SecretsManagerClient(aws);
  const s3 = new S3Client({ ...aws, forcePathStyle: true });
  try {
    const tables = await mapEntries(Tables, (table) =>
      createTable(dynamo, table)
    );
    const queues = await mapEntries(Queues, (queue) => createQueue(sqs, queue));
    const buckets = await mapEntries(Buckets, (bucket) =>
      createBucket(s3, bucket)
    );
    await secrets.send(
      new CreateSecretCommand({
        Name: WHATSAPP_TOKEN_SECRET_ID,
        SecretString: inputs.whatsApp.token,
      })
    );
    await secrets.send(
      new CreateSecretCommand({
        Name: WHATSAPP_APP_SECRET_ID,
        SecretString: JSON.stringify(inputs.statusCallbacks),
      })
    );

    return {
      tables,
      queues,
      buckets,
      env: buildEnv(aws, { tables, queues, buckets }, inputs),
    };
  } finally {
    s3.destroy();
    dynamo.destroy();
    sqs.destroy();
    secrets.destroy();
  }
};

const buildEnv = (
  aws: AwsEndpoint,
  { tables, queues, buckets }: Omit<LocalResources, 'env'>,
  inputs: ResourceInputs
): Record<string, string> => {
  const functionEnv: Record<EnvName, string> = {
    [Env.ConfigTable]: tables.config,
    [Env.LogTable]: tables.logs,
    [Env.IngestQueueUrl]: queues.ingest.url,
    [Env.OutboundQueueUrl]: queues.outbound.url,
    [Env.WebhookSecretPrefix]: WEBHOOK_SECRET_PREFIX,
    [Env.WhatsAppTokenSecret]: WHATSAPP_TOKEN_SECRET_ID,
    [Env.WhatsAppPhoneNumberId]: inputs.whatsApp.phoneNumberId,
    [Env.WhatsAppBusinessAccountId]: inputs.whatsApp.businessAccountId,
    [Env.WhatsAppApiUrl]: inputs.whatsApp.apiUrl,
    [Env.WhatsAppApiVersion]: WHATSAPP_API_VERSION,
    [Env.PublicBaseUrl]: inputs.publicBaseUrl,
    [Env.LogRecordTtlDays]: String(DEFAULT_LOG_RECORD_TTL_DAYS),
    [Env.PayloadBucket]: buckets.payloads,
    [Env.WhatsAppAppSecret]: WHATSAPP_APP_SECRET_ID,
    [Env.DelayQueueUrl]: queues.delay.url,
    [Env.DelayHopSeconds]: String(inputs.delayHopSeconds ?? DELAY_HOP_SECONDS),
    [Env.OutboundDeadLetterQueueUrl]: queues.outbound.deadLetterUrl,
    [Env.IngestDeadLetterQueueUrl]: queues.ingest.deadLetterUrl,
    [Env.DelayDeadLetterQueueUrl]: queues.delay.deadLetterUrl,
    [Env.WhatsAppThroughput]: String(
      inputs.whatsAppThroughput ?? DEFAULT_THROUGHPUT_MPS
    ),
  };

  return {
    ...functionEnv,
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_DEFAULT_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
  };
};

const mapEntries = async <K extends string, D, R>(
  definitions: Record<K, D>,
  create: (definition: D) => Promise<R>
): Promise<Record<K, R>> => {
  const result = {} as Record<K, R>;
  for (const key of Object.keys(definitions) as K[]) {
    result[key] = await create(definitions[key]);
  }

  return result;
};

const createTable = async (
  client: DynamoDBClient,
  table: TableDefinition
): Promise<string> => {
  const keyNames = new Set([
    table.partitionKey,
    table.sortKey,
    ...table.indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ]);
  const attributes: AttributeDefinition[] = [...keyNames].map((name) => ({
    AttributeName: name,
    AttributeType: 'S',
  }));
  await client.send(
    new CreateTableCommand({
      TableName: table.localName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: attributes,
      KeySchema: [
        { AttributeName: table.partitionKey, KeyType: 'HASH' },
        { AttributeName: table.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes:
        table.indexes.length === 0
          ? undefined
          : table.indexes.map((index) => ({
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            })),
    })
  );
  if (table.ttlAttribute !== undefined) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table.localName,
        TimeToLiveSpecification: {
          AttributeName: table.ttlAttribute,
          Enabled: true,
        },
      })
    );
  }

  return table.localName;
};

const createBucket = async (
  client: S3Client,
  bucket: BucketDefinition
): Promise<string> => {
  await client.send(new CreateBucketCommand({ Bucket: bucket.localName }));
  await client.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket.localName,
      LifecycleConfiguration: {
        Rules: [
          {
            ID: 'expire',
            Status: 'Enabled',
            Filter: { Prefix: '' },
            Expiration: { Days: bucket.expireAfterDays },
          },
        ],
      },
    })
  );

  return bucket.localName;
};

const createQueue = async (
  client: SQSClient,
  queue: QueueDefinition
): Promise<LocalQueue> => {
  const common = {
    ...(queue.type === 'standard' ? {} : { FifoQueue: 'true' }),
    MessageRetentionPeriod: String(queue.retentionSeconds),
    MaximumMessageSize: String(queue.maxMessageBytes),
  };
  const deadLetterUrl = await createNamedQueue(
    client,
    deadLetterName(queue),
    common
  );
  const deadLetterArn = await queueArn(client, deadLetterUrl);
  const url = await createNamedQueue(client, queue.localName, {
    ...common,
    VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetterArn,
      maxReceiveCount: queue.maxReceiveCount,
    }),
  });

  return {
    url,
    arn: await queueArn(client, url),
    deadLetterUrl,
    deadLetterArn,
  };
};

const createNamedQueue = async (
  client: SQSClient,
  name: string,
  attributes: Record<string, string>
): Promise<string> => {
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: name, Attributes: attributes })
  );
  if (QueueUrl === undefined) throw new Error(`moto gave no URL for ${name}.`);

  return QueueUrl;
};

export const queueArn = async (
  client: SQSClient,
  url: string
): Promise<string> => {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['QueueArn'],
    })
  );
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`moto gave no ARN for ${url}.`);

  return arn;
};
