import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { AlarmTopic } from './constructs/alarm-topic.js';
import { BridgeFunction } from './constructs/bridge-function.js';
import { DataTable } from './constructs/data-table.js';
import { OLDEST_MESSAGE_ALARM_AGE } from './constructs/defaults.js';
import { BridgeHttpApi } from './constructs/http-api.js';
import { type MetricAlarm, Observability } from './constructs/observability.js';
import {
  type DeployParameters,
  declareDeployParameters,
} from './constructs/parameters.js';
import { PayloadBucket } from './constructs/payload-bucket.js';
import { grantLeastPrivilege } from './constructs/permissions.js';
import { QueueWorker } from './constructs/queue-worker.js';
import {
  createWhatsAppAppSecret,
  createWhatsAppTokenSecret,
} from './constructs/token-secret.js';
import {
  Buckets,
  DELAY_HOP_SECONDS,
  Env,
  type EnvName,
  type FunctionKey,
  Functions,
  type QueueKey,
  Queues,
  Routes,
  routeKey,
  STATUS_CALLBACK_PATH,
  type TableKey,
  Tables,
  WEBHOOK_ROUTE_THROTTLE,
  WHATSAPP_API_URL,
  WHATSAPP_API_VERSION,
} from './definitions.js';

/**
 * Context key a deployer sets (`-c concurrencyQuotaChecked=true`) after
 * checking the account's Lambda concurrency quota; it silences the caveat.
 */
export const CONCURRENCY_QUOTA_CHECKED = 'concurrencyQuotaChecked';

/** Throttle of the admin routes, which people and scripts call. */
const ADMIN_ROUTE_THROTTLE = { rate: 50, burst: 100 } as const;

const REPOSITORY_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface WaptoWebhookBridgeStackProps extends StackProps {
  /**
   * Directory the handler entries in `definitions.ts` are relative to.
   * @default the repository root
   */
  readonly projectRoot?: string;
}

/** What the sender counts that a person must look at. */
const SENDER_ALARMS: readonly MetricAlarm[] = [
  {
    service: 'sender',
    metricName: 'MessageUnconfirmed',
    description:
      'A message may or may not have reached WhatsApp (no answer, or the ' +
      'sender stopped mid-send); it is not sent again. Read its trace: ' +
      'a later sent record (code confirmed_by_status) means a status ' +
      'callback proved it arrived; otherwise check with the recipient.',
  },
  {
    service: 'sender',
    metricName: 'SendingStopped',
    description:
      'WhatsApp refused the account or its access token (190 after a ' +
      'fresh read, 131031, 368, 133010, 131048): every send pauses 15 ' +
      'minutes at a time. Fix the token or the account in Meta.',
  },
];

/** Tables whose data must outlive the stack (webhooks and mappings). */
const RETAINED_TABLES: readonly TableKey[] = ['config'];

type Workers = Record<QueueKey, QueueWorker>;
type BridgeFunctions = Record<FunctionKey, BridgeFunction>;
type DataTables = Record<TableKey, DataTable>;

/** Builds one value per key of a definitions record, keeping the keys. */
const forEachKey = <K extends string, V>(
  definitions: Record<K, unknown>,
  build: (key: K) => V
): Record<K, V> =>
  Object.fromEntries(
    (Object.keys(definitions) as K[]).map((key) => [key, build(key)])
  ) as Record<K, V>;

/**
 * The Wapto webhook bridge: provider webhooks in through an HTTP API,
 * verified, mapped and sent as WhatsApp template messages through two SQS
 * FIFO queues, with an IAM-signed admin API, DynamoDB for configs and
 * traces, and alarms, a dashboard and saved queries to run it.
 */
export class WaptoWebhookBridgeStack extends Stack {
  readonly api: BridgeHttpApi;
  readonly functions: BridgeFunctions;
  readonly tokenSecret: secretsmanager.Secret;
  readonly appSecret: secretsmanager.Secret;
  readonly webhookSecretPrefix: string;

  constructor(
    scope: Construct,
    id: string,
    props: WaptoWebhookBridgeStackProps = {}
  ) {
    super(scope, id, props);
    const parameters = declareDeployParameters(this);
    const alarms = new AlarmTopic(this, 'Alarms', {
      email: parameters.alarmEmail,
    });
    const tables = this.createTables();
    const payloads = new PayloadBucket(this, Buckets.payloads.id, {
      definition: Buckets.payloads,
    });
    const workers = this.createWorkers(alarms.action);
    this.webhookSecretPrefix = `wapto/${this.stackName}/webhooks/`;
    this.tokenSecret = createWhatsAppTokenSecret(this, 'WhatsAppTokenSecret');
    this.appSecret = createWhatsAppAppSecret(this, 'WhatsAppAppSecret');
    this.api = new BridgeHttpApi(this, 'HttpApi', {
      defaultThrottle: ADMIN_ROUTE_THROTTLE,
      logRetention: parameters.logRetention,
    });
    this.functions = this.createFunctions(
      this.environmentValues(tables, workers, payloads, parameters),
      parameters,
      props.projectRoot ?? REPOSITORY_ROOT
    );
    this.connectConsumers(workers);
    grantLeastPrivilege({
      functions: this.functions,
      tables,
      workers,
      payloads,
      tokenSecret: this.tokenSecret,
      appSecret: this.appSecret,
      webhookSecretPrefix: this.webhookSecretPrefix,
    });
    this.addRoutes();
    const dashboard = this.observe(workers, alarms.action);
    this.createOutputs(dashboard.dashboardName);
  }

  private createTables(): DataTables {
    return forEachKey(
      Tables,
      (key) =>
        new DataTable(this, Tables[key].id, {
          definition: Tables[key],
          retain: RETAINED_TABLES.includes(key),
        })
    );
  }

  private createWorkers(alarmAction: cloudwatch.IAlarmAction): Workers {
    return forEachKey(
      Queues,
      (key) =>
        new QueueWorker(this, Queues[key].id, {
          definition: Queues[key],
          alarmAction,
          oldestMessageAlarmAge: OLDEST_MESSAGE_ALARM_AGE[key],
        })
    );
  }

  /** The value of every environment variable any function reads. */
  private environmentValues(
    tables: DataTables,
    workers: Workers,
    payloads: PayloadBucket,
    parameters: DeployParameters
  ): Record<EnvName, string> {
    return {
      [Env.ConfigTable]: tables.config.table.tableName,
      [Env.LogTable]: tables.logs.table.tableName,
      [Env.IngestQueueUrl]: workers.ingest.queue.queueUrl,
      [Env.OutboundQueueUrl]: workers.outbound.queue.queueUrl,
      [Env.WebhookSecretPrefix]: this.webhookSecretPrefix,
      [Env.WhatsAppTokenSecret]: this.tokenSecret.secretArn,
      [Env.WhatsAppPhoneNumberId]: parameters.whatsAppPhoneNumberId,
      [Env.WhatsAppBusinessAccountId]: parameters.whatsAppBusinessAccountId,
      [Env.WhatsAppApiUrl]: WHATSAPP_API_URL,
      [Env.WhatsAppApiVersion]: WHATSAPP_API_VERSION,
      // The API resource does not depend on any function, so its endpoint
      // can be handed to the admin function without a cycle.
      [Env.PublicBaseUrl]: this.api.endpoint,
      [Env.LogRecordTtlDays]: parameters.logRecordTtlDays,
      [Env.PayloadBucket]: payloads.bucket.bucketName,
      [Env.WhatsAppAppSecret]: this.appSecret.secretArn,
      [Env.DelayQueueUrl]: workers.delay.queue.queueUrl,
      [Env.DelayHopSeconds]: String(DELAY_HOP_SECONDS),
      [Env.OutboundDeadLetterQueueUrl]:
        workers.outbound.deadLetterQueue.queueUrl,
      [Env.WhatsAppThroughput]: parameters.whatsAppThroughput,
      [Env.IngestDeadLetterQueueUrl]: workers.ingest.deadLetterQueue.queueUrl,
      [Env.DelayDeadLetterQueueUrl]: workers.delay.deadLetterQueue.queueUrl,
    };
  }

  private createFunctions(
    environment: Record<EnvName, string>,
    parameters: DeployParameters,
    projectRoot: string
  ): BridgeFunctions {
    return forEachKey(Functions, (key) => {
      const definition = Functions[key];
      const created = new BridgeFunction(this, definition.id, {
        definition,
        serviceName: key,
        environment,
        logRetention: parameters.logRetention,
        projectRoot,
      });
      this.warnAboutReservedConcurrency(created, definition);

      return created;
    });
  }

  private warnAboutReservedConcurrency(
    created: BridgeFunction,
    definition: (typeof Functions)[FunctionKey]
  ): void {
    if (!('reservedConcurrency' in definition)) return;
    const checked = this.node.tryGetContext(CONCURRENCY_QUOTA_CHECKED);
    if (checked === true || checked === 'true') return;
    Annotations.of(created).addWarningV2(
      'wapto:reserved-concurrency',
      `${definition.id} reserves ${definition.reservedConcurrency} ` +
        'concurrent executions. Lambda keeps a minimum of unreserved ' +
        'concurrency per account (100 under the default quota of 1,000), ' +
        'so accounts with a low concurrency quota reject the deploy. ' +
        'Check the Lambda "Concurrent executions" quota first, then ' +
        `pass -c ${CONCURRENCY_QUOTA_CHECKED}=true (docs/deploy.md).`
    );
  }

  private connectConsumers(workers: Workers): void {
    for (const key of Object.keys(Functions) as FunctionKey[]) {
      const definition = Functions[key];
      if (!('source' in definition)) continue;
      workers[definition.source.queue].addConsumer(
        this.functions[key].function,
        definition
      );
    }
  }

  private addRoutes(): void {
    const targets = forEachKey(
      this.functions,
      (key) => this.functions[key].function
    );
    const publicThrottles = Object.fromEntries(
      Routes.filter((route) => route.auth === 'none').map((route) => [
        routeKey(route),
        WEBHOOK_ROUTE_THROTTLE,
      ])
    );
    this.api.addRoutes(Routes, targets, publicThrottles);
  }

  private observe(
    workers: Workers,
    alarmAction: cloudwatch.IAlarmAction
  ): { dashboardName: string } {
    const watchedQueues = (Object.keys(workers) as QueueKey[]).map((key) => ({
      name: key,
      queue: workers[key].queue,
      deadLetterQueue: workers[key].deadLetterQueue,
    }));
    const watchedFunctions = (Object.keys(Functions) as FunctionKey[]).map(
      (key) => ({
        name: key,
        function: this.functions[key].function,
        logGroup: this.functions[key].logGroup,
        // Failed queue batches head for the dead-letter queue; the API's
        // functions show up in its 5xx alarm instead.
        alarmOnErrors: 'source' in Functions[key],
        // A reserved function is throttled when its source outruns it.
        alarmOnThrottles: 'reservedConcurrency' in Functions[key],
      })
    );
    const observability = new Observability(this, 'Observability', {
      api: this.api.api,
      functions: watchedFunctions,
      queues: watchedQueues,
      otherAlarms: Object.values(workers).flatMap((worker) => [
        worker.deadLetterAlarm,
        worker.oldestMessageAlarm,
      ]),
      alarmAction,
      metricAlarms: SENDER_ALARMS,
    });

    return { dashboardName: observability.dashboard.dashboardName };
  }

  private createOutputs(dashboardName: string): void {
    const endpoint = this.api.endpoint;
    const outputs = {
      ApiUrl: [endpoint, 'Base URL of the HTTP API.'],
      WebhookUrlPattern: [
        `${endpoint}/webhooks/{webhookId}`,
        'Providers post here; the admin API returns each full URL.',
      ],
      AdminBaseUrl: [
        `${endpoint}/admin`,
        'Base URL of the IAM-signed admin API.',
      ],
      WhatsAppTokenSecretArn: [
        this.tokenSecret.secretArn,
        'Store the WhatsApp access token here (put-secret-value).',
      ],
      WhatsAppAppSecretArn: [
        this.appSecret.secretArn,
        'Store the Meta app secret here, beside the verify token.',
      ],
      StatusCallbackUrl: [
        `${endpoint}${STATUS_CALLBACK_PATH}`,
        "The callback URL to enter in the Meta app's WhatsApp webhooks.",
      ],
      DashboardName: [dashboardName, 'CloudWatch dashboard of the bridge.'],
    } as const;
    for (const [id, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, id, { value, description });
    }
  }
}
