import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { CustomMetrics, METRICS_NAMESPACE } from '../definitions.js';
import type { WatchedFunction, WatchedQueue } from './observability.js';

/** Traffic and latency of the HTTP API, per minute. */
export const apiWidgets = (api: apigwv2.IHttpApi): cloudwatch.IWidget[] => {
  const sum = { period: Duration.minutes(1), statistic: 'Sum' };

  return [
    new cloudwatch.GraphWidget({
      title: 'HTTP API requests',
      left: [
        api.metricCount({ ...sum, label: 'Requests' }),
        api.metricClientError({ ...sum, label: '4xx' }),
        api.metricServerError({ ...sum, label: '5xx' }),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'HTTP API latency (ms)',
      left: [
        api.metricLatency({ statistic: 'p50', label: 'p50' }),
        api.metricLatency({ statistic: 'p99', label: 'p99' }),
        api.metricIntegrationLatency({
          statistic: 'p99',
          label: 'Integration p99',
        }),
      ],
      width: 8,
    }),
  ];
};

/** The product's own metrics: events accepted and rejected, messages. */
export const productWidget = (): cloudwatch.IWidget =>
  new cloudwatch.GraphWidget({
    title: 'Events and messages',
    left: Object.values(CustomMetrics)
      .flat()
      .map((name) => customMetricTotal(name)),
    width: 8,
  });

/** Depth and age of the work queues, and depth of their dead letters. */
export const queueWidgets = (
  queues: readonly WatchedQueue[]
): cloudwatch.IWidget[] => {
  const max = { period: Duration.minutes(1), statistic: 'Maximum' };

  return [
    new cloudwatch.GraphWidget({
      title: 'Queue depth (waiting and in flight)',
      left: queues.flatMap(({ name, queue }) => [
        queue.metricApproximateNumberOfMessagesVisible({
          ...max,
          label: `${name} waiting`,
        }),
        queue.metricApproximateNumberOfMessagesNotVisible({
          ...max,
          label: `${name} in flight`,
        }),
      ]),
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Age of oldest message (s)',
      left: queues.map(({ name, queue }) =>
        queue.metricApproximateAgeOfOldestMessage({ ...max, label: name })
      ),
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Dead-letter queue depth',
      left: queues.map(({ name, deadLetterQueue }) =>
        deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          ...max,
          label: `${name} dead letters`,
        })
      ),
      width: 8,
    }),
  ];
};

/** Errors, throttles and slow invocations of every function. */
export const functionWidgets = (
  functions: readonly WatchedFunction[]
): cloudwatch.IWidget[] => {
  const sum = { period: Duration.minutes(1), statistic: 'Sum' };
  const each = (
    metric: (fn: lambda.IFunction, label: string) => cloudwatch.IMetric
  ) => functions.map((watched) => metric(watched.function, watched.name));

  return [
    new cloudwatch.GraphWidget({
      title: 'Function errors',
      left: each((fn, label) => fn.metricErrors({ ...sum, label })),
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Function throttles',
      left: each((fn, label) => fn.metricThrottles({ ...sum, label })),
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Function duration p99 (ms)',
      left: each((fn, label) => fn.metricDuration({ statistic: 'p99', label })),
      width: 8,
    }),
  ];
};

/**
 * One custom metric summed over all its dimension sets: stages add
 * dimensions such as `reason`, and a search expression finds them all.
 */
const customMetricTotal = (name: string): cloudwatch.IMetric =>
  new cloudwatch.MathExpression({
    expression:
      `SUM(SEARCH('Namespace="${METRICS_NAMESPACE}" ` +
      `MetricName="${name}"', 'Sum', 300))`,
    label: name,
    usingMetrics: {},
    period: Duration.minutes(5),
  });
