/**
 * Mappings evaluated per second for a typical Shopify order (the sample
 * `orders/create` payload): one mapping on its own, and an event fanned
 * out to three mappings through the mapper's whole pure path (body
 * decoded, parsed exactly, three mappings evaluated). Each with the
 * compiled-expression cache as the mapper runs it, and with the cache
 * cleared before every event. Prints figures; asserts none.
 *
 *   npm run bench:mapping
 */
import { Bench } from 'tinybench';
import { checkMapping } from '../lambdas/shared/domain/contract.js';
import {
  type CheckedMapping,
  clearCompiledExpressions,
  evaluateMapping,
  type Mapping,
  mappingInputSchema,
} from '../lambdas/shared/domain/mapping.js';
import {
  encodeBody,
  type IngestMessage,
} from '../lambdas/shared/domain/messages.js';
import { planEvent } from '../lambdas/shared/domain/plan-event.js';
import type { Webhook } from '../lambdas/shared/domain/webhook.js';
import { readFixture } from '../local/deliveries.js';
import {
  fixtureBody,
  OPERATIONS_PHONE,
  ORDER_CONFIRMATION,
} from '../local/examples.js';
import { loadTemplates } from '../local/whatsapp-templates.js';

const NOW = new Date('2026-12-03T10:00:00.000Z');
const templates = loadTemplates();

const checked = (mapping: object): CheckedMapping => {
  const input = mappingInputSchema.parse(mapping);
  const result = checkMapping(input, templates);
  if ('problems' in result) throw new Error(result.problems.join('; '));
  return { ...input, approvedTemplate: result.approvedTemplate };
};

/** Two more mappings an order typically feeds: operations and delivery. */
const OPERATIONS_UPDATE = {
  eventKey: 'orders/*',
  recipients: `"${OPERATIONS_PHONE}"`,
  template: {
    name: 'order_status_update',
    language: 'en_US',
    components: [
      {
        type: 'body',
        parameters: [
          { value: "'team'" },
          { value: 'body.name' },
          {
            value:
              "$string($sum(body.line_items.quantity)) & ' items, ' & body.financial_status",
          },
        ],
      },
    ],
  },
};
const DELIVERY_UPDATE = {
  eventKey: 'orders/create',
  recipients:
    '[body.customer.phone, body.shipping_address.phone, body.billing_address.phone]',
  template: {
    name: 'delivery_update',
    language: 'en_US',
    components: [
      {
        type: 'header',
        parameters: [{ value: 'body.name', name: 'order_number' }],
      },
      {
        type: 'body',
        parameters: [
          {
            value: 'body.customer.first_name',
            fallback: 'there',
            name: 'customer_name',
          },
          {
            value: 'body.fulfillments[0].tracking_number',
            fallback: 'not assigned yet',
            name: 'tracking_number',
          },
        ],
      },
    ],
  },
};

const webhook: Webhook = {
  webhookId: 'wh_bench',
  name: 'Shop',
  provider: 'shopify',
  status: 'active',
  defaultCountry: 'US',
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
};

const saved = (mappingId: string, mapping: object): Mapping => ({
  ...checked(mapping),
  mappingId,
  webhookId: webhook.webhookId,
  updatedAt: NOW.toISOString(),
});

const fanOut = [
  saved('order-confirmation', ORDER_CONFIRMATION),
  saved('operations', OPERATIONS_UPDATE),
  saved('delivery', DELIVERY_UPDATE),
];

const message: IngestMessage = {
  v: 1,
  eventId: 'ev_bench',
  webhookId: webhook.webhookId,
  receivedAt: NOW.toISOString(),
  eventKey: 'orders/create',
  headers: { 'content-type': 'application/json' },
  ...encodeBody(readFixture('shopify-orders-create.json')),
};

const single = checked(ORDER_CONFIRMATION);
const input = {
  body: fixtureBody('shopify-orders-create.json'),
  headers: {},
  webhook: { webhookId: 'wh_bench', name: 'Shop', provider: 'shopify' },
};

const evaluateOne = () => evaluateMapping(single, input, 'US');
const planFanOut = () => planEvent(message, { webhook, mappings: fanOut }, NOW);

// Each task once, so a mapping that cannot evaluate is not timed.
const [one, plan] = [await evaluateOne(), await planFanOut()];
const matched = plan.trace.filter((record) => record.stage === 'matched');
if (one.status !== 'matched' || matched.length !== 3) {
  throw new Error('The benchmark mappings do not evaluate as expected.');
}

const tasks = [
  {
    name: 'Shopify order, 1 mapping',
    mappings: 1,
    cache: true,
    run: evaluateOne,
  },
  {
    name: 'Shopify order, 1 mapping',
    mappings: 1,
    cache: false,
    run: evaluateOne,
  },
  {
    name: '3-mapping fan-out (planEvent)',
    mappings: 3,
    cache: true,
    run: planFanOut,
  },
  {
    name: '3-mapping fan-out (planEvent)',
    mappings: 3,
    cache: false,
    run: planFanOut,
  },
];

const bench = new Bench({ name: 'mapping', time: 2_000, warmupTime: 500 });
for (const task of tasks) {
  const run = task.run as () => Promise<unknown>;
  bench.add(
    `${task.name}, cache ${task.cache ? 'on' : 'off'}`,
    task.cache
      ? run
      : async () => {
          clearCompiledExpressions();
          await run();
        }
  );
}
await bench.run();

console.log(
  `\nMapping evaluation, Node ${process.version}, ${new Date().toISOString()}`
);
console.table(
  bench.tasks.map((task, index) => {
    const result = task.result as {
      latency?: { mean?: number; p50?: number; p99?: number };
    };
    const { mean = 0, p50 = 0, p99 = 0 } = result.latency ?? {};
    // Rates from the median time: on a shared machine, the mean follows
    // the iterations that waited for a CPU or for garbage collection.
    const events = p50 > 0 ? 1000 / p50 : 0;
    return {
      task: task.name,
      'median µs': (p50 * 1000).toFixed(1),
      'mean µs': (mean * 1000).toFixed(1),
      'p99 µs': (p99 * 1000).toFixed(1),
      'events/s': Math.round(events),
      'mappings/s': Math.round(events * (tasks[index]?.mappings ?? 1)),
    };
  })
);
