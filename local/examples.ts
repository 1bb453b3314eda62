import { parseJsonExact } from '../lambdas/shared/domain/json.js';
import type { ProviderId } from '../lambdas/shared/domain/providers.js';
import { readFixture } from './deliveries.js';

/**
 * Example mappings, one module for the demo, the tests and the README's
 * worked examples (`npm run docs:examples` writes that section from them
 * by calling the admin API's preview, and a test keeps the two equal).
 * Every phone number is a fake one.
 */

/** The operations number every order confirmation also goes to (fake). */
export const OPERATIONS_PHONE = '+15550100199';

/** A mapping whose template takes body values only. */
const bodyOnly = (
  mapping: { eventKey: string; condition?: string; recipients: string },
  name: string,
  parameters: { value: string; fallback?: string }[]
) => ({
  ...mapping,
  template: {
    name,
    language: 'en_US',
    components: [{ type: 'body', parameters }],
  },
});

/**
 * `orders/create` → `order_confirmation`, to the customer's phone (or the
 * billing phone when the customer has none) and to operations.
 */
export const ORDER_CONFIRMATION = bodyOnly(
  {
    eventKey: 'orders/create',
    recipients: [
      '[',
      'body.customer.phone ? body.customer.phone : body.billing_address.phone,',
      `"${OPERATIONS_PHONE}"`,
      ']',
    ].join(' '),
  },
  'order_confirmation',
  [
    { value: 'body.customer.first_name', fallback: 'there' },
    { value: 'body.name' },
    { value: "body.total_price & ' ' & body.currency" },
  ]
);

/** `2000` and `usd` become `20.00 USD`. */
export const AMOUNT_WITH_CURRENCY = [
  "$formatNumber(body.data.object.amount / 100, '#,##0.00')",
  "& ' ' &",
  '$uppercase(body.data.object.currency)',
].join(' ');

/** A mapping to `payment_link`: amount, reason, and the checkout path. */
const paymentLink = (source: {
  eventKey: string;
  recipients: string;
  amount: string;
  reason: string;
  checkoutPath: string;
}) => ({
  eventKey: source.eventKey,
  recipients: source.recipients,
  template: {
    name: 'payment_link',
    language: 'en_US',
    components: [
      {
        type: 'body',
        parameters: [
          { value: source.amount },
          { value: source.reason, fallback: 'The payment was declined.' },
        ],
      },
      {
        type: 'button',
        subType: 'url',
        index: 0,
        parameters: [{ value: source.checkoutPath }],
      },
    ],
  },
});

/** `charge.failed` → `payment_link`, with the checkout path on the button. */
export const PAYMENT_LINK = paymentLink({
  eventKey: 'charge.failed',
  recipients: 'body.data.object.billing_details.phone',
  amount: AMOUNT_WITH_CURRENCY,
  reason: 'body.data.object.failure_message',
  checkoutPath: "'checkout/' & body.data.object.payment_intent",
});

/**
 * Shopify `orders/updated`, once the order is fulfilled.
 * LIMITATION: a condition sees the order as it is, not what changed, so every later update of a fulfilled order sends again.
 */
export const SHOPIFY_FULFILMENT = bodyOnly(
  {
    eventKey: 'orders/updated',
    condition: "body.fulfillment_status in ['fulfilled', 'partial']",
    recipients:
      'body.customer.phone ? body.customer.phone : body.shipping_address.phone',
  },
  'order_status_update',
  [
    { value: 'body.customer.first_name', fallback: 'there' },
    { value: 'body.name' },
    {
      value:
        '$lookup({"fulfilled": "on its way", "partial": "partly on its way"}, body.fulfillment_status)',
    },
  ]
);

/** WooCommerce `order.updated`, when the order reaches a final status. */
export const WOOCOMMERCE_STATUS = bodyOnly(
  {
    eventKey: 'order.updated',
    condition: "body.status in ['completed', 'cancelled', 'refunded']",
    recipients: 'body.billing.phone',
  },
  'order_status_update',
  [
    { value: 'body.billing.first_name', fallback: 'there' },
    { value: "'#' & body.number" },
    {
      value:
        '$lookup({"completed": "complete", "cancelled": "cancelled", "refunded": "refunded"}, body.status)',
    },
  ]
);

const RAZORPAY_PAYMENT = 'body.payload.payment.entity';

/** Razorpay `payment.failed` → `payment_link`; amounts are in paise. */
export const RAZORPAY_PAYMENT_LINK = paymentLink({
  eventKey: 'payment.failed',
  recipients: `${RAZORPAY_PAYMENT}.contact`,
  amount: `$formatNumber(${RAZORPAY_PAYMENT}.amount / 100, '#,##0.00') & ' ' & ${RAZORPAY_PAYMENT}.currency`,
  reason: `($reason := ${RAZORPAY_PAYMENT}.error_description; $contains($reason, /[.!?]$/) ? $reason : $reason & '.')`,
  checkoutPath: `'checkout/' & ${RAZORPAY_PAYMENT}.order_id`,
});

/** WooCommerce `order.created` → `order_confirmation`. */
export const WOOCOMMERCE_CONFIRMATION = bodyOnly(
  { eventKey: 'order.created', recipients: 'body.billing.phone' },
  'order_confirmation',
  [
    { value: 'body.billing.first_name', fallback: 'there' },
    { value: "'#' & body.number" },
    { value: "body.total & ' ' & body.currency" },
  ]
);

/**
 * Stripe `payment_intent.payment_failed` → `payment_link`. Payment intents
 * often carry no phone: the card's billing phone is tried, and the
 * payments team gets the link to follow up.
 */
export const PAYMENT_INTENT_LINK = paymentLink({
  eventKey: 'payment_intent.payment_failed',
  recipients: `[body.data.object.last_payment_error.payment_method.billing_details.phone, "${OPERATIONS_PHONE}"]`,
  amount: AMOUNT_WITH_CURRENCY,
  reason: 'body.data.object.last_payment_error.message',
  checkoutPath: "'checkout/' & body.data.object.id",
});

/** A CRM's `contact.created` (Standard Webhooks) → the sales team. */
export const NEW_CONTACT_ALERT = {
  eventKey: 'contact.created',
  recipients: `[body.data.phone, "${OPERATIONS_PHONE}"]`,
  template: {
    name: 'new_contact_alert',
    language: 'en_US',
    components: [
      { type: 'body', parameters: [{ value: 'body.data.id' }] },
      {
        type: 'button',
        subType: 'url',
        index: 0,
        parameters: [{ value: 'body.data.id' }],
      },
    ],
  },
};

/** A provider's sample payload, parsed as the mapper parses it. */
export const fixtureBody = (name: string): Record<string, unknown> =>
  parseJsonExact(readFixture(name).toString('utf8')) as Record<string, unknown>;

export interface WorkedExample {
  readonly title: string;
  /** What the payload is and how it differs from the provider's sample. */
  readonly payloadNote: string;
  readonly webhook: {
    readonly name: string;
    readonly provider: ProviderId;
    readonly defaultCountry: string;
  };
  /** What an admin should know before copying the mapping. */
  readonly caveat?: string;
  readonly mappingId: string;
  readonly mapping: object;
  readonly eventKey: string;
  readonly body: () => unknown;
}

/** The README's seed scenarios, each previewed against its payload. */
export const WORKED_EXAMPLES: readonly WorkedExample[] = [
  {
    title: 'Shopify: an order is fulfilled (`orders/updated`)',
    payloadNote:
      "Shopify's sample order (test/fixtures/payloads/shopify-orders-create.json; " +
      '`orders/updated` sends the same order object) with `fulfillment_status` ' +
      'set to `fulfilled` and a reachable shipping phone, since the sample ' +
      'only has `555-555-SHIP`.',
    webhook: { name: 'Shop', provider: 'shopify', defaultCountry: 'US' },
    caveat:
      'Shopify sends `orders/updated` for every change to an order, and the ' +
      'condition sees only the order as it is now: a fulfilled order that is ' +
      'edited later (a note, a tag) matches again and sends again. Map ' +
      "Shopify's `orders/fulfilled` topic instead when one message per " +
      'fulfilment matters more than covering partial fulfilments.',
    mappingId: 'order-fulfilled',
    mapping: SHOPIFY_FULFILMENT,
    eventKey: 'orders/updated',
    body: () => {
      const order = fixtureBody('shopify-orders-create.json');
      const shipping = order.shipping_address as Record<string, unknown>;
      return {
        ...order,
        fulfillment_status: 'fulfilled',
        shipping_address: { ...shipping, phone: '555-010-0143' },
      };
    },
  },
  {
    title: 'WooCommerce: an order reaches a final status (`order.updated`)',
    payloadNote:
      "WooCommerce's documented order (test/fixtures/payloads/woocommerce-order-created.json; " +
      '`order.updated` sends the same order object) with `status` set to `completed`.',
    webhook: {
      name: 'Woo store',
      provider: 'woocommerce',
      defaultCountry: 'US',
    },
    caveat:
      'WooCommerce sends `order.updated` on every save of the order, and the ' +
      'condition sees only its current status: saving a completed order ' +
      'again (a note, a refund line) matches again and sends again.',
    mappingId: 'order-status',
    mapping: WOOCOMMERCE_STATUS,
    eventKey: 'order.updated',
    body: () => ({
      ...fixtureBody('woocommerce-order-created.json'),
      status: 'completed',
    }),
  },
  {
    title: 'Stripe: a card payment fails (`charge.failed`)',
    payloadNote:
      "Stripe's sample event, unchanged (test/fixtures/payloads/stripe-charge-failed.json).",
    webhook: { name: 'Stripe live', provider: 'stripe', defaultCountry: 'US' },
    mappingId: 'payment-link',
    mapping: PAYMENT_LINK,
    eventKey: 'charge.failed',
    body: () => fixtureBody('stripe-charge-failed.json'),
  },
  {
    title: 'Razorpay: a payment fails (`payment.failed`)',
    payloadNote:
      "Razorpay's documented event, unchanged (test/fixtures/payloads/razorpay-payment-failed.json).",
    webhook: { name: 'Razorpay', provider: 'razorpay', defaultCountry: 'IN' },
    mappingId: 'payment-link',
    mapping: RAZORPAY_PAYMENT_LINK,
    eventKey: 'payment.failed',
    body: () => fixtureBody('razorpay-payment-failed.json'),
  },
];
