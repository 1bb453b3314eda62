/**
 * The one description of the product's resources. The CDK stack builds AWS
 * resources from it and the local runtime builds their emulated twins from
 * it, so the two can never drift apart. Plain data: no CDK imports here.
 */

/** Environment variables the functions read, by purpose. */
export const Env = {
  ConfigTable: 'CONFIG_TABLE_NAME',
  LogTable: 'LOG_TABLE_NAME',
  IngestQueueUrl: 'INGEST_QUEUE_URL',
  OutboundQueueUrl: 'OUTBOUND_QUEUE_URL',
  OutboundDeadLetterQueueUrl: 'OUTBOUND_DEAD_LETTER_QUEUE_URL',
  WebhookSecretPrefix: 'WEBHOOK_SECRET_PREFIX',
  WhatsAppTokenSecret: 'WHATSAPP_TOKEN_SECRET_ID',
  WhatsAppPhoneNumberId: 'WHATSAPP_PHONE_NUMBER_ID',
  WhatsAppBusinessAccountId: 'WHATSAPP_BUSINESS_ACCOUNT_ID',
  WhatsAppApiUrl: 'WHATSAPP_API_URL',
  WhatsAppApiVersion: 'WHATSAPP_API_VERSION',
  PublicBaseUrl: 'PUBLIC_BASE_URL',
  LogRecordTtlDays: 'LOG_RECORD_TTL_DAYS',
  PayloadBucket: 'PAYLOAD_BUCKET_NAME',
  WhatsAppAppSecret: 'WHATSAPP_APP_SECRET_ID',
  DelayQueueUrl: 'DELAY_QUEUE_URL',
  DelayHopSeconds: 'DELAY_HOP_SECONDS',
  /** Messages per second the sending number may send (FACTS A7). */
  WhatsAppThroughput: 'WHATSAPP_THROUGHPUT_MPS',
  IngestDeadLetterQueueUrl: 'INGEST_DEAD_LETTER_QUEUE_URL',
  DelayDeadLetterQueueUrl: 'DELAY_DEAD_LETTER_QUEUE_URL',
} as const;

export type EnvName = (typeof Env)[keyof typeof Env];

/** Graph API version used for every call to Meta (FACTS A1). */
export const WHATSAPP_API_VERSION = 'v25.0';
export const WHATSAPP_API_URL = 'https://graph.facebook.com';
export const DEFAULT_LOG_RECORD_TTL_DAYS = 30;

export interface TableDefinition {
  readonly id: string;
  readonly localName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly ttlAttribute?: string;
  readonly indexes: readonly {
    readonly name: string;
    readonly partitionKey: string;
    readonly sortKey: string;
  }[];
}

export const Tables = {
  /** Webhooks and their mappings: one partition per webhook. */
  config: {
    id: 'ConfigTable',
    localName: 'wapto-config',
    partitionKey: 'pk',
    sortKey: 'sk',
    indexes: [],
  },
  /** The trace of every event, stage by stage; expires by TTL. */
  logs: {
    id: 'LogTable',
    localName: 'wapto-logs',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    // Sparse: only the `received` record of each event carries these keys,
    // so the index lists events, newest first, one entry each.
    indexes: [
      {
        name: 'eventsByWebhook',
        partitionKey: 'eventOfWebhook',
        sortKey: 'receivedAt',
      },
    ],
  },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof Tables;

export interface BucketDefinition {
  readonly id: string;
  readonly localName: string;
  /** Objects are deleted this many days after they were written. */
  readonly expireAfterDays: number;
}

export const Buckets = {
  /**
   * Accepted bodies too large for a queue message, kept whole. They outlive
   * the queues' 14-day retention, so a message redriven from a dead-letter
   * queue still finds its body.
   */
  payloads: {
    id: 'PayloadBucket',
    localName: 'wapto-payloads',
    expireAfterDays: 35,
  },
} as const satisfies Record<string, BucketDefinition>;

export type BucketKey = keyof typeof Buckets;

export interface QueueDefinition {
  readonly id: string;
  readonly localName: string;
  /** @default 'fifo' */
  readonly type?: 'fifo' | 'standard';
  /**
   * What the message group id of a FIFO queue stands for: events keep
   * order per group.
   */
  readonly groupedBy?: 'webhook' | 'recipient';
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  readonly maxMessageBytes: number;
  /** Receives before a message is moved to the dead-letter queue. */
  readonly maxReceiveCount: number;
  readonly env: EnvName;
  /** Where functions that redrive or fill the dead-letter queue find it. */
  readonly deadLetterEnv: EnvName;
}

const FOURTEEN_DAYS_SECONDS = 14 * 24 * 3600;
const ONE_MIB = 1024 * 1024;

export const Queues = {
  ingest: {
    id: 'IngestQueue',
    localName: 'wapto-ingest.fifo',
    groupedBy: 'webhook',
    visibilityTimeoutSeconds: 180,
    retentionSeconds: FOURTEEN_DAYS_SECONDS,
    maxMessageBytes: ONE_MIB,
    maxReceiveCount: 5,
    env: Env.IngestQueueUrl,
    deadLetterEnv: Env.IngestDeadLetterQueueUrl,
  },
  outbound: {
    id: 'OutboundQueue',
    localName: 'wapto-outbound.fifo',
    groupedBy: 'recipient',
    visibilityTimeoutSeconds: 180,
    retentionSeconds: FOURTEEN_DAYS_SECONDS,
    maxMessageBytes: ONE_MIB,
    // SQS's largest value. The sender holds messages on purpose (backoff,
    // per-recipient spacing, pacing), and every hold is a receive; its own
    // bounds (attempts in the send ledger, an hour from the first receive,
    // holds of at least 5 s) keep a message under this count, so only
    // crashes reach the dead-letter queue. Unreadable messages are moved
    // there by the sender at once.
    maxReceiveCount: 1000,
    env: Env.OutboundQueueUrl,
    deadLetterEnv: Env.OutboundDeadLetterQueueUrl,
  },
  /**
   * Held messages wait here in hops of at most `DELAY_HOP_SECONDS`, each a
   * new message, so waiting never counts towards `maxReceiveCount`. A
   * standard queue: FIFO queues take no per-message delay.
   */
  delay: {
    id: 'DelayQueue',
    localName: 'wapto-delay',
    type: 'standard',
    visibilityTimeoutSeconds: 180,
    retentionSeconds: FOURTEEN_DAYS_SECONDS,
    maxMessageBytes: ONE_MIB,
    maxReceiveCount: 5,
    env: Env.DelayQueueUrl,
    deadLetterEnv: Env.DelayDeadLetterQueueUrl,
  },
} as const satisfies Record<string, QueueDefinition>;

export type QueueKey = keyof typeof Queues;

/** Name of a queue's dead-letter twin, locally. */
export const deadLetterName = (queue: QueueDefinition): string =>
  queue.type === 'standard'
    ? `${queue.localName}-dlq`
    : queue.localName.replace(/\.fifo$/, '-dlq.fifo');

/**
 * The longest hop of a held message on the delay queue (SQS's maximum
 * delay). The local runtime may shorten it for tests through
 * `DELAY_HOP_SECONDS`; the functions refuse anything but 1 to 900.
 */
export { MAX_HOP_SECONDS as DELAY_HOP_SECONDS } from '../lambdas/shared/domain/schedule.js';

export interface QueueSource {
  readonly queue: QueueKey;
  readonly batchSize: number;
  /** The event source mapping's maximum concurrency (2 to 1,000). */
  readonly maxConcurrency: number;
}

export interface FunctionDefinition {
  readonly id: string;
  /** Path of the handler module from the project root. */
  readonly entry: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly env: readonly EnvName[];
  readonly reservedConcurrency?: number;
  readonly source?: QueueSource;
}

export const Functions = {
  verifier: {
    id: 'VerifierFunction',
    entry: 'lambdas/verifier/handler.ts',
    timeoutSeconds: 10,
    memoryMb: 512,
    env: [
      Env.ConfigTable,
      Env.IngestQueueUrl,
      Env.WebhookSecretPrefix,
      Env.PayloadBucket,
    ],
  },
  mapper: {
    id: 'MapperFunction',
    entry: 'lambdas/mapper/handler.ts',
    timeoutSeconds: 30,
    memoryMb: 512,
    env: [
      Env.ConfigTable,
      Env.LogTable,
      Env.OutboundQueueUrl,
      Env.LogRecordTtlDays,
      Env.PayloadBucket,
      Env.DelayQueueUrl,
      Env.DelayHopSeconds,
      // Moves unreadable events aside at once.
      Env.IngestDeadLetterQueueUrl,
    ],
    source: { queue: 'ingest', batchSize: 10, maxConcurrency: 5 },
  },
  /** Releases held messages to the outbound queue once they are due. */
  release: {
    id: 'ReleaseFunction',
    entry: 'lambdas/release/handler.ts',
    timeoutSeconds: 30,
    memoryMb: 256,
    env: [
      Env.LogTable,
      Env.OutboundQueueUrl,
      Env.DelayQueueUrl,
      Env.DelayHopSeconds,
      Env.LogRecordTtlDays,
    ],
    source: { queue: 'delay', batchSize: 10, maxConcurrency: 5 },
  },
  sender: {
    id: 'SenderFunction',
    entry: 'lambdas/sender/handler.ts',
    timeoutSeconds: 30,
    memoryMb: 256,
    env: [
      Env.LogTable,
      Env.WhatsAppTokenSecret,
      Env.WhatsAppPhoneNumberId,
      Env.WhatsAppApiUrl,
      Env.WhatsAppApiVersion,
      Env.LogRecordTtlDays,
      // Holds messages (visibility) and moves unreadable ones aside.
      Env.OutboundQueueUrl,
      Env.OutboundDeadLetterQueueUrl,
      Env.WhatsAppThroughput,
    ],
    // The event source mapping's cap stays at or below the reserved
    // concurrency so the poller is never throttled into the DLQ (FACTS D).
    // Each invocation paces its sends to throughput / maxConcurrency.
    reservedConcurrency: 10,
    source: { queue: 'outbound', batchSize: 10, maxConcurrency: 10 },
  },
  admin: {
    id: 'AdminFunction',
    entry: 'lambdas/admin/handler.ts',
    timeoutSeconds: 15,
    memoryMb: 512,
    env: [
      Env.ConfigTable,
      Env.LogTable,
      Env.WebhookSecretPrefix,
      Env.PublicBaseUrl,
      Env.PayloadBucket,
      // Reads the approved templates that mappings are checked against.
      Env.WhatsAppTokenSecret,
      Env.WhatsAppBusinessAccountId,
      Env.WhatsAppApiUrl,
      Env.WhatsAppApiVersion,
      // Replays events; redrives each queue's dead letters.
      Env.IngestQueueUrl,
      Env.OutboundQueueUrl,
      Env.DelayQueueUrl,
      Env.IngestDeadLetterQueueUrl,
      Env.OutboundDeadLetterQueueUrl,
      Env.DelayDeadLetterQueueUrl,
    ],
  },
  status: {
    id: 'StatusFunction',
    entry: 'lambdas/status/handler.ts',
    timeoutSeconds: 10,
    memoryMb: 256,
    env: [Env.LogTable, Env.WhatsAppAppSecret, Env.LogRecordTtlDays],
  },
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionKey = keyof typeof Functions;

export interface RouteDefinition {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'ANY';
  readonly path: string;
  readonly target: FunctionKey;
  readonly auth: 'none' | 'iam';
}

/** Where Meta posts status callbacks and sends its challenge. */
export const STATUS_CALLBACK_PATH = '/whatsapp/events';

export const Routes: readonly RouteDefinition[] = [
  {
    method: 'POST',
    path: '/webhooks/{webhookId}',
    target: 'verifier',
    auth: 'none',
  },
  // Meta's subscription challenge arrives as a GET.
  {
    method: 'GET',
    path: '/webhooks/{webhookId}',
    target: 'verifier',
    auth: 'none',
  },
  // Any other method reaches the verifier too, to be told which it takes.
  {
    method: 'ANY',
    path: '/webhooks/{webhookId}',
    target: 'verifier',
    auth: 'none',
  },
  // Meta's status callbacks (delivered, read, failed) and its challenge.
  {
    method: 'POST',
    path: STATUS_CALLBACK_PATH,
    target: 'status',
    auth: 'none',
  },
  {
    method: 'GET',
    path: STATUS_CALLBACK_PATH,
    target: 'status',
    auth: 'none',
  },
  {
    method: 'ANY',
    path: STATUS_CALLBACK_PATH,
    target: 'status',
    auth: 'none',
  },
  { method: 'POST', path: '/admin/webhooks', target: 'admin', auth: 'iam' },
  { method: 'GET', path: '/admin/webhooks', target: 'admin', auth: 'iam' },
  {
    method: 'GET',
    path: '/admin/webhooks/{webhookId}',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'PUT',
    path: '/admin/webhooks/{webhookId}/mappings/{mappingId}',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'POST',
    path: '/admin/webhooks/{webhookId}/mappings/{mappingId}/preview',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'POST',
    path: '/admin/webhooks/{webhookId}/activate',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'POST',
    path: '/admin/webhooks/{webhookId}/deactivate',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'GET',
    path: '/admin/webhooks/{webhookId}/captures',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'POST',
    path: '/admin/webhooks/{webhookId}/rotate-secret',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'GET',
    path: '/admin/webhooks/{webhookId}/events',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'GET',
    path: '/admin/events/{eventId}',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'POST',
    path: '/admin/webhooks/{webhookId}/replay',
    target: 'admin',
    auth: 'iam',
  },
  {
    method: 'POST',
    path: '/admin/queues/{queue}/redrive',
    target: 'admin',
    auth: 'iam',
  },
];

/** Route key as API Gateway writes it into `event.routeKey`. */
export const routeKey = (route: RouteDefinition): string =>
  `${route.method} ${route.path}`;

/** Meta's default throughput per number; the deploy parameter's default. */
export { DEFAULT_THROUGHPUT_MPS } from '../lambdas/shared/domain/delivery.js';
/** Largest webhook body accepted; the domain rule, repeated for the docs. */
export { MAX_WEBHOOK_BODY_BYTES } from '../lambdas/shared/domain/ingest.js';

/** Throttling of the public route, per second, across all callers. */
export const WEBHOOK_ROUTE_THROTTLE = { rate: 200, burst: 400 } as const;

/** CloudWatch namespace of the custom metrics every stage emits. */
export const METRICS_NAMESPACE = 'WaptoWebhookBridge';

/** Custom metrics, by the function that emits them; dashboards read them. */
export const CustomMetrics = {
  verifier: ['WebhookAccepted', 'WebhookRejected'],
  mapper: [
    'MappingFailed',
    'MessageQueued',
    'MessageDelayed',
    'MessageCancelled',
  ],
  release: ['MessageReleased'],
  sender: [
    'MessageSent',
    'MessageFailed',
    'MessageRetried',
    'MessageUnconfirmed',
    'SendingStopped',
  ],
  status: [
    'StatusRecorded',
    'StatusUnchanged',
    'StatusUnmatched',
    'StatusIgnored',
    'StatusRejected',
    'MessageConfirmed',
  ],
} as const satisfies Partial<Record<FunctionKey, readonly string[]>>;
