import { Duration, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../../lib/constructs/definition-error.js';
import {
  consumerProblems,
  QueueWorker,
} from '../../lib/constructs/queue-worker.js';
import {
  type FunctionDefinition,
  type FunctionKey,
  Functions,
  type QueueDefinition,
  type QueueKey,
  type QueueSource,
  Queues,
} from '../../lib/definitions.js';
import { getAtt, logicalId, refTo, synthTemplate } from './stack-fixture.js';

const { stack, template } = synthTemplate();
const resources = template.toJSON().Resources;
const queueKeys = Object.keys(Queues) as QueueKey[];
const consumerKeys = (Object.keys(Functions) as FunctionKey[]).filter(
  (key) => 'source' in Functions[key]
);

const sourceOf = (key: FunctionKey): QueueSource => {
  const definition: FunctionDefinition = Functions[key];
  if (definition.source === undefined) throw new Error(`${key}: no source`);

  return definition.source;
};

const workerOf = (key: QueueKey) =>
  stack.node.findChild(Queues[key].id) as QueueWorker;

const propsOf = (construct: Parameters<typeof logicalId>[0]) =>
  resources[logicalId(construct)].Properties;

describe('QueueWorker', () => {
  describe('in the product stack', () => {
    it('creates a queue and a dead-letter queue of its type per queue', () => {
      // Act
      const types = queueKeys.map((key) => [
        key,
        propsOf(workerOf(key).queue).FifoQueue,
        propsOf(workerOf(key).deadLetterQueue).FifoQueue,
      ]);

      // Assert
      template.resourceCountIs('AWS::SQS::Queue', queueKeys.length * 2);
      expect(types).toEqual([
        ['ingest', true, true],
        ['outbound', true, true],
        // Held messages need a per-message delay, which FIFO does not take.
        ['delay', undefined, undefined],
      ]);
    });

    it.each(queueKeys)('encrypts the %s queues with SSE-SQS', (key) => {
      // Arrange
      const worker = workerOf(key);

      // Act
      const queue = propsOf(worker.queue);
      const deadLetters = propsOf(worker.deadLetterQueue);

      // Assert
      expect(queue.SqsManagedSseEnabled).toBe(true);
      expect(deadLetters.SqsManagedSseEnabled).toBe(true);
    });

    it.each(queueKeys)(
      'refuses requests to the %s queues without TLS',
      (key) => {
        // Arrange
        const worker = workerOf(key);

        // Assert
        for (const queue of [worker.queue, worker.deadLetterQueue]) {
          template.hasResourceProperties('AWS::SQS::QueuePolicy', {
            Queues: [refTo(queue)],
            PolicyDocument: {
              Statement: Match.arrayWith([
                Match.objectLike({
                  Effect: 'Deny',
                  Action: 'sqs:*',
                  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
                }),
              ]),
            },
          });
        }
      }
    );

    it.each(queueKeys)(
      'moves a %s message to its dead-letter queue after maxReceiveCount',
      (key) => {
        // Arrange
        const worker = workerOf(key);

        // Act
        const queue = propsOf(worker.queue);

        // Assert
        expect(queue.RedrivePolicy).toEqual({
          deadLetterTargetArn: getAtt(worker.deadLetterQueue, 'Arn'),
          maxReceiveCount: Queues[key].maxReceiveCount,
        });
      }
    );

    it.each(queueKeys)(
      'sets visibility, retention and message size of %s explicitly',
      (key) => {
        // Arrange
        const definition = Queues[key];

        // Act
        const queue = propsOf(workerOf(key).queue);

        // Assert
        expect(queue).toMatchObject({
          VisibilityTimeout: definition.visibilityTimeoutSeconds,
          MessageRetentionPeriod: definition.retentionSeconds,
          MaximumMessageSize: definition.maxMessageBytes,
        });
      }
    );

    it.each(queueKeys)(
      'lets the %s dead-letter queue hold the largest message',
      (key) => {
        // Act
        const deadLetters = propsOf(workerOf(key).deadLetterQueue);

        // Assert
        expect(deadLetters.MaximumMessageSize).toBe(
          Queues[key].maxMessageBytes
        );
      }
    );

    it.each(consumerKeys)(
      'feeds the %s function in partial batches from its queue',
      (key) => {
        // Arrange
        const source = sourceOf(key);
        const queue = workerOf(source.queue).queue;

        // Assert
        template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          EventSourceArn: getAtt(queue, 'Arn'),
          FunctionName: refTo(stack.functions[key].function),
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          BatchSize: source.batchSize,
          ScalingConfig: { MaximumConcurrency: source.maxConcurrency },
        });
      }
    );

    it('connects exactly one event source per consumer', () => {
      // Assert
      template.resourceCountIs(
        'AWS::Lambda::EventSourceMapping',
        consumerKeys.length
      );
    });

    it.each(consumerKeys)(
      'gives the queue of %s six function timeouts of visibility',
      (key) => {
        // Arrange
        const fn = propsOf(stack.functions[key].function);

        // Act
        const queue = propsOf(workerOf(sourceOf(key).queue).queue);

        // Assert
        expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Timeout);
      }
    );

    it('reserves at least the sender event source maximum concurrency', () => {
      // Arrange
      const source = sourceOf('sender');
      const sender = propsOf(stack.functions.sender.function);

      // Assert
      expect(sender.ReservedConcurrentExecutions).toBeGreaterThanOrEqual(
        source.maxConcurrency
      );
    });
  });

  describe('addConsumer', () => {
    const bareWorker = (definition: QueueDefinition = Queues.outbound) => {
      const scope = new Stack();
      const worker = new QueueWorker(scope, 'Worker', {
        definition,
        alarmAction: new SnsAction(new sns.Topic(scope, 'Topic')),
        oldestMessageAlarmAge: Duration.minutes(5),
      });
      const fn = new lambda.Function(scope, 'Fn', {
        runtime: lambda.Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('exports.handler = async () => ({});'),
      });

      return { worker, fn };
    };

    it('throws when reserved concurrency is below maximum concurrency', () => {
      // Arrange
      const { worker, fn } = bareWorker();
      const sender = { ...Functions.sender, reservedConcurrency: 5 };

      // Act
      const act = () => worker.addConsumer(fn, sender);

      // Assert
      expect(act).toThrow(DefinitionError);
      expect(act).toThrow(
        /SenderFunction reserved concurrency \(5\) must be at least its event source maximum concurrency \(10\)/
      );
    });

    it('throws when visibility is below six function timeouts', () => {
      // Arrange
      const { worker, fn } = bareWorker({
        ...Queues.outbound,
        visibilityTimeoutSeconds: 179,
      });

      // Act
      const act = () => worker.addConsumer(fn, Functions.sender);

      // Assert
      expect(act).toThrow(
        /OutboundQueue visibility timeout must be at least 6 x the SenderFunction timeout \(180 s\), but 179 s was given/
      );
    });

    it('adds no event source when the definition is rejected', () => {
      // Arrange
      const { worker, fn } = bareWorker();
      const sender = { ...Functions.sender, reservedConcurrency: 1 };

      // Act
      expect(() => worker.addConsumer(fn, sender)).toThrow();

      // Assert
      const mappings = Stack.of(worker)
        .node.findAll()
        .filter((child) => child instanceof lambda.CfnEventSourceMapping);
      expect(mappings).toEqual([]);
    });
  });

  describe('consumerProblems', () => {
    it('finds no problem in the product definitions', () => {
      // Act
      const problems = consumerKeys.flatMap((key) =>
        consumerProblems(Queues[sourceOf(key).queue], Functions[key])
      );

      // Assert
      expect(problems).toEqual([]);
    });

    it('lists every problem of a definition at once', () => {
      // Arrange
      const broken: FunctionDefinition = {
        ...Functions.sender,
        timeoutSeconds: 60,
        reservedConcurrency: 2,
        source: { queue: 'outbound', batchSize: 11, maxConcurrency: 1 },
      };

      // Act
      const problems = consumerProblems(Queues.outbound, broken);

      // Assert
      expect(problems).toHaveLength(3);
      expect(problems.join(' ')).toMatch(/visibility timeout/);
      expect(problems.join(' ')).toMatch(/batch size must be between 1 and 10/);
      expect(problems.join(' ')).toMatch(
        /maximum concurrency must be between 2 and 1000, but 1 was given/
      );
    });

    it('rejects a function without a queue source', () => {
      // Act
      const problems = consumerProblems(Queues.ingest, Functions.verifier);

      // Assert
      expect(problems).toEqual([
        'VerifierFunction has no queue source to consume IngestQueue with.',
      ]);
    });
  });
});
