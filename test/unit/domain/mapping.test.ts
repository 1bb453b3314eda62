import { describe, expect, it } from 'vitest';
import { parseJsonExact } from '../../../lambdas/shared/domain/json.js';
import {
  type EvaluationInput,
  evaluateMapping,
  expressionProblems,
  type MappingInput,
  mappingInputSchema,
  matchesEventKey,
} from '../../../lambdas/shared/domain/mapping.js';
import { payload } from '../../fixtures/payloads.js';

const inputFor = (file: string, provider: string): EvaluationInput => ({
  body: parseJsonExact(payload(file).toString('utf8')),
  headers: {},
  webhook: { webhookId: 'wh_test', name: 'Test', provider },
});

const paymentLink: MappingInput = mappingInputSchema.parse({
  eventKey: 'charge.failed',
  recipients: 'body.data.object.billing_details.phone',
  template: {
    name: 'payment_link',
    language: 'en_US',
    components: [
      {
        type: 'body',
        parameters: [
          {
            value:
              "$formatNumber(body.data.object.amount / 100, '#,##0.00') & ' ' & $uppercase(body.data.object.currency)",
          },
          { value: 'body.data.object.failure_message' },
        ],
      },
      {
        type: 'button',
        subType: 'url',
        index: 0,
        parameters: [{ value: "'pay/' & body.data.object.payment_intent" }],
      },
    ],
  },
});

const orderConfirmation: MappingInput = mappingInputSchema.parse({
  eventKey: 'orders/create',
  recipients:
    '[body.customer.phone ? body.customer.phone : body.billing_address.phone, "+15550100199"]',
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
});

describe('evaluateMapping', () => {
  describe('with the providers sample payloads', () => {
    it('maps Stripe charge.failed to the payment link template request', async () => {
      // Act
      const outcome = await evaluateMapping(
        paymentLink,
        inputFor('stripe-charge-failed.json', 'stripe')
      );

      // Assert
      expect(outcome).toEqual({
        status: 'matched',
        rejected: [],
        messages: [
          {
            recipient: '+15550100142',
            request: {
              messaging_product: 'whatsapp',
              recipient_type: 'individual',
              to: '+15550100142',
              type: 'template',
              template: {
                name: 'payment_link',
                language: { code: 'en_US' },
                components: [
                  {
                    type: 'body',
                    parameters: [
                      { type: 'text', text: '20.00 USD' },
                      { type: 'text', text: 'Your card was declined.' },
                    ],
                  },
                  {
                    type: 'button',
                    sub_type: 'url',
                    index: '0',
                    parameters: [
                      { type: 'text', text: 'pay/pi_000000000000000000000000' },
                    ],
                  },
                ],
              },
            },
          },
        ],
      });
    });

    it('maps Shopify orders/create, refusing the messy customer phone', async () => {
      const outcome = await evaluateMapping(
        orderConfirmation,
        inputFor('shopify-orders-create.json', 'shopify'),
        'US'
      );

      expect(outcome).toEqual({
        status: 'matched',
        rejected: [
          {
            raw: '555-555-SHIP',
            reason: 'recipient is not a possible phone number',
          },
        ],
        messages: [
          {
            recipient: '+15550100199',
            request: {
              messaging_product: 'whatsapp',
              recipient_type: 'individual',
              to: '+15550100199',
              type: 'template',
              template: {
                name: 'order_confirmation',
                language: { code: 'en_US' },
                components: [
                  {
                    type: 'body',
                    parameters: [
                      { type: 'text', text: 'John' },
                      { type: 'text', text: '#9999' },
                      { type: 'text', text: '1575.90 USD' },
                    ],
                  },
                ],
              },
            },
          },
        ],
      });
    });

    it('keeps an order id beyond 2^53 exact', async () => {
      const mapping = withBody(orderConfirmation, [{ value: 'body.id' }]);

      const outcome = await evaluateMapping(
        mapping,
        inputFor('shopify-orders-create.json', 'shopify'),
        'US'
      );

      expect(firstBodyText(outcome)).toBe('820982911946154508');
    });

    it('normalises a national number with the default country', async () => {
      const mapping = {
        ...withBody(orderConfirmation, []),
        recipients: 'body.billing.phone',
      };
      const input = inputFor('woocommerce-order-created.json', 'woocommerce');

      const outcome = await evaluateMapping(mapping, input, 'US');

      expect(
        outcome.status === 'matched' && outcome.messages[0]?.recipient
      ).toBe('+15555555555');
    });

    it('refuses a national number when the webhook has no default country', async () => {
      const mapping = {
        ...withBody(orderConfirmation, []),
        recipients: 'body.billing.phone',
      };
      const input = inputFor('woocommerce-order-created.json', 'woocommerce');

      const outcome = await evaluateMapping(mapping, input);

      expect(outcome).toMatchObject({
        status: 'matched',
        messages: [],
        rejected: [{ reason: expect.stringContaining('no default country') }],
      });
    });
  });

  describe('conditions', () => {
    it('skips the event when the condition is false', async () => {
      const mapping = {
        ...paymentLink,
        condition: "body.data.object.failure_code = 'expired_card'",
      };

      const outcome = await evaluateMapping(
        mapping,
        inputFor('stripe-charge-failed.json', 'stripe')
      );

      expect(outcome).toEqual({
        status: 'skipped',
        reason: 'condition is false',
      });
    });

    it('matches when the condition is true', async () => {
      const mapping = {
        ...paymentLink,
        condition: "body.data.object.failure_code = 'card_declined'",
      };

      const outcome = await evaluateMapping(
        mapping,
        inputFor('stripe-charge-failed.json', 'stripe')
      );

      expect(outcome.status).toBe('matched');
    });
  });

  describe('parameter values', () => {
    const input: EvaluationInput = {
      body: {
        note: 'line one\nline two\t\ttabbed      spaced',
        empty: '',
        price: 34.629999999999995,
        big: 1e21,
      },
      headers: {},
      webhook: { webhookId: 'wh', name: 'n', provider: 'stripe' },
    };
    const simple = (value: string, fallback?: string) =>
      withBody({ ...paymentLink, recipients: '"+15550100142"' }, [
        { value, ...(fallback ? { fallback } : {}) },
      ]);

    it.each([
      ['"a\\u0000b\\u001bc"', 'a b c'],
      ['"pay\\u202emoc.live\\u200b"', 'pay moc.live'],
      ['body.note', 'line one line two tabbed spaced'],
      ['body.price', '34.63'],
      ['body.big', '1000000000000000000000'],
    ])('renders %s as %j', async (value, expected) => {
      const outcome = await evaluateMapping(simple(value), input);

      expect(firstBodyText(outcome)).toBe(expected);
    });

    it('uses the fallback when the value is empty', async () => {
      const outcome = await evaluateMapping(
        simple('body.empty', 'customer'),
        input
      );

      expect(firstBodyText(outcome)).toBe('customer');
    });

    it('says when a value is a structure rather than text', async () => {
      const outcome = await evaluateMapping(simple('body'), input);

      expect(outcome).toEqual({
        status: 'failed',
        reason:
          'body parameter 1 is a list or object, not text, and has no fallback',
      });
    });

    it('masks phone numbers quoted in an expression error', async () => {
      const outcome = await evaluateMapping(
        simple('$number("+15550107777x")'),
        input
      );

      expect(outcome.status).toBe('failed');
      expect(JSON.stringify(outcome)).not.toContain('5550107777');
      expect(JSON.stringify(outcome)).toContain('***7777');
    });

    it('sends to the usable recipients of a list with structures in it', async () => {
      const mapping = {
        ...simple('"x"'),
        recipients: '["+15550100142", true, null, {"to": "+15550100143"}]',
      };

      const outcome = await evaluateMapping(mapping, input);

      expect(outcome).toMatchObject({
        status: 'matched',
        messages: [{ recipient: '+15550100142' }],
        rejected: [
          { reason: 'recipient is a boolean, not text' },
          { reason: 'recipient is missing' },
          { reason: 'recipient is an object, not text' },
        ],
      });
    });

    it('fails the mapping when a value is missing and has no fallback', async () => {
      const outcome = await evaluateMapping(simple('body.absent'), input);

      expect(outcome).toEqual({
        status: 'failed',
        reason: 'body parameter 1 is empty and has no fallback',
      });
    });

    it('fails a header parameter longer than WhatsApp allows', async () => {
      const mapping: MappingInput = {
        ...simple('"ok"'),
        template: {
          ...paymentLink.template,
          components: [
            { type: 'header', parameters: [{ value: '$pad("", 61, "x")' }] },
          ],
        },
      };

      const outcome = await evaluateMapping(mapping, input);

      expect(outcome).toEqual({
        status: 'failed',
        reason: 'header parameter 1 has 61 characters; a header allows 60',
      });
    });

    it('fails a runaway expression instead of hanging', async () => {
      const outcome = await evaluateMapping(
        simple('($f := function($n) { $f($n + 1) }; $f(0))'),
        input
      );

      expect(outcome).toMatchObject({
        status: 'failed',
        reason: expect.stringContaining('expression failed'),
      });
    });
  });
});

describe('expressionProblems', () => {
  it('reports a syntax error with its field and position', () => {
    const mapping = { ...paymentLink, recipients: 'body.data.(' };

    const problems = expressionProblems(mapping);

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^recipients: S\d+ at position \d+: /);
  });

  it('finds nothing wrong in a valid mapping', () => {
    expect(expressionProblems(paymentLink)).toEqual([]);
  });
});

describe('matchesEventKey', () => {
  it.each([
    ['orders/create', 'orders/create', true],
    ['orders/create', 'orders/updated', false],
    ['orders/*', 'orders/updated', true],
    ['charge.*', 'charge.failed', true],
    ['charge.*', 'chargexfailed', false],
    ['charge.failed', 'chargexfailed', false],
  ])('%s covers %s: %s', (pattern, key, expected) => {
    expect(matchesEventKey(pattern, key)).toBe(expected);
  });
});

function withBody(
  mapping: MappingInput,
  parameters: MappingInput['template']['components'][number]['parameters']
): MappingInput {
  return {
    ...mapping,
    template: {
      ...mapping.template,
      components: [{ type: 'body', parameters }],
    },
  };
}

function firstBodyText(outcome: Awaited<ReturnType<typeof evaluateMapping>>) {
  if (outcome.status !== 'matched') return outcome;
  const component = outcome.messages[0]?.request.template.components[0];
  const parameter = component?.parameters[0];

  return parameter?.type === 'text' ? parameter.text : parameter;
}
