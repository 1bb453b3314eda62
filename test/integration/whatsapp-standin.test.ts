import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WHATSAPP_API_VERSION } from '../../lib/definitions.js';
import {
  startWhatsAppStandIn,
  type WhatsAppStandIn,
} from '../../local/whatsapp-standin.js';
import { loadTemplates } from '../../local/whatsapp-templates.js';

/** The stand-in's answers, over HTTP, as the sender would meet them. */
const TOKEN = 'local-test-token';
const PHONE_NUMBER_ID = '100000000000001';
const BUSINESS_ACCOUNT_ID = '100000000000002';

let standIn: WhatsAppStandIn;

beforeAll(async () => {
  standIn = await startWhatsAppStandIn({
    token: TOKEN,
    phoneNumberId: PHONE_NUMBER_ID,
    businessAccountId: BUSINESS_ACCOUNT_ID,
  });
});

afterAll(async () => {
  await standIn?.close();
});

const text = (value: string) => ({ type: 'text', text: value });

const orderConfirmation = (overrides: Record<string, unknown> = {}) => ({
  messaging_product: 'whatsapp',
  recipient_type: 'individual',
  to: '+15550100142',
  type: 'template',
  template: {
    name: 'order_confirmation',
    language: { code: 'en_US' },
    components: [
      {
        type: 'body',
        parameters: [text('John'), text('#9999'), text('1575.90 USD')],
      },
    ],
  },
  ...overrides,
});

const withTemplate = (template: Record<string, unknown>) =>
  orderConfirmation({
    template: { language: { code: 'en_US' }, components: [], ...template },
  });

const post = async (body: unknown, token = TOKEN, raw?: string) => {
  const response = await fetch(
    `${standIn.url}/${WHATSAPP_API_VERSION}/${PHONE_NUMBER_ID}/messages`,
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: raw ?? JSON.stringify(body),
    }
  );

  return {
    status: response.status,
    body: (await response.json()) as {
      error?: { code: number; type: string; error_data: { details: string } };
    } & Record<string, unknown>,
  };
};

describe('WhatsApp stand-in', () => {
  it('accepts a valid message and records its exact body', async () => {
    // Arrange
    const raw = JSON.stringify(orderConfirmation());

    // Act
    const answer = await post(undefined, TOKEN, raw);
    const recorded = (await (
      await fetch(`${standIn.url}/_standin/requests`)
    ).json()) as { body: string; status: number }[];

    // Assert
    expect(answer).toEqual({
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        contacts: [{ input: '+15550100142', wa_id: '15550100142' }],
        messages: [
          { id: expect.stringMatching(/^wamid\./), message_status: 'accepted' },
        ],
      },
    });
    expect(recorded.at(-1)).toMatchObject({ body: raw, status: 200 });
    expect(standIn.requests().at(-1)?.headers.authorization).toBe('Bearer ***');
  });

  it('answers 401 with code 190 for a wrong token', async () => {
    // Act
    const answer = await post(orderConfirmation(), 'wrong-token');

    // Assert
    expect(answer.status).toBe(401);
    expect(answer.body.error).toEqual({
      message: expect.any(String),
      type: 'OAuthException',
      code: 190,
      error_data: {
        messaging_product: 'whatsapp',
        details: expect.any(String),
      },
      fbtrace_id: expect.any(String),
    });
  });

  it.each([
    ['an unknown template', { name: 'no_such_template' }],
    [
      'another language',
      { name: 'order_confirmation', language: { code: 'en' } },
    ],
  ])('answers 404 with code 132001 for %s', async (_case, template) => {
    // Act
    const answer = await post(withTemplate(template));

    // Assert
    expect(answer.status).toBe(404);
    expect(answer.body.error?.code).toBe(132001);
  });

  it('answers 132000 naming the component short of a parameter', async () => {
    // Arrange
    const request = withTemplate({
      name: 'order_confirmation',
      components: [{ type: 'body', parameters: [text('John'), text('#9999')] }],
    });

    // Act
    const answer = await post(request);

    // Assert
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe(132000);
    expect(answer.body.error?.error_data.details).toMatch(
      /^body: .*\(2\).*\(3\)/
    );
  });

  it.each([
    ['a newline', 'line one\nline two'],
    ['a tab', 'a\tb'],
    ['five spaces', 'a     b'],
  ])('answers 132018 for a parameter with %s', async (_case, value) => {
    // Arrange
    const request = withTemplate({
      name: 'order_confirmation',
      components: [
        {
          type: 'body',
          parameters: [text(value), text('#9999'), text('1 USD')],
        },
      ],
    });

    // Act
    const answer = await post(request);

    // Assert
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe(132018);
  });

  it('answers code 100 when `to` is not a possible number', async () => {
    // Act
    const answer = await post(orderConfirmation({ to: '555-555-SHIP' }));

    // Assert
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe(100);
  });

  it('checks the URL button by index and sub_type', async () => {
    // Arrange
    const body = {
      type: 'body',
      parameters: [text('20.00 USD'), text('Your card was declined.')],
    };
    const button = (parameters: unknown[], subType = 'url') => ({
      type: 'button',
      sub_type: subType,
      index: '0',
      parameters,
    });
    const send = (components: unknown[]) =>
      post(withTemplate({ name: 'payment_link', components }));

    // Act
    const complete = await send([body, button([text('checkout/pi_1')])]);
    const missing = await send([body]);
    const doubled = await send([body, button([text('a'), text('b')])]);
    const wrongType = await send([
      body,
      button([{ type: 'payload', payload: 'x' }], 'quick_reply'),
    ]);

    // Assert
    expect(complete.status).toBe(200);
    expect(missing.body.error?.code).toBe(132000);
    expect(missing.body.error?.error_data.details).toMatch(
      /^button at index 0/
    );
    expect(doubled.body.error?.code).toBe(132000);
    expect(wrongType.body.error?.code).toBe(100);
  });

  it('checks named parameters, quick replies and coupon codes', async () => {
    // Arrange
    const named = (name: string, value: string) => ({
      type: 'text',
      parameter_name: name,
      text: value,
    });
    const delivery = (bodyName: string) =>
      post(
        withTemplate({
          name: 'delivery_update',
          components: [
            { type: 'header', parameters: [named('order_number', '#9999')] },
            {
              type: 'body',
              parameters: [
                named(bodyName, 'John'),
                named('tracking_number', '1Z999'),
              ],
            },
            {
              type: 'button',
              sub_type: 'quick_reply',
              index: 0,
              parameters: [{ type: 'payload', payload: 'STOP' }],
            },
          ],
        })
      );
    const offer = (coupon: string) =>
      post(
        withTemplate({
          name: 'discount_offer',
          components: [
            { type: 'body', parameters: [text('John'), text('15%')] },
            {
              type: 'button',
              sub_type: 'copy_code',
              index: 0,
              parameters: [{ type: 'coupon_code', coupon_code: coupon }],
            },
          ],
        })
      );

    // Act
    const answers = await Promise.all([
      delivery('customer_name'),
      delivery('first_name'),
      offer('SAVE15'),
      offer('A-COUPON-CODE-TOO-LONG'),
    ]);

    // Assert
    expect(
      answers.map((answer) => answer.body.error?.code ?? answer.status)
    ).toEqual([200, 132000, 200, 132018]);
  });
});

describe('WhatsApp stand-in template list', () => {
  const list = (url: string, token = TOKEN) =>
    fetch(url, { headers: { authorization: `Bearer ${token}` } });

  it('pages the registry as Meta does, to the last template', async () => {
    // Arrange
    const first = `${standIn.url}/${WHATSAPP_API_VERSION}/${BUSINESS_ACCOUNT_ID}/message_templates?limit=4`;
    const names: string[] = [];
    let pages = 0;

    // Act
    let next: string | undefined = first;
    while (next !== undefined) {
      const page = (await (await list(next)).json()) as {
        data: { name: string; language: string }[];
        paging: { next?: string };
      };
      names.push(...page.data.map((t) => `${t.name}/${t.language}`));
      next = page.paging.next;
      pages++;
    }

    // Assert
    const registry = loadTemplates().map((t) => `${t.name}/${t.language}`);
    expect(names).toEqual(registry);
    expect(pages).toBe(Math.ceil(registry.length / 4));
  });

  it('refuses a wrong token with code 190', async () => {
    // Act
    const answer = await list(
      `${standIn.url}/${WHATSAPP_API_VERSION}/${BUSINESS_ACCOUNT_ID}/message_templates`,
      'wrong'
    );

    // Assert
    expect(answer.status).toBe(401);
    expect(await answer.json()).toMatchObject({ error: { code: 190 } });
  });

  it('accepts currency and date_time body values', async () => {
    // Arrange
    const body = withTemplate({
      name: 'payment_due',
      components: [
        {
          type: 'body',
          parameters: [
            text('Ana'),
            {
              type: 'currency',
              currency: {
                fallback_value: '$20.00',
                code: 'USD',
                amount_1000: 20000,
              },
            },
            {
              type: 'date_time',
              date_time: { fallback_value: '1 March 2026' },
            },
          ],
        },
      ],
    });

    // Act
    const answer = await post(body);

    // Assert
    expect(answer.status).toBe(200);
  });
});
