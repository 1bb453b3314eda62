import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { FunctionKey, QueueKey, TableKey } from '../definitions.js';
import type { BridgeFunction } from './bridge-function.js';
import { acknowledgeNag } from './compliance.js';
import type { DataTable } from './data-table.js';
import type { PayloadBucket } from './payload-bucket.js';
import type { QueueWorker } from './queue-worker.js';

/** Actions the admin function needs to manage webhook signing secrets. */
export const WEBHOOK_SECRET_ADMIN_ACTIONS = [
  'secretsmanager:CreateSecret',
  'secretsmanager:PutSecretValue',
  'secretsmanager:GetSecretValue',
  'secretsmanager:DescribeSecret',
  'secretsmanager:TagResource',
  'secretsmanager:UpdateSecret',
  // Undoes a half-finished webhook creation (secret stored, config not).
  'secretsmanager:DeleteSecret',
] as const;

/** Everything the product functions may touch. */
export interface AccessTargets {
  readonly functions: Readonly<Record<FunctionKey, BridgeFunction>>;
  readonly tables: Readonly<Record<TableKey, DataTable>>;
  readonly workers: Readonly<Record<QueueKey, QueueWorker>>;
  readonly payloads: PayloadBucket;
  readonly tokenSecret: secretsmanager.ISecret;
  /** The Meta app secret and verify token of the status callbacks. */
  readonly appSecret: secretsmanager.ISecret;
  /** Name prefix of the webhook signing secrets the admin API creates. */
  readonly webhookSecretPrefix: string;
}

/**
 * Gives each function exactly what its stage needs: the verifier reads
 * configs and its webhook secrets, stores large bodies and queues events;
 * the mapper reads configs and stored bodies, writes traces, claims
 * provider event ids, keeps captured payloads, queues messages and holds
 * or cancels delayed ones, and moves unreadable events to its dead-letter
 * queue; the release function settles held messages and
 * queues the due ones; the sender keeps the send ledger and traces, reads
 * the WhatsApp token and moves unreadable messages to its dead-letter
 * queue; the admin API manages
 * configs and webhook secrets, reads traces and stored bodies, reads
 * the WhatsApp token to list the approved templates, appends replay
 * records, queues replayed events and moves dead letters back to their
 * queues; the status function
 * reads the app secret, looks messages up and updates their status and
 * trace items one by one.
 */
export const grantLeastPrivilege = (targets: AccessTargets): void => {
  const { functions, tables, workers, payloads, tokenSecret } = targets;
  const { verifier, mapper, sender, admin, status, release } = functions;

  tables.config.grantRead(verifier.role);
  workers.ingest.queue.grantSendMessages(verifier.role);
  payloads.grantWrite(verifier);
  grantWebhookSecrets(targets, verifier, ['secretsmanager:GetSecretValue']);

  tables.config.grantRead(mapper.role);
  // It reads the log table too: provider event claims and kept payloads.
  tables.logs.grantReadWrite(mapper.role);
  workers.outbound.queue.grantSendMessages(mapper.role);
  // Holds delayed messages; cancels held ones in the log table.
  workers.delay.queue.grantSendMessages(mapper.role);
  payloads.grantRead(mapper);
  // Unreadable events go straight to the dead-letter queue.
  workers.ingest.deadLetterQueue.grantSendMessages(mapper.role);

  // Reads and settles held messages' records, writes their traces, hops a
  // message again until it is due, then queues it for sending. Its event
  // source grants it the delay queue's receive and delete.
  tables.logs.grantReadWrite(release.role);
  workers.delay.queue.grantSendMessages(release.role);
  workers.outbound.queue.grantSendMessages(release.role);

  // It reads the log table too: the send ledger, last sends, the pause.
  tables.logs.grantReadWrite(sender.role);
  tokenSecret.grantRead(sender.role);
  // Unreadable messages go straight to the dead-letter queue.
  workers.outbound.deadLetterQueue.grantSendMessages(sender.role);

  tables.config.grantReadWrite(admin.role);
  tables.logs.grantRead(admin.role);
  // Previews render captured payloads, large ones included.
  payloads.grantRead(admin);
  tokenSecret.grantRead(admin.role);
  grantWebhookSecrets(targets, admin, WEBHOOK_SECRET_ADMIN_ACTIONS);
  // Replays: marks the original events' traces, queues them again.
  tables.logs.grantPuts(admin.role);
  workers.ingest.queue.grantSendMessages(admin.role);
  // Redrives: takes each queue's dead letters back to the queue.
  for (const worker of Object.values(workers)) {
    worker.deadLetterQueue.grantConsumeMessages(admin.role);
    worker.queue.grantSendMessages(admin.role);
  }

  tables.logs.grantItemUpdates(status.role);
  targets.appSecret.grantRead(status.role);
};

const grantWebhookSecrets = (
  targets: AccessTargets,
  grantee: BridgeFunction,
  actions: readonly string[]
): void => {
  const prefix = targets.webhookSecretPrefix;
  const prefixArn = Stack.of(grantee).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${prefix}*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  grantee.role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: [...actions], resources: [prefixArn] })
  );
  const finding =
    'Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:' +
    `<AWS::AccountId>:secret:${prefix}*`;
  acknowledgeNag(grantee.role, {
    id: `AwsSolutions-IAM5[${finding}]`,
    reason:
      'Webhook secrets are created at run time, one per webhook, under ' +
      'this stack-specific name prefix; their names are not known at ' +
      'deploy time, and Secrets Manager appends a random suffix.',
  });
};
