import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FunctionDefinition, QueueDefinition } from '../definitions.js';
import { SQS_MANAGED_SSE_SKIP, skipCheckov } from './compliance.js';
import {
  ALARM_PERIOD,
  FIFO_MAX_BATCH_SIZE,
  MAX_MAX_CONCURRENCY,
  MIN_MAX_CONCURRENCY,
  VISIBILITY_TO_TIMEOUT_RATIO,
} from './defaults.js';
import { assertNoProblems } from './definition-error.js';

/** Dead letters are kept as long as SQS allows, for inspection and redrive. */
const DEAD_LETTER_RETENTION = Duration.days(14);

export interface QueueWorkerProps {
  /** The queue's description in `definitions.ts`. */
  readonly definition: QueueDefinition;
  /** What the queue's alarms do when they fire and when they clear. */
  readonly alarmAction: cloudwatch.IAlarmAction;
  /** Age of the oldest waiting message that raises an alarm. */
  readonly oldestMessageAlarmAge: Duration;
}

/**
 * A work queue: the queue (FIFO unless its definition says standard), its
 * dead-letter queue of the same type, the alarms on both and, once added,
 * the function that consumes it.
 *
 * @example
 * const worker = new QueueWorker(this, 'Ingest', {
 *   definition: Queues.ingest,
 *   alarmAction,
 *   oldestMessageAlarmAge: Duration.minutes(5),
 * });
 * worker.addConsumer(mapper.function, Functions.mapper);
 */
export class QueueWorker extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly oldestMessageAlarm: cloudwatch.Alarm;
  private readonly definition: QueueDefinition;

  constructor(scope: Construct, id: string, props: QueueWorkerProps) {
    super(scope, id);
    this.definition = props.definition;
    this.deadLetterQueue = this.createDeadLetterQueue();
    this.queue = this.createQueue();
    skipCheckov(this.queue, SQS_MANAGED_SSE_SKIP);
    skipCheckov(this.deadLetterQueue, SQS_MANAGED_SSE_SKIP);
    this.deadLetterAlarm = this.createDeadLetterAlarm();
    this.oldestMessageAlarm = this.createOldestMessageAlarm(
      props.oldestMessageAlarmAge
    );
    for (const alarm of [this.deadLetterAlarm, this.oldestMessageAlarm]) {
      alarm.addAlarmAction(props.alarmAction);
      alarm.addOkAction(props.alarmAction);
    }
  }

  /**
   * Makes `fn` consume the queue with partial batch responses.
   *
   * @throws {DefinitionError} when the function's definition does not fit
   * the queue (see {@link consumerProblems}).
   */
  addConsumer(fn: lambda.IFunction, definition: FunctionDefinition): void {
    assertNoProblems(this, consumerProblems(this.definition, definition));
    const source = definition.source;
    if (source === undefined) return;

    fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: source.batchSize,
        maxConcurrency: source.maxConcurrency,
        reportBatchItemFailures: true,
      })
    );
  }

  private isFifo(): boolean {
    return this.definition.type !== 'standard';
  }

  private createDeadLetterQueue(): sqs.Queue {
    return new sqs.Queue(this, 'DeadLetterQueue', {
      fifo: this.isFifo(),
      retentionPeriod: DEAD_LETTER_RETENTION,
      // A dead letter is the whole message; it must fit as it did before.
      maxMessageSizeBytes: this.definition.maxMessageBytes,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }

  private createQueue(): sqs.Queue {
    const definition = this.definition;

    return new sqs.Queue(this, 'Queue', {
      fifo: this.isFifo(),
      // Senders always set a deduplication id (the event or message key).
      contentBasedDeduplication: this.isFifo() ? false : undefined,
      visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(definition.retentionSeconds),
      maxMessageSizeBytes: definition.maxMessageBytes,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: definition.maxReceiveCount,
      },
    });
  }

  private createDeadLetterAlarm(): cloudwatch.Alarm {
    const metric =
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: ALARM_PERIOD,
        statistic: cloudwatch.Stats.MAXIMUM,
      });

    return metric.createAlarm(this, 'DeadLetterAlarm', {
      alarmDescription:
        `Messages wait in the dead-letter queue of ${this.definition.id}: ` +
        'they failed every attempt and will not be retried on their own.',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private createOldestMessageAlarm(age: Duration): cloudwatch.Alarm {
    const metric = this.queue.metricApproximateAgeOfOldestMessage({
      period: ALARM_PERIOD,
      statistic: cloudwatch.Stats.MAXIMUM,
    });

    return metric.createAlarm(this, 'OldestMessageAlarm', {
      alarmDescription:
        `A message has waited in ${this.definition.id} for more than ` +
        `${age.toHumanString()}: its consumer is failing or falling behind.`,
      threshold: age.toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}

/**
 * What keeps `fn` from consuming `queue` safely: a visibility timeout too
 * short for retries, an event source that would exceed the function's
 * reserved concurrency (throttled messages count as receives and reach the
 * dead-letter queue), or batch settings SQS FIFO does not take.
 */
export const consumerProblems = (
  queue: QueueDefinition,
  fn: FunctionDefinition
): string[] => {
  const source = fn.source;
  if (source === undefined) {
    return [`${fn.id} has no queue source to consume ${queue.id} with.`];
  }
  const problems: string[] = [];
  const minVisibility = VISIBILITY_TO_TIMEOUT_RATIO * fn.timeoutSeconds;
  if (queue.visibilityTimeoutSeconds < minVisibility) {
    problems.push(
      `${queue.id} visibility timeout must be at least ` +
        `${VISIBILITY_TO_TIMEOUT_RATIO} x the ${fn.id} timeout ` +
        `(${minVisibility} s), but ${queue.visibilityTimeoutSeconds} s ` +
        'was given.'
    );
  }
  const reserved = fn.reservedConcurrency;
  if (reserved !== undefined && reserved < source.maxConcurrency) {
    problems.push(
      `${fn.id} reserved concurrency (${reserved}) must be at least its ` +
        `event source maximum concurrency (${source.maxConcurrency}).`
    );
  }

  return [...problems, ...batchProblems(fn)];
};

const batchProblems = (fn: FunctionDefinition): string[] => {
  const source = fn.source;
  if (source === undefined) return [];
  const problems: string[] = [];
  const { batchSize, maxConcurrency } = source;
  // Standard queues take more only with a batching window, never set here.
  if (batchSize < 1 || batchSize > FIFO_MAX_BATCH_SIZE) {
    problems.push(
      `${fn.id} batch size must be between 1 and ${FIFO_MAX_BATCH_SIZE} ` +
        `without a batching window, but ${batchSize} was given.`
    );
  }
  if (
    maxConcurrency < MIN_MAX_CONCURRENCY ||
    maxConcurrency > MAX_MAX_CONCURRENCY
  ) {
    problems.push(
      `${fn.id} maximum concurrency must be between ` +
        `${MIN_MAX_CONCURRENCY} and ${MAX_MAX_CONCURRENCY}, but ` +
        `${maxConcurrency} was given.`
    );
  }

  return problems;
};
