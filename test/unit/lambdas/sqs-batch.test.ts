import type { Context, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { processFifoBatch } from '../../../lambdas/shared/sqs-batch.js';
import { groupsOutOfOrder, toSqsRecord } from '../../../local/sqs-event.js';

const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:000000000000:outbound.fifo';
const context = {} as Context;

/** A FIFO record whose id is `<group><n>`, e.g. `a1`. */
const record = (id: string): SQSRecord =>
  toSqsRecord(
    {
      MessageId: id,
      ReceiptHandle: `handle-${id}`,
      Body: id,
      Attributes: { MessageGroupId: id.slice(0, 1) },
    },
    QUEUE_ARN,
    'eu-west-1'
  );

const batch = (...ids: string[]) => ({ Records: ids.map(record) });

/** A record handler that notes what it handled, and how many at once. */
const tracker = (failing: readonly string[] = []) => {
  const handled: string[] = [];
  let running = 0;
  let mostAtOnce = 0;
  const handle = async (item: SQSRecord) => {
    running += 1;
    mostAtOnce = Math.max(mostAtOnce, running);
    // A macrotask: every other group can start before this one ends.
    await new Promise((resolve) => setImmediate(resolve));
    running -= 1;
    handled.push(item.messageId);
    if (failing.includes(item.messageId)) throw new Error('refused');
  };

  return { handle, handled, mostAtOnce: () => mostAtOnce };
};

const failures = (response: { batchItemFailures: unknown[] }) =>
  response.batchItemFailures.map(
    (item) => (item as { itemIdentifier: string }).itemIdentifier
  );

describe('processFifoBatch', () => {
  it('handles one record at a time by default', async () => {
    // Arrange
    const handler = tracker();

    // Act
    await processFifoBatch(batch('a1', 'b1', 'a2'), context, handler.handle);

    // Assert
    expect(handler.mostAtOnce()).toBe(1);
    expect(handler.handled).toEqual(['a1', 'b1', 'a2']);
  });

  describe('with groups at once', () => {
    it('handles different groups at once and each group in order', async () => {
      // Arrange
      const handler = tracker();

      // Act
      const response = await processFifoBatch(
        batch('a1', 'b1', 'a2', 'c1', 'b2', 'a3'),
        context,
        handler.handle,
        { groupsAtOnce: true }
      );

      // Assert
      expect(handler.mostAtOnce()).toBe(3);
      expect(handler.handled.filter((id) => id.startsWith('a'))).toEqual([
        'a1',
        'a2',
        'a3',
      ]);
      expect(handler.handled.filter((id) => id.startsWith('b'))).toEqual([
        'b1',
        'b2',
      ]);
      expect(response).toEqual({ batchItemFailures: [] });
    });

    it('skips only the rest of a failed group, answering in batch order', async () => {
      // Arrange
      const handler = tracker(['b1', 'a2']);
      const event = batch('a1', 'b1', 'a2', 'c1', 'b2', 'a3');

      // Act
      const response = await processFifoBatch(event, context, handler.handle, {
        groupsAtOnce: true,
      });

      // Assert
      expect(failures(response)).toEqual(['b1', 'a2', 'b2', 'a3']);
      expect(handler.handled).not.toContain('b2');
      expect(handler.handled).not.toContain('a3');
      expect(handler.handled).toContain('c1');
      expect(
        groupsOutOfOrder(event.Records, new Set(failures(response)))
      ).toEqual([]);
    });

    it('fails the invocation when every record failed, unless told not to', async () => {
      // Arrange
      const event = batch('a1', 'b1', 'a2');
      const refuseAll = async () => {
        throw new Error('refused');
      };

      // Act
      const thrown = processFifoBatch(event, context, refuseAll, {
        groupsAtOnce: true,
      });
      const answered = await processFifoBatch(event, context, refuseAll, {
        groupsAtOnce: true,
        throwOnFullBatchFailure: false,
      });

      // Assert
      await expect(thrown).rejects.toMatchObject({
        name: 'FullBatchFailureError',
      });
      expect(failures(answered)).toEqual(['a1', 'b1', 'a2']);
    });
  });
});
