import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageKey } from '../../lambdas/shared/domain/messages.js';
import { MAX_WEBHOOK_BODY_BYTES } from '../../lib/definitions.js';
import {
  adminClient,
  isTraceSettled,
  queueDepth,
  sendingStages,
} from '../../local/admin-client.js';
import {
  deliver,
  readFixture,
  stripeDelivery,
  tamperStripeSignature,
  testSecrets,
} from '../../local/deliveries.js';
import { PAYMENT_LINK } from '../../local/demo-setup.js';
import { waitFor } from '../../local/net.js';
import { localAws, WHATSAPP_TOKEN_SECRET_ID } from '../../local/resources.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import { paymentLinkRequest } from '../fixtures/requests.js';
import { scratchFolder } from '../scratch.js';

/**
 * The whole product on this machine: a signed Stripe event goes in through
 * the HTTP API and comes out as a WhatsApp request at the stand-in.
 */
const START_MS = 90_000;
/** Bounds a hang only; no assertion depends on how long a step takes. */
const TEST_MS = 240_000;
const SETTLE = { timeoutMs: 150_000, intervalMs: 200 };
const RECIPIENT_DIGITS = '15550100142';
/** Events sent at once: more than one batch and one environment take. */
const BURST_SIZE = 30;
/**
 * One webhook's events are mapped one at a time, in order (its FIFO
 * group), so under a loaded moto a burst takes minutes to map.
 */
const BURST_SETTLE = { timeoutMs: 480_000, intervalMs: 500 };
const BURST_TEST_MS = 540_000;

/** The request for one event; the message key comes back in callbacks. */
const expectedBody = (eventId: string) => ({
  ...paymentLinkRequest(`+${RECIPIENT_DIGITS}`),
  biz_opaque_callback_data: messageKey(
    eventId,
    'payment-link',
    `+${RECIPIENT_DIGITS}`
  ),
});

let runtime: Runtime;
let sqs: SQSClient;
const secret = testSecrets().stripe;

beforeAll(async () => {
  runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(scratchFolder(), 'pipeline-')),
  });
  sqs = new SQSClient(localAws(runtime.awsEndpoint));
}, START_MS);

afterAll(async () => {
  sqs?.destroy();
  await runtime?.stop();
});

const stripeWebhook = async () => {
  const admin = adminClient(runtime.apiUrl);
  const { webhook } = await admin.createWebhook({
    name: 'Stripe test account',
    provider: 'stripe',
    secret,
  });
  await admin.putMapping(webhook.webhookId, 'payment-link', PAYMENT_LINK);
  await admin.activate(webhook.webhookId);

  return webhook.webhookId;
};

const standInCount = () => runtime.standIn?.requests().length ?? 0;

/** The send request of one event's message, once the stand-in has it. */
const requestFor = (eventId: string) => {
  const key = messageKey(eventId, 'payment-link', `+${RECIPIENT_DIGITS}`);
  return waitFor(
    async () =>
      runtime.standIn
        ?.requests()
        .find((request) => request.body.includes(`"${key}"`)),
    { ...SETTLE, what: 'the stand-in to receive the message' }
  );
};

describe('local pipeline', { timeout: TEST_MS }, () => {
  it('sends a signed charge.failed as payment_link', async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const webhookId = await stripeWebhook();
    const delivery = stripeDelivery({
      body: readFixture('stripe-charge-failed.json'),
      secret,
    });

    // Act
    const answer = await deliver(runtime.apiUrl, webhookId, delivery);
    const eventId = (answer.body as { eventId: string }).eventId;
    const request = await requestFor(eventId);
    const trace = await waitFor(
      async () => {
        const records = await admin.readEvent(eventId);
        return records && isTraceSettled(records) ? records : undefined;
      },
      { ...SETTLE, what: 'the event trace to settle' }
    );

    // Assert
    expect(answer).toEqual({
      status: 202,
      body: { eventId: expect.any(String), status: 'accepted' },
    });
    expect(request.status).toBe(200);
    expect(JSON.parse(request.body)).toStrictEqual(expectedBody(eventId));
    const wamid = (request.response as { messages: { id: string }[] })
      .messages[0]?.id;
    expect(sendingStages(trace)).toEqual([
      'received',
      'matched',
      'queued',
      'sent',
    ]);
    expect(trace.at(-1)?.wamid).toBe(wamid);
    expect(wamid).toMatch(/^wamid\./);
  });

  it('records a re-delivered event as a duplicate and sends it once', async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const webhookId = await stripeWebhook();
    const body = readFixture('stripe-charge-failed.json');
    const sentBefore = standInCount();
    const settled = (eventId: string) =>
      waitFor(
        async () => {
          const records = await admin.readEvent(eventId);
          return records && isTraceSettled(records) ? records : undefined;
        },
        { ...SETTLE, what: 'the event trace to settle' }
      );

    // Act: Stripe signs each retry anew, with a later timestamp.
    const first = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret })
    );
    const firstId = (first.body as { eventId: string }).eventId;
    await settled(firstId);
    const again = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret, now: new Date(Date.now() + 5_000) })
    );
    const againId = (again.body as { eventId: string }).eventId;
    const duplicate = await settled(againId);

    // Assert
    expect(again.status).toBe(202);
    expect(sendingStages(duplicate)).toEqual(['received', 'duplicate']);
    expect(duplicate.at(-1)).toMatchObject({
      code: 'duplicate_delivery',
      originalEventId: firstId,
    });
    expect(standInCount()).toBe(sentBefore + 1);
  });

  it('verifies with the new secret at once and the old one during the overlap', async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const webhookId = await stripeWebhook();
    const body = readFixture('stripe-charge-failed.json');
    const warmUp = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret })
    );
    const rotated = `${secret}_rotated`;

    // Act
    const rotation = await admin.rotateSecret(webhookId, {
      secret: rotated,
      overlapHours: 24,
    });
    const withNew = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret: rotated })
    );
    const withOld = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret })
    );
    const withOther = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret: `${secret}_other` })
    );

    // Assert
    expect(warmUp.status).toBe(202);
    expect(Date.parse(rotation.previousValidUntil)).toBeGreaterThan(Date.now());
    expect(rotation.secret).toBeUndefined();
    expect(withNew.status).toBe(202);
    expect(withOld.status).toBe(202);
    expect(withOther.status).toBe(401);
  });

  it(
    'sends every event of a burst, one message each',
    async () => {
      // Arrange: distinct events to distinct recipients, all at once.
      const admin = adminClient(runtime.apiUrl);
      const webhookId = await stripeWebhook();
      const sample = readFixture('stripe-charge-failed.json').toString();
      const bodies = Array.from({ length: BURST_SIZE }, (_, index) =>
        Buffer.from(
          sample
            .replace('evt_000000000000000000000000', `evt_burst_${index}`)
            .replace(
              '+15550100142',
              `+1555010${String(index).padStart(4, '0')}`
            )
        )
      );
      const sentBefore = standInCount();

      // Act
      const answers = await Promise.all(
        bodies.map((body) =>
          deliver(runtime.apiUrl, webhookId, stripeDelivery({ body, secret }))
        )
      );
      const traces = await Promise.all(
        answers.map((answer) =>
          waitFor(
            async () => {
              const eventId = (answer.body as { eventId: string }).eventId;
              const records = await admin.readEvent(eventId);
              return records && isTraceSettled(records) ? records : undefined;
            },
            { ...BURST_SETTLE, what: 'every event of the burst to settle' }
          )
        )
      );

      // Assert
      expect(answers.every((answer) => answer.status === 202)).toBe(true);
      for (const trace of traces) {
        expect(sendingStages(trace), JSON.stringify(trace)).toEqual([
          'received',
          'matched',
          'queued',
          'sent',
        ]);
      }
      // Messages of earlier tests to one recipient may still be leaving,
      // spaced 6 s apart: count the burst's own recipients.
      const burstSends = (runtime.standIn?.requests() ?? [])
        .slice(sentBefore)
        .filter((request) => /"to":"\+1555010\d{4}"/.test(request.body))
        .filter((request) => !request.body.includes(RECIPIENT_DIGITS));
      expect(burstSends).toHaveLength(BURST_SIZE);
      const listed = await fetch(
        `${runtime.apiUrl}/admin/webhooks/${webhookId}/events?limit=100`
      );
      const { events } = (await listed.json()) as { events: unknown[] };
      expect(events).toHaveLength(BURST_SIZE);
    },
    BURST_TEST_MS
  );

  it('keeps a 3 MB body whole and maps it like a small one', async () => {
    // Arrange: Meta sends up to about 3 MB; a store's order can be as large.
    const admin = adminClient(runtime.apiUrl);
    const webhookId = await stripeWebhook();
    const body = largeBody(3 * 1024 * 1024);
    const s3 = new S3Client({
      ...localAws(runtime.awsEndpoint),
      forcePathStyle: true,
    });

    // Act
    const answer = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret })
    );
    const eventId = (answer.body as { eventId: string }).eventId;
    const request = await requestFor(eventId);
    const trace = await waitFor(
      async () => {
        const records = await admin.readEvent(eventId);
        return records && isTraceSettled(records) ? records : undefined;
      },
      { ...SETTLE, what: 'the event trace to settle' }
    );
    const stored = await s3.send(
      new GetObjectCommand({
        Bucket: 'wapto-payloads',
        Key: `payloads/${webhookId}/${eventId}`,
      })
    );
    const storedBytes = await stored.Body?.transformToByteArray();
    s3.destroy();

    // Assert
    expect(body.length).toBeGreaterThan(3 * 1024 * 1024);
    expect(body.length).toBeLessThan(MAX_WEBHOOK_BODY_BYTES);
    expect(answer.status).toBe(202);
    expect(JSON.parse(request.body)).toStrictEqual(expectedBody(eventId));
    expect(sendingStages(trace)).toEqual([
      'received',
      'matched',
      'queued',
      'sent',
    ]);
    expect(body.equals(Buffer.from(storedBytes ?? []))).toBe(true);
  });

  it('refuses a body over the limit with 413 and queues nothing', async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const webhookId = await stripeWebhook();
    const body = largeBody(MAX_WEBHOOK_BODY_BYTES + 1);

    // Act
    const answer = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret })
    );

    // Assert
    expect(answer).toEqual({
      status: 413,
      body: { code: 'payload_too_large', message: expect.any(String) },
    });
    expect(await admin.listEvents(webhookId)).toEqual([]);
  });

  it('processes an event whose provider id is longer than a table key allows', async () => {
    // Arrange: 3,000 characters, beyond DynamoDB's 2,048-byte partition key.
    const admin = adminClient(runtime.apiUrl);
    const webhookId = await stripeWebhook();
    const event = stripeEvent();
    event.id = `evt_${'x'.repeat(3_000)}`;
    const body = Buffer.from(JSON.stringify(event));

    // Act
    const first = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret })
    );
    const again = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret })
    );
    const stages = await Promise.all(
      [first, again].map((answer) => settledStages(admin, answer))
    );

    // Assert
    expect(stages[0]).toEqual(['received', 'matched', 'queued', 'sent']);
    expect(stages[1]).toEqual(['received', 'duplicate']);
  });

  it('sends an event that was only captured when it comes again after activation', async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const { webhook } = await admin.createWebhook({
      name: 'Stripe, going live',
      provider: 'stripe',
      secret,
    });
    await admin.putMapping(webhook.webhookId, 'payment-link', PAYMENT_LINK);
    const event = stripeEvent();
    event.id = `evt_capture_then_live_${Date.now()}`;
    const body = Buffer.from(JSON.stringify(event));
    const captured = await deliver(
      runtime.apiUrl,
      webhook.webhookId,
      stripeDelivery({ body, secret })
    );
    const capturedStages = await settledStages(admin, captured, 'captured');

    // Act
    await admin.activate(webhook.webhookId);
    const live = await deliver(
      runtime.apiUrl,
      webhook.webhookId,
      stripeDelivery({ body, secret })
    );

    // Assert
    expect(capturedStages).toEqual(['received', 'captured']);
    expect(await settledStages(admin, live)).toEqual([
      'received',
      'matched',
      'queued',
      'sent',
    ]);
  });

  it('keeps the captures of one event key apart from keys that extend it', async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const { webhook } = await admin.createWebhook({
      name: 'Stripe, capturing keys',
      provider: 'stripe',
      secret,
    });
    const answers = [];

    // Act
    for (const type of ['charge.failed', 'charge.failed#2027', 'charge']) {
      const event = stripeEvent();
      event.type = type;
      const answer = await deliver(
        runtime.apiUrl,
        webhook.webhookId,
        stripeDelivery({ body: Buffer.from(JSON.stringify(event)), secret })
      );
      await settledStages(admin, answer, 'captured');
      answers.push(answer);
    }
    const listed = await fetch(
      `${runtime.apiUrl}/admin/webhooks/${webhook.webhookId}/captures?eventKey=charge.failed`
    );

    // Assert
    const { captures } = (await listed.json()) as {
      captures: { eventKey: string }[];
    };
    expect(captures.map((capture) => capture.eventKey)).toEqual([
      'charge.failed',
    ]);
  });

  it('refuses to generate a secret on rotation for a provider that issues its own', async () => {
    // Arrange
    const webhookId = await stripeWebhook();

    // Act
    const answer = await fetch(
      `${runtime.apiUrl}/admin/webhooks/${webhookId}/rotate-secret`,
      { method: 'POST' }
    );

    // Assert
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({
      code: 'invalid_request',
      details: [expect.stringContaining('paste it as secret')],
    });
  });

  it('verifies a body that is not UTF-8 over its exact bytes', async () => {
    // Arrange: Latin-1 JSON, sent as application/json.
    const webhookId = await stripeWebhook();
    const event = stripeEvent();
    event.data.object.failure_message = 'Carte refusée';
    event.id = `evt_latin1_${Date.now()}`;
    const body = Buffer.from(JSON.stringify(event), 'latin1');

    // Act
    const answer = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body, secret })
    );

    // Assert
    expect(body.includes(Buffer.from('é'))).toBe(false);
    expect(answer.status).toBe(202);
  });

  it('keeps what an inactive webhook receives and sends nothing', async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const { webhook } = await admin.createWebhook({
      name: 'Stripe, not live yet',
      provider: 'stripe',
      secret,
    });
    await admin.putMapping(webhook.webhookId, 'payment-link', PAYMENT_LINK);
    const sentBefore = standInCount();

    // Act
    const answer = await deliver(
      runtime.apiUrl,
      webhook.webhookId,
      stripeDelivery({ body: readFixture('stripe-charge-failed.json'), secret })
    );
    const eventId = (answer.body as { eventId: string }).eventId;
    const trace = await waitFor(
      async () => {
        const records = await admin.readEvent(eventId);
        return records?.some((r) => r.stage === 'captured')
          ? records
          : undefined;
      },
      { ...SETTLE, what: 'the event to be captured' }
    );
    const captured = await fetch(
      `${runtime.apiUrl}/admin/webhooks/${webhook.webhookId}/captures?eventKey=charge.failed`
    );

    // Assert
    expect(sendingStages(trace)).toEqual(['received', 'captured']);
    expect(await captured.json()).toMatchObject({
      captures: [
        {
          eventKey: 'charge.failed',
          eventId,
          body: { id: 'evt_000000000000000000000000', type: 'charge.failed' },
        },
      ],
    });
    expect(standInCount()).toBe(sentBefore);
  });

  it('refuses a Stripe API key pasted as the signing secret', async () => {
    // Act
    const answer = await fetch(`${runtime.apiUrl}/admin/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'Stripe',
        provider: 'stripe',
        secret: 'sk_live_0000000000000000000000',
      }),
    });

    // Assert
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({
      code: 'invalid_request',
      details: [expect.stringContaining('whsec_')],
    });
  });

  it('moves an unreadable event to dead letters at once; the next one is sent', async () => {
    // Arrange: a message no mapper can read, first in the webhook's group.
    const webhookId = await stripeWebhook();
    const poison = `{"v":1,"eventId":"unreadable-${Date.now()}"}`;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: runtime.resources.queues.ingest.url,
        MessageBody: poison,
        MessageGroupId: webhookId,
        MessageDeduplicationId: `poison-${Date.now()}`,
      })
    );

    // Act
    const answer = await deliver(
      runtime.apiUrl,
      webhookId,
      stripeDelivery({ body: readFixture('stripe-charge-failed.json'), secret })
    );
    const eventId = (answer.body as { eventId: string }).eventId;
    const request = await requestFor(eventId);
    const dead = await waitFor(
      async () => {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: runtime.resources.queues.ingest.deadLetterUrl,
            WaitTimeSeconds: 1,
          })
        );
        return Messages?.find((message) => message.Body === poison);
      },
      { ...SETTLE, what: 'the unreadable event in the dead-letter queue' }
    );

    // Assert
    expect(request.status).toBe(200);
    expect(dead.Body).toBe(poison);
  });

  it('refuses a tampered signature with 401 and queues nothing', async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const webhookId = await stripeWebhook();
    const ingestUrl = runtime.resources.queues.ingest.url;
    const sentBefore = standInCount();
    const forged = tamperStripeSignature(
      stripeDelivery({ body: readFixture('stripe-charge-failed.json'), secret })
    );

    // Act
    const answer = await deliver(runtime.apiUrl, webhookId, forged);
    const depthAfter = await queueDepth(sqs, ingestUrl);
    // Whatever was queued is either still queued or, once mapped, listed.
    await waitFor(
      async () => ((await queueDepth(sqs, ingestUrl)) === 0 ? true : undefined),
      { ...SETTLE, what: 'the ingest queue to drain' }
    );
    const events = await admin.listEvents(webhookId);

    // Assert
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({
      code: expect.any(String),
      message: expect.any(String),
    });
    expect(depthAfter).toBe(0);
    expect(events).toEqual([]);
    expect(standInCount()).toBe(sentBefore);
  });

  it("records a refused send as failed with Meta's code", async () => {
    // Arrange
    const admin = adminClient(runtime.apiUrl);
    const { webhook } = await admin.createWebhook({
      name: 'Stripe account with a paused template',
      provider: 'stripe',
      secret,
    });
    // A paused template can be mapped (the pause lifts by itself), but
    // Meta refuses to send it meanwhile.
    const template = { ...PAYMENT_LINK.template, name: 'payment_reminder' };
    await admin.putMapping(webhook.webhookId, 'paused', {
      ...PAYMENT_LINK,
      template,
    });
    await admin.activate(webhook.webhookId);
    const delivery = stripeDelivery({
      body: readFixture('stripe-charge-failed.json'),
      secret,
    });

    // Act
    const answer = await deliver(runtime.apiUrl, webhook.webhookId, delivery);
    const eventId = (answer.body as { eventId: string }).eventId;
    const trace = await waitFor(
      async () => {
        const records = await admin.readEvent(eventId);
        return records && isTraceSettled(records) ? records : undefined;
      },
      { ...SETTLE, what: 'the event trace to settle' }
    );

    // Assert
    expect(sendingStages(trace)).toEqual([
      'received',
      'matched',
      'queued',
      'failed',
    ]);
    expect(trace.at(-1)).toMatchObject({ code: 'meta_132015' });
  });

  it('answers 405 with Allow to a method the URL does not take', async () => {
    // Arrange
    const webhookId = await stripeWebhook();

    // Act
    const answers = await Promise.all(
      ['GET', 'PUT', 'DELETE'].map((method) =>
        fetch(`${runtime.apiUrl}/webhooks/${webhookId}`, { method })
      )
    );

    // Assert
    for (const answer of answers) {
      expect(answer.status).toBe(405);
      expect(answer.headers.get('allow')).toBe('POST');
      expect(await answer.json()).toMatchObject({ code: 'method_not_allowed' });
    }
  });

  it('answers 404 with a JSON code for an unknown webhook', async () => {
    // Arrange
    const delivery = stripeDelivery({
      body: readFixture('stripe-charge-failed.json'),
      secret,
    });

    // Act
    const answer = await deliver(runtime.apiUrl, 'wh_doesnotexist', delivery);

    // Assert
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: expect.any(String) });
  });

  it('logs no full phone number, secret or token', async () => {
    // Arrange
    const secrets = new SecretsManagerClient(localAws(runtime.awsEndpoint));
    const token = (
      await secrets.send(
        new GetSecretValueCommand({ SecretId: WHATSAPP_TOKEN_SECRET_ID })
      )
    ).SecretString;
    secrets.destroy();
    const readLines = () =>
      readFileSync(runtime.handlerLogFile, 'utf8').split('\n').filter(Boolean);

    // Act
    const lines = await waitFor(
      async () => {
        const all = readLines();
        return all.some((line) => line.includes('"message sent"'))
          ? all
          : undefined;
      },
      { ...SETTLE, what: 'the sender to log its send' }
    );

    // Assert
    expect(token).toBeTruthy();
    const leaks = lines.filter(
      (line) =>
        line.includes(RECIPIENT_DIGITS) ||
        line.includes(secret) ||
        line.includes(token ?? '')
    );
    expect(leaks).toEqual([]);
  });
});

/**
 * The Stripe sample grown past `minBytes` with line items in several
 * scripts, so the body is large, multi-byte and still the same event.
 */
const largeBody = (minBytes: number): Buffer => {
  const event = JSON.parse(
    readFixture('stripe-charge-failed.json').toString('utf8')
  );
  const line = {
    description: 'Schneeschuhe für Kinder · 雪靴 · 🥾',
    quantity: 1,
    amount: 4999,
  };
  const lineBytes = Buffer.byteLength(JSON.stringify(line)) + 1;
  const count = Math.ceil(minBytes / lineBytes);
  event.data.object.metadata = {
    lines: Array.from({ length: count }, () => line),
  };

  return Buffer.from(JSON.stringify(event));
};

/** A fresh copy of the Stripe sample event, to change before signing. */
const stripeEvent = () =>
  JSON.parse(readFixture('stripe-charge-failed.json').toString('utf8'));

/** The stages of an accepted event's trace once it settles (or reaches `until`). */
const settledStages = async (
  admin: ReturnType<typeof adminClient>,
  answer: { body: unknown },
  until?: string
): Promise<string[]> => {
  const eventId = (answer.body as { eventId: string }).eventId;
  const records = await waitFor(
    async () => {
      const found = await admin.readEvent(eventId);
      if (!found) return undefined;
      const done = until
        ? found.some((record) => record.stage === until)
        : isTraceSettled(found);
      return done ? found : undefined;
    },
    { ...SETTLE, what: `event ${eventId} to settle` }
  );

  return sendingStages(records);
};
