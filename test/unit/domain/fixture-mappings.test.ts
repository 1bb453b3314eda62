import { describe, expect, it } from 'vitest';
import { checkMapping } from '../../../lambdas/shared/domain/contract.js';
import {
  evaluateMapping,
  type MappingOutcome,
  mappingInputSchema,
} from '../../../lambdas/shared/domain/mapping.js';
import type { TemplateComponent } from '../../../lambdas/shared/domain/whatsapp.js';
import {
  fixtureBody,
  NEW_CONTACT_ALERT,
  OPERATIONS_PHONE,
  ORDER_CONFIRMATION,
  PAYMENT_INTENT_LINK,
  PAYMENT_LINK,
  RAZORPAY_PAYMENT_LINK,
  WOOCOMMERCE_CONFIRMATION,
} from '../../../local/examples.js';
import { loadTemplates } from '../../../local/whatsapp-templates.js';

/**
 * Every provider sample payload in test/fixtures/payloads, mapped as an
 * admin would map it, to the exact WhatsApp request. The mappings are the
 * examples the demo and README use, checked against the template registry
 * first so the length rules apply as in production. The WhatsApp status
 * samples are callbacks, not mapping inputs.
 */
const templates = loadTemplates();

const mapFixture = async (
  mapping: object,
  file: string,
  provider: string,
  defaultCountry?: string
): Promise<MappingOutcome> => {
  const input = mappingInputSchema.parse(mapping);
  const checked = checkMapping(input, templates);
  if ('problems' in checked) throw new Error(checked.problems.join('; '));

  return evaluateMapping(
    { ...input, approvedTemplate: checked.approvedTemplate },
    {
      body: fixtureBody(file),
      headers: {},
      webhook: { webhookId: 'wh_fixture', name: 'Fixture', provider },
    },
    defaultCountry
  );
};

const request = (
  to: string,
  name: string,
  components: TemplateComponent[]
) => ({
  messaging_product: 'whatsapp',
  recipient_type: 'individual',
  to,
  type: 'template',
  template: { name, language: { code: 'en_US' }, components },
});

const body = (...texts: string[]): TemplateComponent => ({
  type: 'body',
  parameters: texts.map((text) => ({ type: 'text', text })),
});

const urlButton = (text: string): TemplateComponent => ({
  type: 'button',
  sub_type: 'url',
  index: '0',
  parameters: [{ type: 'text', text }],
});

describe('provider sample payloads mapped to WhatsApp requests', () => {
  it('Shopify orders/create: the unusable 555-555-SHIP is recorded, operations still told', async () => {
    const outcome = await mapFixture(
      ORDER_CONFIRMATION,
      'shopify-orders-create.json',
      'shopify',
      'US'
    );

    expect(outcome).toStrictEqual({
      status: 'matched',
      rejected: [
        {
          raw: '555-555-SHIP',
          reason: 'recipient is not a possible phone number',
        },
      ],
      messages: [
        {
          recipient: OPERATIONS_PHONE,
          request: request(OPERATIONS_PHONE, 'order_confirmation', [
            body('John', '#9999', '1575.90 USD'),
          ]),
        },
      ],
    });
  });

  it('WooCommerce order.created: a national (555) number with default country US', async () => {
    const outcome = await mapFixture(
      WOOCOMMERCE_CONFIRMATION,
      'woocommerce-order-created.json',
      'woocommerce',
      'US'
    );

    expect(outcome).toStrictEqual({
      status: 'matched',
      rejected: [],
      messages: [
        {
          recipient: '+15555555555',
          request: request('+15555555555', 'order_confirmation', [
            body('John', '#727', '29.35 USD'),
          ]),
        },
      ],
    });
  });

  it('WooCommerce order.created: the same number refused without a default country', async () => {
    const outcome = await mapFixture(
      WOOCOMMERCE_CONFIRMATION,
      'woocommerce-order-created.json',
      'woocommerce'
    );

    expect(outcome).toStrictEqual({
      status: 'matched',
      rejected: [
        {
          raw: '(555) 555-5555',
          reason:
            'recipient has no country code and the webhook has no default country',
        },
      ],
      messages: [],
    });
  });

  it('Stripe charge.failed: payment link with the checkout path', async () => {
    const outcome = await mapFixture(
      PAYMENT_LINK,
      'stripe-charge-failed.json',
      'stripe',
      'US'
    );

    expect(outcome).toStrictEqual({
      status: 'matched',
      rejected: [],
      messages: [
        {
          recipient: '+15550100142',
          request: request('+15550100142', 'payment_link', [
            body('20.00 USD', 'Your card was declined.'),
            urlButton('checkout/pi_000000000000000000000000'),
          ]),
        },
      ],
    });
  });

  it('Stripe payment_intent.payment_failed: no phone anywhere, the payments team gets the link', async () => {
    const outcome = await mapFixture(
      PAYMENT_INTENT_LINK,
      'stripe-payment-intent-payment-failed.json',
      'stripe',
      'US'
    );

    expect(outcome).toStrictEqual({
      status: 'matched',
      rejected: [{ raw: '', reason: 'recipient is missing' }],
      messages: [
        {
          recipient: OPERATIONS_PHONE,
          request: request(OPERATIONS_PHONE, 'payment_link', [
            body('20.00 USD', 'Your card was declined.'),
            urlButton('checkout/pi_000000000000000000000000'),
          ]),
        },
      ],
    });
  });

  it('Razorpay payment.failed: paise to rupees, a full stop added to the reason', async () => {
    const outcome = await mapFixture(
      RAZORPAY_PAYMENT_LINK,
      'razorpay-payment-failed.json',
      'razorpay',
      'IN'
    );

    expect(outcome).toStrictEqual({
      status: 'matched',
      rejected: [],
      messages: [
        {
          recipient: '+919876543210',
          request: request('+919876543210', 'payment_link', [
            body('500.00 INR', 'Payment failed.'),
            urlButton('checkout/order_DEATVTRRctwEGb'),
          ]),
        },
      ],
    });
  });

  // JSONata leaves a path that matches nothing out of a list, so an absent
  // field (unlike a null one, as in the payment intent) records nothing.
  it('Standard Webhooks contact.created: no phone in the event, the sales team is told', async () => {
    const outcome = await mapFixture(
      NEW_CONTACT_ALERT,
      'standard-webhooks-contact-created.json',
      'standard-webhooks'
    );

    expect(outcome).toStrictEqual({
      status: 'matched',
      rejected: [],
      messages: [
        {
          recipient: OPERATIONS_PHONE,
          request: request(OPERATIONS_PHONE, 'new_contact_alert', [
            body('1f81eb52-5198-4599-803e-771906343485'),
            urlButton('1f81eb52-5198-4599-803e-771906343485'),
          ]),
        },
      ],
    });
  });
});
