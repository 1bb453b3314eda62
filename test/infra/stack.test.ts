import { App } from 'aws-cdk-lib';
import { describe, expect, it, vi } from 'vitest';
import { ParameterName } from '../../lib/constructs/parameters.js';
import { TOKEN_PLACEHOLDER } from '../../lib/constructs/token-secret.js';
import {
  DEFAULT_LOG_RECORD_TTL_DAYS,
  DEFAULT_THROUGHPUT_MPS,
  Routes,
} from '../../lib/definitions.js';
import { getAtt, logicalId, refTo, synthTemplate } from './stack-fixture.js';

const { stack, template } = synthTemplate();
const json = template.toJSON();
const parameter = (name: string) => json.Parameters[name];
const output = (name: string) => json.Outputs[name];
const matches = (pattern: string, value: string) =>
  new RegExp(pattern).test(value);

describe('WaptoWebhookBridgeStack', () => {
  describe('parameters', () => {
    it('requires the WhatsApp phone number id as digits', () => {
      // Act
      const phone = parameter(ParameterName.WhatsAppPhoneNumberId);

      // Assert
      expect(phone.Type).toBe('String');
      expect(phone.Default).toBeUndefined();
      expect(matches(phone.AllowedPattern, '100000000000001')).toBe(true);
      expect(matches(phone.AllowedPattern, '+15550100142')).toBe(false);
    });

    it('requires the WhatsApp Business Account id as digits', () => {
      // Act
      const account = parameter(ParameterName.WhatsAppBusinessAccountId);

      // Assert
      expect(account.Type).toBe('String');
      expect(account.Default).toBeUndefined();
      expect(matches(account.AllowedPattern, '100000000000002')).toBe(true);
      expect(matches(account.AllowedPattern, 'waba-1')).toBe(false);
    });

    it('takes an optional alarm e-mail', () => {
      // Act
      const email = parameter(ParameterName.AlarmEmail);

      // Assert
      expect(email.Default).toBe('');
      expect(matches(email.AllowedPattern, '')).toBe(true);
      expect(matches(email.AllowedPattern, 'ops@example.com')).toBe(true);
      expect(matches(email.AllowedPattern, 'not an address')).toBe(false);
    });

    it('takes a log retention CloudWatch accepts', () => {
      // Act
      const retention = parameter(ParameterName.LogRetentionDays);

      // Assert
      expect(retention.Type).toBe('Number');
      expect(retention.AllowedValues).toContain(retention.Default);
      expect(retention.AllowedValues).toEqual(
        expect.arrayContaining(['1', '30', '365', '3653'])
      );
    });

    it('takes the trace record lifetime, 30 days by default', () => {
      // Act
      const ttl = parameter(ParameterName.LogRecordTtlDays);

      // Assert
      expect(ttl).toMatchObject({
        Type: 'Number',
        Default: DEFAULT_LOG_RECORD_TTL_DAYS,
        MinValue: 1,
      });
    });

    it('takes the number throughput, 80 messages per second by default', () => {
      // Act
      const throughput = parameter(ParameterName.WhatsAppThroughput);

      // Assert
      expect(throughput).toMatchObject({
        Type: 'Number',
        Default: DEFAULT_THROUGHPUT_MPS,
        MinValue: 1,
        MaxValue: 1000,
      });
    });
  });

  describe('outputs', () => {
    const endpoint = getAtt(stack.api.api, 'ApiEndpoint');

    it('gives the API URL', () => {
      // Assert
      expect(output('ApiUrl').Value).toEqual(endpoint);
    });

    it('gives the webhook URL pattern', () => {
      // Assert
      expect(output('WebhookUrlPattern').Value).toEqual({
        'Fn::Join': ['', [endpoint, '/webhooks/{webhookId}']],
      });
    });

    it('gives the admin base URL', () => {
      // Assert
      expect(output('AdminBaseUrl').Value).toEqual({
        'Fn::Join': ['', [endpoint, '/admin']],
      });
    });

    it('gives the token secret ARN and the dashboard name', () => {
      // Arrange
      const dashboard = Object.keys(
        template.findResources('AWS::CloudWatch::Dashboard')
      )[0];

      // Assert
      expect(output('WhatsAppTokenSecretArn').Value).toEqual(
        refTo(stack.tokenSecret)
      );
      expect(output('DashboardName').Value).toEqual({ Ref: dashboard });
    });
  });

  describe('WhatsApp token secret', () => {
    it('starts with a placeholder, never a token', () => {
      // Act
      const secret = json.Resources[logicalId(stack.tokenSecret)].Properties;

      // Assert
      expect(secret.SecretString).toBe(TOKEN_PLACEHOLDER);
      expect(secret.Description).toContain('put-secret-value');
    });
  });

  describe('WhatsApp app secret', () => {
    it('starts with a generated verify token and no app secret', () => {
      // Act
      const secret = json.Resources[logicalId(stack.appSecret)].Properties;

      // Assert
      expect(secret.SecretString).toBeUndefined();
      expect(secret.GenerateSecretString).toMatchObject({
        SecretStringTemplate: JSON.stringify({ appSecret: '' }),
        GenerateStringKey: 'verifyToken',
        ExcludePunctuation: true,
      });
      expect(secret.Description).toContain('"appSecret"');
    });

    it('is named in the outputs with the callback URL', () => {
      // Act
      const endpoint = getAtt(stack.api.api, 'ApiEndpoint');

      // Assert
      expect(output('WhatsAppAppSecretArn').Value).toEqual(
        refTo(stack.appSecret)
      );
      expect(output('StatusCallbackUrl').Value).toEqual({
        'Fn::Join': ['', [endpoint, '/whatsapp/events']],
      });
    });
  });

  it('creates exactly the expected resources', () => {
    // Arrange
    const expected: Record<string, number> = {
      'AWS::ApiGatewayV2::Api': 1,
      'AWS::ApiGatewayV2::Integration': 3,
      'AWS::ApiGatewayV2::Route': Routes.length,
      'AWS::ApiGatewayV2::Stage': 1,
      'AWS::CloudWatch::Alarm': 13,
      'AWS::CloudWatch::Dashboard': 1,
      'AWS::DynamoDB::Table': 2,
      'AWS::IAM::Policy': 6,
      'AWS::IAM::Role': 6,
      'AWS::KMS::Key': 1,
      'AWS::Lambda::EventSourceMapping': 3,
      'AWS::Lambda::Function': 6,
      // API Gateway gets one invoke permission per route.
      'AWS::Lambda::Permission': Routes.length,
      'AWS::Logs::LogGroup': 7,
      'AWS::Logs::QueryDefinition': 2,
      'AWS::S3::Bucket': 1,
      'AWS::S3::BucketPolicy': 1,
      'AWS::SNS::Subscription': 1,
      'AWS::SNS::Topic': 1,
      'AWS::SNS::TopicPolicy': 1,
      'AWS::SQS::Queue': 6,
      'AWS::SQS::QueuePolicy': 6,
      'AWS::SecretsManager::Secret': 2,
    };

    // Act
    const counts: Record<string, number> = {};
    for (const resource of Object.values(json.Resources) as {
      Type: string;
    }[]) {
      counts[resource.Type] = (counts[resource.Type] ?? 0) + 1;
    }

    // Assert
    expect(counts).toEqual(expected);
  });

  describe('with definitions that cannot work', () => {
    it('refuses a sender that reserves less than its event source', async () => {
      // Arrange
      vi.resetModules();
      vi.doMock('../../lib/definitions.js', async (importOriginal) => {
        const original =
          await importOriginal<typeof import('../../lib/definitions.js')>();
        const sender = { ...original.Functions.sender, reservedConcurrency: 4 };

        return {
          ...original,
          Functions: { ...original.Functions, sender },
        };
      });
      const { WaptoWebhookBridgeStack } = await import('../../lib/stack.js');
      const errors = await import('../../lib/constructs/definition-error.js');
      const context = { 'aws:cdk:bundling-stacks': [] };

      // Act
      const act = () =>
        new WaptoWebhookBridgeStack(new App({ context }), 'Broken');

      // Assert
      expect(act).toThrow(errors.DefinitionError);
      expect(act).toThrow(
        /Broken\/OutboundQueue: SenderFunction reserved concurrency \(4\) must be at least its event source maximum concurrency \(10\)/
      );
      vi.doUnmock('../../lib/definitions.js');
    });
  });
});
