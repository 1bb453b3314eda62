import { describe, expect, it } from 'vitest';
import { toCapture } from '../../../lambdas/shared/domain/capture.js';
import {
  attachBody,
  decodeBody,
  detachBody,
  encodeBody,
  INLINE_BODY_MAX_BYTES,
  type IngestMessage,
  ingestMessageSchema,
  PayloadMismatchError,
  readQueueBody,
} from '../../../lambdas/shared/domain/messages.js';

const messageWith = (body: Buffer): IngestMessage => ({
  v: 1,
  eventId: 'evt-1',
  webhookId: 'wh_1',
  receivedAt: '2026-12-03T10:00:00.000Z',
  eventKey: 'orders/create',
  headers: { 'content-type': 'application/json' },
  ...encodeBody(body),
});

describe('large bodies', () => {
  it('keeps a body up to the inline size inside the message', () => {
    // Arrange
    const body = Buffer.alloc(INLINE_BODY_MAX_BYTES, 'a');

    // Act
    const { message, payload } = detachBody(messageWith(body));

    // Assert
    expect(payload).toBeUndefined();
    expect(message.payloadRef).toBeUndefined();
    expect(decodeBody(message).equals(body)).toBe(true);
  });

  it('moves a larger body out and gets the same bytes back', () => {
    // Arrange: multi-byte text, and bytes that are not UTF-8 at all.
    for (const body of [
      Buffer.from('é🥾'.repeat(INLINE_BODY_MAX_BYTES)),
      Buffer.alloc(INLINE_BODY_MAX_BYTES + 1, 0xff),
    ]) {
      // Act
      const { message, payload } = detachBody(messageWith(body));
      const whole = attachBody(message, payload ?? Buffer.alloc(0));

      // Assert
      expect(message.body).toBe('');
      expect(message.payloadRef).toMatchObject({
        key: 'payloads/wh_1/evt-1',
        bytes: body.length,
      });
      expect(JSON.stringify(message).length).toBeLessThan(1_000);
      expect(whole.payloadRef).toBeUndefined();
      expect(decodeBody(whole).equals(body)).toBe(true);
    }
  });

  it('refuses a stored body that is not the one accepted', () => {
    // Arrange
    const body = Buffer.alloc(INLINE_BODY_MAX_BYTES + 10, 'a');
    const { message } = detachBody(messageWith(body));
    const altered = Buffer.from(body);
    altered[5] = 0x62;

    // Act & Assert
    expect(() => attachBody(message, altered)).toThrow(PayloadMismatchError);
    expect(() => attachBody(message, body.subarray(1))).toThrow(
      PayloadMismatchError
    );
    expect(() => decodeBody(message)).toThrow(/payload store/);
  });

  it('captures a stored body by reference, with the reason it is not inline', () => {
    // Arrange
    const body = Buffer.alloc(INLINE_BODY_MAX_BYTES * 2, 'a');
    const { message } = detachBody(messageWith(body));

    // Act
    const capture = toCapture(message);

    // Assert
    expect(capture).toMatchObject({
      body: '',
      payloadRef: message.payloadRef,
      bodyOmitted: `the body has ${body.length} bytes and is kept in the payload store`,
    });
  });
});

describe('readQueueBody', () => {
  it('reads a message its schema accepts, and nothing from any other body', () => {
    const message = messageWith(Buffer.from('{}'));

    expect(readQueueBody(JSON.stringify(message), ingestMessageSchema)).toEqual(
      message
    );
    expect(readQueueBody('not json', ingestMessageSchema)).toBeUndefined();
    expect(readQueueBody('{"v":1}', ingestMessageSchema)).toBeUndefined();
    expect(readQueueBody('null', ingestMessageSchema)).toBeUndefined();
  });
});
