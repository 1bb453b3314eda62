import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdminClient } from './admin-client.js';
import { LOCAL_DIR, RUNTIME_FILE } from './paths.js';
import { startRuntime } from './runtime.js';
import type { RuntimeFile } from './start.js';

/** The operations number every order confirmation also goes to (fake). */
export const OPERATIONS_PHONE = '+15550100199';

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

/**
 * `orders/create` → `order_confirmation`, to the customer's phone (or the
 * billing phone when the customer has none) and to operations.
 */
export const ORDER_CONFIRMATION = {
  eventKey: 'orders/create',
  recipients: [
    '[',
    'body.customer.phone ? body.customer.phone : body.billing_address.phone,',
    `"${OPERATIONS_PHONE}"`,
    ']',
  ].join(' '),
  template: {
    name: 'order_confirmation',
    language: 'en_US',
    components: [
      {
        type: 'body',
        parameters: [
          { value: 'body.customer.first_name', fallback: 'there' },
          { value: 'body.name' },
          { value: "body.total_price & ' ' & body.currency" },
        ],
      },
    ],
  },
};

/** `2000` and `usd` become `20.00 USD`. */
export const AMOUNT_WITH_CURRENCY = [
  "$formatNumber(body.data.object.amount / 100, '#,##0.00')",
  "& ' ' &",
  '$uppercase(body.data.object.currency)',
].join(' ');

/** `charge.failed` → `payment_link`, with the checkout path on the button. */
export const PAYMENT_LINK = {
  eventKey: 'charge.failed',
  recipients: 'body.data.object.billing_details.phone',
  template: {
    name: 'payment_link',
    language: 'en_US',
    components: [
      {
        type: 'body',
        parameters: [
          { value: AMOUNT_WITH_CURRENCY },
          {
            value: 'body.data.object.failure_message',
            fallback: 'The payment was declined.',
          },
        ],
      },
      {
        type: 'button',
        subType: 'url',
        index: 0,
        parameters: [
          { value: "'checkout/' & body.data.object.payment_intent" },
        ],
      },
    ],
  },
};
