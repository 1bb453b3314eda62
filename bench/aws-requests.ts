import {
  dynamo,
  s3,
  secretsManager,
  sqs,
} from '../lambdas/shared/adapters/clients.js';

/** An initialize-step middleware, as the SDK calls it. */
type Middleware = (
  next: (args: unknown) => Promise<unknown>,
  context: { commandName?: string }
) => (args: unknown) => Promise<unknown>;

/** Requests of one kind and the time they took, answered or not. */
export interface RequestTally {
  count: number;
  totalMs: number;
}

/**
 * Counts the AWS requests the product's clients send in this process, by
 * service and command, with the time each took. The counts are live:
 * delete keys to start again.
 */
export const countRequests = (): Record<string, RequestTally> => {
  const counts: Record<string, RequestTally> = {};
  const counter =
    (service: string): Middleware =>
    (next, context) =>
    async (args) => {
      const key = `${service}.${context.commandName}`;
      const tally = counts[key] ?? { count: 0, totalMs: 0 };
      counts[key] = tally;
      tally.count += 1;
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        tally.totalMs += performance.now() - started;
      }
    };
  // The clients type their stacks apart; the middleware fits all.
  const stacks = [
    ['DynamoDB', dynamo.middlewareStack],
    ['SQS', sqs.middlewareStack],
    ['SecretsManager', secretsManager.middlewareStack],
    ['S3', s3.middlewareStack],
  ] as const;
  for (const [service, stack] of stacks) {
    const add = stack.add.bind(stack) as unknown as (
      middleware: Middleware,
      options: { step: 'initialize' }
    ) => void;
    add(counter(service), { step: 'initialize' });
  }

  return counts;
};
