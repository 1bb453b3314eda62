import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiCallError, adminClient } from '../../local/admin-client.js';
import {
  deliver,
  readFixture,
  stripeDelivery,
  testSecrets,
} from '../../local/deliveries.js';
import { PAYMENT_LINK } from '../../local/demo-setup.js';
import { waitFor } from '../../local/net.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import { paymentLinkRequest } from '../fixtures/requests.js';
import { scratchFolder } from '../scratch.js';

/**
 * Mappings checked against the approved templates the stand-in serves on
 * Meta's `message_templates` endpoint, and previews of what they would
 * send, through the local admin API.
 */
const START_MS = 90_000;
const TEST_MS = 120_000;
const SETTLE = { timeoutMs: 60_000, intervalMs: 200 };
const secret = testSecrets().stripe;

let runtime: Runtime;

beforeAll(async () => {
  runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(scratchFolder(), 'mapping-admin-')),
  });
}, START_MS);

afterAll(async () => {
  await runtime?.stop();
});

const admin = () => adminClient(runtime.apiUrl);

const newWebhook = async () => {
  const { webhook } = await admin().createWebhook({
    name: 'Stripe, mappings under construction',
    provider: 'stripe',
    secret,
    defaultCountry: 'US',
  });
  return webhook.webhookId;
};

/** The admin API's error answer to a call expected to fail. */
const refusal = async (call: Promise<unknown>) => {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiCallError) {
      return { status: error.status, body: error.body };
    }
    throw error;
  }
  throw new Error('the call succeeded');
};

const PAYMENT_LINK_REQUEST = paymentLinkRequest('+15550100142');

const stripeBody = () =>
  JSON.parse(readFixture('stripe-charge-failed.json').toString('utf8'));

describe('mappings against the approved templates', {
  timeout: TEST_MS,
}, () => {
  it('refuses a mapping that does not fit its template, listing each mismatch', async () => {
    // Arrange
    const webhookId = await newWebhook();
    const mapping = {
      ...PAYMENT_LINK,
      template: {
        ...PAYMENT_LINK.template,
        components: [PAYMENT_LINK.template.components[0]],
      },
    };

    // Act
    const answer = await refusal(
      admin().putMapping(webhookId, 'payment-link', mapping)
    );

    // Assert
    expect(answer).toEqual({
      status: 400,
      body: {
        code: 'template_mismatch',
        message: 'The mapping does not fit the approved WhatsApp template.',
        details: ['button 0 is a URL button and needs one text parameter'],
      },
    });
  });

  it('refuses a mapping too large to store with 400, not a server error', async () => {
    // Arrange: a condition of 200,000 characters.
    const webhookId = await newWebhook();
    const mapping = {
      ...PAYMENT_LINK,
      condition: `"${'x'.repeat(200_000)}" != ""`,
    };

    // Act
    const answer = await refusal(
      admin().putMapping(webhookId, 'payment-link', mapping)
    );

    // Assert
    expect(answer).toMatchObject({
      status: 400,
      body: { code: 'mapping_too_large', message: expect.any(String) },
    });
  });

  it('refuses a language the template was not approved in', async () => {
    // Arrange
    const webhookId = await newWebhook();
    const mapping = {
      ...PAYMENT_LINK,
      template: { ...PAYMENT_LINK.template, language: 'fr' },
    };

    // Act
    const answer = await refusal(
      admin().putMapping(webhookId, 'payment-link', mapping)
    );

    // Assert
    expect(answer).toMatchObject({
      status: 400,
      body: {
        code: 'template_mismatch',
        details: [
          'template payment_link has no language fr (it has en_US, es)',
        ],
      },
    });
  });

  it('previews a saved mapping against a supplied payload, sending nothing', async () => {
    // Arrange
    const webhookId = await newWebhook();
    await admin().putMapping(webhookId, 'payment-link', PAYMENT_LINK);
    const sentBefore = runtime.standIn?.requests().length;

    // Act
    const preview = await admin().previewMapping(webhookId, 'payment-link', {
      payload: { body: stripeBody(), eventKey: 'charge.failed' },
    });
    const events = await admin().listEvents(webhookId);

    // Assert
    expect(preview).toEqual({
      mappingId: 'payment-link',
      saved: true,
      payload: { kind: 'supplied', eventKey: 'charge.failed' },
      status: 'matched',
      messages: [{ recipient: '+15550100142', request: PAYMENT_LINK_REQUEST }],
      rejected: [],
    });
    expect(runtime.standIn?.requests().length).toBe(sentBefore);
    expect(events).toEqual([]);
  });

  it('previews against the latest captured payload when none is supplied', async () => {
    // Arrange: the webhook is not active, so the event is only captured.
    const webhookId = await newWebhook();
    await admin().putMapping(webhookId, 'payment-link', PAYMENT_LINK);
    const delivery = stripeDelivery({
      body: readFixture('stripe-charge-failed.json'),
      secret,
    });
    const answer = await deliver(runtime.apiUrl, webhookId, delivery);
    const eventId = (answer.body as { eventId: string }).eventId;
    await waitFor(
      async () => {
        const records = await admin().readEvent(eventId);
        return records?.some((r) => r.stage === 'captured') ? true : undefined;
      },
      { ...SETTLE, what: 'the event to be captured' }
    );

    // Act
    const preview = await admin().previewMapping(webhookId, 'payment-link');

    // Assert
    expect(preview).toMatchObject({
      payload: { kind: 'capture', eventKey: 'charge.failed', eventId },
      status: 'matched',
      messages: [{ request: PAYMENT_LINK_REQUEST }],
    });
  });

  it('previews an unsaved mapping with an image header', async () => {
    // Arrange
    const webhookId = await newWebhook();
    const mapping = {
      eventKey: 'orders/fulfilled',
      recipients: 'body.phone',
      template: {
        name: 'order_shipped',
        language: 'en_US',
        components: [
          {
            type: 'header',
            parameters: [{ type: 'image', link: 'body.photo' }],
          },
          {
            type: 'body',
            parameters: [
              { value: 'body.name' },
              { value: 'body.order' },
              { value: 'body.days' },
            ],
          },
          {
            type: 'button',
            subType: 'url',
            index: 0,
            parameters: [{ value: 'body.tracking' }],
          },
        ],
      },
    };
    const body = {
      phone: '555-010-0142',
      name: 'Ana',
      order: '#1001',
      days: 3,
      photo: 'https://cdn.example.com/parcel.jpg',
      tracking: '1Z999AA10123456784',
    };

    // Act
    const preview = await admin().previewMapping(webhookId, 'shipped', {
      mapping,
      payload: { body },
    });

    // Assert
    expect(preview).toMatchObject({ saved: false, status: 'matched' });
    expect(preview.messages?.[0]?.request.template.components).toEqual([
      {
        type: 'header',
        parameters: [
          {
            type: 'image',
            image: { link: 'https://cdn.example.com/parcel.jpg' },
          },
        ],
      },
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'Ana' },
          { type: 'text', text: '#1001' },
          { type: 'text', text: '3' },
        ],
      },
      {
        type: 'button',
        sub_type: 'url',
        index: '0',
        parameters: [{ type: 'text', text: '1Z999AA10123456784' }],
      },
    ]);
  });

  it('previews the problems of a mapping and the rule a value breaks', async () => {
    // Arrange
    const webhookId = await newWebhook();
    const login = (code: string) => ({
      eventKey: 'user.login',
      recipients: 'body.phone',
      template: {
        name: 'login_code',
        language: 'en_US',
        components: [
          { type: 'body', parameters: [{ value: code }] },
          {
            type: 'button',
            subType: 'url',
            index: 0,
            parameters: [{ value: code }],
          },
        ],
      },
    });
    const payload = {
      body: { phone: '+15550100142', code: '1234567890123456' },
    };

    // Act
    const tooLong = await admin().previewMapping(webhookId, 'login', {
      mapping: login('body.code'),
      payload,
    });
    const mismatched = await admin().previewMapping(webhookId, 'login', {
      mapping: {
        ...login('body.code'),
        template: { ...login('x').template, components: [] },
      },
      payload,
    });

    // Assert
    expect(tooLong).toMatchObject({
      status: 'failed',
      reason: 'body parameter 1 has 16 characters; a code allows 15',
    });
    expect(mismatched).toMatchObject({
      status: 'invalid',
      problems: [
        'body expects 1 parameter, mapping gives 0',
        'button 0 is a URL button and needs one text parameter',
      ],
    });
  });

  it('previews a supplied payload with its integers beyond 2^53 exact', async () => {
    // Arrange: a raw body, since JSON.stringify cannot write such a number.
    const webhookId = await newWebhook();
    const mapping = {
      ...PAYMENT_LINK,
      template: {
        ...PAYMENT_LINK.template,
        components: [
          PAYMENT_LINK.template.components[0],
          {
            type: 'button',
            subType: 'url',
            index: 0,
            parameters: [{ value: "'orders/' & body.order_id" }],
          },
        ],
      },
    };
    const body = JSON.stringify(stripeBody()).replace(
      /^\{/,
      '{"order_id":820982911946154508,'
    );
    const raw = `{"mapping":${JSON.stringify(mapping)},"payload":{"body":${body}}}`;

    // Act
    const answer = await fetch(
      `${runtime.apiUrl}/admin/webhooks/${webhookId}/mappings/orders/preview`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: raw,
      }
    );

    // Assert
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({
      status: 'matched',
      messages: [
        {
          request: {
            template: {
              components: [
                expect.anything(),
                {
                  parameters: [
                    { type: 'text', text: 'orders/820982911946154508' },
                  ],
                },
              ],
            },
          },
        },
      ],
    });
  });

  it('says when there is no captured payload to preview against', async () => {
    // Arrange
    const webhookId = await newWebhook();
    await admin().putMapping(webhookId, 'payment-link', PAYMENT_LINK);

    // Act
    const answer = await refusal(
      admin().previewMapping(webhookId, 'payment-link')
    );

    // Assert
    expect(answer).toMatchObject({
      status: 404,
      body: { code: 'capture_not_found' },
    });
  });

  // Last: it stops the stand-in that serves the templates.
  it('saves nothing unchecked when the templates cannot be read', async () => {
    // Arrange: an unknown template makes the admin API ask Meta afresh.
    const webhookId = await newWebhook();
    await runtime.standIn?.close();
    const mapping = {
      ...PAYMENT_LINK,
      template: { ...PAYMENT_LINK.template, name: 'approved_a_moment_ago' },
    };

    // Act
    const answer = await refusal(
      admin().putMapping(webhookId, 'new-template', mapping)
    );
    const saved = await fetch(`${runtime.apiUrl}/admin/webhooks/${webhookId}`);

    // Assert
    expect(answer).toMatchObject({
      status: 503,
      body: { code: 'templates_unavailable', details: [expect.any(String)] },
    });
    expect(await saved.json()).toMatchObject({ mappings: [] });
  });
});
