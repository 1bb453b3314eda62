import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  type EnvName,
  type FunctionDefinition,
  METRICS_NAMESPACE,
} from '../definitions.js';
import { LOG_GROUP_KMS_SKIP, skipCheckov } from './compliance.js';
import {
  BUNDLING,
  LAMBDA_ARCHITECTURE,
  LAMBDA_RUNTIME,
  NODE_OPTIONS,
  POWERTOOLS_LOG_LEVEL,
} from './defaults.js';
import { assertNoProblems } from './definition-error.js';

export interface BridgeFunctionProps {
  /** The function's description in `definitions.ts`. */
  readonly definition: FunctionDefinition;
  /** Powertools service name: the key of the function in `Functions`. */
  readonly serviceName: string;
  /**
   * Values of the product's environment variables; the function receives
   * exactly the ones its definition lists.
   */
  readonly environment: Readonly<Partial<Record<EnvName, string>>>;
  /** Days the function's log group keeps logs (may be a parameter token). */
  readonly logRetention: logs.RetentionDays;
  /** Directory that `definition.entry` and the lock file are relative to. */
  readonly projectRoot: string;
}

/**
 * One product function: a bundled Node.js handler on arm64 with its own log
 * group and its own role, which may write to that log group and nothing
 * else until the stack grants more.
 */
export class BridgeFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: BridgeFunctionProps) {
    super(scope, id);
    const environment = this.resolveEnvironment(props);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = this.createRole();
    this.function = this.createFunction(props, environment);
    this.recordScannerDecisions(props);
  }

  private resolveEnvironment(props: BridgeFunctionProps) {
    const values: Record<string, string> = {};
    const missing: string[] = [];
    for (const name of props.definition.env) {
      const value = props.environment[name];
      if (value === undefined) missing.push(name);
      else values[name] = value;
    }
    assertNoProblems(
      this,
      missing.map((name) => `Environment variable ${name} has no value.`)
    );

    return values;
  }

  private createRole(): iam.Role {
    // An own role instead of the AWS-managed basic execution policy, which
    // may write to every log group of the account.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    this.logGroup.grantWrite(role);

    return role;
  }

  private createFunction(
    props: BridgeFunctionProps,
    environment: Record<string, string>
  ): NodejsFunction {
    const { definition, projectRoot } = props;

    return new NodejsFunction(this, 'Function', {
      entry: path.join(projectRoot, definition.entry),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      runtime: LAMBDA_RUNTIME,
      architecture: LAMBDA_ARCHITECTURE,
      memorySize: definition.memoryMb,
      timeout: Duration.seconds(definition.timeoutSeconds),
      reservedConcurrentExecutions: definition.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      bundling: BUNDLING,
      environment: {
        ...environment,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL,
        NODE_OPTIONS,
      },
    });
  }

  private recordScannerDecisions(props: BridgeFunctionProps): void {
    skipCheckov(this.logGroup, LOG_GROUP_KMS_SKIP);
    if (props.definition.reservedConcurrency === undefined) {
      skipCheckov(this.function, {
        id: 'CKV_AWS_115',
        comment:
          'Concurrency is bounded by API throttling or by the event source ' +
          'maximum concurrency; a reservation would take capacity from ' +
          'every other function of the account.',
      });
    }
    skipCheckov(
      this.function,
      {
        id: 'CKV_AWS_116',
        comment:
          'Invoked synchronously (HTTP API) or by an SQS event source; ' +
          'failed records go to the queue dead-letter queues instead.',
      },
      {
        id: 'CKV_AWS_117',
        comment:
          'Calls only public AWS endpoints and the WhatsApp Graph API; a ' +
          'VPC would add NAT cost and no isolation.',
      },
      {
        id: 'CKV_AWS_173',
        comment:
          'Environment holds resource names, URLs and ids only; secrets ' +
          'are read from Secrets Manager at run time.',
      }
    );
  }
}
