import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSMessageAttribute, SQSRecord } from 'aws-lambda';

/**
 * Turns a received SQS message into the record Lambda's event source
 * mapping hands a function: camel-cased fields, system attributes as
 * strings, binary attribute values in base64.
 */
export const toSqsRecord = (
  message: Message,
  queueArn: string,
  region: string
): SQSRecord => {
  const attributes = (message.Attributes ?? {}) as SQSRecord['attributes'];
  const record: SQSRecord = {
    messageId: required(message.MessageId, 'MessageId'),
    receiptHandle: required(message.ReceiptHandle, 'ReceiptHandle'),
    body: message.Body ?? '',
    attributes,
    messageAttributes: toMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
  if (message.MD5OfMessageAttributes === undefined) return record;

  return { ...record, md5OfMessageAttributes: message.MD5OfMessageAttributes };
};

const toMessageAttributes = (
  attributes: Record<string, MessageAttributeValue> | undefined
): Record<string, SQSMessageAttribute> => {
  const result: Record<string, SQSMessageAttribute> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    result[name] = {
      ...(value.StringValue === undefined
        ? {}
        : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined
        ? {}
        : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: [],
      binaryListValues: [],
      dataType: value.DataType ?? 'String',
    };
  }

  return result;
};

const required = (value: string | undefined, name: string): string => {
  if (value === undefined) throw new Error(`SQS message without ${name}.`);
  return value;
};

/** Which records of a batch stay on the queue after an invocation. */
export type BatchVerdict =
  | { readonly kind: 'partial'; readonly failed: ReadonlySet<string> }
  | { readonly kind: 'all-failed'; readonly reason: string };

/**
 * Reads a function's answer with `ReportBatchItemFailures` as Lambda does:
 * no answer or an empty list is full success; an identifier that is not a
 * message id of the batch fails the whole batch.
 */
export const judgeBatchResponse = (
  result: unknown,
  records: readonly SQSRecord[]
): BatchVerdict => {
  if (result === undefined || result === null) {
    return { kind: 'partial', failed: new Set() };
  }
  if (typeof result !== 'object' || Array.isArray(result)) {
    return { kind: 'all-failed', reason: 'the response is not an object' };
  }
  const failures = (result as { batchItemFailures?: unknown })
    .batchItemFailures;
  if (failures === undefined || failures === null) {
    return { kind: 'partial', failed: new Set() };
  }
  if (!Array.isArray(failures)) {
    return { kind: 'all-failed', reason: 'batchItemFailures is not a list' };
  }
  const ids = new Set(records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) {
      return {
        kind: 'all-failed',
        reason: `itemIdentifier ${JSON.stringify(id)} is not in the batch`,
      };
    }
    failed.add(id);
  }

  return { kind: 'partial', failed };
};

/**
 * FIFO functions must fail, per message group, the first failed record and
 * every later one (FACTS D). Returns the groups where they did not.
 */
export const groupsOutOfOrder = (
  records: readonly SQSRecord[],
  failed: ReadonlySet<string>
): string[] => {
  const failedGroups = new Set<string>();
  const broken = new Set<string>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? '';
    if (failed.has(record.messageId)) failedGroups.add(group);
    else if (failedGroups.has(group)) broken.add(group);
  }

  return [...broken];
};
