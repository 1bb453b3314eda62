import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import {
  TABLE_ITEM_UPDATE_ACTIONS,
  TABLE_PUT_ACTIONS,
  TABLE_READ_ACTIONS,
  TABLE_WRITE_ACTIONS,
} from '../../lib/constructs/data-table.js';
import { WEBHOOK_SECRET_ADMIN_ACTIONS } from '../../lib/constructs/permissions.js';
import type { QueueWorker } from '../../lib/constructs/queue-worker.js';
import { Tables } from '../../lib/definitions.js';
import {
  getAtt,
  mentions,
  refTo,
  STACK_NAME,
  statementsOfRole,
  synthTemplate,
} from './stack-fixture.js';

const { stack, template } = synthTemplate();
const { verifier, mapper, sender, admin, status, release } = stack.functions;

const child = <T>(id: string) => stack.node.findChild(id) as T;
const configTable = child<IConstruct>('ConfigTable').node.findChild('Table');
const logTable = child<IConstruct>('LogTable').node.findChild('Table');
const ingest = child<QueueWorker>('IngestQueue').queue;
const outbound = child<QueueWorker>('OutboundQueue').queue;
const delay = child<QueueWorker>('DelayQueue').queue;
const deadLetterQueues = ['IngestQueue', 'OutboundQueue', 'DelayQueue'].map(
  (id) => child<QueueWorker>(id).deadLetterQueue
);

const SEND_ACTIONS = [
  'sqs:SendMessage',
  'sqs:GetQueueAttributes',
  'sqs:GetQueueUrl',
];

const webhookSecretsArn = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':secretsmanager:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:secret:wapto/${STACK_NAME}/webhooks/*`,
    ],
  ],
};

const logIndexArn = {
  'Fn::Join': [
    '',
    [getAtt(logTable, 'Arn'), `/index/${Tables.logs.indexes[0].name}`],
  ],
};

/** Asserts that `role` holds a statement with exactly these actions. */
const expectGrant = (
  role: IConstruct,
  actions: readonly string[],
  resource: unknown
) => {
  // Policies are minimised: actions sorted, one action as a plain string.
  const sorted = [...new Set(actions)].sort();
  const action = sorted.length === 1 ? sorted[0] : sorted;
  template.hasResourceProperties('AWS::IAM::Policy', {
    Roles: [refTo(role)],
    PolicyDocument: {
      Statement: Match.arrayWith([
        { Action: action, Effect: 'Allow', Resource: resource },
      ]),
    },
  });
};

/** Every action `role` may take on `resource`, sorted. */
const actionsOn = (role: IConstruct, resource: IConstruct): string[] => {
  const statements = statementsOfRole(template, role).filter((statement) =>
    mentions(statement.Resource, resource)
  );
  const actions = statements.flatMap((statement) => [statement.Action].flat());

  return [...new Set(actions as string[])].sort();
};

const expectNoAccess = (role: IConstruct, resource: IConstruct) => {
  const statements = statementsOfRole(template, role);
  expect(statements.filter((s) => mentions(s.Resource, resource))).toEqual([]);
};

describe('permissions of the product functions', () => {
  describe('verifier', () => {
    it('reads the config table', () => {
      expectGrant(
        verifier.role,
        TABLE_READ_ACTIONS,
        getAtt(configTable, 'Arn')
      );
    });

    it('sends to the ingest queue', () => {
      expectGrant(verifier.role, SEND_ACTIONS, getAtt(ingest, 'Arn'));
    });

    it('reads the webhook secrets under the stack prefix only', () => {
      expectGrant(
        verifier.role,
        ['secretsmanager:GetSecretValue'],
        webhookSecretsArn
      );
    });

    it('cannot touch logs, outbound queue or token', () => {
      for (const resource of [logTable, outbound, stack.tokenSecret]) {
        expectNoAccess(verifier.role, resource);
      }
    });
  });

  describe('mapper', () => {
    it('reads the config table', () => {
      expect(actionsOn(mapper.role, configTable)).toEqual(
        [...TABLE_READ_ACTIONS].sort()
      );
    });

    it('reads and writes the log table (claims, captures, traces)', () => {
      expect(actionsOn(mapper.role, logTable)).toEqual(
        [...new Set([...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS])].sort()
      );
    });

    it('sends to the outbound, delay and ingest dead-letter queues', () => {
      expectGrant(mapper.role, SEND_ACTIONS, [
        getAtt(delay, 'Arn'),
        getAtt(child<QueueWorker>('IngestQueue').deadLetterQueue, 'Arn'),
        getAtt(outbound, 'Arn'),
      ]);
    });

    it('cannot touch secrets or write configs', () => {
      expectNoAccess(mapper.role, stack.tokenSecret);
      const statements = statementsOfRole(template, mapper.role);
      const secretStatements = statements.filter((s) =>
        JSON.stringify(s.Action).includes('secretsmanager:')
      );
      const configWrites = statements.filter(
        (s) =>
          mentions(s.Resource, configTable) &&
          JSON.stringify(s.Action).includes('dynamodb:PutItem')
      );
      expect(secretStatements).toEqual([]);
      expect(configWrites).toEqual([]);
    });
  });

  describe('sender', () => {
    it('reads and writes the log table (send ledger, traces)', () => {
      expect(actionsOn(sender.role, logTable)).toEqual(
        [...new Set([...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS])].sort()
      );
    });

    it('sends unreadable messages to the outbound dead-letter queue', () => {
      expectGrant(
        sender.role,
        SEND_ACTIONS,
        getAtt(child<QueueWorker>('OutboundQueue').deadLetterQueue, 'Arn')
      );
    });

    it('reads the WhatsApp token secret', () => {
      expectGrant(
        sender.role,
        ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        refTo(stack.tokenSecret)
      );
    });

    it('cannot touch configs, webhook secrets or other queues', () => {
      for (const resource of [configTable, ingest]) {
        expectNoAccess(sender.role, resource);
      }
      const statements = statementsOfRole(template, sender.role);
      expect(JSON.stringify(statements)).not.toContain('/webhooks/*');
    });
  });

  describe('release', () => {
    it('reads and writes the log table (held messages, traces)', () => {
      expect(actionsOn(release.role, logTable)).toEqual(
        [...new Set([...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS])].sort()
      );
    });

    it('hops on the delay queue and releases to the outbound queue', () => {
      expect(actionsOn(release.role, delay)).toEqual(
        expect.arrayContaining([...SEND_ACTIONS])
      );
      expectGrant(release.role, SEND_ACTIONS, getAtt(outbound, 'Arn'));
    });

    it('consumes the delay queue only', () => {
      expect(actionsOn(release.role, delay)).toEqual(
        expect.arrayContaining([
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
        ])
      );
      expect(actionsOn(release.role, outbound)).not.toContain(
        'sqs:ReceiveMessage'
      );
    });

    it('cannot touch configs, secrets or the ingest queue', () => {
      for (const resource of [configTable, ingest, stack.tokenSecret]) {
        expectNoAccess(release.role, resource);
      }
    });
  });

  describe('admin', () => {
    it('reads and writes the config table', () => {
      expectGrant(
        admin.role,
        [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
        getAtt(configTable, 'Arn')
      );
    });

    it('reads the log table and its index', () => {
      expectGrant(admin.role, TABLE_READ_ACTIONS, [
        getAtt(logTable, 'Arn'),
        logIndexArn,
      ]);
    });

    it('manages webhook secrets under the stack prefix', () => {
      expectGrant(admin.role, WEBHOOK_SECRET_ADMIN_ACTIONS, webhookSecretsArn);
    });

    it('reads the WhatsApp token secret, to list the approved templates', () => {
      expectGrant(
        admin.role,
        ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        refTo(stack.tokenSecret)
      );
    });

    it('appends to the log table (replay records) but changes nothing there', () => {
      const actions = actionsOn(admin.role, logTable);

      expect(actions).toEqual(
        [...new Set([...TABLE_READ_ACTIONS, ...TABLE_PUT_ACTIONS])].sort()
      );
      expect(actions).not.toContain('dynamodb:UpdateItem');
      expect(actions).not.toContain('dynamodb:DeleteItem');
    });

    it('sends to each queue (replays, redrives) but receives from none', () => {
      for (const queue of [ingest, outbound, delay]) {
        expect(actionsOn(admin.role, queue)).toEqual([...SEND_ACTIONS].sort());
      }
    });

    it('consumes each dead-letter queue, to move its messages back', () => {
      for (const queue of deadLetterQueues) {
        expect(actionsOn(admin.role, queue)).toEqual(
          [
            'sqs:ChangeMessageVisibility',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
            'sqs:GetQueueUrl',
            'sqs:ReceiveMessage',
          ].sort()
        );
      }
    });
  });

  describe('status', () => {
    it('reads and updates log items by key, and nothing more', () => {
      expect(actionsOn(status.role, logTable)).toEqual(
        [...TABLE_ITEM_UPDATE_ACTIONS].sort()
      );
    });

    it('reads the app secret only', () => {
      expectGrant(
        status.role,
        ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        refTo(stack.appSecret)
      );
      expectNoAccess(status.role, stack.tokenSecret);
      const statements = statementsOfRole(template, status.role);
      expect(JSON.stringify(statements)).not.toContain('/webhooks/*');
    });

    it('cannot touch configs, queues or stored bodies', () => {
      for (const resource of [configTable, ingest, outbound]) {
        expectNoAccess(status.role, resource);
      }
      const statements = statementsOfRole(template, status.role);
      expect(JSON.stringify(statements)).not.toContain('s3:');
    });
  });

  it('keeps the app secret from every other function', () => {
    for (const fn of [verifier, mapper, sender, admin]) {
      expectNoAccess(fn.role, stack.appSecret);
    }
  });

  it('grants no wildcard action to any function', () => {
    const actions = Object.values(stack.functions).flatMap((fn) =>
      statementsOfRole(template, fn.role).flatMap((s) => [s.Action].flat())
    );

    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
  });
});
