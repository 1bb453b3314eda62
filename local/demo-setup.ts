import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdminClient } from './admin-client.js';
import { ORDER_CONFIRMATION, PAYMENT_LINK } from './examples.js';
import { LOCAL_DIR, RUNTIME_FILE } from './paths.js';
import { startRuntime } from './runtime.js';
import type { RuntimeFile } from './start.js';

export {
  AMOUNT_WITH_CURRENCY,
  OPERATIONS_PHONE,
  ORDER_CONFIRMATION,
  PAYMENT_LINK,
} from './examples.js';

/** Where the demo talks to: a running `npm start`, or its own runtime. */
export interface DemoTarget {
  readonly apiUrl: string;
  readonly standInUrl: string;
  readonly awsEndpoint: string;
  readonly ingestQueueUrl: string;
  readonly description: string;
  stop(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 1_500;

const answersAsRuntime = async (apiUrl: string): Promise<boolean> => {
  try {
    const response = await fetch(`${apiUrl}/admin/webhooks`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
};

/**
 * Uses the runtime that answers on WAPTO_PORT when there is one (found
 * through `.local/runtime.json`), otherwise starts one in this process on
 * free ports and stops it at the end.
 */
export const demoTarget = async (): Promise<DemoTarget> => {
  const port = Number(process.env.WAPTO_PORT ?? 3000);
  const apiUrl = `http://127.0.0.1:${port}`;
  if (await answersAsRuntime(apiUrl)) return runningTarget(apiUrl);
  const runtime = await startRuntime({
    port: 0,
    logDir: join(LOCAL_DIR, 'logs', 'demo'),
  });
  if (runtime.standIn === undefined) {
    await runtime.stop();
    throw new Error('The demo needs the WhatsApp stand-in.');
  }

  return {
    apiUrl: runtime.apiUrl,
    standInUrl: runtime.standIn.url,
    awsEndpoint: runtime.awsEndpoint,
    ingestQueueUrl: runtime.resources.queues.ingest.url,
    description:
      `No runtime answered on ${apiUrl}, so the demo started its own at ` +
      `${runtime.apiUrl} (handler logs: ${runtime.handlerLogFile}).`,
    stop: () => runtime.stop(),
  };
};

const runningTarget = (apiUrl: string): DemoTarget => {
  const file = existsSync(RUNTIME_FILE)
    ? (JSON.parse(readFileSync(RUNTIME_FILE, 'utf8')) as RuntimeFile)
    : undefined;
  if (file === undefined || file.apiUrl !== apiUrl) {
    throw new Error(
      `Something answers on ${apiUrl}, but ${RUNTIME_FILE} does not ` +
        'describe it. Stop it, or set WAPTO_PORT to a free port.'
    );
  }
  const ingest = file.queues.ingest?.url;
  if (file.standInUrl === undefined || ingest === undefined) {
    throw new Error(
      'The running runtime sends to the real Graph API; ' +
        'the demo needs the stand-in.'
    );
  }

  return {
    apiUrl,
    standInUrl: file.standInUrl,
    awsEndpoint: file.awsEndpoint,
    ingestQueueUrl: ingest,
    description: `Using the runtime running at ${apiUrl} (pid ${file.pid}).`,
    stop: async () => undefined,
  };
};

/** The demo's two webhooks, their mappings, activated. */
export const configureWebhooks = async (
  admin: AdminClient,
  secrets: { shopify: string; stripe: string }
) => {
  const shopify = await admin.createWebhook({
    name: 'Demo Shopify store',
    provider: 'shopify',
    secret: secrets.shopify,
    defaultCountry: 'US',
  });
  const stripe = await admin.createWebhook({
    name: 'Demo Stripe account',
    provider: 'stripe',
    secret: secrets.stripe,
    defaultCountry: 'US',
  });
  await admin.putMapping(
    shopify.webhook.webhookId,
    'order-confirmation',
    ORDER_CONFIRMATION
  );
  await admin.putMapping(
    stripe.webhook.webhookId,
    'payment-link',
    PAYMENT_LINK
  );
  await admin.activate(shopify.webhook.webhookId);
  await admin.activate(stripe.webhook.webhookId);

  return { shopify, stripe };
};
