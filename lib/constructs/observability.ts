import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../definitions.js';
import {
  apiWidgets,
  functionWidgets,
  productWidget,
  queueWidgets,
} from './dashboard-widgets.js';
import { ALARM_PERIOD, API_SERVER_ERRORS_ALARM_THRESHOLD } from './defaults.js';

/** A function as the dashboard and the queries see it. */
export interface WatchedFunction {
  readonly name: string;
  readonly function: lambda.IFunction;
  readonly logGroup: logs.ILogGroup;
  /**
   * Whether a failed invocation raises an alarm.
   * @default false
   */
  readonly alarmOnErrors?: boolean;
  /**
   * Whether a throttled invocation raises an alarm.
   * @default false
   */
  readonly alarmOnThrottles?: boolean;
}

/** A work queue and its dead-letter queue. */
export interface WatchedQueue {
  readonly name: string;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
}

export interface ObservabilityProps {
  readonly api: apigwv2.IHttpApi;
  readonly functions: readonly WatchedFunction[];
  readonly queues: readonly WatchedQueue[];
  /** Alarms made elsewhere (e.g. per queue) that the dashboard shows too. */
  readonly otherAlarms: readonly cloudwatch.IAlarm[];
  readonly alarmAction: cloudwatch.IAlarmAction;
  /** Custom metrics of which any count raises an alarm. */
  readonly metricAlarms?: readonly MetricAlarm[];
}

/** A custom metric a function emits that must never count. */
export interface MetricAlarm {
  /** The emitting function's service name (Powertools' `service`). */
  readonly service: string;
  readonly metricName: string;
  readonly description: string;
}

/** Placeholder the "trace of one event" query asks the reader to replace. */
export const EVENT_ID_PLACEHOLDER = 'PASTE-THE-EVENT-ID-HERE';

/**
 * Alarms on the functions and the API, the overview dashboard and the saved
 * Logs Insights queries over every function log group.
 */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;
  readonly queries: logs.QueryDefinition[];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.alarms = this.createAlarms(props);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(props.alarmAction);
      alarm.addOkAction(props.alarmAction);
    }
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-overview`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(...apiWidgets(props.api), productWidget());
    this.dashboard.addWidgets(...queueWidgets(props.queues));
    this.dashboard.addWidgets(...functionWidgets(props.functions));
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...this.alarms, ...props.otherAlarms],
        width: 24,
      })
    );
    this.queries = this.createQueries(props.functions);
  }

  private createAlarms(props: ObservabilityProps): cloudwatch.Alarm[] {
    const { functions } = props;

    return [
      this.apiServerErrorAlarm(props.api),
      ...functions
        .filter((watched) => watched.alarmOnErrors)
        .map((watched) => this.errorAlarm(watched)),
      ...functions
        .filter((watched) => watched.alarmOnThrottles)
        .map((watched) => this.throttleAlarm(watched)),
      ...(props.metricAlarms ?? []).map((alarm) =>
        this.countAlarm(
          new cloudwatch.Metric({
            namespace: METRICS_NAMESPACE,
            metricName: alarm.metricName,
            dimensionsMap: { service: alarm.service },
            period: ALARM_PERIOD,
            statistic: 'Sum',
          }),
          `${alarm.metricName}Alarm`,
          alarm.description
        )
      ),
    ];
  }

  private apiServerErrorAlarm(api: apigwv2.IHttpApi): cloudwatch.Alarm {
    return this.countAlarm(
      api.metricServerError({ period: ALARM_PERIOD, statistic: 'Sum' }),
      'ApiServerErrorsAlarm',
      'The HTTP API answered with 5xx: providers will retry, admins ' +
        'see failures. Check the verifier, status and admin logs.',
      API_SERVER_ERRORS_ALARM_THRESHOLD
    );
  }

  private errorAlarm(watched: WatchedFunction): cloudwatch.Alarm {
    return this.countAlarm(
      watched.function.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
      `${pascal(watched.name)}ErrorsAlarm`,
      `The ${watched.name} function failed whole invocations: its ` +
        'batch is retried and may end in the dead-letter queue.'
    );
  }

  private throttleAlarm(watched: WatchedFunction): cloudwatch.Alarm {
    return this.countAlarm(
      watched.function.metricThrottles({
        period: ALARM_PERIOD,
        statistic: 'Sum',
      }),
      `${pascal(watched.name)}ThrottlesAlarm`,
      `The ${watched.name} function was throttled: its event source ` +
        'asks for more than its reserved concurrency.'
    );
  }

  /** Fires when a count reaches `threshold` within one alarm period. */
  private countAlarm(
    metric: cloudwatch.Metric,
    id: string,
    alarmDescription: string,
    threshold = 1
  ): cloudwatch.Alarm {
    return metric.createAlarm(this, id, {
      alarmDescription,
      threshold,
      comparisonOperator:
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private createQueries(
    functions: readonly WatchedFunction[]
  ): logs.QueryDefinition[] {
    const logGroups = functions.map((watched) => watched.logGroup);
    const folder = `Wapto/${Stack.of(this).stackName}`;

    return [
      new logs.QueryDefinition(this, 'FailuresQuery', {
        queryDefinitionName: `${folder}/failures`,
        logGroups,
        queryString: new logs.QueryString({
          fields: FAILURE_FIELDS,
          filterStatements: ['level in ["ERROR", "WARN"]'],
          sort: '@timestamp desc',
          limit: 500,
        }),
      }),
      new logs.QueryDefinition(this, 'EventTraceQuery', {
        queryDefinitionName: `${folder}/trace-of-one-event`,
        logGroups,
        queryString: new logs.QueryString({
          fields: TRACE_FIELDS,
          filterStatements: [`event_id = "${EVENT_ID_PLACEHOLDER}"`],
          sort: '@timestamp asc',
          limit: 1000,
        }),
      }),
    ];
  }
}

const FAILURE_FIELDS = [
  '@timestamp',
  'service',
  'level',
  'message',
  'error_code',
  'reason',
  'event_id',
  'webhook_id',
];

const TRACE_FIELDS = [
  '@timestamp',
  'service',
  'level',
  'message',
  'outcome',
  'reason',
  'error_code',
  'webhook_id',
  'mapping_id',
  'wamid',
];

const pascal = (name: string): string =>
  name.charAt(0).toUpperCase() + name.slice(1);
