import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { parseHopSeconds } from '../lambdas/shared/domain/schedule.js';
import {
  type FunctionKey,
  Functions,
  STATUS_CALLBACK_PATH,
} from '../lib/definitions.js';
import { type RequestSummary, startHttpApi } from './http-api.js';
import {
  type Handler,
  type HandlerWrapper,
  type LocalFunctions,
  loadFunctions,
} from './lambda.js';
import { openLogSink } from './log-sink.js';
import { startMoto } from './moto.js';
import { LOCAL_DIR } from './paths.js';
import { type BatchSummary, type Poller, startPoller } from './poller.js';
import {
  createResources,
  LOCAL_BUSINESS_ACCOUNT_ID,
  LOCAL_PHONE_NUMBER_ID,
  type LocalResources,
  localAws,
  type StatusCallbackSecrets,
  type WhatsAppTarget,
} from './resources.js';
import type { CallbackSettingsInput } from './whatsapp-callbacks.js';
import {
  startWhatsAppStandIn,
  type WhatsAppStandIn,
} from './whatsapp-standin.js';

export interface RuntimeOptions {
  /** Port of the local API; 0 picks a free one. @default 3000 */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /**
   * Base of the webhook URLs the admin API hands out, e.g. a tunnel's.
   * @default the local API's URL
   */
  readonly publicBaseUrl?: string;
  /** Where handler and moto logs go. @default .local/logs */
  readonly logDir?: string;
  /** The real Graph API instead of the stand-in. */
  readonly whatsApp?: WhatsAppTarget;
  /**
   * The Meta app secret and verify token of `/whatsapp/events`; the
   * stand-in signs its status callbacks with this app secret.
   * @default random ones
   */
  readonly statusCallbacks?: StatusCallbackSecrets;
  /**
   * Longest hop of a held message, in seconds (1 to 900), to test delays of
   * several hops quickly. @default `WAPTO_DELAY_HOP_SECONDS`, else 900
   */
  readonly delayHopSeconds?: number;
  /**
   * Messages per second the sender paces itself to (the stack's
   * `WhatsAppThroughput`), e.g. one the local runtime can carry. @default 80
   */
  readonly whatsAppThroughput?: number;
  /** Replaces functions' handler modules (tests of the runtime itself). */
  readonly handlers?: Partial<Record<FunctionKey, Handler>>;
  /** Wraps functions' handlers, e.g. to inject a crash (`local/crash.ts`). */
  readonly wrapHandlers?: Partial<Record<FunctionKey, HandlerWrapper>>;
  readonly onRequest?: (summary: RequestSummary) => void;
  readonly onBatch?: (summary: BatchSummary) => void;
  readonly onError?: (error: unknown) => void;
}

export interface Runtime {
  readonly apiUrl: string;
  readonly awsEndpoint: string;
  /** Absent when the real Graph API is used. */
  readonly standIn?: WhatsAppStandIn;
  readonly whatsAppApiUrl: string;
  /** What `/whatsapp/events` verifies callbacks and challenges with. */
  readonly statusCallbacks: StatusCallbackSecrets;
  readonly resources: LocalResources;
  readonly handlerLogFile: string;
  readonly motoLogFile: string;
  stop(): Promise<void>;
}

let running = false;

type Cleanup = () => Promise<void> | void;

/**
 * Starts the whole product on this machine: the HTTP API (first, so a
 * taken port fails fast), moto, the WhatsApp stand-in, the resources from
 * `definitions.ts`, the functions and one poller per queue-driven
 * function. If a step fails, everything already started is stopped.
 *
 * LIMITATION: one runtime per process, because handler modules read their
 * configuration once, when they load.
 */
export const startRuntime = async (
  options: RuntimeOptions = {}
): Promise<Runtime> => {
  if (running) throw new Error('A runtime is already running in this process.');
  running = true;
  const cleanups: Cleanup[] = [
    () => {
      running = false;
    },
  ];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    return await start(options, (cleanup) => cleanups.push(cleanup), stop);
  } catch (error) {
    await stop();
    throw error;
  }
};

const start = async (
  options: RuntimeOptions,
  defer: (cleanup: Cleanup) => void,
  stop: () => Promise<void>
): Promise<Runtime> => {
  const logDir = options.logDir ?? join(LOCAL_DIR, 'logs');
  const sink = openLogSink(join(logDir, 'handlers.log'));
  defer(() => sink.close());
  let functions: LocalFunctions | undefined;
  const api = await startHttpApi({
    port: options.port ?? 3000,
    host: options.host,
    functions: () => functions,
    onRequest: options.onRequest,
  });
  defer(() => api.close());
  const motoLogFile = join(logDir, 'moto.log');
  const moto = await startMoto({ logFile: motoLogFile });
  defer(() => moto.stop());
  const statusCallbacks = options.statusCallbacks ?? {
    appSecret: `local-${randomBytes(24).toString('base64url')}`,
    verifyToken: `local-${randomBytes(18).toString('base64url')}`,
  };
  const { whatsApp, standIn } = await whatsAppTarget(options.whatsApp, {
    // The stand-in reports on every message it accepts, as Meta does.
    url: `${api.url}${STATUS_CALLBACK_PATH}`,
    appSecret: statusCallbacks.appSecret,
  });
  if (standIn !== undefined) defer(() => standIn.close());
  const aws = localAws(moto.endpoint);
  const resources = await createResources(aws, {
    publicBaseUrl: options.publicBaseUrl ?? api.url,
    whatsApp,
    statusCallbacks,
    delayHopSeconds: parseHopSeconds(
      options.delayHopSeconds?.toString() ?? process.env.WAPTO_DELAY_HOP_SECONDS
    ),
    whatsAppThroughput: options.whatsAppThroughput,
  });
  functions = await loadFunctions(
    resources.env,
    sink,
    options.handlers,
    options.wrapHandlers
  );
  const sqs = new SQSClient(aws);
  defer(() => sqs.destroy());
  const pollers = startPollers(sqs, functions, resources, options);
  defer(async () => {
    await Promise.all(pollers.map((poller) => poller.stop()));
  });

  return {
    apiUrl: api.url,
    awsEndpoint: moto.endpoint,
    standIn,
    whatsAppApiUrl: whatsApp.apiUrl,
    statusCallbacks,
    resources,
    handlerLogFile: sink.file,
    motoLogFile,
    stop,
  };
};

const whatsAppTarget = async (
  real: WhatsAppTarget | undefined,
  callbacks: CallbackSettingsInput
): Promise<{ whatsApp: WhatsAppTarget; standIn?: WhatsAppStandIn }> => {
  if (real !== undefined) return { whatsApp: real };
  const token = `local-${randomBytes(24).toString('base64url')}`;
  const phoneNumberId = LOCAL_PHONE_NUMBER_ID;
  const businessAccountId = LOCAL_BUSINESS_ACCOUNT_ID;
  const port = Number(process.env.WAPTO_WHATSAPP_PORT ?? 0);
  const standIn = await startWhatsAppStandIn({
    token,
    phoneNumberId,
    businessAccountId,
    port,
    callbacks,
  });

  return {
    whatsApp: { apiUrl: standIn.url, token, phoneNumberId, businessAccountId },
    standIn,
  };
};

const startPollers = (
  sqs: SQSClient,
  functions: LocalFunctions,
  resources: LocalResources,
  options: RuntimeOptions
): Poller[] =>
  (Object.keys(Functions) as FunctionKey[]).flatMap((key) => {
    const definition = Functions[key];
    if (!('source' in definition)) return [];
    const queue = resources.queues[definition.source.queue];

    return [
      startPoller({
        sqs,
        fn: functions[key],
        source: definition.source,
        queue,
        region: resources.env.AWS_REGION ?? 'us-east-1',
        onBatch: options.onBatch,
        onError: options.onError,
      }),
    ];
  });
