import { DEFAULT_MIN_GAP_SECONDS } from './delivery.js';
import { parseJsonExact } from './json.js';
import { evaluateMapping, type Mapping, matchesEventKey } from './mapping.js';
import {
  type DelayedMessage,
  decodeBody,
  type IngestMessage,
  messageKey,
  type OutboundMessage,
} from './messages.js';
import { maskPhone } from './phone.js';
import type { MessageAdmission } from './replay.js';
import { type CancelPlan, delayKey, dueTime } from './schedule.js';
import { type TraceRecord, TraceStage } from './trace.js';
import { type Webhook, WebhookStatus } from './webhook.js';

export interface EventPlan {
  readonly messages: OutboundMessage[];
  /** Messages held until they are due, each with its record's key. */
  readonly delayed: DelayedMessage[];
  /** Cancellations of held messages, by business key. */
  readonly cancellations: CancelPlan[];
  readonly trace: TraceRecord[];
  /** Mappings or recipients that could not produce a message. */
  readonly failures: number;
  readonly outcome: 'mapped' | 'captured' | 'unmatched' | 'dropped';
}

/** An event's trace that ends at once: received, then `last`. */
const receivedThen = (
  message: IngestMessage,
  last: Omit<TraceRecord, 'eventId' | 'webhookId'>
): TraceRecord[] => {
  const base = {
    eventId: message.eventId,
    webhookId: message.webhookId,
    ...(message.eventKey ? { eventKey: message.eventKey } : {}),
    ...(message.providerEventId
      ? { providerEventId: message.providerEventId }
      : {}),
  };

  return [
    { ...base, stage: TraceStage.Received, at: message.receivedAt },
    { ...base, ...last },
  ];
};

/** The trace of a re-delivery of an event that was already processed. */
export const duplicateTrace = (
  message: IngestMessage,
  originalEventId: string,
  now: Date
): TraceRecord[] =>
  receivedThen(message, {
    stage: TraceStage.Duplicate,
    at: now.toISOString(),
    originalEventId,
    code: 'duplicate_delivery',
    reason:
      `the provider delivered event ${message.providerEventId} again; ` +
      `it was processed as event ${originalEventId}`,
  });

/** The trace of an event that no attempt can process (`errorName` why). */
export const unprocessableTrace = (
  message: IngestMessage,
  errorName: string,
  now: Date
): TraceRecord[] =>
  receivedThen(message, {
    stage: TraceStage.Failed,
    at: now.toISOString(),
    code: 'event_unprocessable',
    reason: `the event could not be processed: ${errorName}`,
  });

const nothing = { messages: [], delayed: [], cancellations: [] };

/**
 * Says whether a planned message may be queued or held; a replay asks the
 * send ledger. A skip is traced with its code instead of the message.
 */
export type Admit = (
  message: OutboundMessage
) => Promise<Exclude<MessageAdmission, { kind: 'retry' }>>;

/**
 * Decides what one accepted event becomes: the messages to queue and the
 * trace that explains each decision. Several mappings may match one event.
 * A replayed event's records carry its replay id, all but `received`,
 * which is written again exactly as the first time.
 */
export const planEvent = async (
  message: IngestMessage,
  config: { webhook?: Webhook; mappings: readonly Mapping[] },
  now: Date,
  admit?: Admit
): Promise<EventPlan> => {
  const at = now.toISOString();
  const identity = {
    eventId: message.eventId,
    webhookId: message.webhookId,
    ...(message.eventKey ? { eventKey: message.eventKey } : {}),
  };
  const base = {
    ...identity,
    ...(message.replay ? { replayId: message.replay.replayId } : {}),
  };
  const trace: TraceRecord[] = [
    {
      ...identity,
      ...(message.providerEventId
        ? { providerEventId: message.providerEventId }
        : {}),
      stage: TraceStage.Received,
      at: message.receivedAt,
    },
  ];
  const { webhook } = config;
  if (!webhook) {
    trace.push({
      ...base,
      stage: TraceStage.Failed,
      at,
      code: 'webhook_deleted',
      reason: 'the webhook was deleted after the event was accepted',
    });
    return { ...nothing, trace, failures: 1, outcome: 'dropped' };
  }
  if (webhook.status !== WebhookStatus.Active) {
    trace.push({
      ...base,
      stage: TraceStage.Captured,
      at,
      reason: 'the webhook is not active, so nothing is sent',
    });
    return { ...nothing, trace, failures: 0, outcome: 'captured' };
  }
  const eventKey = message.eventKey;
  const mappings = config.mappings.filter(
    (mapping) =>
      mapping.active &&
      eventKey !== undefined &&
      matchesEventKey(mapping.eventKey, eventKey)
  );
  if (mappings.length === 0) {
    trace.push({
      ...base,
      stage: TraceStage.Skipped,
      at,
      code: 'no_mapping',
      reason:
        eventKey === undefined
          ? 'the request carries no event key'
          : `no active mapping for event key ${eventKey}`,
    });
    return { ...nothing, trace, failures: 0, outcome: 'unmatched' };
  }

  const text = decodeBody(message).toString('utf8');
  const input = {
    body: parseJsonExact(text) ?? text,
    headers: message.headers,
    webhook: {
      webhookId: webhook.webhookId,
      name: webhook.name,
      provider: webhook.provider,
    },
  };
  const messages: OutboundMessage[] = [];
  const delayed: DelayedMessage[] = [];
  const cancellations: CancelPlan[] = [];
  let failures = 0;
  for (const mapping of mappings) {
    const outcome = await evaluateMapping(
      mapping,
      input,
      webhook.defaultCountry
    );
    const mapped = {
      ...base,
      mappingId: mapping.mappingId,
      ...(mapping.template ? { template: mapping.template.name } : {}),
      at,
    };
    if (outcome.status !== 'matched') {
      if (outcome.status === 'failed') failures++;
      trace.push({
        ...mapped,
        stage:
          outcome.status === 'failed' ? TraceStage.Failed : TraceStage.Skipped,
        code:
          outcome.status === 'failed' ? 'mapping_failed' : 'condition_false',
        reason: outcome.reason,
      });
      continue;
    }
    trace.push({ ...mapped, stage: TraceStage.Matched });
    for (const rejected of outcome.rejected) {
      failures++;
      trace.push({
        ...mapped,
        stage: TraceStage.Rejected,
        recipient: maskPhone(rejected.raw),
        code: 'recipient_invalid',
        reason: rejected.reason,
      });
    }
    for (const planned of outcome.messages) {
      const outbound: OutboundMessage = {
        v: 1,
        eventId: message.eventId,
        webhookId: message.webhookId,
        mappingId: mapping.mappingId,
        messageKey: messageKey(
          message.eventId,
          mapping.mappingId,
          planned.recipient
        ),
        recipient: planned.recipient,
        queuedAt: at,
        minGapSeconds: webhook.minGapSeconds ?? DEFAULT_MIN_GAP_SECONDS,
        request: planned.request,
      };
      const recipient = maskPhone(planned.recipient);
      const admission = admit ? await admit(outbound) : undefined;
      if (admission?.kind === 'skip') {
        trace.push({
          ...mapped,
          stage: TraceStage.Skipped,
          recipient,
          code: admission.code,
          reason: admission.reason,
        });
        continue;
      }
      if (mapping.delaySeconds === undefined) {
        messages.push(outbound);
        trace.push({ ...mapped, stage: TraceStage.Queued, recipient });
        continue;
      }
      // Counted from when the event was accepted, not from when it was mapped.
      const dueAt = dueTime(message.receivedAt, mapping.delaySeconds);
      delayed.push({
        v: 1,
        dueAt,
        key: delayKey(
          message.webhookId,
          outcome.businessKey,
          mapping.mappingId,
          outbound.messageKey
        ),
        message: outbound,
      });
      trace.push({
        ...mapped,
        stage: TraceStage.Delayed,
        recipient,
        until: dueAt,
      });
    }
    if (mapping.cancels !== undefined && outcome.businessKey !== undefined) {
      cancellations.push({
        mappingId: mapping.mappingId,
        cancels: mapping.cancels,
        businessKey: outcome.businessKey,
      });
    }
  }

  return {
    messages,
    delayed,
    cancellations,
    trace,
    failures,
    outcome: 'mapped',
  };
};
