import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WaptoWebhookBridgeStack } from '../lib/stack.js';

/** Stack name unless `-c stackName=...` picks another (one per stage). */
const DEFAULT_STACK_NAME = 'WaptoWebhookBridge';

const app = new App();
const stackName =
  (app.node.tryGetContext('stackName') as string | undefined) ??
  DEFAULT_STACK_NAME;

new WaptoWebhookBridgeStack(app, stackName, {
  description: 'Wapto webhook bridge: provider webhooks to WhatsApp messages.',
});

Tags.of(app).add('app', 'wapto-webhook-bridge');
Tags.of(app).add('stack', stackName);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
