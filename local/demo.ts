/**
 * `npm run demo`: configures two webhooks through the admin API, replays
 * real Shopify and Stripe payloads signed as those providers sign them,
 * shows a forged request refused, and prints every event's trace and the
 * exact request WhatsApp received. Exits non-zero when anything is off.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { TraceRecord } from '../lambdas/shared/domain/trace.js';
import {
  type AdminClient,
  adminClient,
  isTraceSettled,
  queueDepth,
  standInRequests,
} from './admin-client.js';
import {
  type Delivery,
  deliver,
  readFixture,
  shopifyDelivery,
  stripeDelivery,
  tamperStripeSignature,
  testSecrets,
} from './deliveries.js';
import {
  configureWebhooks,
  type DemoTarget,
  demoTarget,
} from './demo-setup.js';
import { waitFor } from './net.js';
import { localAws } from './resources.js';

const SETTLE_TIMEOUT_MS = 60_000;

/** Collects what did not go as expected; the exit code follows from it. */
const problems: string[] = [];
const expect = (ok: boolean, problem: string) => {
  if (!ok) problems.push(problem);
};

const heading = (text: string) =>
  console.log(`\n=== ${text} ${'='.repeat(Math.max(0, 72 - text.length))}`);

const stageLine = (record: TraceRecord): string => {
  const details = [
    record.stage === 'received' && record.eventKey
      ? `event ${record.eventKey}`
      : undefined,
    record.mappingId && `mapping ${record.mappingId} -> ${record.template}`,
    record.recipient && `recipient ${record.recipient}`,
    record.wamid && `wamid ${record.wamid}`,
    record.code && `code ${record.code}`,
    record.reason && `reason: ${record.reason}`,
  ].filter(Boolean);
  const at = record.at.slice(11, 23);

  return `  ${at}  ${record.stage.padEnd(9)} ${details.join(', ')}`;
};

const replay = async (
  target: DemoTarget,
  admin: AdminClient,
  webhookId: string,
  delivery: Delivery
): Promise<TraceRecord[]> => {
  const signature = Object.entries(delivery.headers).find(([name]) =>
    /hmac|signature/i.test(name)
  );
  const answer = await deliver(target.apiUrl, webhookId, delivery);
  console.log(
    `POST /webhooks/${webhookId}  ${delivery.body.length} bytes, ` +
      `${signature?.[0]}: ${signature?.[1]}`
  );
  console.log(`  -> ${answer.status} ${JSON.stringify(answer.body)}`);
  const eventId = (answer.body as { eventId?: string }).eventId;
  if (answer.status !== 202 || eventId === undefined) {
    throw new Error(`The signed delivery was not accepted (${answer.status}).`);
  }
  const records = await waitFor(
    async () => {
      const trace = await admin.readEvent(eventId);
      return trace && isTraceSettled(trace) ? trace : undefined;
    },
    {
      timeoutMs: SETTLE_TIMEOUT_MS,
      intervalMs: 200,
      what: `event ${eventId} to settle`,
    }
  );
  console.log(`\nGET /admin/events/${eventId}:`);
  for (const record of records) console.log(stageLine(record));
  await printSentBodies(target, records);

  return records;
};

const printSentBodies = async (target: DemoTarget, records: TraceRecord[]) => {
  const requests = await standInRequests(target.standInUrl);
  for (const record of records.filter((item) => item.stage === 'sent')) {
    const request = requests.find(
      (item) =>
        (item.response as { messages?: { id: string }[] }).messages?.[0]?.id ===
        record.wamid
    );
    console.log(
      `\nWhatsApp request body the stand-in received for ${record.recipient} ` +
        `(answered ${request?.status}, ${record.wamid}):`
    );
    console.log(request?.body ?? '  (not found at the stand-in)');
    expect(
      request !== undefined,
      `the stand-in has no request for ${record.wamid}`
    );
  }
};

const forgedRequest = async (
  target: DemoTarget,
  admin: AdminClient,
  sqs: SQSClient,
  stripe: { webhookId: string; secret: string }
) => {
  const depthBefore = await queueDepth(sqs, target.ingestQueueUrl);
  const sentBefore = (await standInRequests(target.standInUrl)).length;
  const genuine = stripeDelivery({
    body: readFixture('stripe-charge-failed.json'),
    secret: stripe.secret,
  });
  const forged = tamperStripeSignature(genuine);
  const answer = await deliver(target.apiUrl, stripe.webhookId, forged);
  const depthAfter = await queueDepth(sqs, target.ingestQueueUrl);
  console.log(
    `POST /webhooks/${stripe.webhookId}  ` +
      'Stripe-Signature with one digit changed'
  );
  console.log(`  -> ${answer.status} ${JSON.stringify(answer.body)}`);
  // Anything queued is either still on the queue or, once mapped, in the
  // webhook's event list; wait for the queue, then read the list.
  await waitFor(
    async () =>
      (await queueDepth(sqs, target.ingestQueueUrl)) <= depthBefore
        ? true
        : undefined,
    { timeoutMs: SETTLE_TIMEOUT_MS, what: 'the ingest queue to drain' }
  );
  const events = await admin.listEvents(stripe.webhookId);
  const sentAfter = (await standInRequests(target.standInUrl)).length;
  console.log(
    `  ingest queue: ${depthBefore} message(s) before, ${depthAfter} after; ` +
      `events recorded for the webhook: ${events.length}; ` +
      `WhatsApp requests: ${sentBefore} before, ${sentAfter} after`
  );
  const code = (answer.body as { code?: unknown }).code;
  expect(
    answer.status === 401,
    `the forged request got ${answer.status}, not 401`
  );
  expect(typeof code === 'string', 'the 401 answer carries no JSON code');
  expect(
    depthAfter === depthBefore,
    'the forged request reached the ingest queue'
  );
  expect(events.length === 0, 'the forged request produced an event');
  expect(
    sentAfter === sentBefore,
    'WhatsApp was called for the forged request'
  );
};

const run = async (target: DemoTarget, sqs: SQSClient) => {
  const admin = adminClient(target.apiUrl);
  const secrets = testSecrets();

  heading('Webhooks and mappings, through the admin API');
  const { shopify, stripe } = await configureWebhooks(admin, secrets);
  for (const created of [shopify, stripe]) {
    console.log(`${created.webhook.provider.padEnd(8)} ${created.url}`);
  }
  console.log(
    'order-confirmation: orders/create -> order_confirmation\n' +
      '  to the customer phone (else the billing phone) and operations'
  );
  console.log(
    'payment-link: charge.failed -> payment_link\n' +
      '  to the billing phone, URL button with the checkout path'
  );
  console.log(
    'Both webhooks active; their secrets are fresh test values ' +
      '(shpss_..., whsec_...).'
  );

  heading('A forged Stripe request');
  await forgedRequest(target, admin, sqs, {
    webhookId: stripe.webhook.webhookId,
    secret: secrets.stripe,
  });

  heading(
    'Shopify orders/create (test/fixtures/payloads/shopify-orders-create.json)'
  );
  const order = await replay(
    target,
    admin,
    shopify.webhook.webhookId,
    shopifyDelivery({
      body: readFixture('shopify-orders-create.json'),
      secret: secrets.shopify,
      topic: 'orders/create',
    })
  );
  const stages = (records: TraceRecord[], stage: string) =>
    records.filter((record) => record.stage === stage);
  expect(
    stages(order, 'rejected').length === 1,
    'the messy billing phone was not rejected'
  );
  expect(
    stages(order, 'sent').length === 1,
    'the order confirmation was not sent once'
  );

  heading(
    'Stripe charge.failed (test/fixtures/payloads/stripe-charge-failed.json)'
  );
  const charge = await replay(
    target,
    admin,
    stripe.webhook.webhookId,
    stripeDelivery({
      body: readFixture('stripe-charge-failed.json'),
      secret: secrets.stripe,
    })
  );
  expect(
    stages(charge, 'sent').length === 1,
    'the payment link was not sent once'
  );
};

const main = async (): Promise<number> => {
  const target = await demoTarget();
  console.log(target.description);
  const sqs = new SQSClient(localAws(target.awsEndpoint));
  try {
    await run(target, sqs);
  } finally {
    sqs.destroy();
    await target.stop();
  }
  heading(problems.length === 0 ? 'Demo passed' : 'Demo FAILED');
  for (const problem of problems) console.log(`  - ${problem}`);

  return problems.length === 0 ? 0 : 1;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      `\nDemo failed: ${error instanceof Error ? error.message : String(error)}`
    );
    process.exit(1);
  }
);
