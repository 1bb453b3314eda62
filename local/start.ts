/**
 * `npm start`: runs the product on this machine until Ctrl-C.
 *
 * Variables: WAPTO_PORT (API port, default 3000), WAPTO_HOST (default
 * 127.0.0.1), WAPTO_PUBLIC_URL (base of the webhook URLs handed out, e.g.
 * a tunnel's), WAPTO_WHATSAPP_PORT (stand-in port, default a free one),
 * WAPTO_DELAY_HOP_SECONDS (longest hop of a held message, 1 to 900).
 * WAPTO_WHATSAPP_TOKEN with WAPTO_WHATSAPP_PHONE_NUMBER_ID and
 * WAPTO_WHATSAPP_BUSINESS_ACCOUNT_ID send through the real Graph API, and
 * check mappings against that account's templates, instead of the stand-in.
 * WAPTO_WHATSAPP_APP_SECRET and WAPTO_WHATSAPP_VERIFY_TOKEN set what
 * /whatsapp/events verifies Meta's status callbacks with (default: random
 * ones, which the stand-in signs with).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import {
  Routes,
  routeKey,
  STATUS_CALLBACK_PATH,
  WHATSAPP_API_URL,
  WHATSAPP_API_VERSION,
} from '../lib/definitions.js';
import type { RequestSummary } from './http-api.js';
import { PortTakenError } from './net.js';
import { LOCAL_DIR, RUNTIME_FILE } from './paths.js';
import type { BatchSummary } from './poller.js';
import type { WhatsAppTarget } from './resources.js';
import { type Runtime, startRuntime } from './runtime.js';

/** What `npm run demo` and other tools read to find this runtime. */
export interface RuntimeFile {
  readonly pid: number;
  readonly apiUrl: string;
  readonly standInUrl?: string;
  readonly awsEndpoint: string;
  readonly queues: Record<string, { readonly url: string }>;
}

const ROUTE_ACCESS = { iam: 'admin', none: 'public' } as const;

const time = () => new Date().toISOString().slice(11, 23);
const shown = (file: string) => relative(process.cwd(), file) || file;
const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

const onRequest = (summary: RequestSummary) => {
  const failure = summary.error ? `  ${describe(summary.error)}` : '';
  console.log(
    `${time()}  ${summary.method} ${summary.path} -> ${summary.status} ` +
      `(${summary.durationMs} ms)${failure}`
  );
};

const onBatch = (summary: BatchSummary) => {
  const retained =
    summary.retained > 0
      ? `, ${summary.retained} left for retry after the visibility timeout`
      : '';
  const failure = summary.error ? `  ${describe(summary.error)}` : '';
  const order = summary.groupsOutOfOrder
    ? '  WARNING: failures out of FIFO order in ' +
      `${summary.groupsOutOfOrder.length} group(s)`
    : '';
  console.log(
    `${time()}  ${summary.functionName}: batch of ${summary.size}, ` +
      `${summary.deleted} done${retained}${failure}${order}`
  );
};

const realWhatsApp = (): WhatsAppTarget | undefined => {
  const token = process.env.WAPTO_WHATSAPP_TOKEN;
  const phoneNumberId = process.env.WAPTO_WHATSAPP_PHONE_NUMBER_ID;
  const businessAccountId = process.env.WAPTO_WHATSAPP_BUSINESS_ACCOUNT_ID;
  if (!token || !phoneNumberId || !businessAccountId) return undefined;

  return { apiUrl: WHATSAPP_API_URL, token, phoneNumberId, businessAccountId };
};

const statusCallbacks = () => {
  const appSecret = process.env.WAPTO_WHATSAPP_APP_SECRET;
  const verifyToken = process.env.WAPTO_WHATSAPP_VERIFY_TOKEN;
  if (!appSecret || !verifyToken) return undefined;

  return { appSecret, verifyToken };
};

const banner = (runtime: Runtime, host: string): string => {
  const api = runtime.apiUrl;
  const width = Math.max(...Routes.map((route) => routeKey(route).length)) + 2;
  const routes = Routes.map(
    (route) => `    ${routeKey(route).padEnd(width)}${ROUTE_ACCESS[route.auth]}`
  );
  const whatsApp = runtime.standIn
    ? [
        `  WhatsApp stand-in ${runtime.standIn.url}`,
        '    templates: local/whatsapp-templates.json',
        `    status callbacks go to ${api}${STATUS_CALLBACK_PATH}`,
        '    what it received:',
        `      curl -s ${runtime.standIn.url}/_standin/requests`,
        '    counters, faults, limits and status callbacks (README):',
        `      curl -s ${runtime.standIn.url}/_standin/stats`,
      ]
    : [
        '  WhatsApp          the real Graph API, ' +
          `${WHATSAPP_API_URL}/${WHATSAPP_API_VERSION}`,
      ];
  const exposed =
    host === '127.0.0.1' || host === 'localhost'
      ? ''
      : ` (listening on ${host})`;

  return [
    '',
    'Wapto local runtime is up.',
    '',
    `  API               ${api}${exposed}`,
    ...routes,
    '    Admin routes use IAM in AWS. Locally nothing is signed, so they',
    '    answer callers on this machine (loopback) only.',
    ...whatsApp,
    `  Meta callbacks    ${api}${STATUS_CALLBACK_PATH}` +
      `  (verify token ${runtime.statusCallbacks.verifyToken})`,
    `  AWS (moto)        ${runtime.awsEndpoint}`,
    `  Handler logs      ${shown(runtime.handlerLogFile)}  (tail -f it)`,
    `  moto log          ${shown(runtime.motoLogFile)}`,
    '',
    'Try it:',
    `  curl -s -X POST ${api}/admin/webhooks \\`,
    "    -H 'content-type: application/json' \\",
    `    -d '{"name":"My CRM","provider":"standard-webhooks","defaultCountry":"US"}'`,
    `  curl -s ${api}/admin/webhooks`,
    '  npm run demo    # replays signed Shopify and Stripe events through it',
    '',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
};

const writeRuntimeFile = (runtime: Runtime) => {
  const file: RuntimeFile = {
    pid: process.pid,
    apiUrl: runtime.apiUrl,
    standInUrl: runtime.standIn?.url,
    awsEndpoint: runtime.awsEndpoint,
    queues: Object.fromEntries(
      Object.entries(runtime.resources.queues).map(([key, queue]) => [
        key,
        { url: queue.url },
      ])
    ),
  };
  mkdirSync(LOCAL_DIR, { recursive: true });
  writeFileSync(RUNTIME_FILE, `${JSON.stringify(file, null, 2)}\n`);
};

const main = async () => {
  const port = Number(process.env.WAPTO_PORT ?? 3000);
  const host = process.env.WAPTO_HOST ?? '127.0.0.1';
  console.log(
    'Starting moto, the local resources, the stand-in and the API...'
  );
  let runtime: Runtime;
  try {
    runtime = await startRuntime({
      port,
      host,
      publicBaseUrl: process.env.WAPTO_PUBLIC_URL || undefined,
      whatsApp: realWhatsApp(),
      statusCallbacks: statusCallbacks(),
      onRequest,
      onBatch,
      onError: (error) =>
        console.error(`${time()}  poller: ${describe(error)}`),
    });
  } catch (error) {
    console.error(
      error instanceof PortTakenError
        ? error.message
        : `The local runtime did not start: ${describe(error)}`
    );
    process.exit(1);
  }
  writeRuntimeFile(runtime);
  console.log(banner(runtime, host));
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      console.log('Stopping now.');
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping pollers, API, stand-in and moto...`);
    await runtime.stop();
    rmSync(RUNTIME_FILE, { force: true });
    console.log('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
};

await main();
