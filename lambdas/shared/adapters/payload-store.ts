import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Env } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import {
  attachBody,
  checkPayload,
  detachBody,
  type IngestMessage,
  type PayloadRef,
} from '../domain/messages.js';
import { s3 } from './clients.js';

/**
 * The payload store: bodies too large for a queue message, kept whole in
 * S3 under the event's key, written before the event is queued.
 */
const bucket = () => requireEnv(Env.PayloadBucket);

/**
 * Stores a large body and returns the message to queue; a small body stays
 * in the message and costs no request.
 */
export const keepBodyWhole = async (
  message: IngestMessage
): Promise<IngestMessage> => {
  const detached = detachBody(message);
  if (!detached.payload || !detached.message.payloadRef) {
    return detached.message;
  }
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket(),
      Key: detached.message.payloadRef.key,
      Body: detached.payload,
      ContentType: 'application/octet-stream',
    })
  );

  return detached.message;
};

/** Reads a stored body, checked to be exactly the one accepted. */
export const readPayload = async (ref: PayloadRef): Promise<Buffer> => {
  const answer = await s3.send(
    new GetObjectCommand({ Bucket: bucket(), Key: ref.key })
  );
  const bytes = await answer.Body?.transformToByteArray();

  return checkPayload(ref, Buffer.from(bytes ?? new Uint8Array()));
};

/** The message with its body, read back from the store when needed. */
export const withWholeBody = async (
  message: IngestMessage
): Promise<IngestMessage> =>
  message.payloadRef
    ? attachBody(message, await readPayload(message.payloadRef))
    : message;
