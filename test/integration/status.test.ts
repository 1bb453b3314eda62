import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageKey } from '../../lambdas/shared/domain/messages.js';
import type { TraceRecord } from '../../lambdas/shared/domain/trace.js';
import {
  MAX_WEBHOOK_BODY_BYTES,
  STATUS_CALLBACK_PATH,
  Tables,
} from '../../lib/definitions.js';
import { adminClient, isTraceSettled } from '../../local/admin-client.js';
import {
  deliver,
  postStatusCallback,
  readFixture,
  metaSignature as signAsMeta,
  stripeDelivery,
  testSecrets,
} from '../../local/deliveries.js';
import { PAYMENT_LINK } from '../../local/demo-setup.js';
import { waitFor } from '../../local/net.js';
import { localAws } from '../../local/resources.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import type { CallbackRecord } from '../../local/whatsapp-callbacks.js';
import { scratchFolder } from '../scratch.js';

/**
 * Meta's status callbacks through the local runtime: the stand-in accepts
 * a message the product sent and posts its signed statuses to
 * `/whatsapp/events`, which records them on the message and in its
 * event's chain.
 */
const START_MS = 90_000;
/** Bounds a hang only; no assertion depends on how long a step takes. */
const TEST_MS = 180_000;
const SETTLE = { timeoutMs: 120_000, intervalMs: 200 };
const RECIPIENT = '+15550100142';
const MAPPING_ID = 'payment-link';

let runtime: Runtime;
let dynamo: DynamoDBDocumentClient;
const secret = testSecrets().stripe;

beforeAll(async () => {
  runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(scratchFolder(), 'status-')),
  });
  dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient(localAws(runtime.awsEndpoint))
  );
}, START_MS);

afterAll(async () => {
  dynamo?.destroy();
  await runtime?.stop();
});

interface SentMessage {
  readonly eventId: string;
  readonly webhookId: string;
  readonly wamid: string;
  readonly messageKey: string;
}

/** A Stripe charge.failed sent as payment_link, up to Meta's wamid. */
const sendMessage = async (): Promise<SentMessage> => {
  const admin = adminClient(runtime.apiUrl);
  const { webhook } = await admin.createWebhook({
    name: 'Stripe test account',
    provider: 'stripe',
    secret,
  });
  await admin.putMapping(webhook.webhookId, MAPPING_ID, PAYMENT_LINK);
  await admin.activate(webhook.webhookId);
  const answer = await deliver(
    runtime.apiUrl,
    webhook.webhookId,
    stripeDelivery({ body: readFixture('stripe-charge-failed.json'), secret })
  );
  const eventId = (answer.body as { eventId: string }).eventId;
  const trace = await waitFor(
    async () => {
      const records = await admin.readEvent(eventId);
      return records && isTraceSettled(records) ? records : undefined;
    },
    { ...SETTLE, what: 'the message to be sent' }
  );
  const wamid = trace.find((record) => record.stage === 'sent')?.wamid;
  if (wamid === undefined) throw new Error('The message was not sent.');

  return {
    eventId,
    webhookId: webhook.webhookId,
    wamid,
    messageKey: messageKey(eventId, MAPPING_ID, RECIPIENT),
  };
};

/** The stand-in's callbacks for a wamid, once `count` were answered. */
const callbacksOf = (wamid: string, count: number) =>
  waitFor(
    async () => {
      const posted = (runtime.standIn?.callbacks() ?? []).filter(
        (callback) =>
          callback.wamid === wamid && callback.responseStatus !== undefined
      );
      return posted.length >= count ? posted : undefined;
    },
    { ...SETTLE, what: `${count} status callbacks for ${wamid}` }
  );

const postCallback = (body: string, signature: string) =>
  postStatusCallback(runtime.apiUrl, body, signature);

/** Posts a recorded callback again, exactly as the stand-in signed it. */
const repost = (callback: CallbackRecord) =>
  postCallback(callback.body, callback.signature);

const byStatus = (callbacks: readonly CallbackRecord[], status: string) => {
  const found = callbacks.find((callback) => callback.status === status);
  if (found === undefined) throw new Error(`No ${status} callback.`);
  return found;
};

const latestStatus = async (key: string) => {
  const { Item } = await dynamo.send(
    new GetCommand({
      TableName: Tables.logs.localName,
      Key: { pk: `SEND#${key}`, sk: 'STATUS' },
    })
  );
  return Item;
};

const chainOf = async (eventId: string): Promise<TraceRecord[]> =>
  (await adminClient(runtime.apiUrl).readEvent(eventId)) ?? [];

/** The event's chain once it holds a record of `stage`. */
const chainReaching = (eventId: string, stage: string) =>
  waitFor(
    async () => {
      const chain = await chainOf(eventId);
      return chain.some((record) => record.stage === stage) ? chain : undefined;
    },
    { ...SETTLE, what: `event ${eventId} to reach ${stage}` }
  );

describe('status callbacks', { timeout: TEST_MS }, () => {
  it('takes a sent message to delivered and read in its event chain', async () => {
    // Arrange
    const message = await sendMessage();

    // Act: the stand-in posts sent, delivered and read, signed as Meta does.
    const chain = await chainReaching(message.eventId, 'read');
    const posted = await callbacksOf(message.wamid, 3);

    // Assert
    expect(posted.map((callback) => callback.status)).toEqual([
      'sent',
      'delivered',
      'read',
    ]);
    expect(posted.map((callback) => callback.responseStatus)).toEqual([
      200, 200, 200,
    ]);
    expect(chain.map((record) => record.stage)).toEqual([
      'received',
      'matched',
      'queued',
      'sent',
      'delivered',
      'read',
    ]);
    for (const record of chain.slice(-2)) {
      expect(record).toMatchObject({
        wamid: message.wamid,
        mappingId: MAPPING_ID,
        recipient: '***0142',
        template: 'payment_link',
        statusAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    }
    expect(await latestStatus(message.messageKey)).toMatchObject({
      status: 'read',
      wamid: message.wamid,
      eventId: message.eventId,
    });
  });

  it('keeps read when a late delivered and sent arrive after it', async () => {
    // Arrange
    const message = await sendMessage();
    await chainReaching(message.eventId, 'read');
    const posted = await callbacksOf(message.wamid, 3);

    // Act: Meta does not promise the order, and repeats itself.
    const late = [];
    for (const status of ['delivered', 'sent', 'read']) {
      late.push(await repost(byStatus(posted, status)));
    }
    const chain = await chainOf(message.eventId);

    // Assert
    for (const answer of late) {
      expect(answer).toMatchObject({
        status: 200,
        body: { recorded: 0, unchanged: 1 },
      });
    }
    expect(chain.map((record) => record.stage).slice(3)).toEqual([
      'sent',
      'delivered',
      'read',
    ]);
    expect(await latestStatus(message.messageKey)).toMatchObject({
      status: 'read',
    });
  });

  it('records an undeliverable message’s 131026 as its final failure', async () => {
    // Arrange: accepted by Meta, then reported failed.
    runtime.standIn?.injectFaults([{ kind: 'undeliverable' }]);
    const message = await sendMessage();
    await chainReaching(message.eventId, 'failed');
    const [failed] = await callbacksOf(message.wamid, 1);

    // Act: a read that arrives after the failure.
    const late = JSON.parse((failed as CallbackRecord).body);
    late.entry[0].changes[0].value.statuses[0].status = 'read';
    delete late.entry[0].changes[0].value.statuses[0].errors;
    const lateBody = JSON.stringify(late);
    const lateRead = await postCallback(lateBody, metaSignature(lateBody));
    const chain = await chainOf(message.eventId);

    // Assert
    expect(lateRead.body).toMatchObject({ recorded: 0, unchanged: 1 });
    expect(chain.map((record) => record.stage).slice(3)).toEqual([
      'sent',
      'failed',
    ]);
    expect(chain.at(-1)).toMatchObject({
      wamid: message.wamid,
      code: 'meta_131026',
      reason: expect.any(String),
    });
    expect(await latestStatus(message.messageKey)).toMatchObject({
      status: 'failed',
      code: 'meta_131026',
    });
  });

  it('finds the message by the echoed message key in the send ledger', async () => {
    // Arrange: without the wamid pointer, only the ledger can tell.
    const message = await sendMessage();
    await chainReaching(message.eventId, 'read');
    const [sent] = await callbacksOf(message.wamid, 1);
    await dynamo.send(
      new DeleteCommand({
        TableName: Tables.logs.localName,
        Key: { pk: `WAMID#${message.wamid}`, sk: 'MESSAGE' },
      })
    );
    const body = JSON.parse((sent as CallbackRecord).body);
    const status = body.entry[0].changes[0].value.statuses[0];
    status.status = 'failed';
    status.errors = [{ code: 131026, title: 'Message undeliverable' }];
    status.biz_opaque_callback_data = message.messageKey;
    const text = JSON.stringify(body);

    // Act
    const answer = await postCallback(text, metaSignature(text));
    const chain = await chainOf(message.eventId);

    // Assert
    expect(answer.body).toMatchObject({ recorded: 1, unmatched: 0 });
    expect(chain.at(-1)).toMatchObject({
      stage: 'failed',
      wamid: message.wamid,
      mappingId: MAPPING_ID,
    });
    expect(await latestStatus(message.messageKey)).toMatchObject({
      status: 'failed',
    });
  });

  it('refuses a forged callback with 401 and writes nothing', async () => {
    // Arrange: a failure would beat read, if it were believed.
    const message = await sendMessage();
    await chainReaching(message.eventId, 'read');
    const posted = await callbacksOf(message.wamid, 3);
    const read = byStatus(posted, 'read');
    const forged = read.body.replace('"read"', '"failed"');

    // Act
    const answer = await postCallback(forged, read.signature);
    const chain = await chainOf(message.eventId);

    // Assert
    expect(answer).toEqual({
      status: 401,
      body: {
        code: 'invalid_signature',
        message: expect.any(String),
      },
    });
    expect(chain.map((record) => record.stage).at(-1)).toBe('read');
    expect(await latestStatus(message.messageKey)).toMatchObject({
      status: 'read',
    });
  });

  it('answers 200 for a status of a message it never sent', async () => {
    // Arrange
    const body = readFixture('whatsapp-status-delivered.json').toString();

    // Act
    const answer = await postCallback(body, metaSignature(body));

    // Assert
    expect(answer).toEqual({
      status: 200,
      body: {
        status: 'received',
        recorded: 0,
        unchanged: 0,
        unmatched: 1,
        ignored: 0,
      },
    });
  });

  it('answers Meta’s subscription challenge with the verify token', async () => {
    // Arrange
    const challenge = (token: string) =>
      fetch(
        `${runtime.apiUrl}${STATUS_CALLBACK_PATH}?` +
          new URLSearchParams({
            'hub.mode': 'subscribe',
            'hub.verify_token': token,
            'hub.challenge': '1158201444',
          })
      );

    // Act
    const right = await challenge(runtime.statusCallbacks.verifyToken);
    const wrong = await challenge('not-the-token');

    // Assert
    expect(right.status).toBe(200);
    expect(await right.text()).toBe('1158201444');
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ code: 'challenge_failed' });
  });

  it('refuses a body over 4 MiB with 413 before checking it', async () => {
    // Arrange
    const body = `{"entry":[],"pad":"${'x'.repeat(MAX_WEBHOOK_BODY_BYTES)}"}`;

    // Act
    const answer = await postCallback(body, metaSignature(body));

    // Assert
    expect(answer).toEqual({
      status: 413,
      body: { code: 'payload_too_large', message: expect.any(String) },
    });
  });

  it('tells other methods which ones it takes', async () => {
    // Act
    const answer = await fetch(`${runtime.apiUrl}${STATUS_CALLBACK_PATH}`, {
      method: 'PUT',
    });

    // Assert
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET, POST');
    expect(await answer.json()).toMatchObject({ code: 'method_not_allowed' });
  });
});

/** Signs a body as Meta does, with the runtime's app secret. */
const metaSignature = (body: string): string =>
  signAsMeta(body, runtime.statusCallbacks.appSecret);
