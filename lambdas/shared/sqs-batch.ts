import {
  BatchProcessor,
  EventType,
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

/**
 * Runs a FIFO batch record by record. A failure holds back only the rest of
 * that record's message group, so one recipient or source never blocks
 * the others; failed records come back through the queue's retries.
 */
export const processFifoBatch = (
  event: SQSEvent,
  context: Context,
  handleRecord: RecordHandler,
  {
    /**
     * Whether a batch whose every record failed fails the invocation; a
     * consumer that holds records on purpose answers them as failures.
     */
    throwOnFullBatchFailure = true,
  } = {}
): Promise<SQSBatchResponse> =>
  processPartialResponse(
    event,
    handleRecord,
    new SqsFifoPartialProcessorAsync(),
    { context, skipGroupOnError: true, throwOnFullBatchFailure }
  );

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
