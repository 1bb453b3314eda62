import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Providers } from '../../lambdas/shared/domain/providers.js';
import { verifySignature } from '../../lambdas/shared/domain/signature.js';
import { WHATSAPP_API_VERSION } from '../../lib/definitions.js';
import { closeServer, LOOPBACK, listen } from '../../local/net.js';
import {
  type StandInOptions,
  startWhatsAppStandIn,
  type WhatsAppStandIn,
} from '../../local/whatsapp-standin.js';
import { loadTemplates } from '../../local/whatsapp-templates.js';
import { payload } from '../fixtures/payloads.js';

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

interface Answer {
  readonly status: number;
  readonly body: {
    error?: { code: number; type: string; error_data: { details: string } };
  } & Record<string, unknown>;
}

interface SendOptions {
  readonly token?: string;
  /** The exact body to send instead of `body` serialised. */
  readonly raw?: string;
  readonly signal?: AbortSignal;
}

const sendTo = async (
  target: WhatsAppStandIn,
  body: unknown,
  { token = TOKEN, raw, signal }: SendOptions = {}
): Promise<Answer> => {
  const response = await fetch(
    `${target.url}/${WHATSAPP_API_VERSION}/${PHONE_NUMBER_ID}/messages`,
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: raw ?? JSON.stringify(body),
      signal,
    }
  );

  return {
    status: response.status,
    body: (await response.json()) as Answer['body'],
  };
};

const post = (body: unknown, token = TOKEN, raw?: string) =>
  sendTo(standIn, body, { token, raw });

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

/** A stand-in of its own, with a clock the test moves by hand. */
const manualClock = (start = Date.UTC(2026, 0, 1)) => {
  let now = start;
  return {
    clock: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
};

const started: WhatsAppStandIn[] = [];

const startOwn = async (options: Partial<StandInOptions> = {}) => {
  const own = await startWhatsAppStandIn({
    token: TOKEN,
    phoneNumberId: PHONE_NUMBER_ID,
    ...options,
  });
  started.push(own);
  return own;
};

afterEach(async () => {
  await Promise.all(started.splice(0).map((own) => own.close()));
});

/** A stand-in on a hand-moved clock, with these limits. */
const startClocked = async (limits?: StandInOptions['limits']) => {
  const time = manualClock();
  const own = await startOwn({ clock: time.clock, limits });

  return { own, time };
};

const control = async (
  target: WhatsAppStandIn,
  method: string,
  route: string,
  body?: unknown
) => {
  const response = await fetch(`${target.url}/_standin/${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
  };
};

/** A fake recipient per index: +1 555 010 xxxx. */
const recipient = (index: number) =>
  `+1555010${String(index).padStart(4, '0')}`;

const to = (index: number) => orderConfirmation({ to: recipient(index) });

const codeOf = (answer: Answer) => answer.body.error?.code ?? answer.status;

describe('WhatsApp stand-in throughput limit', () => {
  it('answers 130429 past 80 messages in one second by default', async () => {
    // Arrange
    const { own } = await startClocked();

    // Act
    const answers = await Promise.all(
      Array.from({ length: 81 }, (_, index) => sendTo(own, to(index)))
    );

    // Assert
    const codes = answers.map(codeOf);
    expect(codes.filter((code) => code === 200)).toHaveLength(80);
    expect(codes.filter((code) => code === 130429)).toHaveLength(1);
  });

  it('slides its window at the configured rate and answers as Meta does', async () => {
    // Arrange
    const { own, time } = await startClocked({
      throughput: { messages: 3, windowMs: 1_000 },
      pair: false,
    });
    const codes: number[] = [];

    // Act
    for (const index of [1, 2, 3])
      codes.push(codeOf(await sendTo(own, to(index))));
    time.advance(400);
    const over = await sendTo(own, to(4));
    time.advance(599);
    codes.push(codeOf(await sendTo(own, to(5))));
    time.advance(1);
    for (const index of [6, 7, 8, 9]) {
      codes.push(codeOf(await sendTo(own, to(index))));
    }

    // Assert
    expect(codes).toEqual([200, 200, 200, 130429, 200, 200, 200, 130429]);
    expect(over).toEqual({
      status: 400,
      body: {
        error: {
          message: '(#130429) Rate limit hit',
          type: 'OAuthException',
          code: 130429,
          error_data: {
            messaging_product: 'whatsapp',
            details: expect.any(String),
          },
          fbtrace_id: expect.any(String),
        },
      },
    });
    expect(own.stats().rateLimitErrors).toEqual({ throughput: 3, pair: 0 });
  });
  it('takes new limits over its control route and refuses bad ones', async () => {
    // Arrange
    const { own } = await startClocked();

    // Act
    const configured = await control(own, 'PUT', 'config', {
      limits: { throughput: { messages: 1 } },
    });
    const codes = [
      codeOf(await sendTo(own, to(1))),
      codeOf(await sendTo(own, to(2))),
    ];
    const refused = await control(own, 'PUT', 'config', {
      limits: { pair: { intervalMs: 0, burst: 1 } },
    });

    // Assert
    expect(configured.body).toEqual({
      limits: {
        throughput: { messages: 1, windowMs: 1_000 },
        pair: { intervalMs: 6_000, burst: 45 },
      },
      callbacks: null,
      latencyMs: 0,
    });
    expect(codes).toEqual([200, 130429]);
    expect(refused).toMatchObject({
      status: 400,
      body: {
        code: 'invalid_request',
        details: [expect.stringMatching(/^limits\.pair\.intervalMs: /)],
      },
    });
  });
});

describe('WhatsApp stand-in pair limit', () => {
  it('answers 131056 to a second message to one recipient within 6 s', async () => {
    // Arrange
    const { own, time } = await startClocked({
      pair: { intervalMs: 6_000, burst: 1 },
    });
    const codes: number[] = [];

    // Act
    codes.push(codeOf(await sendTo(own, to(1))));
    const again = await sendTo(own, to(1));
    codes.push(codeOf(await sendTo(own, to(2))));
    time.advance(5_999);
    codes.push(codeOf(await sendTo(own, to(1))));
    time.advance(1);
    codes.push(codeOf(await sendTo(own, to(1))));

    // Assert
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({
      code: 131056,
      message:
        '(#131056) (Business Account, Consumer Account) pair rate limit hit',
    });
    expect(codes).toEqual([200, 200, 131056, 200]);
  });

  it('lets a burst through, then holds the recipient until it is repaid', async () => {
    // Arrange
    const { own, time } = await startClocked({
      pair: { intervalMs: 6_000, burst: 3 },
    });
    const codes: number[] = [];

    // Act
    for (let count = 0; count < 4; count += 1) {
      codes.push(codeOf(await sendTo(own, to(1))));
    }
    time.advance(6_000);
    codes.push(codeOf(await sendTo(own, to(1))));
    codes.push(codeOf(await sendTo(own, to(1))));

    // Assert
    expect(codes).toEqual([200, 200, 200, 131056, 200, 131056]);
    expect(own.stats().rateLimitErrors).toEqual({ throughput: 0, pair: 2 });
  });
});

describe('WhatsApp stand-in injected faults', () => {
  it.each([
    [{ kind: 'server_error' }, 500, 131000],
    [{ kind: 'server_error', status: 503 }, 503, 2],
    [{ kind: 'throughput' }, 400, 130429],
    [{ kind: 'pair' }, 400, 131056],
  ])(
    'answers %j with HTTP %i and code %i, once',
    async (fault, status, code) => {
      // Arrange
      const own = await startOwn();
      const queued = await control(own, 'POST', 'faults', { queue: [fault] });

      // Act
      const faulted = await sendTo(own, to(1));
      const next = await sendTo(own, to(2));

      // Assert
      expect(queued.status).toBe(200);
      expect(faulted.status).toBe(status);
      expect(faulted.body.error).toMatchObject({
        code,
        type: 'OAuthException',
      });
      expect(next.status).toBe(200);
      expect(own.stats().faults).toEqual({ [fault.kind]: 1 });
    }
  );

  it('keeps a fault meant for one recipient until that recipient sends', async () => {
    // Arrange
    const own = await startOwn();
    own.injectFaults([{ kind: 'server_error', to: recipient(2) }]);

    // Act
    const codes = [
      codeOf(await sendTo(own, to(1))),
      codeOf(await sendTo(own, to(2))),
      codeOf(await sendTo(own, to(2))),
    ];

    // Assert
    expect(codes).toEqual([200, 131000, 200]);
  });

  it('holds a send past the client timeout, then drops the connection', async () => {
    // Arrange
    const own = await startOwn();
    own.injectFaults([
      { kind: 'timeout', holdMs: 5_000 },
      { kind: 'timeout', holdMs: 50 },
    ]);

    // Act
    const timedOut = sendTo(own, to(1), { signal: AbortSignal.timeout(50) });
    const dropped = sendTo(own, to(2));

    // Assert
    await expect(timedOut).rejects.toThrow(/timeout|aborted/i);
    await expect(dropped).rejects.toThrow(TypeError);
    expect(own.requests().map((request) => request.status)).toEqual([0, 0]);
    expect(own.stats().accepted).toBe(0);
  });

  it('can accept a send it never answers', async () => {
    // Arrange
    const own = await startOwn();
    own.injectFaults([{ kind: 'timeout', holdMs: 20, accept: true }]);

    // Act
    const dropped = sendTo(own, to(1));

    // Assert
    await expect(dropped).rejects.toThrow(TypeError);
    const accepted = own.stats().recipients[recipient(1).slice(1)];
    expect(accepted).toHaveLength(1);
    expect(own.requests()[0]?.response).toMatchObject({
      dropped: true,
      acceptedAs: accepted?.[0]?.wamid,
    });
  });

  it('draws random faults from a seed, the same for the same seed', async () => {
    // Arrange
    const random = { rate: 0.3, seed: 20_260_101 };
    const first = await startOwn({ limits: { pair: false } });
    const second = await startOwn({ limits: { pair: false } });
    const answered = await control(first, 'POST', 'faults', { random });
    second.setRandomFaults(random);
    const run = async (target: WhatsAppStandIn) => {
      const codes: number[] = [];
      for (let index = 0; index < 40; index += 1) {
        codes.push(codeOf(await sendTo(target, to(index))));
      }
      return codes;
    };

    // Act
    const firstCodes = await run(first);
    const secondCodes = await run(second);

    // Assert
    expect(answered.body).toMatchObject({
      random: {
        rate: 0.3,
        seed: 20_260_101,
        kinds: ['server_error', 'throughput', 'pair'],
      },
    });
    expect(firstCodes).toEqual(secondCodes);
    const faulted = firstCodes.filter((code) => code !== 200);
    expect(faulted.length).toBeGreaterThan(0);
    expect(faulted.length).toBeLessThan(40);
    expect(new Set(faulted).size).toBeGreaterThan(1);
    for (const code of faulted)
      expect([131000, 130429, 131056]).toContain(code);
  });

  it('refuses a fault it does not know, with the reason', async () => {
    // Arrange
    const own = await startOwn();

    // Act
    const answer = await control(own, 'POST', 'faults', {
      queue: [{ kind: 'meteor' }],
    });

    // Assert
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      code: 'invalid_request',
      details: [expect.stringMatching(/^queue\.0\.kind: /)],
    });
    expect(own.faults().queue).toEqual([]);
  });
});

interface Received {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

/** A small HTTP server that keeps what it receives and answers `status`. */
const startReceiver = async (status = 200) => {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string') headers[name] = value;
      }
      received.push({ body: Buffer.concat(chunks), headers });
      response.writeHead(status).end();
    });
  });
  const port = await listen(server, 0, LOOPBACK, 'none');
  receivers.push(server);

  return { url: `http://${LOOPBACK}:${port}/webhooks/wh_status`, received };
};

const receivers: Server[] = [];

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((server) => closeServer(server)));
});

const APP_SECRET = 'test-app-secret-0123456789';

/** The keys and value types of a JSON value, to compare with a fixture's. */
const shapeOf = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, item]) => [key, shapeOf(item)])
    );
  }
  return typeof value;
};

/** A fixture's shape, without the `contacts` block the stand-in leaves out. */
const fixtureShape = (status: string) => {
  const fixture = JSON.parse(
    payload(`whatsapp-status-${status}.json`).toString('utf8')
  );
  delete fixture.entry[0].changes[0].value.contacts;
  return shapeOf(fixture);
};

const statusOf = (received: Received) =>
  JSON.parse(received.body.toString('utf8')).entry[0].changes[0].value
    .statuses[0] as Record<string, unknown>;

describe('WhatsApp stand-in status callbacks', () => {
  it('posts sent, delivered and read, signed as Meta signs them', async () => {
    // Arrange
    const receiver = await startReceiver();
    const own = await startOwn();
    const configured = await control(own, 'PUT', 'config', {
      callbacks: { url: receiver.url, appSecret: APP_SECRET, delayMs: 5 },
    });

    // Act
    const answer = await sendTo(own, to(1));
    await own.settled();

    // Assert
    expect(configured.status).toBe(200);
    const wamid = (answer.body.messages as { id: string }[])[0]?.id;
    expect(receiver.received.map(statusOf)).toEqual(
      ['sent', 'delivered', 'read'].map((status) =>
        expect.objectContaining({
          id: wamid,
          status,
          recipient_id: recipient(1).slice(1),
          timestamp: expect.stringMatching(/^\d{10}$/),
          pricing: {
            billable: true,
            pricing_model: 'CBP',
            category: 'utility',
          },
        })
      )
    );
    const now = Date.now() / 1000;
    for (const received of receiver.received) {
      const request = { body: received.body, headers: received.headers };
      expect(
        verifySignature(Providers.meta.scheme, request, [APP_SECRET], now)
      ).toEqual({ ok: true });
      expect(
        verifySignature(Providers.meta.scheme, request, ['another-secret'], now)
      ).toEqual({ ok: false, reason: 'signature_mismatch' });
    }
    for (const [index, status] of ['sent', 'delivered', 'read'].entries()) {
      const body = JSON.parse(receiver.received[index]?.body.toString() ?? '');
      expect(shapeOf(body)).toEqual(fixtureShape(status));
      expect(body.entry[0].changes[0].value.metadata.phone_number_id).toBe(
        PHONE_NUMBER_ID
      );
    }
    expect(own.callbacks()).toEqual(
      receiver.received.map((received) =>
        expect.objectContaining({
          wamid,
          url: receiver.url,
          body: received.body.toString('utf8'),
          signature: received.headers['x-hub-signature-256'],
          responseStatus: 200,
        })
      )
    );
  });

  it('reports an undeliverable send with one failed callback carrying 131026', async () => {
    // Arrange
    const receiver = await startReceiver();
    const own = await startOwn({
      callbacks: { url: receiver.url, appSecret: APP_SECRET, delayMs: 0 },
    });
    await control(own, 'POST', 'faults', {
      queue: [{ kind: 'undeliverable' }],
    });

    // Act
    const answer = await sendTo(own, to(1));
    await own.settled();

    // Assert
    expect(answer.status).toBe(200);
    expect(receiver.received).toHaveLength(1);
    const [failed] = receiver.received;
    if (failed === undefined) throw new Error('no callback received');
    expect(statusOf(failed)).toMatchObject({
      id: (answer.body.messages as { id: string }[])[0]?.id,
      status: 'failed',
      errors: [{ code: 131026, title: expect.any(String) }],
    });
    expect(shapeOf(JSON.parse(failed.body.toString()))).toEqual(
      fixtureShape('failed')
    );
    expect(
      verifySignature(
        Providers.meta.scheme,
        { body: failed.body, headers: failed.headers },
        [APP_SECRET],
        Date.now() / 1000
      ).ok
    ).toBe(true);
  });

  it('echoes the send’s biz_opaque_callback_data in every status, as Meta does', async () => {
    // Arrange
    const receiver = await startReceiver();
    const own = await startOwn({
      callbacks: { url: receiver.url, appSecret: APP_SECRET, delayMs: 0 },
    });
    const tag = 'a'.repeat(64);

    // Act
    await sendTo(
      own,
      orderConfirmation({ to: recipient(1), biz_opaque_callback_data: tag })
    );
    await sendTo(own, to(2));
    await own.settled();

    // Assert
    const statuses = receiver.received.map(statusOf);
    expect(statuses).toHaveLength(6);
    const tagged = statuses.filter(
      (status) => status.recipient_id === recipient(1).slice(1)
    );
    const untagged = statuses.filter(
      (status) => status.recipient_id === recipient(2).slice(1)
    );
    expect(tagged.map((status) => status.biz_opaque_callback_data)).toEqual([
      tag,
      tag,
      tag,
    ]);
    for (const status of untagged) {
      expect(status).not.toHaveProperty('biz_opaque_callback_data');
    }
  });

  it('records the status a receiver answered, and only the statuses configured', async () => {
    // Arrange
    const receiver = await startReceiver(500);
    const own = await startOwn({
      callbacks: {
        url: receiver.url,
        appSecret: APP_SECRET,
        statuses: ['delivered'],
        delayMs: 0,
      },
    });

    // Act
    await sendTo(own, to(1));
    await own.settled();
    const recorded = await control(own, 'GET', 'callbacks');

    // Assert
    expect(recorded.body).toEqual([
      expect.objectContaining({ status: 'delivered', responseStatus: 500 }),
    ]);
  });
});

describe('WhatsApp stand-in stats', () => {
  it('counts accepted sends per recipient in order, duplicates and rate limits', async () => {
    // Arrange
    const { own } = await startClocked({
      throughput: { messages: 6, windowMs: 1_000 },
      pair: false,
    });
    const tagged = (tag: string, name: string) =>
      orderConfirmation({
        to: recipient(2),
        biz_opaque_callback_data: tag,
        template: {
          ...orderConfirmation().template,
          components: [
            {
              type: 'body',
              parameters: [text(name), text('#1'), text('1.00 USD')],
            },
          ],
        },
      });

    // Act
    const answers = [
      await sendTo(own, to(1)),
      await sendTo(own, to(1)),
      await sendTo(own, tagged('event-1', 'Ann')),
      await sendTo(own, tagged('event-1', 'Anne')),
      await sendTo(own, tagged('event-2', 'Ann')),
      await sendTo(own, to(3)),
      await sendTo(own, to(4)),
    ];
    const overHttp = await control(own, 'GET', 'stats');

    // Assert
    const wamids = answers.map(
      (answer) =>
        (answer.body.messages as { id: string }[] | undefined)?.[0]?.id
    );
    const stats = own.stats();
    expect(overHttp.body).toEqual(stats);
    expect(stats).toMatchObject({
      requests: 7,
      accepted: 6,
      duplicates: 2,
      rateLimitErrors: { throughput: 1, pair: 0 },
      errorCodes: { '130429': 1 },
    });
    expect(
      stats.recipients[recipient(2).slice(1)]?.map((send) => send.wamid)
    ).toEqual(wamids.slice(2, 5));
    expect(
      stats.recipients[recipient(2).slice(1)]?.map((send) => send.key)
    ).toEqual(['event-1', 'event-1', 'event-2']);
    expect(stats.duplicateSends).toEqual([
      {
        recipient: recipient(1).slice(1),
        key: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        wamids: wamids.slice(0, 2),
      },
      {
        recipient: recipient(2).slice(1),
        key: 'event-1',
        wamids: wamids.slice(2, 4),
      },
    ]);
  });

  it('answers after the latency set, counting the sends awaiting it', async () => {
    // Arrange: long enough for three sends made at once to overlap.
    const own = await startOwn();
    const configured = await control(own, 'PUT', 'config', {
      latencyMs: 3_000,
    });
    const refused = await control(own, 'PUT', 'config', { latencyMs: -1 });

    // Act
    const before = performance.now();
    const answers = await Promise.all([
      sendTo(own, to(1)),
      sendTo(own, to(2)),
      sendTo(own, to(3)),
    ]);
    const waited = performance.now() - before;
    const afterwards = own.stats();
    await sendTo(own, to(4));

    // Assert
    expect(configured.body).toMatchObject({ latencyMs: 3_000 });
    expect(refused).toMatchObject({
      status: 400,
      body: { details: [expect.stringMatching(/^latencyMs: /)] },
    });
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    // Never sooner (timers count whole milliseconds, hence the one spare).
    expect(waited).toBeGreaterThanOrEqual(2_999);
    expect(afterwards).toMatchObject({ requests: 3, peakInFlight: 3 });
    expect(own.stats()).toMatchObject({ requests: 4, peakInFlight: 3 });
  });

  it('starts over on reset', async () => {
    // Arrange
    const own = await startOwn();
    await sendTo(own, to(1));
    own.injectFaults([{ kind: 'pair' }]);

    // Act
    const reset = await control(own, 'POST', 'reset');

    // Assert
    expect(reset.body).toMatchObject({
      requests: 0,
      peakInFlight: 0,
      accepted: 0,
      recipients: {},
    });
    expect(own.requests()).toEqual([]);
    expect(own.faults().queue).toEqual([]);
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
