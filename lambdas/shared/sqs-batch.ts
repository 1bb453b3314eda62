import {
  BatchProcessor,
  EventType,
  FullBatchFailureError,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';

type RecordHandler = (record: SQSRecord) => Promise<void>;

export interface FifoBatchOptions {
  /**
   * Whether a batch whose every record failed fails the invocation; a
   * consumer that holds records on purpose answers them as failures.
   * @default true
   */
  readonly throwOnFullBatchFailure?: boolean;
  /**
   * Whether the message groups of a batch are handled at once, each
   * still record by record; only for a handler whose records share no
   * per-record state (log keys, say).
   * @default false
   */
  readonly groupsAtOnce?: boolean;
}

/**
 * Runs a FIFO batch record by record, or group by group at once. A failure
 * holds back only the rest of that record's message group, so one
 * recipient or source never blocks the others; failed records come back
 * through the queue's retries.
 */
export const processFifoBatch = (
  event: SQSEvent,
  context: Context,
  handleRecord: RecordHandler,
  {
    throwOnFullBatchFailure = true,
    groupsAtOnce = false,
  }: FifoBatchOptions = {}
): Promise<SQSBatchResponse> => {
  if (groupsAtOnce) {
    return processGroupsAtOnce(
      event,
      context,
      handleRecord,
      throwOnFullBatchFailure
    );
  }

  return processPartialResponse(
    event,
    handleRecord,
    new SqsFifoPartialProcessorAsync(),
    { context, skipGroupOnError: true, throwOnFullBatchFailure }
  );
};

/**
 * Each message group through a FIFO processor of its own, all at once;
 * the failures are answered in the batch's order.
 */
const processGroupsAtOnce = async (
  event: SQSEvent,
  context: Context,
  handleRecord: RecordHandler,
  throwOnFullBatchFailure: boolean
): Promise<SQSBatchResponse> => {
  const runs = groupRecords(event.Records).map((records) => ({
    records,
    processor: new SqsFifoPartialProcessorAsync(),
  }));
  const responses = await Promise.all(
    runs.map(({ records, processor }) =>
      processPartialResponse(
        { ...event, Records: records },
        handleRecord,
        processor,
        {
          context,
          skipGroupOnError: true,
          throwOnFullBatchFailure: false,
        }
      )
    )
  );
  const failed = new Set(
    responses.flatMap((response) =>
      response.batchItemFailures.map((item) => item.itemIdentifier)
    )
  );
  if (
    throwOnFullBatchFailure &&
    event.Records.length > 0 &&
    failed.size === event.Records.length
  ) {
    throw new FullBatchFailureError(
      runs.flatMap((run) => run.processor.errors)
    );
  }

  return {
    batchItemFailures: event.Records.filter((record) =>
      failed.has(record.messageId)
    ).map((record) => ({ itemIdentifier: record.messageId })),
  };
};

/** A batch's records by message group, each group in the batch's order. */
const groupRecords = (records: readonly SQSRecord[]): SQSRecord[][] => {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of records) {
    const group = record.attributes?.MessageGroupId ?? '';
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }

  return [...groups.values()];
};

/**
 * Runs a standard queue's batch record by record; only failed records come
 * back through the queue's retries.
 */
export const processStandardBatch = (
  event: SQSEvent,
  context: Context,
  handleRecord: RecordHandler
): Promise<SQSBatchResponse> =>
  processPartialResponse(
    event,
    handleRecord,
    new BatchProcessor(EventType.SQS),
    {
      context,
    }
  );
