import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CustomMetrics, METRICS_NAMESPACE } from '../../lib/definitions.js';

type MetricNameOf = (typeof CustomMetrics)[keyof typeof CustomMetrics][number];

/** Custom metrics every stage emits; the dashboard and alarms read them. */
export const MetricName = Object.fromEntries(
  Object.values(CustomMetrics)
    .flat()
    .map((name) => [name, name])
) as { readonly [K in MetricNameOf]: K };

/** The one Logger and Metrics setup, named after the function. */
export const observability = (serviceName: string) => ({
  logger: new Logger({ serviceName }),
  metrics: new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName,
  }),
});
