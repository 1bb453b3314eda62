import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type IncomingRequest,
  MAX_WEBHOOK_BODY_BYTES,
} from '../../../lambdas/shared/domain/ingest.js';
import { messageKey } from '../../../lambdas/shared/domain/messages.js';
import { Providers } from '../../../lambdas/shared/domain/providers.js';
import { signRequest } from '../../../lambdas/shared/domain/signature.js';
import {
  advances,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  decideStatusRequest,
  finalStatus,
  type MessageRef,
  parseAppSecretRecord,
  parseStatusCallback,
  STATUS_RANK,
  statusTrace,
} from '../../../lambdas/shared/domain/status.js';
import { payload } from '../../fixtures/payloads.js';

const NOW = new Date('2026-12-03T10:00:00Z');
const APP_SECRET = 'test_app_secret_0123456789abcdef';
const VERIFY_TOKEN = 'test-verify-token-0123';
const SECRET = { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN };
const KEY = messageKey('evt-1', 'payment-link', '+15550100142');

const signed = (body: Buffer, secret = APP_SECRET): IncomingRequest => ({
  method: 'POST',
  headers: {
    ...signRequest(Providers.meta.scheme, body, secret, NOW.getTime() / 1000),
    'content-type': 'application/json',
  },
  query: {},
  body,
});

const challenge = (query: Record<string, string>): IncomingRequest => ({
  method: 'GET',
  headers: {},
  query,
  body: Buffer.alloc(0),
});

/** A callback body as Meta lays it out, with the given status items. */
const callbackBody = (
  statuses: readonly unknown[],
  messages: readonly unknown[] = []
): Buffer =>
  Buffer.from(
    JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '100000000000009',
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                statuses,
                ...(messages.length > 0 ? { messages } : {}),
              },
              field: 'messages',
            },
          ],
        },
      ],
    })
  );

const item = (status: string, extra: Record<string, unknown> = {}) => ({
  id: 'wamid.TEST1',
  status,
  timestamp: '1764756000',
  recipient_id: '15550100142',
  ...extra,
});

const MESSAGE: MessageRef = {
  messageKey: KEY,
  eventId: 'evt-1',
  webhookId: 'wh_1',
  mappingId: 'payment-link',
  recipient: '***0142',
  template: 'payment_link',
};

describe('parseStatusCallback', () => {
  it.each([
    ['sent', '2023-10-25T20:49:05.000Z'],
    ['delivered', '2023-10-25T20:49:05.000Z'],
    ['read', '2023-07-15T00:20:58.000Z'],
  ] as const)('reads Meta’s sample %s callback', (status, statusAt) => {
    // Act
    const callback = parseStatusCallback(
      payload(`whatsapp-status-${status}.json`)
    );

    // Assert
    expect(callback).toStrictEqual({
      updates: [{ wamid: 'wamid.xyzxyz', status, statusAt }],
      inboundMessages: 0,
      ignoredStatuses: 0,
    });
  });

  it('reads a failure’s code and reason from errors[]', () => {
    // Act
    const callback = parseStatusCallback(
      payload('whatsapp-status-failed.json')
    );

    // Assert
    expect(callback?.updates).toStrictEqual([
      {
        wamid: 'wamid.xyzxyz',
        status: 'failed',
        statusAt: '2023-07-15T00:20:58.000Z',
        code: 'meta_130472',
        reason:
          "Failed to send message because this user's phone number is " +
          'part of an experiment',
      },
    ]);
  });

  it('reads every status of every entry and change, in order', () => {
    // Arrange
    const body = Buffer.from(
      JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [
          {
            changes: [
              { value: { statuses: [item('sent'), item('delivered')] } },
              { value: { statuses: [item('read', { id: 'wamid.TEST2' })] } },
            ],
          },
          { changes: [{ value: { statuses: [item('failed')] } }] },
        ],
      })
    );

    // Act
    const callback = parseStatusCallback(body);

    // Assert
    expect(
      callback?.updates.map((update) => [update.wamid, update.status])
    ).toEqual([
      ['wamid.TEST1', 'sent'],
      ['wamid.TEST1', 'delivered'],
      ['wamid.TEST2', 'read'],
      ['wamid.TEST1', 'failed'],
    ]);
  });

  it('counts inbound messages and statuses it does not track', () => {
    // Arrange
    const body = callbackBody(
      [item('delivered'), item('deleted'), { status: 'read' }],
      [{ from: '15550100142', id: 'wamid.IN', type: 'text' }]
    );

    // Act
    const callback = parseStatusCallback(body);

    // Assert
    expect(callback?.updates.map((update) => update.status)).toEqual([
      'delivered',
    ]);
    expect(callback?.inboundMessages).toBe(1);
    expect(callback?.ignoredStatuses).toBe(2);
  });

  it('takes the echoed message key only when it is one of ours', () => {
    // Arrange
    const body = callbackBody([
      item('sent', { biz_opaque_callback_data: KEY }),
      item('sent', { biz_opaque_callback_data: 'campaign-42' }),
    ]);

    // Act
    const updates = parseStatusCallback(body)?.updates ?? [];

    // Assert
    expect(updates[0]?.messageKey).toBe(KEY);
    expect(updates[1]).not.toHaveProperty('messageKey');
  });

  it('masks a phone number in Meta’s reason', () => {
    // Arrange
    const body = callbackBody([
      item('failed', {
        errors: [
          { code: 131026, title: 'Message undeliverable to +1 555 0100 142' },
        ],
      }),
    ]);

    // Act
    const [update] = parseStatusCallback(body)?.updates ?? [];

    // Assert
    expect(update?.code).toBe('meta_131026');
    expect(update?.reason).toBe('Message undeliverable to ***0142');
  });

  it.each([
    ['not JSON', 'statuses'],
    ['no entries', '{"object":"whatsapp_business_account"}'],
    ['entries without changes', '{"entry":[{"id":"1"}]}'],
  ])('refuses a body with %s', (_case, text) => {
    expect(parseStatusCallback(Buffer.from(text))).toBeUndefined();
  });
});

describe('status ranking', () => {
  it('ranks sent < delivered < read < failed', () => {
    expect(DELIVERY_STATUSES.map((status) => STATUS_RANK[status])).toEqual([
      1, 2, 3, 4,
    ]);
  });

  it.each([
    [undefined, 'sent', true],
    ['sent', 'delivered', true],
    ['delivered', 'read', true],
    ['sent', 'read', true],
    ['read', 'sent', false],
    ['read', 'delivered', false],
    ['delivered', 'delivered', false],
    ['read', 'failed', true],
    ['failed', 'read', false],
    ['failed', 'failed', false],
  ] as const)('from %s, %s moves on: %s', (current, next, expected) => {
    expect(advances(current, next)).toBe(expected);
  });

  const statuses = fc.constantFrom<DeliveryStatus>(...DELIVERY_STATUSES);

  it('ends in the same status whatever order the statuses arrive in', () => {
    fc.assert(
      fc.property(
        fc.array(statuses, { minLength: 1, maxLength: 12 }),
        fc.infiniteStream(fc.nat()),
        (arrived, draws) => {
          const shuffled = [...arrived];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = draws.next().value % (i + 1);
            [shuffled[i], shuffled[j]] = [
              shuffled[j] as DeliveryStatus,
              shuffled[i] as DeliveryStatus,
            ];
          }

          expect(finalStatus(shuffled)).toBe(finalStatus(arrived));
        }
      )
    );
  });

  it('ends in the furthest status that arrived, failed beating all', () => {
    fc.assert(
      fc.property(fc.array(statuses, { minLength: 1 }), (arrived) => {
        const furthest = Math.max(...arrived.map((s) => STATUS_RANK[s]));

        expect(STATUS_RANK[finalStatus(arrived) as DeliveryStatus]).toBe(
          furthest
        );
      })
    );
  });

  it('never lets a late sent replace delivered or read', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<DeliveryStatus>('delivered', 'read'),
        fc.array(fc.constant<DeliveryStatus>('sent')),
        (reached, late) => {
          expect(finalStatus([reached, ...late])).toBe(reached);
        }
      )
    );
  });
});

describe('statusTrace', () => {
  const update = {
    wamid: 'wamid.TEST1',
    statusAt: '2026-12-03T09:59:58.000Z',
  };

  it('adds nothing for sent: the chain already holds the send', () => {
    expect(
      statusTrace(MESSAGE, { ...update, status: 'sent' }, NOW)
    ).toBeUndefined();
  });

  it('records a failure with Meta’s time, code and reason', () => {
    // Act
    const record = statusTrace(
      MESSAGE,
      {
        ...update,
        status: 'failed',
        code: 'meta_131026',
        reason: 'Message undeliverable',
      },
      NOW
    );

    // Assert
    expect(record).toStrictEqual({
      eventId: 'evt-1',
      webhookId: 'wh_1',
      stage: 'failed',
      at: NOW.toISOString(),
      statusAt: '2026-12-03T09:59:58.000Z',
      wamid: 'wamid.TEST1',
      mappingId: 'payment-link',
      recipient: '***0142',
      template: 'payment_link',
      code: 'meta_131026',
      reason: 'Message undeliverable',
    });
  });

  it('never writes a full phone number into the chain', () => {
    // Act
    const record = statusTrace(
      { ...MESSAGE, recipient: '+15550100142' },
      { ...update, status: 'read' },
      NOW
    );

    // Assert
    expect(record?.stage).toBe('read');
    expect(record?.recipient).toBe('***0142');
  });
});

describe('decideStatusRequest', () => {
  it('accepts Meta’s signed callback over its exact bytes', () => {
    // Arrange
    const body = payload('whatsapp-status-delivered.json');

    // Act
    const decision = decideStatusRequest(signed(body), SECRET, NOW);

    // Assert
    expect(decision).toMatchObject({
      kind: 'accept',
      callback: { updates: [{ wamid: 'wamid.xyzxyz', status: 'delivered' }] },
    });
  });

  it.each([
    ['signed with another secret', (body: Buffer) => signed(body, 'other')],
    [
      'changed after signing',
      (body: Buffer) => ({
        ...signed(body),
        body: Buffer.from(body.toString().replace('delivered', 'read')),
      }),
    ],
    ['unsigned', (body: Buffer) => ({ ...signed(body), headers: {} })],
  ])('refuses a callback %s with 401', (_case, build) => {
    // Act
    const decision = decideStatusRequest(
      build(payload('whatsapp-status-delivered.json')),
      SECRET,
      NOW
    );

    // Assert
    expect(decision).toMatchObject({
      kind: 'reject',
      status: 401,
      code: 'invalid_signature',
    });
  });

  it('answers the subscription challenge with the verify token', () => {
    // Act
    const decision = decideStatusRequest(
      challenge({
        'hub.mode': 'subscribe',
        'hub.verify_token': VERIFY_TOKEN,
        'hub.challenge': '1158201444',
      }),
      SECRET,
      NOW
    );

    // Assert
    expect(decision).toStrictEqual({ kind: 'challenge', answer: '1158201444' });
  });

  it.each([
    ['a wrong token', { 'hub.verify_token': 'guess', 'hub.challenge': '1' }],
    ['no challenge', { 'hub.verify_token': VERIFY_TOKEN }],
  ])('refuses a challenge with %s with 403', (_case, query) => {
    // Act
    const decision = decideStatusRequest(
      challenge({ 'hub.mode': 'subscribe', ...query }),
      SECRET,
      NOW
    );

    // Assert
    expect(decision).toMatchObject({ status: 403, code: 'challenge_failed' });
  });

  it('refuses other methods with 405 and names the allowed ones', () => {
    // Act
    const decision = decideStatusRequest(
      { ...challenge({}), method: 'PUT' },
      SECRET,
      NOW
    );

    // Assert
    expect(decision).toMatchObject({
      status: 405,
      code: 'method_not_allowed',
      allow: 'GET, POST',
    });
  });

  it('refuses a body over the limit with 413', () => {
    // Act
    const decision = decideStatusRequest(
      signed(Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 1, 0x20)),
      SECRET,
      NOW
    );

    // Assert
    expect(decision).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('answers 503 until the app secret is stored, so Meta retries', () => {
    // Act
    const decision = decideStatusRequest(
      signed(payload('whatsapp-status-read.json')),
      { verifyToken: VERIFY_TOKEN },
      NOW
    );

    // Assert
    expect(decision).toMatchObject({ status: 503, code: 'not_configured' });
  });

  it('refuses a signed body that is no callback with 400', () => {
    // Act
    const decision = decideStatusRequest(
      signed(Buffer.from('{"hello":"world"}')),
      SECRET,
      NOW
    );

    // Assert
    expect(decision).toMatchObject({ status: 400, code: 'invalid_payload' });
  });
});

describe('parseAppSecretRecord', () => {
  it('reads the documented JSON and drops empty values', () => {
    expect(
      parseAppSecretRecord('{"appSecret":"","verifyToken":"abc"}')
    ).toStrictEqual({ verifyToken: 'abc' });
  });

  it('refuses text that is not that JSON', () => {
    expect(parseAppSecretRecord('just-a-secret')).toBeUndefined();
    expect(parseAppSecretRecord('{"appSecret":1}')).toBeUndefined();
  });
});
