import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../lambdas/shared/domain/trace.js';
import {
  adminClient,
  isTraceSettled,
  sendingStages,
} from '../../local/admin-client.js';
import {
  deliver,
  readFixture,
  stripeDelivery,
  testSecrets,
} from '../../local/deliveries.js';
import { PAYMENT_LINK } from '../../local/demo-setup.js';
import { waitFor } from '../../local/net.js';
import type { BatchSummary } from '../../local/poller.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import { scratchFolder } from '../scratch.js';

/**
 * Delayed messages and their cancellation, through the real handlers, moto
 * and the WhatsApp stand-in. The hop is 2 s here instead of 900 s, so a
 * delay of several hops takes seconds.
 */
const START_MS = 90_000;
/** Bounds a hang only; timings are asserted as lower bounds, never upper. */
const TEST_MS = 120_000;
const SETTLE = { timeoutMs: 90_000, intervalMs: 200 };
const HOP_SECONDS = 2;

let runtime: Runtime;
const batches: BatchSummary[] = [];
const secret = testSecrets().stripe;

beforeAll(async () => {
  runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(scratchFolder(), 'delays-')),
    delayHopSeconds: HOP_SECONDS,
    onBatch: (summary) => batches.push(summary),
  });
}, START_MS);

afterAll(async () => {
  await runtime?.stop();
});

const admin = () => adminClient(runtime.apiUrl);

/** The reminder: payment_link, held, cancellable by payment intent. */
const reminder = (delaySeconds: number) => ({
  ...PAYMENT_LINK,
  delaySeconds,
  businessKey: 'body.data.object.payment_intent',
});

/** Cancels the reminder of the payment intent that succeeded. */
const PAID = {
  eventKey: 'payment_intent.succeeded',
  businessKey: 'body.data.object.id',
  cancels: ['reminder'],
};

const webhookWith = async (mappings: Record<string, unknown>) => {
  const { webhook } = await admin().createWebhook({
    name: 'Stripe with reminders',
    provider: 'stripe',
    secret,
  });
  for (const [mappingId, mapping] of Object.entries(mappings)) {
    await admin().putMapping(webhook.webhookId, mappingId, mapping);
  }
  await admin().activate(webhook.webhookId);

  return webhook.webhookId;
};

/** A charge.failed of its own event id, payment intent and phone. */
const chargeFailed = (eventId: string, intent: string, phone: string) =>
  Buffer.from(
    readFixture('stripe-charge-failed.json')
      .toString()
      .replace('evt_000000000000000000000000', eventId)
      .replaceAll('pi_000000000000000000000000', intent)
      .replace('+15550100142', phone)
  );

const paymentSucceeded = (eventId: string, intent: string) =>
  Buffer.from(
    JSON.stringify({
      id: eventId,
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: intent, object: 'payment_intent' } },
    })
  );

const send = async (webhookId: string, body: Buffer): Promise<string> => {
  const answer = await deliver(
    runtime.apiUrl,
    webhookId,
    stripeDelivery({ body, secret })
  );
  expect(answer.status).toBe(202);

  return (answer.body as { eventId: string }).eventId;
};

const traceWhere = (
  eventId: string,
  done: (records: TraceRecord[]) => boolean,
  what: string
) =>
  waitFor(
    async () => {
      const records = await admin().readEvent(eventId);
      return records && done(records) ? records : undefined;
    },
    { ...SETTLE, what }
  );

const settled = (eventId: string) =>
  traceWhere(eventId, isTraceSettled, 'the event trace to settle');

const sentTo = (phone: string) =>
  runtime.standIn?.requests().filter((request) => {
    const body = JSON.parse(request.body) as { to?: string };
    return body.to === phone;
  }) ?? [];

/** The chain of a held message that was sent once due. */
const RELEASED_AND_SENT = [
  'received',
  'matched',
  'delayed',
  'released',
  'sent',
];

const stages = sendingStages;

/** Whether a handler logged `message` for the event. */
const logged = (message: string, eventId: string): boolean =>
  readFileSync(runtime.handlerLogFile, 'utf8')
    .split('\n')
    .some(
      (line) =>
        line.includes(`"message":"${message}"`) &&
        line.includes(`"event_id":"${eventId}"`)
    );

describe('delayed messages', { timeout: TEST_MS }, () => {
  it('sends a delayed message no sooner than its delay', async () => {
    // Arrange
    const webhookId = await webhookWith({ reminder: reminder(2) });
    const phone = '+15550100161';

    // Act
    const eventId = await send(
      webhookId,
      chargeFailed('evt_delay_1', 'pi_delay_1', phone)
    );
    const trace = await settled(eventId);

    // Assert
    const accepted = Date.parse(trace[0]?.at ?? '');
    const delayed = trace.find((record) => record.stage === 'delayed');
    const sent = sentTo(phone);
    expect(stages(trace)).toEqual(RELEASED_AND_SENT);
    expect(delayed?.until).toBe(new Date(accepted + 2_000).toISOString());
    expect(sent).toHaveLength(1);
    expect(Date.parse(sent[0]?.at ?? '')).toBeGreaterThanOrEqual(
      accepted + 2_000
    );
  });

  it('sends a delay of several hops, each hop a new message', async () => {
    // Arrange: 5 s in hops of at most 2 s.
    const webhookId = await webhookWith({ reminder: reminder(5) });
    const phone = '+15550100162';
    const releaseBatchesBefore = releaseBatches();

    // Act
    const eventId = await send(
      webhookId,
      chargeFailed('evt_delay_2', 'pi_delay_2', phone)
    );
    const trace = await settled(eventId);

    // Assert
    const accepted = Date.parse(trace[0]?.at ?? '');
    expect(stages(trace)).toEqual(RELEASED_AND_SENT);
    expect(Date.parse(sentTo(phone)[0]?.at ?? '')).toBeGreaterThanOrEqual(
      accepted + 5_000
    );
    // Hops of at most 2 s: the release function saw the message before it
    // was due and sent it on, then released it (more often when on time).
    expect(releaseBatches() - releaseBatchesBefore).toBeGreaterThanOrEqual(2);
    expect(
      batches.filter((batch) => batch.functionName.endsWith('release'))
    ).not.toContainEqual(expect.objectContaining({ retained: 1 }));
  });

  it('cancels a waiting message by business key and never sends it', async () => {
    // Arrange
    const webhookId = await webhookWith({
      reminder: reminder(4),
      paid: PAID,
    });
    const cancelledPhone = '+15550100163';
    const keptPhone = '+15550100164';

    // Act: two reminders wait; the payment of only one of them succeeds.
    const cancelledId = await send(
      webhookId,
      chargeFailed('evt_cancel_1', 'pi_cancel_1', cancelledPhone)
    );
    const keptId = await send(
      webhookId,
      chargeFailed('evt_cancel_2', 'pi_cancel_2', keptPhone)
    );
    const paidId = await send(
      webhookId,
      paymentSucceeded('evt_cancel_3', 'pi_cancel_1')
    );
    const cancelled = await settled(cancelledId);
    const kept = await settled(keptId);
    const paid = await settled(paidId);
    // The held message's last hop reaches the release step, which drops it.
    await waitFor(
      async () =>
        logged('held message was cancelled', cancelledId) ? true : undefined,
      { ...SETTLE, what: 'the release step to drop the cancelled message' }
    );

    // Assert
    expect(stages(cancelled)).toEqual([
      'received',
      'matched',
      'delayed',
      'cancelled',
    ]);
    expect(cancelled.at(-1)).toMatchObject({
      mappingId: 'reminder',
      cancelledBy: paidId,
      recipient: '***0163',
    });
    expect(stages(kept)).toEqual(RELEASED_AND_SENT);
    expect(stages(paid)).toEqual(['received', 'matched', 'cancel']);
    expect(paid.at(-1)).toMatchObject({
      mappingId: 'paid',
      cancelledMappingId: 'reminder',
      cancelledEventId: cancelledId,
      recipient: '***0163',
    });
    expect(sentTo(cancelledPhone)).toEqual([]);
    expect(sentTo(keptPhone)).toHaveLength(1);
  });

  it('says so when a cancellation finds nothing waiting', async () => {
    // Arrange
    const webhookId = await webhookWith({
      reminder: reminder(2),
      paid: PAID,
    });

    // Act
    const paidId = await send(
      webhookId,
      paymentSucceeded('evt_nothing_1', 'pi_nothing_1')
    );
    const paid = await settled(paidId);

    // Assert
    expect(paid.at(-1)).toMatchObject({
      stage: 'cancel',
      code: 'nothing_waiting',
      cancelledMappingId: 'reminder',
    });
  });

  it('refuses a mapping that neither sends nor cancels, with the reason', async () => {
    // Arrange
    const webhookId = await webhookWith({});

    // Act
    const answer = await fetch(
      `${runtime.apiUrl}/admin/webhooks/${webhookId}/mappings/nothing`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ eventKey: 'charge.failed', cancels: ['x'] }),
      }
    );

    // Assert
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({
      code: 'invalid_request',
      details: [expect.stringMatching(/^businessKey: /)],
    });
  });
});

const releaseBatches = () =>
  batches.filter((batch) => batch.functionName.endsWith('release')).length;
