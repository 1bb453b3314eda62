import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { BridgeFunction } from '../../lib/constructs/bridge-function.js';
import {
  Env,
  type EnvName,
  type FunctionDefinition,
  type FunctionKey,
  Functions,
  METRICS_NAMESPACE,
  WHATSAPP_API_URL,
  WHATSAPP_API_VERSION,
} from '../../lib/definitions.js';
import {
  CONCURRENCY_QUOTA_CHECKED,
  WaptoWebhookBridgeStack,
} from '../../lib/stack.js';
import {
  getAtt,
  logicalId,
  refTo,
  STACK_NAME,
  synthTemplate,
} from './stack-fixture.js';

const { stack, template } = synthTemplate();
const resources = template.toJSON().Resources;
const functionKeys = Object.keys(Functions) as FunctionKey[];

const propsOf = (key: FunctionKey) =>
  resources[logicalId(stack.functions[key].function)].Properties;

const envOf = (key: FunctionKey): Record<string, unknown> =>
  propsOf(key).Environment.Variables;

describe('BridgeFunction', () => {
  it('creates one function per definition', () => {
    // Assert
    template.resourceCountIs('AWS::Lambda::Function', functionKeys.length);
  });

  it.each(functionKeys)('runs %s on nodejs24.x on arm64', (key) => {
    // Act
    const fn = propsOf(key);

    // Assert
    expect(fn.Runtime).toBe('nodejs24.x');
    expect(fn.Architectures).toEqual(['arm64']);
    expect(fn.Handler).toBe('index.handler');
  });

  it.each(functionKeys)('gives %s the timeout and memory it defines', (key) => {
    // Act
    const fn = propsOf(key);

    // Assert
    expect(fn.Timeout).toBe(Functions[key].timeoutSeconds);
    expect(fn.MemorySize).toBe(Functions[key].memoryMb);
  });

  it.each(functionKeys)('sets reserved concurrency of %s as defined', (key) => {
    // Arrange
    const definition: FunctionDefinition = Functions[key];

    // Act
    const fn = propsOf(key);

    // Assert
    expect(fn.ReservedConcurrentExecutions).toBe(
      definition.reservedConcurrency
    );
  });

  it.each(functionKeys)('gives %s exactly its listed variables', (key) => {
    // Arrange
    const own = [
      'POWERTOOLS_SERVICE_NAME',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_LOG_LEVEL',
      'NODE_OPTIONS',
    ];

    // Act
    const names = Object.keys(envOf(key));

    // Assert
    expect(names.sort()).toEqual([...Functions[key].env, ...own].sort());
  });

  it.each(functionKeys)(
    'configures Powertools and source maps of %s',
    (key) => {
      // Act
      const env = envOf(key);

      // Assert
      expect(env).toMatchObject({
        POWERTOOLS_SERVICE_NAME: key,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      });
    }
  );

  it('points every variable at the resource or value it names', () => {
    // Arrange
    const expected: Record<EnvName, unknown> = {
      [Env.ConfigTable]: { Ref: Match.stringLikeRegexp('^ConfigTable') },
      [Env.LogTable]: { Ref: Match.stringLikeRegexp('^LogTable') },
      [Env.IngestQueueUrl]: { Ref: Match.stringLikeRegexp('^IngestQueue') },
      [Env.OutboundQueueUrl]: {
        Ref: Match.stringLikeRegexp('^OutboundQueue'),
      },
      [Env.DelayQueueUrl]: { Ref: Match.stringLikeRegexp('^DelayQueue') },
      [Env.DelayHopSeconds]: '900',
      [Env.WebhookSecretPrefix]: `wapto/${STACK_NAME}/webhooks/`,
      [Env.WhatsAppTokenSecret]: refTo(stack.tokenSecret),
      [Env.WhatsAppPhoneNumberId]: { Ref: 'WhatsAppPhoneNumberId' },
      [Env.WhatsAppBusinessAccountId]: { Ref: 'WhatsAppBusinessAccountId' },
      [Env.WhatsAppApiUrl]: WHATSAPP_API_URL,
      [Env.WhatsAppApiVersion]: WHATSAPP_API_VERSION,
      [Env.PublicBaseUrl]: getAtt(stack.api.api, 'ApiEndpoint'),
      [Env.LogRecordTtlDays]: { Ref: 'LogRecordTtlDays' },
      [Env.PayloadBucket]: { Ref: Match.stringLikeRegexp('^PayloadBucket') },
      [Env.WhatsAppAppSecret]: refTo(stack.appSecret),
      [Env.OutboundDeadLetterQueueUrl]: {
        Ref: Match.stringLikeRegexp('^OutboundQueueDeadLetterQueue'),
      },
      [Env.WhatsAppThroughput]: { Ref: 'WhatsAppThroughput' },
      [Env.IngestDeadLetterQueueUrl]: {
        Ref: Match.stringLikeRegexp('^IngestQueueDeadLetterQueue'),
      },
      [Env.DelayDeadLetterQueueUrl]: {
        Ref: Match.stringLikeRegexp('^DelayQueueDeadLetterQueue'),
      },
    };

    // Assert
    for (const key of functionKeys) {
      const variables = Object.fromEntries(
        Functions[key].env.map((name) => [name, expected[name]])
      );
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: Match.absent(),
        Role: getAtt(stack.functions[key].role, 'Arn'),
        Environment: { Variables: Match.objectLike(variables) },
      });
    }
  });

  it.each(functionKeys)('sends %s logs to its own log group', (key) => {
    // Arrange
    const created = stack.functions[key];

    // Act
    const fn = propsOf(key);

    // Assert
    expect(fn.LoggingConfig).toEqual({ LogGroup: refTo(created.logGroup) });
    expect(
      resources[logicalId(created.logGroup)].Properties.RetentionInDays
    ).toEqual({ Ref: 'LogRetentionDays' });
  });

  it.each(functionKeys)('gives %s a role with no managed policy', (key) => {
    // Act
    const role = resources[logicalId(stack.functions[key].role)].Properties;

    // Assert
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
      },
    ]);
  });

  it('refuses a definition whose variables have no value', () => {
    // Arrange
    const scope = new Stack(new App(), 'Bare');
    const props = {
      definition: Functions.sender,
      serviceName: 'sender',
      environment: { [Env.LogTable]: 'logs' },
      logRetention: RetentionDays.ONE_DAY,
      projectRoot: process.cwd(),
    };

    // Act
    const act = () => new BridgeFunction(scope, 'Sender', props);

    // Assert
    expect(act).toThrow(
      /Bare\/Sender: Environment variable WHATSAPP_TOKEN_SECRET_ID has no value\./
    );
  });

  it('stays quiet about concurrency once the quota is checked', () => {
    // Arrange
    const app = new App({
      context: {
        'aws:cdk:bundling-stacks': [],
        [CONCURRENCY_QUOTA_CHECKED]: 'true',
      },
    });

    // Act
    const checked = new WaptoWebhookBridgeStack(app, 'Checked');

    // Assert
    Annotations.fromStack(checked).hasNoWarning('*', Match.anyValue());
  });

  it('warns at synth that the sender reserves account concurrency', () => {
    // Arrange
    const annotations = Annotations.fromStack(stack);

    // Assert
    annotations.hasWarning(
      `/${STACK_NAME}/${Functions.sender.id}`,
      Match.stringLikeRegexp('SenderFunction reserves 10 concurrent executions')
    );
  });
});
