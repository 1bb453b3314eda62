import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';
import type { Context } from 'aws-lambda';
import {
  type FunctionDefinition,
  type FunctionKey,
  Functions,
} from '../lib/definitions.js';
import type { LogSink } from './log-sink.js';
import { PROJECT_ROOT } from './paths.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './resources.js';

/** What each handler module exports: a Middy handler. */
export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** One function, ready to be invoked the way Lambda invokes it. */
export interface LocalFunction {
  readonly key: FunctionKey;
  readonly name: string;
  readonly definition: FunctionDefinition;
  /** The handler's result; rejects when it throws or times out. */
  invoke(event: unknown, traceId?: string): Promise<unknown>;
}

export type LocalFunctions = Record<FunctionKey, LocalFunction>;

/** Thrown when a handler runs past its function's timeout. */
export class FunctionTimeoutError extends Error {
  constructor(name: string, seconds: number) {
    super(`${name} timed out after ${seconds} s.`);
    this.name = 'FunctionTimeoutError';
  }
}

/**
 * Powertools keeps per-invocation state (log keys, batch records, metrics)
 * in Lambda's invoke store when the environment runs invocations
 * concurrently, as Lambda Managed Instances do. The local runtime runs
 * every function in one process with several batches in flight, so it
 * declares the same mode and gives each invocation its own store context.
 */
const CONCURRENT_MODE_VARIABLE = 'AWS_LAMBDA_MAX_CONCURRENCY';

/**
 * Sets the environment, then imports every function's handler module from
 * its `entry`: handlers read their configuration when they load.
 */
export const loadFunctions = async (
  env: Record<string, string>,
  sink: LogSink,
  handlers: Partial<Record<FunctionKey, Handler>> = {}
): Promise<LocalFunctions> => {
  const concurrency = Math.max(
    ...Object.values(Functions).map((fn) =>
      'source' in fn ? fn.source.maxConcurrency : 1
    )
  );
  Object.assign(process.env, env, {
    [CONCURRENT_MODE_VARIABLE]: String(concurrency),
    // Set by Lambda; Powertools reports `cold_start` only when it is.
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  });
  const store = await InvokeStore.getInstanceAsync(true);
  const result = {} as LocalFunctions;
  for (const key of Object.keys(Functions) as FunctionKey[]) {
    const definition: FunctionDefinition = Functions[key];
    const handler =
      handlers[key] ?? (await sink.capture(() => importHandler(definition)));
    result[key] = localFunction(key, definition, handler, store, sink);
  }

  return result;
};

const importHandler = async (
  definition: FunctionDefinition
): Promise<Handler> => {
  const url = pathToFileURL(resolve(PROJECT_ROOT, definition.entry)).href;
  const module = (await import(url)) as { handler?: unknown };
  if (typeof module.handler !== 'function') {
    throw new Error(`${definition.entry} does not export a handler function.`);
  }

  return module.handler as Handler;
};

const localFunction = (
  key: FunctionKey,
  definition: FunctionDefinition,
  handler: Handler,
  store: InvokeStoreBase,
  sink: LogSink
): LocalFunction => {
  const name = `wapto-local-${key}`;
  const timeoutMs = definition.timeoutSeconds * 1000;

  return {
    key,
    name,
    definition,
    invoke: (event, traceId = newTraceId()) => {
      const context = lambdaContext(name, definition);
      const keys = InvokeStoreBase.PROTECTED_KEYS;
      const run = () =>
        store.run(
          {
            [keys.REQUEST_ID]: context.awsRequestId,
            [keys.X_RAY_TRACE_ID]: traceId,
          },
          () => handler(event, context)
        );

      return withTimeout(sink.capture(run), timeoutMs, () => {
        return new FunctionTimeoutError(name, definition.timeoutSeconds);
      });
    },
  };
};

/** A context object with the fields and methods Lambda's Node runtime gives. */
const lambdaContext = (
  name: string,
  definition: FunctionDefinition
): Context => {
  const deadline = Date.now() + definition.timeoutSeconds * 1000;
  const unsupported = () => {
    throw new Error('Callback-style completion is not supported.');
  };

  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: [
      'arn:aws:lambda',
      LOCAL_REGION,
      LOCAL_ACCOUNT_ID,
      `function:${name}`,
    ].join(':'),
    memoryLimitInMB: String(definition.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: logStreamName(),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
};

const logStreamName = (): string => {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
};

/** An X-Ray trace header in the format Lambda and API Gateway pass on. */
export const newTraceId = (): string => {
  const seconds = Math.floor(Date.now() / 1000).toString(16);
  const root = `1-${seconds}-${randomBytes(12).toString('hex')}`;

  return `Root=${root};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
};

// LIMITATION: a timed-out handler keeps running in the background; only
// its result is discarded, where Lambda would freeze the environment.
const withTimeout = <T>(
  work: Promise<T>,
  timeoutMs: number,
  error: () => Error
): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), timeoutMs);
  });

  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
};
