import { createHash } from 'node:crypto';
import type { FaultKind } from './whatsapp-faults.js';
import type { Clock } from './whatsapp-limits.js';

/**
 * The counts a delivery benchmark reads from the stand-in: the order in
 * which each recipient's sends were accepted, sends accepted twice, the
 * errors answered, and how many requests awaited their answer at once.
 */

export interface AcceptedSend {
  readonly wamid: string;
  /** `biz_opaque_callback_data` when the request had it, else `sha256:<hex>` of the body. */
  readonly key: string;
  readonly at: string;
}

export interface DuplicateSend {
  readonly recipient: string;
  readonly key: string;
  /** Every wamid this key was accepted under, in order. */
  readonly wamids: readonly string[];
}

export interface StandInStats {
  /** Requests to the send endpoint. */
  readonly requests: number;
  /** Send requests not answered yet. */
  readonly inFlight: number;
  /** The most send requests that awaited their answer at once. */
  readonly peakInFlight: number;
  readonly accepted: number;
  /** Accepted sends after the first with the same recipient and key. */
  readonly duplicates: number;
  readonly duplicateSends: readonly DuplicateSend[];
  /** 130429 and 131056 answered, from the limits or injected. */
  readonly rateLimitErrors: {
    readonly throughput: number;
    readonly pair: number;
  };
  /** Every Graph error code answered, with how often. */
  readonly errorCodes: Readonly<Record<string, number>>;
  /** Faults injected, by kind. */
  readonly faults: Readonly<Partial<Record<FaultKind, number>>>;
  /** Accepted sends per recipient (`wa_id`), in the order accepted. */
  readonly recipients: Readonly<Record<string, readonly AcceptedSend[]>>;
}

const THROUGHPUT_CODE = 130429;
const PAIR_CODE = 131056;

export class StatsLedger {
  private requests = 0;
  private inFlight = 0;
  private peakInFlight = 0;
  private readonly errorCodes = new Map<number, number>();
  private readonly faults = new Map<FaultKind, number>();
  private readonly recipients = new Map<string, AcceptedSend[]>();

  constructor(private readonly clock: Clock) {}

  /** A send request arrived; `finishRequest` once it is answered. */
  startRequest(): void {
    this.requests += 1;
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
  }

  finishRequest(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  countError(code: number): void {
    this.errorCodes.set(code, (this.errorCodes.get(code) ?? 0) + 1);
  }

  countFault(kind: FaultKind): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  countAccepted(
    recipient: string,
    wamid: string,
    body: unknown,
    raw: string
  ): void {
    const sends = this.recipients.get(recipient) ?? [];
    sends.push({
      wamid,
      key: sendKey(body, raw),
      at: new Date(this.clock()).toISOString(),
    });
    this.recipients.set(recipient, sends);
  }

  /** Forgets the counts; requests still in flight stay counted in flight. */
  reset(): void {
    this.requests = 0;
    this.peakInFlight = this.inFlight;
    this.errorCodes.clear();
    this.faults.clear();
    this.recipients.clear();
  }

  snapshot(): StandInStats {
    const duplicateSends = [...this.recipients].flatMap(([recipient, sends]) =>
      [...groupByKey(sends)]
        .filter(([, wamids]) => wamids.length > 1)
        .map(([key, wamids]) => ({ recipient, key, wamids }))
    );
    const accepted = [...this.recipients.values()].reduce(
      (total, sends) => total + sends.length,
      0
    );

    return {
      requests: this.requests,
      inFlight: this.inFlight,
      peakInFlight: this.peakInFlight,
      accepted,
      duplicates: duplicateSends.reduce(
        (total, duplicate) => total + duplicate.wamids.length - 1,
        0
      ),
      duplicateSends,
      rateLimitErrors: {
        throughput: this.errorCodes.get(THROUGHPUT_CODE) ?? 0,
        pair: this.errorCodes.get(PAIR_CODE) ?? 0,
      },
      errorCodes: Object.fromEntries(this.errorCodes),
      faults: Object.fromEntries(this.faults),
      recipients: Object.fromEntries(
        [...this.recipients].map(([recipient, sends]) => [
          recipient,
          [...sends],
        ])
      ),
    };
  }
}

/** What makes two sends the same message (see `AcceptedSend.key`). */
const sendKey = (body: unknown, raw: string): string => {
  const opaque = (body as { biz_opaque_callback_data?: unknown })
    .biz_opaque_callback_data;
  if (typeof opaque === 'string' && opaque !== '') return opaque;

  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
};

const groupByKey = (sends: readonly AcceptedSend[]) => {
  const groups = new Map<string, string[]>();
  for (const send of sends) {
    groups.set(send.key, [...(groups.get(send.key) ?? []), send.wamid]);
  }

  return groups;
};
