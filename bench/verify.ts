/**
 * Verification cost per request, side by side: the product's verifier
 * logic, a bare HMAC over the same bytes, and the providers' own SDKs.
 * Then the AWS requests the verifier makes on its warm path per accepted
 * webhook, counted against the local stack. Prints figures; asserts none.
 *
 *   npm run bench:verify
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { Bench } from 'tinybench';
import { decideIngest } from '../lambdas/shared/domain/ingest.js';
import { Providers } from '../lambdas/shared/domain/providers.js';
import {
  signRequest,
  verifySignature,
} from '../lambdas/shared/domain/signature.js';
import type { Webhook } from '../lambdas/shared/domain/webhook.js';
import { adminClient } from '../local/admin-client.js';
import { deliver, stripeDelivery } from '../local/deliveries.js';
import { startRuntime } from '../local/runtime.js';
import { countRequests } from './aws-requests.js';

const STRIPE_SECRET = 'whsec_bench_0123456789abcdef';
const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const WARM_REQUESTS = 50;

/** A JSON body of about `bytes` bytes, shaped like a provider event. */
const eventBody = (bytes: number, id = 'evt_bench'): Buffer => {
  const filler = 'x'.repeat(Math.max(0, bytes - 120));
  return Buffer.from(
    JSON.stringify({
      id,
      type: 'charge.failed',
      data: { object: { amount: 2000, currency: 'usd', note: filler } },
    })
  );
};

const webhookOf = (provider: Webhook['provider']): Webhook => ({
  webhookId: 'wh_bench',
  name: 'bench',
  provider,
  status: 'active',
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});

const benchSize = async (bytes: number) => {
  const body = eventBody(bytes);
  const text = body.toString('utf8');
  const now = Date.now() / 1000;
  const stripeHeaders = signRequest(
    Providers.stripe.scheme,
    body,
    STRIPE_SECRET,
    now
  );
  const standardHeaders = signRequest(
    Providers['standard-webhooks'].scheme,
    body,
    STANDARD_SECRET,
    now,
    'msg_bench'
  );
  const stripe = new Stripe('sk_test_bench');
  const standard = new StandardWebhook(STANDARD_SECRET);
  const request = {
    method: 'POST',
    headers: stripeHeaders,
    query: {},
    body,
  };
  const record = { current: STRIPE_SECRET };

  const bench = new Bench({ name: `${bytes} B body`, time: 500 });
  bench
    .add('bare HMAC-SHA256 (node:crypto)', () => {
      createHmac('sha256', STRIPE_SECRET).update(body).digest();
    })
    .add('Stripe: verifySignature', () => {
      verifySignature(
        Providers.stripe.scheme,
        { body, headers: stripeHeaders },
        [STRIPE_SECRET],
        now
      );
    })
    .add('Stripe: decideIngest (verify + parse + message)', () => {
      decideIngest(request, webhookOf('stripe'), record, new Date());
    })
    .add('Stripe: stripe SDK constructEvent', () => {
      stripe.webhooks.constructEvent(
        text,
        stripeHeaders['stripe-signature'] ?? '',
        STRIPE_SECRET
      );
    })
    .add('Standard Webhooks: verifySignature', () => {
      verifySignature(
        Providers['standard-webhooks'].scheme,
        { body, headers: standardHeaders },
        [STANDARD_SECRET],
        now
      );
    })
    .add('Standard Webhooks: standardwebhooks SDK verify', () => {
      standard.verify(text, standardHeaders);
    });
  await bench.run();
  console.log(`\n${bench.name}`);
  console.table(
    bench.tasks.map((task) => {
      const result = task.result as {
        latency?: { mean?: number; p99?: number };
        throughput?: { mean?: number };
      };
      return {
        task: task.name,
        'mean µs': ((result.latency?.mean ?? 0) * 1000).toFixed(2),
        'p99 µs': ((result.latency?.p99 ?? 0) * 1000).toFixed(2),
        'ops/s': Math.round(result.throughput?.mean ?? 0),
      };
    })
  );
};

const warmPathRequests = async () => {
  const runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(tmpdir(), 'wapto-bench-')),
  });
  try {
    const admin = adminClient(runtime.apiUrl);
    const { webhook } = await admin.createWebhook({
      name: 'bench',
      provider: 'stripe',
      secret: STRIPE_SECRET,
    });
    const body = eventBody(1024);
    // The first request warms the caches, as a container's first would.
    await deliver(
      runtime.apiUrl,
      webhook.webhookId,
      stripeDelivery({ body, secret: STRIPE_SECRET })
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const counts = countRequests();
    for (const key of Object.keys(counts)) delete counts[key];
    let accepted = 0;
    for (let index = 0; index < WARM_REQUESTS; index++) {
      const answer = await deliver(
        runtime.apiUrl,
        webhook.webhookId,
        stripeDelivery({
          body: eventBody(1024, `evt_bench_${index}`),
          secret: STRIPE_SECRET,
        })
      );
      if (answer.status === 202) accepted++;
    }
    // What the verifier sent; the mapper's calls run behind it and are
    // counted separately below.
    const verifierCalls = counts['SQS.SendMessageCommand']?.count ?? 0;
    console.log(
      `\nWarm path: ${accepted} accepted of ${WARM_REQUESTS} requests`
    );
    console.log(
      `  SQS SendMessage from the verifier: ${verifierCalls} ` +
        `(${(verifierCalls / accepted).toFixed(2)} per accepted webhook)`
    );
    console.log(
      '  all AWS requests in the process meanwhile (verifier and mapper):'
    );
    console.table(
      Object.fromEntries(
        Object.entries(counts).map(([key, tally]) => [key, tally.count])
      )
    );
  } finally {
    await runtime.stop();
  }
};

for (const bytes of [1024, 64 * 1024]) await benchSize(bytes);
await warmPathRequests();
