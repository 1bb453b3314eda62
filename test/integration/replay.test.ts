import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeBody,
  type IngestMessage,
  recipientGroup,
} from '../../lambdas/shared/domain/messages.js';
import type { TraceRecord } from '../../lambdas/shared/domain/trace.js';
import {
  ApiCallError,
  adminClient,
  isTraceSettled,
  queueDepth,
  waitForTrace,
} from '../../local/admin-client.js';
import {
  deliver,
  readFixture,
  stripeDelivery,
  testSecrets,
} from '../../local/deliveries.js';
import { PAYMENT_LINK } from '../../local/demo-setup.js';
import { waitFor } from '../../local/net.js';
import { localAws } from '../../local/resources.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import { outboundAgain } from '../fixtures/requests.js';
import { scratchFolder } from '../scratch.js';

/**
 * Replays and dead-letter redrives against moto and the WhatsApp
 * stand-in: a fixed mapping sends what failed, exactly once; nothing sent
 * is sent again. Waits are bounded only to stop a hang.
 */
const START_MS = 90_000;
const TEST_MS = 240_000;
const SETTLE = { timeoutMs: 180_000, intervalMs: 250 };
const MAPPING_ID = 'payment-link';
const SAMPLE_RECIPIENT = '+15550100142';
const SAMPLE_EVENT = 'evt_000000000000000000000000';

let runtime: Runtime;
let sqs: SQSClient;
const secret = testSecrets().stripe;

beforeAll(async () => {
  runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(scratchFolder(), 'replay-')),
  });
  sqs = new SQSClient(localAws(runtime.awsEndpoint));
}, START_MS);

afterAll(async () => {
  sqs?.destroy();
  await runtime?.stop();
});

const admin = () => adminClient(runtime.apiUrl);

/** The payment-link mapping with an amount read from a field Stripe never sends. */
const BROKEN_PAYMENT_LINK = {
  ...PAYMENT_LINK,
  template: {
    ...PAYMENT_LINK.template,
    components: PAYMENT_LINK.template.components.map((component) =>
      component.type === 'body'
        ? {
            ...component,
            parameters: [
              { value: 'body.data.object.no_such_amount' },
              ...component.parameters.slice(1),
            ],
          }
        : component
    ),
  },
};

const stripeWebhook = async (mapping: unknown = PAYMENT_LINK) => {
  const { webhook } = await admin().createWebhook({
    name: 'Stripe replay account',
    provider: 'stripe',
    secret,
  });
  await admin().putMapping(webhook.webhookId, MAPPING_ID, mapping);
  await admin().activate(webhook.webhookId);

  return webhook.webhookId;
};

const chargeBody = (recipient: string, tag: string) =>
  Buffer.from(
    readFixture('stripe-charge-failed.json')
      .toString()
      .replace(SAMPLE_EVENT, `evt_${tag}_${Date.now()}`)
      .replace(SAMPLE_RECIPIENT, recipient)
  );

const sendCharge = async (
  webhookId: string,
  recipient: string,
  tag: string
): Promise<string> => {
  const body = chargeBody(recipient, tag);
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
) => waitForTrace(admin(), eventId, done, { ...SETTLE, what });

const has =
  (stage: string, extra: Partial<TraceRecord> = {}) =>
  (records: readonly TraceRecord[]) =>
    records.some(
      (record) =>
        record.stage === stage &&
        Object.entries(extra).every(
          ([name, value]) => record[name as keyof TraceRecord] === value
        )
    );

/** Send requests the stand-in received for `recipient`. */
const sendsTo = (recipient: string) => {
  if (runtime.standIn === undefined) throw new Error('no stand-in');
  return runtime.standIn
    .requests()
    .filter(
      (request) =>
        request.method === 'POST' &&
        (JSON.parse(request.body) as { to?: string }).to === recipient
    );
};

const refusal = async (call: Promise<unknown>) => {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught
  );
  expect(error).toBeInstanceOf(ApiCallError);
  const { status, body } = error as ApiCallError;

  return { status, code: (body as { code?: string }).code };
};

describe('replay', { timeout: TEST_MS }, () => {
  it("sends a failed mapping's message exactly once after the mapping is fixed", async () => {
    // Arrange: the mapping reads a field the event lacks, so it fails.
    const recipient = '+15550100160';
    const webhookId = await stripeWebhook(BROKEN_PAYMENT_LINK);
    const eventId = await sendCharge(webhookId, recipient, 'broken');
    await traceWhere(
      eventId,
      has('failed', { code: 'mapping_failed' }),
      'the mapping to fail'
    );
    await admin().putMapping(webhookId, MAPPING_ID, PAYMENT_LINK);

    // Act
    const preview = await admin().replay(webhookId, {
      failed: true,
      dryRun: true,
    });
    const answer = await admin().replay(webhookId, { failed: true });
    const trace = await traceWhere(
      eventId,
      // The sender's records belong to the message, not to the replay.
      has('sent'),
      'the replayed message to be sent'
    );
    const again = await admin().replay(webhookId, { failed: true });

    // Assert
    expect(preview.events).toEqual([
      expect.objectContaining({ eventId, outcome: 'would_replay' }),
    ]);
    expect(answer).toMatchObject({ mode: 'failed', examined: 1, replayed: 1 });
    expect(trace).toContainEqual(
      expect.objectContaining({
        stage: 'queued',
        replayId: answer.replayId,
      })
    );
    expect(trace).toContainEqual(
      expect.objectContaining({
        stage: 'replayed',
        replayId: answer.replayId,
        requestedBy: expect.stringContaining('local-admin'),
      })
    );
    expect(sendsTo(recipient)).toHaveLength(1);
    expect(again.events).toEqual([
      expect.objectContaining({
        eventId,
        outcome: 'skipped',
        code: 'no_failure',
      }),
    ]);
  });

  it('sends nothing new when a window holds an event already sent, and says why', async () => {
    // Arrange
    const recipient = '+15550100161';
    const webhookId = await stripeWebhook();
    const from = new Date().toISOString();
    const eventId = await sendCharge(webhookId, recipient, 'sent');
    await traceWhere(eventId, isTraceSettled, 'the first send');
    const sentBefore = sendsTo(recipient).length;

    // Act
    const answer = await admin().replay(webhookId, {
      from,
      to: new Date().toISOString(),
    });
    const trace = await traceWhere(
      eventId,
      has('skipped', { replayId: answer.replayId, code: 'already_sent' }),
      'the replay to skip the sent message'
    );

    // Assert
    expect(answer).toMatchObject({ mode: 'window', replayed: 1 });
    expect(sentBefore).toBe(1);
    expect(sendsTo(recipient)).toHaveLength(1);
    expect(trace.filter((record) => record.stage === 'sent')).toHaveLength(1);
  });

  it('tries a message that failed for good again only when asked', async () => {
    // Arrange: a paused template is refused with 132015, a permanent code.
    const recipient = '+15550100163';
    const webhookId = await stripeWebhook({
      ...PAYMENT_LINK,
      template: { ...PAYMENT_LINK.template, name: 'payment_reminder' },
    });
    const from = new Date().toISOString();
    const eventId = await sendCharge(webhookId, recipient, 'paused');
    await traceWhere(
      eventId,
      has('failed', { code: 'meta_132015' }),
      'the refusal'
    );
    await admin().putMapping(webhookId, MAPPING_ID, PAYMENT_LINK);
    const window = { from, to: new Date().toISOString() };

    // Act
    const plain = await admin().replay(webhookId, window);
    await traceWhere(
      eventId,
      has('skipped', { replayId: plain.replayId, code: 'failed_before' }),
      'the replay to leave the failed message'
    );
    const retried = await admin().replay(webhookId, {
      ...window,
      retryFailed: true,
    });
    const trace = await traceWhere(eventId, has('sent'), 'the retried send');

    // Assert
    expect(trace).toContainEqual(
      expect.objectContaining({ stage: 'queued', replayId: retried.replayId })
    );
    expect(
      sendsTo(recipient).map(
        (request) =>
          (JSON.parse(request.body) as { template: { name: string } }).template
            .name
      )
    ).toEqual(['payment_reminder', 'payment_link']);
  });

  it('retries a failed delayed message once when asked; its delay was served', async () => {
    // Arrange: a delayed mapping to a paused template, refused with 132015.
    const recipient = '+15550100165';
    const delayed = { ...PAYMENT_LINK, delaySeconds: 2 };
    const webhookId = await stripeWebhook({
      ...delayed,
      template: { ...PAYMENT_LINK.template, name: 'payment_reminder' },
    });
    const from = new Date().toISOString();
    const eventId = await sendCharge(webhookId, recipient, 'delayed');
    await traceWhere(
      eventId,
      has('failed', { code: 'meta_132015' }),
      'the refusal after the delay'
    );
    await admin().putMapping(webhookId, MAPPING_ID, delayed);

    // Act
    const retried = await admin().replay(webhookId, {
      from,
      to: new Date().toISOString(),
      retryFailed: true,
    });
    const trace = await traceWhere(eventId, has('sent'), 'the retried send');

    // Assert: held again only until the original due time, long past.
    const due = trace.filter((record) => record.stage === 'delayed');
    expect(due.map((record) => record.replayId)).toEqual([
      undefined,
      retried.replayId,
    ]);
    expect(due[1]?.until).toBe(due[0]?.until);
    expect(
      sendsTo(recipient).map(
        (request) =>
          (JSON.parse(request.body) as { template: { name: string } }).template
            .name
      )
    ).toEqual(['payment_reminder', 'payment_link']);
  });

  it('retries a message WhatsApp could not deliver only when asked', async () => {
    // Arrange: accepted, then reported failed with 131026.
    const recipient = '+15550100166';
    const webhookId = await stripeWebhook();
    runtime.standIn?.injectFaults([{ kind: 'undeliverable', to: recipient }]);
    const from = new Date().toISOString();
    const eventId = await sendCharge(webhookId, recipient, 'undelivered');
    await traceWhere(
      eventId,
      has('failed', { code: 'meta_131026' }),
      'the failed status'
    );
    const window = { from, to: new Date().toISOString() };

    // Act
    const plain = await admin().replay(webhookId, window);
    await traceWhere(
      eventId,
      has('skipped', { replayId: plain.replayId, code: 'failed_before' }),
      'the replay to leave the undelivered message'
    );
    const retried = await admin().replay(webhookId, {
      ...window,
      retryFailed: true,
    });
    const sends = (records: readonly TraceRecord[]) =>
      records.filter((record) => record.stage === 'sent');
    const trace = await traceWhere(
      eventId,
      (records) =>
        sends(records).length === 2 &&
        records.some(
          (record) =>
            record.stage === 'read' && record.wamid === sends(records)[1]?.wamid
        ),
      'the new send to be read'
    );

    // Assert
    expect(trace).toContainEqual(
      expect.objectContaining({ stage: 'queued', replayId: retried.replayId })
    );
    expect(sendsTo(recipient)).toHaveLength(2);
    const [first, second] = sends(trace).map((record) => record.wamid);
    expect(second).not.toBe(first);
  });

  it('refuses bad requests with a code that says what is wrong', async () => {
    // Arrange
    const webhookId = await stripeWebhook();

    // Act
    const refusals = await Promise.all([
      refusal(admin().replay(webhookId, {})),
      refusal(admin().replay(webhookId, { from: '2026-12-03T09:00:00Z' })),
      refusal(
        admin().replay(webhookId, {
          from: '2026-12-03T10:00:00Z',
          to: '2026-12-03T09:00:00Z',
        })
      ),
      refusal(admin().replay(webhookId, { failed: true, cursor: 'nonsense' })),
      refusal(admin().replay(webhookId, { failed: true, everything: true })),
      refusal(admin().replay('wh_unknown', { failed: true })),
      refusal(admin().redrive('everything')),
      refusal(admin().redrive('outbound', { limit: -5 })),
      refusal(admin().redrive('outbound', { all: true })),
    ]);

    // Assert
    expect(refusals).toEqual([
      { status: 400, code: 'replay_selection_missing' },
      { status: 400, code: 'invalid_window' },
      { status: 400, code: 'invalid_window' },
      { status: 400, code: 'invalid_cursor' },
      { status: 400, code: 'invalid_request' },
      { status: 404, code: 'webhook_not_found' },
      { status: 400, code: 'invalid_queue' },
      { status: 400, code: 'invalid_request' },
      { status: 400, code: 'invalid_request' },
    ]);
  });
});

describe('dead-letter redrive', { timeout: TEST_MS }, () => {
  it('moves a dead-lettered event back to the ingest queue, where it is processed', async () => {
    // Arrange: an accepted event that ended in the ingest dead-letter queue.
    const recipient = '+15550100162';
    const webhookId = await stripeWebhook();
    const message: IngestMessage = {
      v: 1,
      eventId: randomUUID(),
      webhookId,
      receivedAt: new Date().toISOString(),
      eventKey: 'charge.failed',
      headers: { 'content-type': 'application/json' },
      ...encodeBody(chargeBody(recipient, 'dead')),
    };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: runtime.resources.queues.ingest.deadLetterUrl,
        MessageBody: JSON.stringify(message),
        MessageGroupId: webhookId,
        MessageDeduplicationId: message.eventId,
      })
    );

    // Act
    const answer = await admin().redrive('ingest');
    const again = await admin().redrive('ingest');
    const trace = await traceWhere(
      message.eventId,
      isTraceSettled,
      'the redriven event to be processed'
    );

    // Assert
    expect(answer).toEqual({ queue: 'ingest', moved: 1, limitReached: false });
    expect(again.moved).toBe(0);
    expect(trace.map((record) => record.stage)).toContain('sent');
    expect(sendsTo(recipient)).toHaveLength(1);
  });

  it('takes a sent message back from the outbound dead letters, never resending', async () => {
    // Arrange: a message WhatsApp accepted, then found in the dead letters.
    const recipient = '+15550100164';
    const webhookId = await stripeWebhook();
    const eventId = await sendCharge(webhookId, recipient, 'outbound');
    await traceWhere(eventId, isTraceSettled, 'the first send');
    const [sent] = sendsTo(recipient);
    const message = outboundAgain(
      { eventId, webhookId },
      MAPPING_ID,
      recipient,
      sent?.body ?? '{}'
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: runtime.resources.queues.outbound.deadLetterUrl,
        MessageBody: JSON.stringify(message),
        MessageGroupId: recipientGroup(recipient),
        MessageDeduplicationId: `dead-${message.messageKey}`,
      })
    );

    // Act
    const answer = await admin().redrive('outbound');
    await waitFor(
      async () =>
        (await queueDepth(sqs, runtime.resources.queues.outbound.url)) === 0
          ? true
          : undefined,
      { ...SETTLE, what: 'the outbound queue to drain' }
    );
    const delay = await admin().redrive('delay');
    const trace = await traceWhere(
      eventId,
      has('skipped', { code: 'already_sent' }),
      'the redriven copy to be recorded'
    );

    // Assert
    expect(answer).toMatchObject({ queue: 'outbound', moved: 1 });
    expect(sendsTo(recipient)).toHaveLength(1);
    expect(trace.filter((record) => record.stage === 'sent')).toHaveLength(1);
    expect(delay).toEqual({ queue: 'delay', moved: 0, limitReached: false });
  });

  it('counts an unreadable dead letter once per call, though it returns at once', async () => {
    // Arrange
    const deadLetters = runtime.resources.queues.outbound.deadLetterUrl;
    const body = `not a message ${Date.now()}`;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: deadLetters,
        MessageBody: body,
        MessageGroupId: 'poison',
        MessageDeduplicationId: `poison-${Date.now()}`,
      })
    );
    const backInDeadLetters = () =>
      waitFor(
        async () =>
          (await queueDepth(sqs, deadLetters)) > 0 ? true : undefined,
        { ...SETTLE, what: 'the message back in the dead letters' }
      );

    // Act
    const first = await admin().redrive('outbound', { limit: 5 });
    await backInDeadLetters();
    const second = await admin().redrive('outbound');
    await backInDeadLetters();

    // Assert
    expect(first).toEqual({ queue: 'outbound', moved: 1, limitReached: false });
    expect(second).toEqual({
      queue: 'outbound',
      moved: 1,
      limitReached: false,
    });
  });
});
