import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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
  invoke(event: unknown): Promise<unknown>;
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
 * Thrown by a wrapped handler to stand for its execution environment dying
 * mid-invocation (a crash, an out-of-memory kill): the invocation fails
 * and the environment is dropped, as Lambda drops it.
 */
export class EnvironmentCrash extends Error {
  override name = 'EnvironmentCrash';
}

/** Wraps each loaded handler of a function, e.g. to inject faults. */
export type HandlerWrapper = (handler: Handler) => Handler;

/** Environments a function without a queue source may run at once. */
const HTTP_FUNCTION_ENVIRONMENTS = 10;

/**
 * Sets the environment, then imports every function's handler module from
 * its `entry`: handlers read their configuration when they load.
 */
export const loadFunctions = async (
  env: Record<string, string>,
  sink: LogSink,
  handlers: Partial<Record<FunctionKey, Handler>> = {},
  wrappers: Partial<Record<FunctionKey, HandlerWrapper>> = {}
): Promise<LocalFunctions> => {
  Object.assign(process.env, env, {
    // Set by Lambda; Powertools reports `cold_start` only when it is.
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  });
  const result = {} as LocalFunctions;
  for (const key of Object.keys(Functions) as FunctionKey[]) {
    const definition: FunctionDefinition = Functions[key];
    const given = handlers[key];
    const wrap = wrappers[key] ?? ((handler: Handler) => handler);
    const load = async (environment: number): Promise<Handler> =>
      wrap(
        given ??
          (await sink.capture(() => importHandler(definition, environment)))
      );
    // The first environment loads now, so a broken handler fails at start.
    const pool = new EnvironmentPool(
      await load(0),
      load,
      environmentLimit(definition)
    );
    result[key] = localFunction(key, definition, pool, sink);
  }

  return result;
};

const environmentLimit = (definition: FunctionDefinition): number =>
  definition.reservedConcurrency ??
  definition.source?.maxConcurrency ??
  HTTP_FUNCTION_ENVIRONMENTS;

/**
 * Lambda runs each invocation in an execution environment of its own, one
 * at a time; concurrency means more environments. Each local environment
 * is a separate instance of the handler module, so module state (loggers,
 * metrics, caches) is never shared between invocations in flight.
 */
class EnvironmentPool {
  readonly #idle: Handler[] = [];
  readonly #waiting: ((handler: Handler) => void)[] = [];
  #created = 1;

  constructor(
    first: Handler,
    private readonly load: (environment: number) => Promise<Handler>,
    private readonly limit: number
  ) {
    this.#idle.push(first);
  }

  async acquire(): Promise<Handler> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#created < this.limit) return this.load(this.#created++);

    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(handler: Handler): void {
    const next = this.#waiting.shift();
    if (next) next(handler);
    else this.#idle.push(handler);
  }

  /** Drops an environment that timed out, as Lambda does. */
  discard(): void {
    this.#created--;
    const next = this.#waiting.shift();
    if (next) void this.acquire().then(next);
  }
}

const importHandler = async (
  definition: FunctionDefinition,
  environment: number
): Promise<Handler> => {
  const file = pathToFileURL(resolve(PROJECT_ROOT, definition.entry)).href;
  // A query string gives the module a separate instance per environment.
  const url = environment === 0 ? file : `${file}?environment=${environment}`;
  const module = (await import(url)) as { handler?: unknown };
  if (typeof module.handler !== 'function') {
    throw new Error(`${definition.entry} does not export a handler function.`);
  }

  return module.handler as Handler;
};

const localFunction = (
  key: FunctionKey,
  definition: FunctionDefinition,
  pool: EnvironmentPool,
  sink: LogSink
): LocalFunction => {
  const name = `wapto-local-${key}`;
  const timeoutMs = definition.timeoutSeconds * 1000;

  return {
    key,
    name,
    definition,
    invoke: async (event) => {
      const handler = await pool.acquire();
      const context = lambdaContext(name, definition);
      try {
        const result = await withTimeout(
          sink.capture(() => handler(event, context)),
          timeoutMs,
          () => new FunctionTimeoutError(name, definition.timeoutSeconds)
        );
        pool.release(handler);
        return result;
      } catch (error) {
        if (
          error instanceof FunctionTimeoutError ||
          error instanceof EnvironmentCrash
        ) {
          pool.discard();
        } else pool.release(handler);
        throw error;
      }
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
