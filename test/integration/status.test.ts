import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageKey } from '../../lambdas/shared/domain/messages.js';
import { maskPhone } from '../../lambdas/shared/domain/phone.js';
import { Providers } from '../../lambdas/shared/domain/providers.js';
import { signRequest } from '../../lambdas/shared/domain/signature.js';
import type { TraceRecord } from '../../lambdas/shared/domain/trace.js';
import {
  MAX_WEBHOOK_BODY_BYTES,
  STATUS_CALLBACK_PATH,
  Tables,
} from '../../lib/definitions.js';
import { adminClient, isTraceSettled } from '../../local/admin-client.js';
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
import type { CallbackRecord } from '../../local/whatsapp-callbacks.js';
import { scratchFolder } from '../scratch.js';

/**
 * Meta's status callbacks through the local runtime: the stand-in accepts
 * a message the product sent and posts its signed statuses to
 * `/whatsapp/events`, which records them on the message and in its
 * event's chain.
 *
 * Until the sender writes the contract's wamid pointer when Meta accepts
 * a message, each test writes it the way the contract describes, then
 * posts the stand-in's callbacks again, byte for byte with their
 * signatures, as Meta re-delivers them. The first posts, before the
 * pointer existed, show how a status for an unknown message is answered.
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

/** The wamid pointer as the contract describes it (sender side). */
const writePointer = (message: SentMessage) =>
  dynamo.send(
    new PutCommand({
      TableName: Tables.logs.localName,
      Item: {
        pk: `WAMID#${message.wamid}`,
        sk: 'MESSAGE',
        messageKey: message.messageKey,
        eventId: message.eventId,
        webhookId: message.webhookId,
        mappingId: MAPPING_ID,
        recipient: maskPhone(RECIPIENT),
        template: 'payment_link',
      },
    })
  );

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

const postCallback = async (
  body: string,
  signature: string
): Promise<{ status: number; body: unknown }> => {
  const response = await fetch(`${runtime.apiUrl}${STATUS_CALLBACK_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signature,
    },
    body,
  });
  const text = await response.text();

  return { status: response.status, body: JSON.parse(text) };
};

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

describe('status callbacks', { timeout: TEST_MS }, () => {
  it('takes a sent message to delivered and read in its event chain', async () => {
    // Arrange
    const message = await sendMessage();
    const posted = await callbacksOf(message.wamid, 3);
    await writePointer(message);

    // Act
    const answers = [];
    for (const status of ['sent', 'delivered', 'read']) {
      answers.push(await repost(byStatus(posted, status)));
    }
    const chain = await chainOf(message.eventId);

    // Assert: unknown before the pointer existed, answered 200 anyway.
    expect(posted.map((callback) => callback.status)).toEqual([
      'sent',
      'delivered',
      'read',
    ]);
    expect(posted.map((callback) => callback.responseStatus)).toEqual([
      200, 200, 200,
    ]);
    expect(answers).toEqual(
      [1, 1, 1].map((recorded) => ({
        status: 200,
        body: {
          status: 'received',
          recorded,
          unchanged: 0,
          unmatched: 0,
          ignored: 0,
        },
      }))
    );
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

  it('keeps read when a late sent and delivered arrive after it', async () => {
    // Arrange
    const message = await sendMessage();
    const posted = await callbacksOf(message.wamid, 3);
    await writePointer(message);

    // Act: the order Meta does not promise to keep, reversed.
    const read = await repost(byStatus(posted, 'read'));
    const delivered = await repost(byStatus(posted, 'delivered'));
    const sent = await repost(byStatus(posted, 'sent'));
    const again = await repost(byStatus(posted, 'read'));
    const chain = await chainOf(message.eventId);

    // Assert
    expect(read.body).toMatchObject({ recorded: 1 });
    for (const late of [delivered, sent, again]) {
      expect(late).toMatchObject({
        status: 200,
        body: { recorded: 0, unchanged: 1 },
      });
    }
    expect(chain.map((record) => record.stage).slice(3)).toEqual([
      'sent',
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
    const [failed] = await callbacksOf(message.wamid, 1);
    await writePointer(message);

    // Act
    const answer = await repost(failed as CallbackRecord);
    const late = JSON.parse((failed as CallbackRecord).body);
    late.entry[0].changes[0].value.statuses[0].status = 'read';
    delete late.entry[0].changes[0].value.statuses[0].errors;
    const lateBody = JSON.stringify(late);
    const lateRead = await postCallback(lateBody, metaSignature(lateBody));
    const chain = await chainOf(message.eventId);

    // Assert
    expect(answer.body).toMatchObject({ recorded: 1 });
    expect(lateRead.body).toMatchObject({ recorded: 0, unchanged: 1 });
    expect(chain.map((record) => record.stage).slice(3)).toEqual([
      'sent',
      'failed',
    ]);
    expect(chain.at(-1)).toMatchObject({
      wamid: message.wamid,
      code: '131026',
      reason: expect.any(String),
    });
    expect(await latestStatus(message.messageKey)).toMatchObject({
      status: 'failed',
      code: '131026',
    });
  });

  it('finds the message by the echoed message key in the send ledger', async () => {
    // Arrange: no pointer; the ledger the sender writes before sending.
    const message = await sendMessage();
    const [sent] = await callbacksOf(message.wamid, 1);
    await dynamo.send(
      new PutCommand({
        TableName: Tables.logs.localName,
        Item: {
          pk: `SEND#${message.messageKey}`,
          sk: 'STATE',
          eventId: message.eventId,
          webhookId: message.webhookId,
          mappingId: MAPPING_ID,
          state: 'sent',
          wamid: message.wamid,
          attempts: 1,
          updatedAt: new Date().toISOString(),
        },
      })
    );
    const body = JSON.parse((sent as CallbackRecord).body);
    const status = body.entry[0].changes[0].value.statuses[0];
    status.status = 'delivered';
    status.biz_opaque_callback_data = message.messageKey;
    const text = JSON.stringify(body);

    // Act
    const answer = await postCallback(text, metaSignature(text));
    const chain = await chainOf(message.eventId);

    // Assert
    expect(answer.body).toMatchObject({ recorded: 1, unmatched: 0 });
    expect(chain.at(-1)).toMatchObject({
      stage: 'delivered',
      wamid: message.wamid,
      mappingId: MAPPING_ID,
    });
    expect(await latestStatus(message.messageKey)).toMatchObject({
      status: 'delivered',
    });
  });

  it('refuses a forged callback with 401 and writes nothing', async () => {
    // Arrange
    const message = await sendMessage();
    const posted = await callbacksOf(message.wamid, 3);
    await writePointer(message);
    const delivered = byStatus(posted, 'delivered');
    const forged = delivered.body.replace('"delivered"', '"read"');

    // Act
    const answer = await postCallback(forged, delivered.signature);
    const chain = await chainOf(message.eventId);

    // Assert
    expect(answer).toEqual({
      status: 401,
      body: {
        code: 'invalid_signature',
        message: expect.any(String),
      },
    });
    expect(chain.map((record) => record.stage).at(-1)).toBe('sent');
    expect(await latestStatus(message.messageKey)).toBeUndefined();
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
  Object.values(
    signRequest(
      Providers.meta.scheme,
      Buffer.from(body),
      runtime.statusCallbacks.appSecret,
      Date.now() / 1000
    )
  )[0] ?? '';
