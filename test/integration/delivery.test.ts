import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  messageKey,
  recipientGroup,
} from '../../lambdas/shared/domain/messages.js';
import type { TraceRecord } from '../../lambdas/shared/domain/trace.js';
import { Tables } from '../../lib/definitions.js';
import {
  adminClient,
  isTraceSettled,
  queueDepth,
  sendingStages,
} from '../../local/admin-client.js';
import { type CrashInjector, crashInjector } from '../../local/crash.js';
import {
  deliver,
  metaSignature,
  postStatusCallback,
  readFixture,
  stripeDelivery,
  testSecrets,
} from '../../local/deliveries.js';
import { PAYMENT_LINK } from '../../local/demo-setup.js';
import type { HandlerWrapper } from '../../local/lambda.js';
import { waitFor } from '../../local/net.js';
import {
  LOCAL_PHONE_NUMBER_ID,
  localAws,
  WHATSAPP_TOKEN_SECRET_ID,
} from '../../local/resources.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import { statusPayload } from '../../local/whatsapp-callbacks.js';
import type { RecordedRequest } from '../../local/whatsapp-standin.js';
import { outboundAgain } from '../fixtures/requests.js';
import { scratchFolder } from '../scratch.js';

/**
 * The sender against moto and the WhatsApp stand-in: never twice across
 * crashes and lost answers, retries by Meta's code, spacing per recipient.
 * Waits are bounded only to stop a hang; no assertion depends on speed.
 */
const START_MS = 90_000;
const TEST_MS = 240_000;
const SETTLE = { timeoutMs: 180_000, intervalMs: 250 };
const MAPPING_ID = 'payment-link';
const SAMPLE_RECIPIENT = '+15550100142';
const SAMPLE_EVENT = 'evt_000000000000000000000000';

let runtime: Runtime;
let sqs: SQSClient;
let dynamo: DynamoDBDocumentClient;
let crash: CrashInjector;
const secret = testSecrets().stripe;
/** The message keys of each sender invocation's batch, in order. */
const senderBatches: string[][] = [];

const keyOf = (body: string): string => {
  try {
    return String((JSON.parse(body) as { messageKey?: unknown }).messageKey);
  } catch {
    return '';
  }
};

const observeBatches: HandlerWrapper = (handler) => (event, context) => {
  senderBatches.push(
    (event as SQSEvent).Records.map((record) => keyOf(record.body))
  );
  return handler(event, context);
};

beforeAll(async () => {
  crash = crashInjector();
  runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(scratchFolder(), 'delivery-')),
    wrapHandlers: {
      sender: (handler) => crash.wrap(observeBatches(handler)),
    },
  });
  sqs = new SQSClient(localAws(runtime.awsEndpoint));
  dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient(localAws(runtime.awsEndpoint))
  );
}, START_MS);

afterAll(async () => {
  crash?.restore();
  sqs?.destroy();
  dynamo?.destroy();
  await runtime?.stop();
});

const admin = () => adminClient(runtime.apiUrl);
const standIn = () => {
  if (runtime.standIn === undefined) throw new Error('no stand-in');
  return runtime.standIn;
};

const stripeWebhook = async (
  template = PAYMENT_LINK.template,
  recipients = PAYMENT_LINK.recipients
) => {
  const { webhook } = await admin().createWebhook({
    name: 'Stripe test account',
    provider: 'stripe',
    secret,
  });
  await admin().putMapping(webhook.webhookId, MAPPING_ID, {
    ...PAYMENT_LINK,
    template,
    recipients,
  });
  await admin().activate(webhook.webhookId);

  return webhook.webhookId;
};

/** A charge.failed for `recipient`, as a distinct Stripe event. */
const sendCharge = async (
  webhookId: string,
  recipient: string,
  tag: string
): Promise<string> => {
  const body = Buffer.from(
    readFixture('stripe-charge-failed.json')
      .toString()
      .replace(SAMPLE_EVENT, `evt_${tag}_${Date.now()}`)
      .replace(SAMPLE_RECIPIENT, recipient)
  );
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

const settledTrace = (eventId: string) =>
  traceWhere(eventId, isTraceSettled, 'the event trace to settle');

/** Send requests the stand-in received for `recipient`, oldest first. */
const sendsTo = (recipient: string): RecordedRequest[] =>
  standIn()
    .requests()
    .filter(
      (request) =>
        request.method === 'POST' &&
        (JSON.parse(request.body) as { to?: string }).to === recipient
    );

const errorCode = (request: RecordedRequest) =>
  (request.response as { error?: { code?: number } }).error?.code;

const ledgerOf = async (eventId: string, recipient: string) => {
  const { Item } = await dynamo.send(
    new GetCommand({
      TableName: Tables.logs.localName,
      Key: {
        pk: `SEND#${messageKey(eventId, MAPPING_ID, recipient)}`,
        sk: 'STATE',
      },
    })
  );

  return Item;
};

const outboundUrl = () => runtime.resources.queues.outbound.url;

/** Hands the records out again at once rather than after the timeout. */
const redeliverNow = (records: readonly { receiptHandle: string }[]) =>
  Promise.all(
    records.map((record) =>
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: outboundUrl(),
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: 0,
        })
      )
    )
  );

/** Runs `act` with the stand-in's status callbacks off. */
const withoutCallbacks = async <T>(act: () => Promise<T>): Promise<T> => {
  const { callbacks } = standIn().settings();
  standIn().configure({ callbacks: null });
  try {
    return await act();
  } finally {
    standIn().configure({ callbacks });
  }
};

const wamidOf = (request: RecordedRequest | undefined) =>
  (request?.response as { messages?: { id?: string }[] } | undefined)
    ?.messages?.[0]?.id;

/** Posts one status callback for a message, signed as Meta signs it. */
const postStatus = async (message: {
  wamid: string;
  recipientId: string;
  messageKey: string;
  status: 'sent' | 'delivered' | 'read';
}) => {
  const body = JSON.stringify(
    statusPayload({
      wamid: message.wamid,
      phoneNumberId: LOCAL_PHONE_NUMBER_ID,
      recipientId: message.recipientId,
      category: 'utility',
      bizOpaqueCallbackData: message.messageKey,
      status: message.status,
      timestampSeconds: Math.floor(Date.now() / 1000),
      conversationId: 'c0ffee',
      wabaId: '100000000000009',
      displayPhoneNumber: '15550100999',
    })
  );
  return postStatusCallback(
    runtime.apiUrl,
    body,
    metaSignature(body, runtime.statusCallbacks.appSecret)
  );
};

const queueDrained = () =>
  waitFor(
    async () =>
      (await queueDepth(sqs, outboundUrl())) === 0 ? true : undefined,
    { ...SETTLE, what: 'the outbound queue to drain' }
  );

describe('sending each message once', { timeout: TEST_MS }, () => {
  it('sends once when the sender dies after acceptance; its status proves it sent', async () => {
    // Arrange
    const recipient = '+15550100150';
    const webhookId = await stripeWebhook();
    const crashed = crash.arm(recipient);

    // Act: the invocation dies once WhatsApp's answer is in, before the
    // sender records it or deletes the queue message. Meta's status
    // callbacks still arrive.
    const eventId = await sendCharge(webhookId, recipient, 'crash');
    const report = await crashed;
    await redeliverNow(report.event.Records);
    const trace = await traceWhere(
      eventId,
      (records) => records.some((record) => record.stage === 'sent'),
      'the sender to record the message sent'
    );
    await queueDrained();

    // Assert
    const [sent] = sendsTo(recipient);
    expect(report.status).toBe(200);
    expect(sendsTo(recipient)).toHaveLength(1);
    expect(sendingStages(trace)).toEqual([
      'received',
      'matched',
      'queued',
      'sent',
    ]);
    expect(await ledgerOf(eventId, recipient)).toMatchObject({
      state: 'sent',
      attempts: 1,
      wamid: wamidOf(sent),
    });
  });

  it('records unconfirmed when the sender died after acceptance, no status', async () => {
    // Arrange
    const recipient = '+15550100160';
    const webhookId = await stripeWebhook();
    const crashed = crash.arm(recipient);

    // Act
    const { eventId, report } = await withoutCallbacks(async () => {
      const id = await sendCharge(webhookId, recipient, 'crash-quiet');
      const crashReport = await crashed;
      await redeliverNow(crashReport.event.Records);
      await traceWhere(
        id,
        (records) => records.some((record) => record.stage === 'unconfirmed'),
        'the sender to record the message unconfirmed'
      );
      return { eventId: id, report: crashReport };
    });
    await queueDrained();
    const trace = await settledTrace(eventId);

    // Assert
    expect(report.status).toBe(200);
    expect(sendsTo(recipient)).toHaveLength(1);
    expect(sendingStages(trace)).toEqual([
      'received',
      'matched',
      'queued',
      'unconfirmed',
    ]);
    expect(trace.at(-1)).toMatchObject({
      code: 'attempt_interrupted',
      reason: expect.stringContaining('not sent again'),
    });
    expect(await ledgerOf(eventId, recipient)).toMatchObject({
      state: 'unconfirmed',
      attempts: 1,
    });
  });

  it('records a lost answer unconfirmed, skips a redelivery, then a status sends it', async () => {
    // Arrange: WhatsApp accepts, then the connection drops unanswered.
    const recipient = '+15550100151';
    const webhookId = await stripeWebhook();
    standIn().injectFaults([
      { kind: 'timeout', accept: true, holdMs: 200, to: recipient.slice(1) },
    ]);

    // Act
    const eventId = await withoutCallbacks(async () => {
      const id = await sendCharge(webhookId, recipient, 'timeout');
      await settledTrace(id);
      return id;
    });
    const [sent] = sendsTo(recipient);
    const request = JSON.parse(sent?.body ?? '{}');
    const redelivered = outboundAgain(
      { eventId, webhookId },
      MAPPING_ID,
      recipient,
      sent?.body ?? '{}'
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: outboundUrl(),
        MessageBody: JSON.stringify(redelivered),
        MessageGroupId: recipientGroup(recipient),
        MessageDeduplicationId: `again-${redelivered.messageKey}`,
      })
    );
    await queueDrained();
    const unconfirmed = await ledgerOf(eventId, recipient);
    const wamid = (sent?.response as { acceptedAs?: string } | undefined)
      ?.acceptedAs;
    const answer = await postStatus({
      wamid: wamid ?? '',
      recipientId: recipient.slice(1),
      messageKey: redelivered.messageKey,
      status: 'delivered',
    });
    const trace = await traceWhere(
      eventId,
      (records) => records.some((record) => record.stage === 'sent'),
      'the status to confirm the send'
    );

    // Assert
    expect(sent?.status).toBe(0);
    expect(request.biz_opaque_callback_data).toBe(redelivered.messageKey);
    expect(sendsTo(recipient)).toHaveLength(1);
    expect(unconfirmed).toMatchObject({
      state: 'unconfirmed',
      code: 'no_answer',
    });
    expect(answer).toMatchObject({ status: 200, body: { recorded: 1 } });
    expect(sendingStages(trace)).toEqual([
      'received',
      'matched',
      'queued',
      'unconfirmed',
      'skipped',
      'sent',
    ]);
    expect(trace.find((record) => record.stage === 'skipped')).toMatchObject({
      code: 'already_unconfirmed',
    });
    expect(trace.find((record) => record.stage === 'sent')).toMatchObject({
      wamid,
      code: 'confirmed_by_status',
    });
    expect(await ledgerOf(eventId, recipient)).toMatchObject({
      state: 'sent',
      wamid,
      confirmedBy: 'status_callback',
    });
  });

  it('records a lost answer sent once its statuses arrive, whichever is first', async () => {
    // Arrange: WhatsApp accepts and drops the connection while its status
    // callbacks are on their way.
    const recipient = '+15550100161';
    const webhookId = await stripeWebhook();
    standIn().injectFaults([
      { kind: 'timeout', accept: true, holdMs: 400, to: recipient.slice(1) },
    ]);

    // Act
    const eventId = await sendCharge(webhookId, recipient, 'timeout-status');
    const ledger = await waitFor(
      async () => {
        const item = await ledgerOf(eventId, recipient);
        return item?.state === 'sent' ? item : undefined;
      },
      { ...SETTLE, what: 'the ledger to say sent' }
    );
    const trace = await settledTrace(eventId);

    // Assert
    const [sent] = sendsTo(recipient);
    const wamid = (sent?.response as { acceptedAs?: string } | undefined)
      ?.acceptedAs;
    expect(sendsTo(recipient)).toHaveLength(1);
    expect(ledger).toMatchObject({ state: 'sent', wamid });
    expect(sendingStages(trace).at(-1)).toBe('sent');
  });
});

describe('retries by Meta code', { timeout: TEST_MS }, () => {
  it('holds back only the recipient that hit the pair limit (131056)', async () => {
    // Arrange
    const limited = '+15550100152';
    const other = '+15550100153';
    const webhookId = await stripeWebhook();
    standIn().injectFaults([{ kind: 'pair', to: limited.slice(1) }]);

    // Act
    const limitedEvent = await sendCharge(webhookId, limited, 'pair');
    const otherEvent = await sendCharge(webhookId, other, 'other');
    const [limitedTrace, otherTrace] = await Promise.all([
      settledTrace(limitedEvent),
      settledTrace(otherEvent),
    ]);

    // Assert
    const requests = standIn().requests();
    const toLimited = sendsTo(limited);
    const [toOther] = sendsTo(other);
    expect(toLimited.map(errorCode)).toEqual([131056, undefined]);
    expect(toLimited.map((request) => request.status)).toEqual([400, 200]);
    expect(toOther?.status).toBe(200);
    // The other recipient's message left while the limited one waited.
    expect(requests.indexOf(toOther as RecordedRequest)).toBeLessThan(
      requests.indexOf(toLimited[1] as RecordedRequest)
    );
    expect(sendingStages(limitedTrace)).toEqual([
      'received',
      'matched',
      'queued',
      'retrying',
      'sent',
    ]);
    expect(limitedTrace[3]).toMatchObject({ code: 'meta_131056' });
    expect(sendingStages(otherTrace).at(-1)).toBe('sent');
    expect(await ledgerOf(limitedEvent, limited)).toMatchObject({
      state: 'sent',
      attempts: 2,
      wamid: limitedTrace.at(-1)?.wamid,
    });
  });

  it('backs off after the throughput limit (130429) and then sends', async () => {
    // Arrange
    const recipient = '+15550100154';
    const webhookId = await stripeWebhook();
    standIn().injectFaults([{ kind: 'throughput', to: recipient.slice(1) }]);

    // Act
    const eventId = await sendCharge(webhookId, recipient, 'throughput');
    const trace = await settledTrace(eventId);

    // Assert
    expect(sendsTo(recipient).map(errorCode)).toEqual([130429, undefined]);
    expect(
      trace
        .filter((record) => !['delivered', 'read'].includes(record.stage))
        .map((record) => [record.stage, record.code])
    ).toEqual([
      ['received', undefined],
      ['matched', undefined],
      ['queued', undefined],
      ['retrying', 'meta_130429'],
      ['sent', undefined],
    ]);
  });

  it("records a permanent refusal as failed with Meta's code, once", async () => {
    // Arrange: a paused template is refused with 132015 until it resumes.
    const recipient = '+15550100157';
    const webhookId = await stripeWebhook({
      ...PAYMENT_LINK.template,
      name: 'payment_reminder',
    });

    // Act
    const eventId = await sendCharge(webhookId, recipient, 'paused');
    const trace = await settledTrace(eventId);
    await queueDrained();

    // Assert
    expect(sendsTo(recipient).map(errorCode)).toEqual([132015]);
    expect(trace.at(-1)).toMatchObject({
      stage: 'failed',
      code: 'meta_132015',
    });
    expect(await ledgerOf(eventId, recipient)).toMatchObject({
      state: 'failed',
      code: 'meta_132015',
      attempts: 1,
    });
  });
});

describe('pacing and spacing', { timeout: TEST_MS }, () => {
  it('sends two messages to one person at least 6 s apart', async () => {
    // Arrange
    const recipient = '+15550100156';
    const webhookId = await stripeWebhook();

    // Act
    const first = await sendCharge(webhookId, recipient, 'gap1');
    const second = await sendCharge(webhookId, recipient, 'gap2');
    await Promise.all([settledTrace(first), settledTrace(second)]);

    // Assert
    const [one, two] = sendsTo(recipient);
    expect(sendsTo(recipient)).toHaveLength(2);
    expect(
      Date.parse(two?.at ?? '') - Date.parse(one?.at ?? '')
    ).toBeGreaterThanOrEqual(6_000);
  });

  it('moves an unreadable message to the dead-letter queue at once', async () => {
    // Arrange
    const body = `not a message ${Date.now()}`;

    // Act
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: outboundUrl(),
        MessageBody: body,
        MessageGroupId: 'poison',
        MessageDeduplicationId: `poison-${Date.now()}`,
      })
    );
    const dead = await waitFor(
      async () => {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: runtime.resources.queues.outbound.deadLetterUrl,
            WaitTimeSeconds: 1,
          })
        );
        return Messages?.find((message) => message.Body === body);
      },
      { ...SETTLE, what: 'the message to reach the dead-letter queue' }
    );
    await queueDrained();

    // Assert
    expect(dead.Body).toBe(body);
  });
});

describe('the access token', { timeout: TEST_MS }, () => {
  it('reads a replaced token fresh after 190 and sends with it', async () => {
    // Arrange: a send caches the current token.
    const warm = '+15550100158';
    const recipient = '+15550100155';
    const webhookId = await stripeWebhook();
    await settledTrace(await sendCharge(webhookId, warm, 'warm'));
    const rotated = `local-rotated-${Date.now()}`;
    const secrets = new SecretsManagerClient(localAws(runtime.awsEndpoint));
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: WHATSAPP_TOKEN_SECRET_ID,
        SecretString: rotated,
      })
    );
    secrets.destroy();
    standIn().configure({ token: rotated });

    // Act
    const eventId = await sendCharge(webhookId, recipient, 'token');
    const trace = await settledTrace(eventId);

    // Assert
    expect(sendsTo(recipient).map(errorCode)).toEqual([190, undefined]);
    expect(sendingStages(trace).at(-1)).toBe('sent');
    expect(await ledgerOf(eventId, recipient)).toMatchObject({
      state: 'sent',
      attempts: 1,
    });
  });
});

describe('several recipients at once', { timeout: TEST_MS }, () => {
  it("keeps several recipients' sends in flight, each in order and spaced", async () => {
    // Arrange: each event maps to five recipients, queued together, and
    // WhatsApp answers each send after a while, as over the internet.
    const latencyMs = 2_000;
    const recipients = [160, 161, 162, 163, 164].map(
      (suffix) => `+15550100${suffix}`
    );
    const webhookId = await stripeWebhook(
      PAYMENT_LINK.template,
      JSON.stringify(recipients)
    );
    standIn().reset();
    standIn().configure({ latencyMs });

    try {
      // Act: moto lets two waiting polls take messages of one group (see
      // README), so the second event comes once the first is sent.
      const first = await sendCharge(webhookId, recipients[0] ?? '', 'many1');
      await settledTrace(first);
      const second = await sendCharge(webhookId, recipients[0] ?? '', 'many2');
      await settledTrace(second);
      await queueDrained();

      // Assert
      const keys = (eventId: string) =>
        recipients.map((recipient) =>
          messageKey(eventId, MAPPING_ID, recipient)
        );
      const keyed = (request: RecordedRequest) =>
        (JSON.parse(request.body) as { biz_opaque_callback_data?: string })
          .biz_opaque_callback_data;
      for (const [index, recipient] of recipients.entries()) {
        const sends = sendsTo(recipient);
        expect(sends.map((request) => request.status)).toEqual([200, 200]);
        expect(sends.map(keyed)).toEqual([
          keys(first)[index],
          keys(second)[index],
        ]);
        expect(
          Date.parse(sends[1]?.at ?? '') - Date.parse(sends[0]?.at ?? '')
        ).toBeGreaterThanOrEqual(6_000);
        for (const eventId of [first, second]) {
          expect(await ledgerOf(eventId, recipient)).toMatchObject({
            state: 'sent',
            attempts: 1,
          });
        }
      }
      // One invocation took several of the first messages, and their
      // requests overlapped: one arrived less than the latency after
      // another, so before that one was answered.
      const firstKeys = new Set(keys(first));
      const shared = senderBatches
        .map((batch) => batch.filter((key) => firstKeys.has(key)))
        .find((batch) => batch.length > 1);
      expect(shared).toBeDefined();
      const arrivals = standIn()
        .requests()
        .filter((request) => shared?.includes(keyed(request) ?? ''))
        .map((request) => Date.parse(request.at))
        .sort((a, b) => a - b);
      expect(
        arrivals.some(
          (at, index) =>
            index > 0 && at - (arrivals[index - 1] ?? 0) < latencyMs
        )
      ).toBe(true);
      expect(standIn().stats().peakInFlight).toBeGreaterThan(1);
    } finally {
      standIn().configure({ latencyMs: 0 });
    }
  });
});
