import { Lazy, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  type FunctionKey,
  type RouteDefinition,
  routeKey,
} from '../definitions.js';
import {
  acknowledgeNag,
  LOG_GROUP_KMS_SKIP,
  skipCheckov,
} from './compliance.js';
import { assertNoProblems } from './definition-error.js';

/** Requests per second (and burst) a route takes when it sets no own limit. */
export interface RouteThrottle {
  readonly rate: number;
  readonly burst: number;
}

export interface BridgeHttpApiProps {
  /** Throttle of every route that has no own throttle. */
  readonly defaultThrottle: RouteThrottle;
  /** Days the access log keeps entries (may be a parameter token). */
  readonly logRetention: logs.RetentionDays;
}

/**
 * Fields of the JSON access log. HTTP API fills each `$context` variable at
 * request time; no query string, header or body is logged.
 */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  callerArn: '$context.identity.userArn',
  routeKey: '$context.routeKey',
  path: '$context.path',
  status: '$context.status',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
};

/**
 * The product's HTTP API: one `$default` stage with throttling and JSON
 * access logs, and one route per route definition, public or IAM-signed.
 */
export class BridgeHttpApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogGroup: logs.LogGroup;
  private readonly routeThrottles: Record<string, RouteThrottle> = {};
  private readonly iamAuthorizer = new HttpIamAuthorizer();

  constructor(scope: Construct, id: string, props: BridgeHttpApiProps) {
    super(scope, id);
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'Provider webhooks in, admin API (IAM) for the bridge.',
      createDefaultStage: false,
    });
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    skipCheckov(this.accessLogGroup, LOG_GROUP_KMS_SKIP);
    this.stage = this.createStage(props.defaultThrottle);
  }

  /** The API's base URL, without a trailing slash. */
  get endpoint(): string {
    return this.api.apiEndpoint;
  }

  /**
   * Adds one route per definition, integrated with its target function.
   *
   * @param throttles own throttles of some routes, by route key
   * @throws {DefinitionError} when a throttle names no route
   */
  addRoutes(
    routes: readonly RouteDefinition[],
    targets: Readonly<Record<FunctionKey, lambda.IFunction>>,
    throttles: Readonly<Record<string, RouteThrottle>> = {}
  ): void {
    const keys = new Set(routes.map(routeKey));
    assertNoProblems(
      this,
      Object.keys(throttles)
        .filter((key) => !keys.has(key))
        .map((key) => `The throttle for '${key}' names no route.`)
    );
    const integrations = new Map<FunctionKey, HttpLambdaIntegration>();
    for (const route of routes) {
      let integration = integrations.get(route.target);
      if (integration === undefined) {
        integration = new HttpLambdaIntegration(
          `${route.target}-integration`,
          targets[route.target]
        );
        integrations.set(route.target, integration);
      }
      this.addRoute(route, integration, throttles[routeKey(route)]);
    }
  }

  private addRoute(
    route: RouteDefinition,
    integration: HttpLambdaIntegration,
    throttle: RouteThrottle | undefined
  ): void {
    const [created] = this.api.addRoutes({
      path: route.path,
      methods: [apigwv2.HttpMethod[route.method]],
      integration,
      authorizer: route.auth === 'iam' ? this.iamAuthorizer : undefined,
    });
    if (created === undefined) return;
    if (route.auth === 'none') this.recordPublicRoute(created);
    if (throttle !== undefined) {
      this.routeThrottles[routeKey(route)] = throttle;
      // Route settings name a route key the stage can only find once the
      // route exists.
      this.stage.node.addDependency(created);
    }
  }

  private createStage(defaultThrottle: RouteThrottle): apigwv2.HttpStage {
    const stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: {
        rateLimit: defaultThrottle.rate,
        burstLimit: defaultThrottle.burst,
      },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    const cfnStage = stage.node.defaultChild as apigwv2.CfnStage;
    cfnStage.routeSettings = Lazy.any({
      produce: () => this.renderRouteSettings(),
    });

    return stage;
  }

  private renderRouteSettings() {
    const entries = Object.entries(this.routeThrottles);
    if (entries.length === 0) return undefined;

    return Object.fromEntries(
      entries.map(([key, throttle]) => [
        key,
        {
          ThrottlingRateLimit: throttle.rate,
          ThrottlingBurstLimit: throttle.burst,
        },
      ])
    );
  }

  private recordPublicRoute(route: apigwv2.HttpRoute): void {
    const reason =
      'Webhook providers and Meta cannot sign requests with AWS ' +
      'credentials; each request carries the sender HMAC signature, which ' +
      'the verifier (webhook secret) or the status function (app secret) ' +
      'checks before anything is queued or written.';
    acknowledgeNag(route, { id: 'AwsSolutions-APIG4', reason });
    skipCheckov(route, { id: 'CKV_AWS_309', comment: reason });
  }
}
