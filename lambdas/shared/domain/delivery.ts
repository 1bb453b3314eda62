/**
 * The sender's delivery rules, free of AWS: what to do with Meta's answer,
 * how long to wait before another attempt, how fast to send, and when a
 * recipient's next message may leave. The handler only carries them out.
 */

import type { GraphError, SendSuccess } from './whatsapp.js';

/** What came back from one send request, as far as the client can tell. */
export type SendOutcome =
  | {
      readonly kind: 'answered';
      readonly status: number;
      readonly body: unknown;
    }
  /** The request provably never reached Meta (refused, no DNS, no token). */
  | { readonly kind: 'not_sent'; readonly reason: string }
  /** The request went out and no answer came back: Meta may have sent it. */
  | { readonly kind: 'unknown'; readonly reason: string };

/** Who waits after a transient error. */
export type RetryScope = 'message' | 'recipient' | 'sender';

export type DeliveryAction =
  | { readonly kind: 'sent'; readonly wamid: string; readonly waId?: string }
  /** Permanent: record it failed, never retry. */
  | { readonly kind: 'failed'; readonly code: string; readonly reason: string }
  /** Transient: release the claim and try again after a backoff. */
  | {
      readonly kind: 'retry';
      readonly scope: RetryScope;
      readonly code: string;
      readonly reason: string;
    }
  /** The token was refused: read it again, fresh, and try once more. */
  | {
      readonly kind: 'refresh_token';
      readonly code: string;
      readonly reason: string;
    }
  /** The account cannot send: stop every send and raise an alarm. */
  | { readonly kind: 'stop'; readonly code: string; readonly reason: string }
  /** Meta may have accepted it: never resend on our own. */
  | {
      readonly kind: 'unconfirmed';
      readonly code: string;
      readonly reason: string;
    };

/** Meta's codes by what the sender does about them (FACTS A6). */
export const MetaCodes = {
  /** The phone number's throughput: the whole sender slows down. */
  throughput: new Set([130429, 4, 80007]),
  /** The business-consumer pair limit: only that recipient waits. */
  pair: new Set([131056]),
  /** Meta's own trouble: the message is tried again. */
  transient: new Set([1, 2, 131000, 131016, 133004]),
  /** The access token: refresh it once, then stop. */
  token: new Set([190]),
  /** The account or number cannot send: stop everything and alarm. */
  account: new Set([131031, 368, 133010, 131048]),
} as const;

/** `error.code` 132xxx: template problems, permanent until someone acts. */
const isTemplateCode = (code: number): boolean =>
  code >= 132_000 && code < 133_000;

/**
 * What to do with one send's outcome. Meta's answers are judged by their
 * error code, not the HTTP status, as Meta asks; a 5xx without a code is
 * Meta's trouble and is retried. Anything that leaves it open whether Meta
 * accepted the message is `unconfirmed`, never retried.
 */
export const judgeOutcome = (outcome: SendOutcome): DeliveryAction => {
  if (outcome.kind === 'not_sent') {
    return {
      kind: 'retry',
      scope: 'message',
      code: 'not_sent',
      reason: outcome.reason,
    };
  }
  if (outcome.kind === 'unknown') {
    return { kind: 'unconfirmed', code: 'no_answer', reason: outcome.reason };
  }
  const { status, body } = outcome;
  const wamid = (body as Partial<SendSuccess> | undefined)?.messages?.[0]?.id;
  if (status >= 200 && status < 300) {
    if (typeof wamid === 'string') {
      const waId = (body as Partial<SendSuccess>).contacts?.[0]?.wa_id;
      return { kind: 'sent', wamid, ...(waId ? { waId } : {}) };
    }
    return {
      kind: 'unconfirmed',
      code: `http_${status}`,
      reason: `WhatsApp answered HTTP ${status} without a message id`,
    };
  }
  const error = (body as { error?: GraphError } | undefined)?.error;
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const reason =
    [error?.message, error?.error_data?.details].filter(Boolean).join(': ') ||
    `WhatsApp answered HTTP ${status}`;
  if (code === undefined) {
    return { kind: 'retry', scope: 'message', code: `http_${status}`, reason };
  }

  return actionForCode(code, status, reason);
};

const actionForCode = (
  code: number,
  status: number,
  reason: string
): DeliveryAction => {
  const metaCode = `meta_${code}`;
  if (MetaCodes.throughput.has(code)) {
    return { kind: 'retry', scope: 'sender', code: metaCode, reason };
  }
  if (MetaCodes.pair.has(code)) {
    return { kind: 'retry', scope: 'recipient', code: metaCode, reason };
  }
  if (MetaCodes.token.has(code)) {
    return { kind: 'refresh_token', code: metaCode, reason };
  }
  if (MetaCodes.account.has(code)) {
    return { kind: 'stop', code: metaCode, reason };
  }
  if (
    MetaCodes.transient.has(code) ||
    (status >= 500 && !isTemplateCode(code))
  ) {
    return { kind: 'retry', scope: 'message', code: metaCode, reason };
  }

  // 132xxx, 131026, 131047, 100, 131008, 131009, 131051 and any code not
  // known to clear by itself: recorded, never retried.
  return { kind: 'failed', code: metaCode, reason };
};

/** An action the sender carries out; a token refusal is resolved first. */
export type FinalAction = Exclude<DeliveryAction, { kind: 'refresh_token' }>;

/**
 * The action after a second attempt with a token read fresh: refused
 * again, the token itself is wrong, so every send stops and alarms.
 */
export const afterFreshToken = (action: DeliveryAction): FinalAction =>
  action.kind === 'refresh_token'
    ? {
        kind: 'stop',
        code: action.code,
        reason: `the access token was refused again after reading it fresh: ${action.reason}`,
      }
    : action;

/** Error codes of Node's HTTP client that mean no byte reached the server. */
const NEVER_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL',
]);

/**
 * Whether a failed request could have reached Meta, from the error codes
 * found on it and its causes. Only a failure to connect proves it did not;
 * a timeout or a reset after the body was written leaves it open.
 */
export const transportOutcome = (
  codes: readonly string[],
  reason: string
): SendOutcome =>
  codes.some((code) => NEVER_CONNECTED.has(code))
    ? { kind: 'not_sent', reason }
    : { kind: 'unknown', reason };

/** Bounds of the sender's retries; see README "Delivery". */
export interface RetryPolicy {
  /** Real requests to Meta per message, counted in the send ledger. */
  readonly maxAttempts: number;
  /** Seconds after the message was first received that retries stop. */
  readonly maxAgeSeconds: number;
  /** First backoff; doubles per attempt up to `capSeconds`. */
  readonly baseSeconds: number;
  readonly capSeconds: number;
  /** No hold is shorter: it bounds how often a message is received. */
  readonly minHoldSeconds: number;
}

/**
 * 8 attempts within an hour; waits of 5 s to 15 min. The outbound queue's
 * maxReceiveCount (1,000) exceeds the receives this allows (one per hold of
 * at least 5 s over an hour: 720, plus attempts), so waiting never sends a
 * message to the dead-letter queue.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  maxAgeSeconds: 3_600,
  baseSeconds: 5,
  capSeconds: 900,
  minHoldSeconds: 5,
};

/** The largest receives a message can see before its retries stop. */
export const maxReceivesWithin = (policy: RetryPolicy): number =>
  Math.ceil(policy.maxAgeSeconds / policy.minHoldSeconds) +
  policy.maxAttempts +
  1;

/** Upper bound of the wait after `attempt` (1-based) for a scope. */
export const backoffCeiling = (
  attempt: number,
  scope: RetryScope,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY
): number => {
  const step = Math.max(1, Math.floor(attempt));
  // Pair limits clear slowly: Meta's guidance is to wait 4^n seconds.
  const grown =
    scope === 'recipient'
      ? 4 ** (step + 1)
      : policy.baseSeconds * 2 ** (step - 1);

  return Math.max(policy.minHoldSeconds, Math.min(policy.capSeconds, grown));
};

/**
 * Seconds to wait after `attempt`: between half the ceiling and the
 * ceiling ("equal jitter"), so waits spread without ever collapsing to
 * zero. `random` returns a number in [0, 1).
 */
export const backoffSeconds = (
  attempt: number,
  scope: RetryScope,
  random: () => number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY
): number => {
  const ceiling = backoffCeiling(attempt, scope, policy);
  const draw = Math.min(Math.max(random(), 0), 1);
  const seconds = Math.ceil(ceiling / 2 + (draw * ceiling) / 2);

  return Math.min(ceiling, Math.max(policy.minHoldSeconds, seconds));
};

/**
 * Whether another attempt may follow attempt number `attempts`, made
 * `ageSeconds` after the message was first received, given the wait.
 */
export const mayRetry = (
  attempts: number,
  ageSeconds: number,
  waitSeconds: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY
): boolean =>
  attempts < policy.maxAttempts &&
  ageSeconds + waitSeconds <= policy.maxAgeSeconds;

/** Seconds a hold lasts for a wait of `waitMs`: whole, never too short. */
export const holdSeconds = (
  waitMs: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY
): number => Math.max(policy.minHoldSeconds, Math.ceil(waitMs / 1000));

/** Meta's default throughput per phone number (FACTS A7). */
export const DEFAULT_THROUGHPUT_MPS = 80;

/**
 * Milliseconds between two sends of one invocation, so that `concurrency`
 * invocations sending at once stay within `messagesPerSecond` together.
 */
export const sendIntervalMs = (
  messagesPerSecond: number,
  concurrency: number
): number => {
  const rate =
    Number.isFinite(messagesPerSecond) && messagesPerSecond > 0
      ? messagesPerSecond
      : DEFAULT_THROUGHPUT_MPS;

  return Math.ceil((1000 * Math.max(1, concurrency)) / rate);
};

/** A send's start time and the first start left free after it. */
export interface SendSlot {
  readonly startAt: number;
  readonly nextFreeAt: number;
}

/**
 * The earliest start slot at or after `now` given the next free one. The
 * caller stores `nextFreeAt` before it awaits anything, so sends handled
 * at once each get their own slot, `intervalMs` apart.
 */
export const reserveSendSlot = (
  nextFreeAt: number | undefined,
  intervalMs: number,
  now: number
): SendSlot => {
  const startAt = Math.max(now, nextFreeAt ?? now);

  return { startAt, nextFreeAt: startAt + intervalMs };
};

/** Seconds between two messages to one person unless a webhook says. */
export const DEFAULT_MIN_GAP_SECONDS = 6;

/**
 * Milliseconds a message to a recipient last sent to at `lastSentAt` must
 * still wait; 0 when it may leave now.
 */
export const gapWaitMs = (
  lastSentAt: number | undefined,
  minGapSeconds: number | undefined,
  now: number
): number => {
  if (lastSentAt === undefined) return 0;
  const gapMs = (minGapSeconds ?? DEFAULT_MIN_GAP_SECONDS) * 1000;

  return Math.max(0, lastSentAt + gapMs - now);
};

/** How long a send claim outlives the invocation that took it. */
export const LEASE_MARGIN_MS = 5_000;

/** What the send ledger says about a message before a send. */
export type LedgerState =
  | 'sending'
  | 'sent'
  | 'failed'
  | 'unconfirmed'
  | 'retrying';

export type ClaimDecision =
  | { readonly kind: 'claim' }
  /** Already settled: acknowledge without a request. */
  | { readonly kind: 'done'; readonly state: 'sent' | 'failed' | 'unconfirmed' }
  /** Another attempt may still be in flight: wait for its lease. */
  | { readonly kind: 'wait'; readonly waitMs: number }
  /** An attempt died without a verdict: Meta may have sent it. */
  | { readonly kind: 'unconfirmed' }
  /** An attempt died, but a status callback proved Meta accepted it. */
  | { readonly kind: 'confirmed'; readonly wamid: string };

/** What a message's ledger entry allows. */
export const decideClaim = (
  entry:
    | {
        readonly state: LedgerState;
        readonly leaseUntil?: number;
        /** The wamid of a status callback that arrived while sending. */
        readonly callbackWamid?: string;
      }
    | undefined,
  now: number
): ClaimDecision => {
  if (entry === undefined || entry.state === 'retrying') {
    return { kind: 'claim' };
  }
  if (entry.state !== 'sending') return { kind: 'done', state: entry.state };
  const leaseUntil = entry.leaseUntil ?? 0;
  if (leaseUntil > now) return { kind: 'wait', waitMs: leaseUntil - now };

  return entry.callbackWamid
    ? { kind: 'confirmed', wamid: entry.callbackWamid }
    : { kind: 'unconfirmed' };
};
