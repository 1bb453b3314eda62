import { describe, expect, it } from 'vitest';
import { mappingInputSchema } from '../../../lambdas/shared/domain/mapping.js';
import {
  encodeBody,
  type IngestMessage,
  messageKey,
} from '../../../lambdas/shared/domain/messages.js';
import { planEvent } from '../../../lambdas/shared/domain/plan-event.js';
import type { Webhook } from '../../../lambdas/shared/domain/webhook.js';
import { payload } from '../../fixtures/payloads.js';

const NOW = new Date('2026-12-03T10:00:00.000Z');

const webhook = (status: Webhook['status']): Webhook => ({
  webhookId: 'wh_1',
  name: 'Stripe',
  provider: 'stripe',
  status,
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
});

const message: IngestMessage = {
  v: 1,
  eventId: 'ev_1',
  webhookId: 'wh_1',
  receivedAt: '2026-12-03T09:59:59.000Z',
  eventKey: 'charge.failed',
  providerEventId: 'evt_000000000000000000000000',
  headers: { 'content-type': 'application/json' },
  ...encodeBody(payload('stripe-charge-failed.json')),
};

const mapping = (mappingId: string, recipients: string) => ({
  ...mappingInputSchema.parse({
    eventKey: 'charge.*',
    recipients,
    template: { name: 'payment_failed', language: 'en', components: [] },
  }),
  mappingId,
  webhookId: 'wh_1',
  updatedAt: NOW.toISOString(),
});

describe('planEvent', () => {
  it('records but sends nothing while the webhook captures', async () => {
    const plan = await planEvent(
      message,
      {
        webhook: webhook('capture'),
        mappings: [mapping('m1', '"+15550100142"')],
      },
      NOW
    );

    expect(plan.messages).toEqual([]);
    expect(plan.trace.map((record) => record.stage)).toEqual([
      'received',
      'captured',
    ]);
  });

  it('says why nothing happened when no mapping covers the event', async () => {
    const plan = await planEvent(
      message,
      { webhook: webhook('active'), mappings: [] },
      NOW
    );

    expect(plan.outcome).toBe('unmatched');
    expect(plan.trace[1]).toMatchObject({
      stage: 'skipped',
      reason: 'no active mapping for event key charge.failed',
    });
  });

  it('fans one event out to every matching mapping and recipient', async () => {
    const plan = await planEvent(
      message,
      {
        webhook: webhook('active'),
        mappings: [
          mapping('customer', 'body.data.object.billing_details.phone'),
          mapping('ops', '["+15550100199", "not a phone"]'),
        ],
      },
      NOW
    );

    expect(plan.messages.map((m) => [m.mappingId, m.recipient])).toEqual([
      ['customer', '+15550100142'],
      ['ops', '+15550100199'],
    ]);
    expect(plan.messages[0]?.messageKey).toBe(
      messageKey('ev_1', 'customer', '+15550100142')
    );
    expect(plan.failures).toBe(1);
    expect(plan.trace.map((r) => [r.stage, r.mappingId, r.recipient])).toEqual([
      ['received', undefined, undefined],
      ['matched', 'customer', undefined],
      ['queued', 'customer', '***0142'],
      ['matched', 'ops', undefined],
      ['rejected', 'ops', '****'],
      ['queued', 'ops', '***0199'],
    ]);
  });

  it('records a runaway mapping and a bad recipient, and still sends the rest', async () => {
    const runaway = {
      ...mapping('runaway', '"+15550100143"'),
      condition: '$count([1..5000].($x := $; [1..5000].($ * $x))) > 0',
    };

    const plan = await planEvent(
      message,
      {
        webhook: webhook('active'),
        mappings: [
          runaway,
          mapping('no-phone', 'body.data.object.shipping.phone'),
          mapping('customer', 'body.data.object.billing_details.phone'),
        ],
      },
      NOW
    );

    expect(plan.messages.map((m) => [m.mappingId, m.recipient])).toEqual([
      ['customer', '+15550100142'],
    ]);
    expect(plan.failures).toBe(2);
    expect(
      plan.trace.map((r) => [r.stage, r.mappingId, r.code, r.reason])
    ).toEqual([
      ['received', undefined, undefined, undefined],
      [
        'failed',
        'runaway',
        'mapping_failed',
        expect.stringMatching(/^expression failed: D1012/),
      ],
      ['matched', 'no-phone', undefined, undefined],
      ['rejected', 'no-phone', 'recipient_invalid', 'recipient is missing'],
      ['matched', 'customer', undefined, undefined],
      ['queued', 'customer', undefined, undefined],
    ]);
  });

  it("puts the webhook's spacing per recipient on each message", async () => {
    const spaced = { ...webhook('active'), minGapSeconds: 30 };
    const recipients = [mapping('m1', '"+15550100142"')];

    const [withGap] = (
      await planEvent(message, { webhook: spaced, mappings: recipients }, NOW)
    ).messages;
    const [byDefault] = (
      await planEvent(
        message,
        { webhook: webhook('active'), mappings: recipients },
        NOW
      )
    ).messages;

    expect(withGap?.minGapSeconds).toBe(30);
    expect(byDefault?.minGapSeconds).toBe(6);
  });

  it('keeps phone numbers out of the trace', async () => {
    const plan = await planEvent(
      message,
      {
        webhook: webhook('active'),
        mappings: [mapping('m1', 'body.data.object.billing_details.phone')],
      },
      NOW
    );

    expect(JSON.stringify(plan.trace)).not.toContain('5550100142');
  });
});

describe('planEvent with delays and cancellations', () => {
  const reminder = {
    ...mapping('reminder', 'body.data.object.billing_details.phone'),
    delaySeconds: 3600,
    businessKey: 'body.data.object.payment_intent',
  };
  const paid = {
    ...mappingInputSchema.parse({
      eventKey: 'charge.*',
      businessKey: 'body.data.object.payment_intent',
      cancels: ['reminder'],
    }),
    mappingId: 'paid',
    webhookId: 'wh_1',
    updatedAt: NOW.toISOString(),
  };

  it('holds a delayed message until the event was accepted plus the delay', async () => {
    const plan = await planEvent(
      message,
      { webhook: webhook('active'), mappings: [reminder] },
      NOW
    );

    expect(plan.messages).toEqual([]);
    expect(plan.delayed).toHaveLength(1);
    expect(plan.delayed[0]).toMatchObject({
      dueAt: '2026-12-03T10:59:59.000Z',
      message: {
        mappingId: 'reminder',
        messageKey: messageKey('ev_1', 'reminder', '+15550100142'),
      },
    });
    expect(plan.delayed[0]?.key.sk).toMatch(/^reminder#/);
    expect(plan.trace.map((r) => [r.stage, r.until])).toEqual([
      ['received', undefined],
      ['matched', undefined],
      ['delayed', '2026-12-03T10:59:59.000Z'],
    ]);
  });

  it('asks to cancel by the business key and sends nothing for a cancel-only mapping', async () => {
    const plan = await planEvent(
      message,
      { webhook: webhook('active'), mappings: [paid] },
      NOW
    );

    expect(plan.messages).toEqual([]);
    expect(plan.delayed).toEqual([]);
    expect(plan.cancellations).toEqual([
      {
        mappingId: 'paid',
        cancels: ['reminder'],
        businessKey: 'pi_000000000000000000000000',
      },
    ]);
    expect(plan.trace.map((r) => r.stage)).toEqual(['received', 'matched']);
  });

  it('fails a mapping whose business key comes out empty', async () => {
    const plan = await planEvent(
      message,
      {
        webhook: webhook('active'),
        mappings: [{ ...paid, businessKey: 'body.nothing' }],
      },
      NOW
    );

    expect(plan.cancellations).toEqual([]);
    expect(plan.trace.at(-1)).toMatchObject({
      stage: 'failed',
      code: 'mapping_failed',
      reason: 'businessKey is empty',
    });
  });
});

describe('planEvent on a replay', () => {
  const replayed: IngestMessage = {
    ...message,
    replay: {
      replayId: 'rp_1',
      requestedAt: NOW.toISOString(),
      retryFailed: false,
    },
  };

  it('keeps the message key and traces a skip where the ledger forbids a send', async () => {
    const plan = await planEvent(
      replayed,
      {
        webhook: webhook('active'),
        mappings: [
          mapping('m1', '"+15550100142"'),
          mapping('m2', '"+15550100143"'),
        ],
      },
      NOW,
      async (outbound) =>
        outbound.mappingId === 'm1'
          ? { kind: 'skip', code: 'already_sent', reason: 'sent before' }
          : { kind: 'send' }
    );

    expect(plan.messages.map((planned) => planned.messageKey)).toEqual([
      messageKey('ev_1', 'm2', '+15550100143'),
    ]);
    expect(
      plan.trace.map((record) => [record.stage, record.code, record.replayId])
    ).toEqual([
      ['received', undefined, undefined],
      ['matched', undefined, 'rp_1'],
      ['skipped', 'already_sent', 'rp_1'],
      ['matched', undefined, 'rp_1'],
      ['queued', undefined, 'rp_1'],
    ]);
  });
});
