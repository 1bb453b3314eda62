import { describe, expect, it } from 'vitest';
import { parseJsonExact } from '../../../lambdas/shared/domain/json.js';
import {
  type CheckedMapping,
  type EvaluationInput,
  evaluateMapping,
  expressionProblems,
  type MappingOutcome,
  mappingInputSchema,
  matchesEventKey,
  type SendingMapping,
} from '../../../lambdas/shared/domain/mapping.js';
import { ORDER_CONFIRMATION, PAYMENT_LINK } from '../../../local/examples.js';
import { payload } from '../../fixtures/payloads.js';

const inputFor = (file: string, provider: string): EvaluationInput => ({
  body: parseJsonExact(payload(file).toString('utf8')),
  headers: {},
  webhook: { webhookId: 'wh_test', name: 'Test', provider },
});

const paymentLink = mappingInputSchema.parse(PAYMENT_LINK) as SendingMapping;

const orderConfirmation = mappingInputSchema.parse(
  ORDER_CONFIRMATION
) as SendingMapping;

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
                      {
                        type: 'text',
                        text: 'checkout/pi_000000000000000000000000',
                      },
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
        tenth: 0.1,
        fifth: 0.2,
        unit: 19.99,
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
      ['"pay\\u202emoc.live\\u200b"', 'paymoc.live'],
      ['body.note', 'line one line two tabbed spaced'],
      ['body.price', '34.63'],
      ['body.big', '1000000000000000000000'],
      ['body.tenth + body.fifth', '0.3'],
      ['body.unit * 3', '59.97'],
      ['body.price - 0.63 + 0.001', '34.001'],
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
      const mapping: SendingMapping = {
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

    it('fails a value that matches several items, even with a fallback', async () => {
      const outcome = await evaluateMapping(
        simple('body.items.title', 'your items'),
        { ...input, body: { items: [{ title: 'Tea' }, { title: 'Cups' }] } }
      );

      expect(outcome).toEqual({
        status: 'failed',
        reason:
          'body parameter 1 matches 2 values; join them ($join(..., ", ")) or pick one ([0])',
      });
    });

    it('takes the one item a path matches, and a list joined explicitly', async () => {
      const one = await evaluateMapping(simple('body.items.title'), {
        ...input,
        body: { items: [{ title: 'Tea' }] },
      });
      const joined = await evaluateMapping(
        simple('$join(body.items.title, ", ")'),
        { ...input, body: { items: [{ title: 'Tea' }, { title: 'Cups' }] } }
      );

      expect(firstBodyText(one)).toBe('Tea');
      expect(firstBodyText(joined)).toBe('Tea, Cups');
    });

    it('uses the fallback when a path matches no item', async () => {
      const outcome = await evaluateMapping(
        simple('body.items.title', 'your items'),
        { ...input, body: { items: [] } }
      );

      expect(firstBodyText(outcome)).toBe('your items');
    });

    it('says an object is not text, even with a fallback', async () => {
      const outcome = await evaluateMapping(simple('body', 'x'), input);

      expect(outcome).toEqual({
        status: 'failed',
        reason:
          'body parameter 1 is an object, not text; pick one of its fields',
      });
    });

    it.each([
      ['"   "'],
      ['"\n\t"'],
      ['"\u200b"'],
      ['null'],
      ['[]'],
      ['[null]'],
    ])('never sends %s as empty text', async (value) => {
      const withFallback = await evaluateMapping(simple(value, 'n/a'), input);
      const without = await evaluateMapping(simple(value), input);

      expect(firstBodyText(withFallback)).toBe('n/a');
      expect(without).toEqual({
        status: 'failed',
        reason: 'body parameter 1 is empty and has no fallback',
      });
    });

    it('keeps payload integers beyond 2^53 exact in text', async () => {
      const body = parseJsonExact(
        '{"id": 12345678901234567890, "n": 9007199254740993}'
      );

      const outcome = await evaluateMapping(
        simple("body.id & ' ' & $string(body.n)"),
        { ...input, body }
      );

      expect(firstBodyText(outcome)).toBe(
        '12345678901234567890 9007199254740993'
      );
    });

    it('records a recipient list that comes out empty', async () => {
      const mapping = { ...simple('"x"'), recipients: 'body.phones' };

      const outcome = await evaluateMapping(mapping, {
        ...input,
        body: { phones: [] },
      });

      expect(outcome).toEqual({
        status: 'matched',
        messages: [],
        rejected: [{ raw: '', reason: 'recipient is missing' }],
      });
    });

    it('sends once to each recipient a path matches, duplicates merged', async () => {
      const mapping = { ...simple('"x"'), recipients: 'body.items.phone' };
      const items = ['+1 555 010 0142', '(555) 010-0143', '+15550100142'];

      const outcome = await evaluateMapping(
        mapping,
        { ...input, body: { items: items.map((phone) => ({ phone })) } },
        'US'
      );

      expect(
        outcome.status === 'matched' && outcome.messages.map((m) => m.recipient)
      ).toEqual(['+15550100142', '+15550100143']);
    });

    it('fails an expression that runs too long, naming the time box', async () => {
      const outcome = await evaluateMapping(
        simple('$count([1..5000].($x := $; [1..5000].($ * $x)))'),
        input
      );

      expect(outcome).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/^expression failed: D1012/),
      });
    });

    it('does not count a pause of the process against the time box', async () => {
      // The first read blocks the thread for 300 ms without using the CPU,
      // as a busy host or a frozen container would.
      let paused = false;
      const body = {
        get status() {
          if (!paused) {
            paused = true;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
          }
          return 'paid';
        },
      };

      const outcome = await evaluateMapping(
        simple("'order ' & body.status & ' today'"),
        { ...input, body }
      );

      expect(firstBodyText(outcome)).toBe('order paid today');
    });

    it('fails an expression that builds a huge list', async () => {
      const outcome = await evaluateMapping(
        simple('$count([1..100000000])'),
        input
      );

      expect(outcome).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/^expression failed: D20(14|15)/),
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

describe('evaluateMapping with the template rules', () => {
  const input: EvaluationInput = {
    body: {
      phone: '+15550100142',
      name: 'Ana',
      code: '1234567890123456',
      long: 'x'.repeat(1000),
      amount: 1999,
      currency: 'usd',
      due: '1 March 2026',
      image: 'https://cdn.example.com/parcel.jpg',
      pdf: 'https://cdn.example.com/inv.pdf',
    },
    headers: {},
    webhook: { webhookId: 'wh', name: 'n', provider: 'generic' },
  };
  const withComponents = (
    components: unknown[],
    approvedTemplate?: CheckedMapping['approvedTemplate']
  ): CheckedMapping => ({
    ...mappingInputSchema.parse({
      eventKey: 'x',
      recipients: 'body.phone',
      template: { name: 't', language: 'en_US', components },
    }),
    ...(approvedTemplate ? { approvedTemplate } : {}),
  });
  const componentsOf = (outcome: MappingOutcome) =>
    outcome.status === 'matched'
      ? outcome.messages[0]?.request.template.components
      : outcome;

  it('sends currency, date_time, image and document values in WhatsApp shape', async () => {
    const mapping = withComponents([
      {
        type: 'header',
        parameters: [
          { type: 'document', link: 'body.pdf', filename: "'Invoice.pdf'" },
        ],
      },
      {
        type: 'body',
        parameters: [
          {
            type: 'currency',
            value: "'$' & $formatNumber(body.amount / 100, '0.00')",
            code: 'body.currency',
            amount1000: 'body.amount * 10',
          },
          { type: 'date_time', value: 'body.due', name: 'due_date' },
        ],
      },
    ]);

    const outcome = await evaluateMapping(mapping, input);

    expect(componentsOf(outcome)).toEqual([
      {
        type: 'header',
        parameters: [
          {
            type: 'document',
            document: {
              link: 'https://cdn.example.com/inv.pdf',
              filename: 'Invoice.pdf',
            },
          },
        ],
      },
      {
        type: 'body',
        parameters: [
          {
            type: 'currency',
            currency: {
              fallback_value: '$19.99',
              code: 'USD',
              amount_1000: 19990,
            },
          },
          {
            type: 'date_time',
            date_time: { fallback_value: '1 March 2026' },
            parameter_name: 'due_date',
          },
        ],
      },
    ]);
  });

  it('sends an image header by its link', async () => {
    const mapping = withComponents([
      { type: 'header', parameters: [{ type: 'image', link: 'body.image' }] },
    ]);

    const outcome = await evaluateMapping(mapping, input);

    expect(componentsOf(outcome)).toEqual([
      {
        type: 'header',
        parameters: [
          {
            type: 'image',
            image: { link: 'https://cdn.example.com/parcel.jpg' },
          },
        ],
      },
    ]);
  });

  it.each([
    [
      'a media link that is not http(s)',
      [
        {
          type: 'header',
          parameters: [{ type: 'video', link: "'ftp://x/y'" }],
        },
      ],
      'header parameter 1 link is not an http or https URL',
    ],
    [
      'a currency code that is not ISO 4217',
      [
        {
          type: 'body',
          parameters: [
            {
              type: 'currency',
              value: "'$1'",
              code: "'dollars'",
              amount1000: '1000',
            },
          ],
        },
      ],
      'body parameter 1 code is not a three-letter currency code (ISO 4217)',
    ],
    [
      'an amount that is not whole',
      [
        {
          type: 'body',
          parameters: [
            {
              type: 'currency',
              value: "'$1'",
              code: "'USD'",
              amount1000: '1000.5',
            },
          ],
        },
      ],
      'body parameter 1 amount1000 is not a whole number',
    ],
    [
      'a coupon code over 15 characters',
      [
        {
          type: 'button',
          subType: 'copy_code',
          index: 0,
          parameters: [{ value: 'body.code' }],
        },
      ],
      'button 0 parameter 1 has 16 characters; a code allows 15',
    ],
  ])('fails %s', async (_what, components, reason) => {
    const outcome = await evaluateMapping(withComponents(components), input);

    expect(outcome).toEqual({ status: 'failed', reason });
  });

  it('fails an authentication code over 15 characters', async () => {
    const mapping = withComponents(
      [{ type: 'body', parameters: [{ value: 'body.code' }] }],
      {
        category: 'AUTHENTICATION',
        bodyText: '*{{1}}* is your verification code.',
      }
    );

    const outcome = await evaluateMapping(mapping, input);

    expect(outcome).toEqual({
      status: 'failed',
      reason: 'body parameter 1 has 16 characters; a code allows 15',
    });
  });

  it('fails a body longer than 1,024 characters once filled in', async () => {
    const bodyText = `Hi {{1}}, ${'y'.repeat(20)} {{2}}.`;
    const mapping = withComponents(
      [
        {
          type: 'body',
          parameters: [{ value: 'body.name' }, { value: 'body.long' }],
        },
      ],
      { category: 'UTILITY', bodyText }
    );

    const outcome = await evaluateMapping(mapping, input);

    expect(outcome).toEqual({
      status: 'failed',
      reason:
        'the body has 1030 characters once filled in; WhatsApp allows 1024',
    });
  });

  it('sends a body of exactly 1,024 characters once filled in', async () => {
    const bodyText = `{{1}}${'y'.repeat(24)}`;
    const mapping = withComponents(
      [{ type: 'body', parameters: [{ value: 'body.long' }] }],
      { category: 'UTILITY', bodyText }
    );

    const outcome = await evaluateMapping(mapping, input);

    expect(outcome.status).toBe('matched');
  });

  it('fails a header longer than 60 characters once filled in', async () => {
    const mapping = withComponents(
      [{ type: 'header', parameters: [{ value: '$pad("", 40, "x")' }] }],
      {
        category: 'UTILITY',
        headerText: `Order {{1}} ${'z'.repeat(15)}`,
        bodyText: '',
      }
    );

    const outcome = await evaluateMapping(mapping, input);

    expect(outcome).toEqual({
      status: 'failed',
      reason: 'the header has 62 characters once filled in; WhatsApp allows 60',
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
  mapping: SendingMapping,
  parameters: Extract<
    SendingMapping['template']['components'][number],
    { type: 'body' }
  >['parameters']
): SendingMapping {
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

describe('delays and cancellations in a mapping', () => {
  const sending = {
    eventKey: 'charge.failed',
    recipients: '"+15550100142"',
    template: { name: 'payment_reminder', language: 'en_US', components: [] },
  };
  const problemsOf = (input: unknown): string[] => {
    const result = mappingInputSchema.safeParse(input);
    return result.success
      ? []
      : result.error.issues.map(
          (issue) => `${issue.path.join('.')}: ${issue.message}`
        );
  };

  it('takes a delay of one second to a day', () => {
    expect(problemsOf({ ...sending, delaySeconds: 1 })).toEqual([]);
    expect(problemsOf({ ...sending, delaySeconds: 86_400 })).toEqual([]);
    expect(problemsOf({ ...sending, delaySeconds: 0 })).toHaveLength(1);
    expect(problemsOf({ ...sending, delaySeconds: 86_401 })).toHaveLength(1);
    expect(problemsOf({ ...sending, delaySeconds: 1.5 })).toHaveLength(1);
  });

  it('takes a cancel-only mapping without template or recipients', () => {
    expect(
      problemsOf({
        eventKey: 'payment_intent.succeeded',
        businessKey: 'body.data.object.id',
        cancels: ['payment-failed-reminder'],
      })
    ).toEqual([]);
  });

  it('takes a mapping that both sends and cancels', () => {
    expect(
      problemsOf({
        ...sending,
        businessKey: 'body.data.object.id',
        cancels: ['payment-failed-reminder'],
      })
    ).toEqual([]);
  });

  it('says what a mapping is missing', () => {
    expect(problemsOf({ eventKey: 'charge.failed' })).toEqual([
      'template: a mapping sends a template, cancels waiting messages, or both; this one does neither',
    ]);
    expect(
      problemsOf({ eventKey: 'x', cancels: ['reminder'], delaySeconds: 60 })
    ).toEqual([
      'delaySeconds: only a mapping that sends a template can be delayed',
      'businessKey: a mapping that cancels needs a businessKey to find the messages waiting for the same key',
    ]);
    expect(problemsOf({ ...sending, recipients: undefined })).toEqual([
      'recipients: a mapping that sends a template needs recipients',
    ]);
    expect(
      problemsOf({
        eventKey: 'x',
        businessKey: 'body.id',
        cancels: ['no spaces allowed'],
      })
    ).toEqual(['cancels.0: is not a mapping id']);
  });

  it('checks the business key expression', () => {
    const mapping = mappingInputSchema.parse({
      ...sending,
      businessKey: 'body.(',
    });

    expect(expressionProblems(mapping)).toEqual([
      expect.stringMatching(/^businessKey: /),
    ]);
  });

  it('evaluates the business key of a cancel-only mapping as text', async () => {
    const mapping = mappingInputSchema.parse({
      eventKey: 'charge.failed',
      businessKey: 'body.data.object.amount',
      cancels: ['reminder'],
    });

    const outcome = await evaluateMapping(
      mapping,
      inputFor('stripe-charge-failed.json', 'stripe')
    );

    expect(outcome).toEqual({
      status: 'matched',
      messages: [],
      rejected: [],
      businessKey: expect.stringMatching(/^\d+$/),
    });
  });
});
