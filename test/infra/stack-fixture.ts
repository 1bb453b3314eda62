import { mkdtempSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { WaptoWebhookBridgeStack } from '../../lib/stack.js';
import { scratchFolder } from '../scratch.js';

export const STACK_NAME = 'WaptoTest';

/** The context `cdk synth` runs with (feature flags), read from cdk.json. */
const CDK_CONTEXT = (
  JSON.parse(
    readFileSync(path.resolve(import.meta.dirname, '../../cdk.json'), 'utf8')
  ) as { context: Record<string, unknown> }
).context;

export interface FixtureOptions {
  /**
   * Whether handlers are really bundled with esbuild (slow); otherwise the
   * stack is synthesised with bundling skipped.
   * @default false
   */
  readonly bundle?: boolean;
  /** Configures the app before the stack is synthesised (e.g. plugins). */
  readonly prepare?: (app: App) => void;
}

export interface StackFixture {
  readonly app: App;
  readonly stack: WaptoWebhookBridgeStack;
  readonly outdir: string;
}

/** A fresh app with the product stack, writing into its own temp dir. */
export const buildStack = (options: FixtureOptions = {}): StackFixture => {
  const outdir = mkdtempSync(path.join(scratchFolder(), 'cdk-'));
  const app = new App({
    outdir,
    context: {
      ...CDK_CONTEXT,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  options.prepare?.(app);
  const stack = new WaptoWebhookBridgeStack(app, STACK_NAME);

  return { app, stack, outdir };
};

/** The synthesised template of the product stack, bundling skipped. */
export const synthTemplate = (): {
  stack: WaptoWebhookBridgeStack;
  template: Template;
} => {
  const { stack } = buildStack();

  return { stack, template: Template.fromStack(stack) };
};

/** The logical id CloudFormation knows `construct` by. */
export const logicalId = (construct: IConstruct): string => {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;

  return Stack.of(construct).getLogicalId(element);
};

/** `{ Ref: id }` of a construct, as the template writes references. */
export const refTo = (construct: IConstruct) => ({ Ref: logicalId(construct) });

/** `{ Fn::GetAtt: [id, attribute] }` of a construct. */
export const getAtt = (construct: IConstruct, attribute: string) => ({
  'Fn::GetAtt': [logicalId(construct), attribute],
});

export interface PolicyStatement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

/** Every statement of the identity policies attached to `role`. */
export const statementsOfRole = (
  template: Template,
  role: IConstruct
): PolicyStatement[] => {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [refTo(role)] },
  });

  return Object.values(policies).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[]
  );
};

/** Whether any part of `value` mentions the logical id of `construct`. */
export const mentions = (value: unknown, construct: IConstruct): boolean =>
  JSON.stringify(value).includes(`"${logicalId(construct)}"`);
