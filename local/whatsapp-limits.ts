import type { GraphFailure } from './whatsapp-check.js';

/**
 * The Cloud API's two send limits, as the stand-in applies them (FACTS A6,
 * A7): throughput per phone number id over a sliding window (130429), and
 * the business–consumer pair limit per recipient (131056). Both read time
 * from a clock the caller passes, so tests can step it.
 */

/** Milliseconds since an arbitrary origin; `Date.now` by default. */
export type Clock = () => number;

export interface ThroughputLimit {
  /** Messages admitted per window. @default 80 (Meta's default MPS) */
  readonly messages: number;
  /** @default 1000 */
  readonly windowMs: number;
}

/**
 * One message per `intervalMs` on average, with up to `burst` at once
 * borrowed from the future (a generic cell rate algorithm): after a burst,
 * the recipient's next message waits until the borrowed time is repaid.
 */
export interface PairLimit {
  /** @default 6000 (about one message every 6 s) */
  readonly intervalMs: number;
  /** @default 45 (the burst secondary sources report) */
  readonly burst: number;
}

export interface LimitSettings {
  /** `false` turns the throughput limit off. */
  readonly throughput: ThroughputLimit | false;
  /** `false` turns the pair limit off. */
  readonly pair: PairLimit | false;
}

export const DEFAULT_LIMITS: LimitSettings = {
  throughput: { messages: 80, windowMs: 1_000 },
  pair: { intervalMs: 6_000, burst: 45 },
};

export type LimitVerdict = 'ok' | 'throughput' | 'pair';

/**
 * Admits or refuses one send from `phoneNumberId` to `recipient`. A refused
 * send uses no quota; an admitted one uses both.
 */
export class SendLimiter {
  private readonly windows = new Map<string, number[]>();
  /** Per recipient: when its borrowed time is repaid (GCRA's TAT). */
  private readonly repaidAt = new Map<string, number>();

  constructor(
    private settings: LimitSettings,
    private readonly clock: Clock
  ) {}

  configure(settings: LimitSettings): void {
    this.settings = settings;
    this.reset();
  }

  current(): LimitSettings {
    return this.settings;
  }

  reset(): void {
    this.windows.clear();
    this.repaidAt.clear();
  }

  admit(phoneNumberId: string, recipient: string): LimitVerdict {
    const now = this.clock();
    const { throughput, pair } = this.settings;
    const window = this.windowOf(phoneNumberId, now);
    if (throughput !== false && window.length >= throughput.messages) {
      return 'throughput';
    }
    const repaid = Math.max(this.repaidAt.get(recipient) ?? now, now);
    if (pair !== false && repaid - now > (pair.burst - 1) * pair.intervalMs) {
      return 'pair';
    }
    window.push(now);
    if (pair !== false) this.repaidAt.set(recipient, repaid + pair.intervalMs);

    return 'ok';
  }

  /** The admitted sends still inside the window, oldest first. */
  private windowOf(phoneNumberId: string, now: number): number[] {
    let window = this.windows.get(phoneNumberId);
    if (window === undefined) {
      window = [];
      this.windows.set(phoneNumberId, window);
    }
    const windowMs =
      this.settings.throughput === false
        ? 0
        : this.settings.throughput.windowMs;
    let expired = 0;
    while (
      expired < window.length &&
      (window[expired] ?? 0) <= now - windowMs
    ) {
      expired += 1;
    }
    window.splice(0, expired);

    return window;
  }
}

/** Meta's answers for the two limits (FACTS A6: HTTP 400 for both). */
export const LIMIT_FAILURES = {
  throughput: {
    status: 400,
    code: 130429,
    message: '(#130429) Rate limit hit',
    details: 'the phone number sent more messages per second than allowed',
  },
  pair: {
    status: 400,
    code: 131056,
    message:
      '(#131056) (Business Account, Consumer Account) pair rate limit hit',
    details: 'too many messages to this recipient in a short time',
  },
} as const satisfies Record<string, GraphFailure>;
