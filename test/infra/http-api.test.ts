import { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { BridgeHttpApi } from '../../lib/constructs/http-api.js';
import {
  Routes,
  routeKey,
  WEBHOOK_ROUTE_THROTTLE,
} from '../../lib/definitions.js';
import { logicalId, synthTemplate } from './stack-fixture.js';

const { stack, template } = synthTemplate();
const api = stack.api;
const publicRoutes = Routes.filter((route) => route.auth === 'none');
const iamRoutes = Routes.filter((route) => route.auth === 'iam');
const [webhookRoute] = publicRoutes;
if (webhookRoute === undefined) throw new Error('No public route defined.');

const routeResource = (key: string) => {
  const routes = template.findResources('AWS::ApiGatewayV2::Route', {
    Properties: { RouteKey: key },
  });

  return Object.values(routes)[0]?.Properties;
};

const stageProps = () =>
  template.toJSON().Resources[logicalId(api.stage)].Properties;

describe('BridgeHttpApi', () => {
  it('creates one HTTP API with one route per route definition', () => {
    // Assert
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
    });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', Routes.length);
  });

  it.each(publicRoutes.map(routeKey))('leaves %s public', (key) => {
    // Act
    const route = routeResource(key);

    // Assert
    expect(route.AuthorizationType).toBe('NONE');
  });

  it.each(iamRoutes.map(routeKey))('requires IAM signatures on %s', (key) => {
    // Act
    const route = routeResource(key);

    // Assert
    expect(route.AuthorizationType).toBe('AWS_IAM');
  });

  it.each(Routes)('sends $method $path to the $target function', (route) => {
    // Arrange
    const target = stack.functions[route.target].function;
    const integrations = template.findResources(
      'AWS::ApiGatewayV2::Integration',
      {
        Properties: {
          IntegrationUri: { 'Fn::GetAtt': [logicalId(target), 'Arn'] },
        },
      }
    );

    // Act
    const integration = routeResource(routeKey(route)).Target;

    // Assert
    expect(Object.keys(integrations)).toHaveLength(1);
    expect(integration).toEqual({
      'Fn::Join': [
        '',
        ['integrations/', { Ref: Object.keys(integrations)[0] }],
      ],
    });
  });

  it('deploys a $default stage automatically', () => {
    // Act
    const stage = stageProps();

    // Assert
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    expect(stage.StageName).toBe('$default');
    expect(stage.AutoDeploy).toBe(true);
  });

  it('throttles every route of the stage by default', () => {
    // Act
    const stage = stageProps();

    // Assert
    expect(stage.DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: expect.any(Number),
      ThrottlingBurstLimit: expect.any(Number),
    });
  });

  it('throttles every public route (webhooks, Meta callbacks) with its own limits', () => {
    // Arrange
    const limits = {
      ThrottlingRateLimit: WEBHOOK_ROUTE_THROTTLE.rate,
      ThrottlingBurstLimit: WEBHOOK_ROUTE_THROTTLE.burst,
    };
    const publicKeys = Routes.filter((route) => route.auth === 'none').map(
      routeKey
    );

    // Act
    const stage = stageProps();

    // Assert
    expect(publicKeys).toEqual([
      'POST /webhooks/{webhookId}',
      'GET /webhooks/{webhookId}',
      'ANY /webhooks/{webhookId}',
      'POST /whatsapp/events',
      'GET /whatsapp/events',
      'ANY /whatsapp/events',
    ]);
    expect(stage.RouteSettings).toEqual(
      Object.fromEntries(publicKeys.map((key) => [key, limits]))
    );
  });

  it('creates the stage only after the throttled route exists', () => {
    // Arrange
    const routes = template.findResources('AWS::ApiGatewayV2::Route', {
      Properties: { RouteKey: routeKey(webhookRoute) },
    });

    // Act
    const dependsOn = template.toJSON().Resources[logicalId(api.stage)]
      .DependsOn as string[];

    // Assert
    expect(dependsOn).toEqual(expect.arrayContaining(Object.keys(routes)));
  });

  it('writes JSON access logs to its own log group', () => {
    // Act
    const settings = stageProps().AccessLogSettings;
    const format = JSON.parse(settings.Format);

    // Assert
    expect(settings.DestinationArn).toEqual({
      'Fn::GetAtt': [logicalId(api.accessLogGroup), 'Arn'],
    });
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      integrationError: '$context.integrationErrorMessage',
    });
  });

  it('keeps access logs for the configured number of days', () => {
    // Assert
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: { Ref: 'LogRetentionDays' },
    });
    expect(
      template.toJSON().Resources[logicalId(api.accessLogGroup)].Properties
        .RetentionInDays
    ).toEqual({ Ref: 'LogRetentionDays' });
  });

  it('lets the API invoke each function only through its own routes', () => {
    // Assert
    template.resourceCountIs('AWS::Lambda::Permission', Routes.length);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: Match.objectLike({
        'Fn::GetAtt': [logicalId(stack.functions.verifier.function), 'Arn'],
      }),
      SourceArn: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith(['/*/*/webhooks/{webhookId}'])],
      }),
    });
  });
});

describe('BridgeHttpApi.addRoutes', () => {
  it('refuses a throttle for a route that does not exist', () => {
    // Arrange
    const scope = new Stack();
    const bare = new BridgeHttpApi(scope, 'Api', {
      defaultThrottle: { rate: 1, burst: 2 },
      logRetention: RetentionDays.ONE_DAY,
    });
    const throttles = { 'POST /nowhere': WEBHOOK_ROUTE_THROTTLE };
    const targets = {
      verifier: stack.functions.verifier.function,
      mapper: stack.functions.mapper.function,
      sender: stack.functions.sender.function,
      admin: stack.functions.admin.function,
      status: stack.functions.status.function,
      release: stack.functions.release.function,
    };

    // Act
    const act = () => bare.addRoutes([], targets, throttles);

    // Assert
    expect(act).toThrow(/The throttle for 'POST \/nowhere' names no route/);
  });
});
