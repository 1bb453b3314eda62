import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** Custom metrics every stage emits; the dashboard and alarms read them. */
export const MetricName = {
  WebhookAccepted: 'WebhookAccepted',
  WebhookRejected: 'WebhookRejected',
  MappingFailed: 'MappingFailed',
  MessageQueued: 'MessageQueued',
  MessageSent: 'MessageSent',
  MessageFailed: 'MessageFailed',
} as const;

const NAMESPACE = 'WaptoWebhookBridge';

/** The one Logger and Metrics setup, named after the function. */
export const observability = (serviceName: string) => ({
  logger: new Logger({ serviceName }),
  metrics: new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? NAMESPACE,
    serviceName,
  }),
});
