import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { QueueWorker } from '../../lib/constructs/queue-worker.js';
import {
  CustomMetrics,
  type FunctionKey,
  Functions,
  METRICS_NAMESPACE,
  type QueueKey,
  Queues,
} from '../../lib/definitions.js';
import { getAtt, logicalId, refTo, synthTemplate } from './stack-fixture.js';

const { stack, template } = synthTemplate();
const topic = stack.node.findChild('Alarms').node.findChild('Topic');
const key = stack.node.findChild('Alarms').node.findChild('Key');
const queueKeys = Object.keys(Queues) as QueueKey[];
const workerOf = (queue: QueueKey) =>
  stack.node.findChild(Queues[queue].id) as QueueWorker;

const alarmsOn = (metricName: string) =>
  Object.values(
    template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { MetricName: metricName },
    })
  ).map((alarm) => alarm.Properties);

type MetricRow = (string | { expression?: string })[];

/**
 * The dashboard's metric rows, with each reference in the body replaced by
 * the logical id it points at.
 */
const dashboardMetrics = (): MetricRow[] => {
  const [dashboard] = Object.values(
    template.findResources('AWS::CloudWatch::Dashboard')
  );
  if (dashboard === undefined) throw new Error('The stack has no dashboard.');
  const [, parts] = dashboard.Properties.DashboardBody['Fn::Join'];
  const text = (parts as unknown[])
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = part as { Ref?: string; 'Fn::GetAtt'?: string[] };

      return ref.Ref ?? ref['Fn::GetAtt']?.[0];
    })
    .join('');
  const body = JSON.parse(text) as {
    widgets: { properties: { metrics?: MetricRow[] } }[];
  };

  return body.widgets.flatMap((widget) => widget.properties.metrics ?? []);
};

const queryString = (name: string): string => {
  const query = Object.values(
    template.findResources('AWS::Logs::QueryDefinition', {
      Properties: { Name: Match.stringLikeRegexp(`/${name}$`) },
    })
  )[0];

  return query?.Properties.QueryString ?? '';
};

describe('AlarmTopic', () => {
  it('encrypts alarm notifications with a rotated customer key', () => {
    // Assert
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: getAtt(key, 'Arn'),
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
    });
  });

  it('lets CloudWatch alarms use the key', () => {
    // Assert
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('refuses publishing without TLS', () => {
    // Assert
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [refTo(topic)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('subscribes the alarm e-mail only when one is given', () => {
    // Arrange
    const subscriptions = template.findResources('AWS::SNS::Subscription');
    const [subscription] = Object.values(subscriptions);

    // Act
    const condition = template.toJSON().Conditions[subscription?.Condition];

    // Assert
    expect(Object.keys(subscriptions)).toHaveLength(1);
    expect(subscription?.Properties).toMatchObject({
      Protocol: 'email',
      Endpoint: { Ref: 'AlarmEmail' },
      TopicArn: refTo(topic),
    });
    expect(condition).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }],
    });
  });
});

describe('alarms', () => {
  it('notifies the topic when any alarm fires and clears', () => {
    // Act
    const alarms = Object.values(
      template.findResources('AWS::CloudWatch::Alarm')
    );

    // Assert
    template.resourceCountIs('AWS::CloudWatch::Alarm', 13);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([refTo(topic)]);
      expect(alarm.Properties.OKActions).toEqual([refTo(topic)]);
    }
  });

  it.each(queueKeys)(
    'alarms on any message in the %s dead-letter queue',
    (q) => {
      // Act
      const alarms = alarmsOn('ApproximateNumberOfMessagesVisible');

      // Assert
      expect(alarms).toContainEqual(
        expect.objectContaining({
          Namespace: 'AWS/SQS',
          Dimensions: [
            {
              Name: 'QueueName',
              Value: getAtt(workerOf(q).deadLetterQueue, 'QueueName'),
            },
          ],
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
        })
      );
    }
  );

  it.each(queueKeys)('alarms on the age of the oldest %s message', (q) => {
    // Act
    const alarms = alarmsOn('ApproximateAgeOfOldestMessage');

    // Assert
    expect(alarms).toContainEqual(
      expect.objectContaining({
        Dimensions: [
          { Name: 'QueueName', Value: getAtt(workerOf(q).queue, 'QueueName') },
        ],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: expect.any(Number),
      })
    );
  });

  it.each(['mapper', 'sender'] as FunctionKey[])(
    'alarms on errors of the %s function',
    (fn) => {
      // Act
      const alarms = alarmsOn('Errors');

      // Assert
      expect(alarms).toContainEqual(
        expect.objectContaining({
          Namespace: 'AWS/Lambda',
          Dimensions: [
            {
              Name: 'FunctionName',
              Value: refTo(stack.functions[fn].function),
            },
          ],
          Threshold: 1,
        })
      );
    }
  );

  it('alarms when the sender is throttled', () => {
    // Act
    const alarms = alarmsOn('Throttles');

    // Assert
    expect(alarms).toEqual([
      expect.objectContaining({
        Dimensions: [
          {
            Name: 'FunctionName',
            Value: refTo(stack.functions.sender.function),
          },
        ],
      }),
    ]);
  });

  it.each(['MessageUnconfirmed', 'SendingStopped'])(
    'alarms on any %s the sender counts',
    (metricName) => {
      // Act
      const alarms = alarmsOn(metricName);

      // Assert
      expect(alarms).toEqual([
        expect.objectContaining({
          Namespace: METRICS_NAMESPACE,
          Dimensions: [{ Name: 'service', Value: 'sender' }],
          Statistic: 'Sum',
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        }),
      ]);
    }
  );

  it('alarms on server errors of the HTTP API', () => {
    // Act
    const alarms = alarmsOn('5xx');

    // Assert
    expect(alarms).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/ApiGateway',
        Dimensions: [{ Name: 'ApiId', Value: refTo(stack.api.api) }],
        Statistic: 'Sum',
      }),
    ]);
  });
});

describe('dashboard', () => {
  const metrics = dashboardMetrics();
  const hasRow = (...row: string[]) =>
    metrics.some((metric) => row.every((part, i) => metric[i] === part));

  it('exists once', () => {
    // Assert
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it.each(['Count', '4xx', '5xx', 'Latency', 'IntegrationLatency'])(
    'graphs the HTTP API %s metric',
    (metric) => {
      // Arrange
      const api = logicalId(stack.api.api);

      // Assert
      expect(hasRow('AWS/ApiGateway', metric, 'ApiId', api)).toBe(true);
    }
  );

  it.each(queueKeys)('graphs depth and age of the %s queue', (q) => {
    // Arrange
    const queue = logicalId(workerOf(q).queue);

    // Assert
    for (const metric of [
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateAgeOfOldestMessage',
    ]) {
      expect(hasRow('AWS/SQS', metric, 'QueueName', queue)).toBe(true);
    }
  });

  it.each(queueKeys)('graphs the %s dead-letter queue depth', (q) => {
    // Arrange
    const deadLetters = logicalId(workerOf(q).deadLetterQueue);

    // Assert
    expect(
      hasRow(
        'AWS/SQS',
        'ApproximateNumberOfMessagesVisible',
        'QueueName',
        deadLetters
      )
    ).toBe(true);
  });

  it.each(Object.keys(Functions) as FunctionKey[])(
    'graphs errors, throttles and duration of %s',
    (fn) => {
      // Arrange
      const id = logicalId(stack.functions[fn].function);

      // Assert
      for (const metric of ['Errors', 'Throttles', 'Duration']) {
        expect(hasRow('AWS/Lambda', metric, 'FunctionName', id)).toBe(true);
      }
    }
  );

  it.each(Object.values(CustomMetrics).flat())(
    'graphs the custom metric %s over all its dimensions',
    (metric) => {
      // Arrange
      const search = `Namespace="${METRICS_NAMESPACE}" MetricName="${metric}"`;

      // Act
      const expressions = metrics.map((row) =>
        typeof row[0] === 'object' ? (row[0].expression ?? '') : ''
      );

      // Assert
      expect(expressions).toContainEqual(
        expect.stringContaining(`SEARCH('${search}', 'Sum', 300)`)
      );
    }
  );
});

describe('saved queries', () => {
  it('search every function log group', () => {
    // Arrange
    const logGroups = Object.values(stack.functions).map((fn) =>
      refTo(fn.logGroup)
    );

    // Act
    const queries = Object.values(
      template.findResources('AWS::Logs::QueryDefinition')
    );

    // Assert
    expect(queries).toHaveLength(2);
    for (const query of queries) {
      expect(query.Properties.LogGroupNames).toEqual(logGroups);
    }
  });

  it('list failures with their error code and reason', () => {
    // Act
    const query = queryString('failures');

    // Assert
    expect(query).toContain('filter level in ["ERROR", "WARN"]');
    expect(query).toMatch(/fields .*error_code.*reason/);
    expect(query).toContain('sort @timestamp desc');
  });

  it('trace one event in time order', () => {
    // Act
    const query = queryString('trace-of-one-event');

    // Assert
    expect(query).toMatch(/filter event_id = "[^"]+"/);
    expect(query).toContain('sort @timestamp asc');
  });
});

describe('log groups', () => {
  it('exist once per function plus one for API access logs', () => {
    // Assert
    template.resourceCountIs(
      'AWS::Logs::LogGroup',
      Object.keys(Functions).length + 1
    );
  });
});
