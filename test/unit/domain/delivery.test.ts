import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffCeiling,
  backoffSeconds,
  DEFAULT_RETRY_POLICY,
  decideClaim,
  gapWaitMs,
  holdSeconds,
  judgeOutcome,
  maxReceivesWithin,
  mayRetry,
  type RetryScope,
  reserveSendSlot,
  sendIntervalMs,
  transportOutcome,
} from '../../../lambdas/shared/domain/delivery.js';
import { Queues } from '../../../lib/definitions.js';

const graphError = (code: number, details = 'detail') => ({
  error: {
    message: `(#${code}) message`,
    type: 'OAuthException',
    code,
    error_data: { messaging_product: 'whatsapp', details },
    fbtrace_id: 'trace',
  },
});

const answered = (status: number, body: unknown) =>
  judgeOutcome({ kind: 'answered', status, body });

describe('judgeOutcome', () => {
  it('reads the wamid of an accepted message', () => {
    const body = {
      messaging_product: 'whatsapp',
      contacts: [{ input: '+15550100142', wa_id: '15550100142' }],
      messages: [{ id: 'wamid.abc' }],
    };

    expect(answered(200, body)).toEqual({
      kind: 'sent',
      wamid: 'wamid.abc',
      waId: '15550100142',
    });
  });

  it.each([
    [130429, 'sender'],
    [4, 'sender'],
    [80007, 'sender'],
    [131056, 'recipient'],
    [131000, 'message'],
    [133004, 'message'],
    [2, 'message'],
  ])('retries Meta code %i, holding the %s', (code, scope) => {
    expect(answered(400, graphError(code))).toMatchObject({
      kind: 'retry',
      scope,
      code: `meta_${code}`,
    });
  });

  it.each([
    132000, 132001, 132015, 132018, 131026, 131047, 100, 131008, 131009, 131051,
  ])('fails Meta code %i permanently, with its reason', (code) => {
    expect(answered(400, graphError(code, 'why'))).toEqual({
      kind: 'failed',
      code: `meta_${code}`,
      reason: `(#${code}) message: why`,
    });
  });

  it.each([131031, 368, 133010, 131048])(
    'stops every send on account-level code %i',
    (code) => {
      expect(answered(403, graphError(code)).kind).toBe('stop');
    }
  );

  it('asks for a fresh token on code 190', () => {
    expect(answered(401, graphError(190)).kind).toBe('refresh_token');
  });

  it('judges by the code, not the HTTP status', () => {
    expect(answered(500, graphError(132001)).kind).toBe('failed');
    expect(answered(400, graphError(131000)).kind).toBe('retry');
  });

  it('retries a server error without a readable body', () => {
    expect(answered(503, undefined)).toEqual({
      kind: 'retry',
      scope: 'message',
      code: 'http_503',
      reason: 'WhatsApp answered HTTP 503',
    });
  });

  it('leaves a success without a message id unconfirmed', () => {
    expect(answered(200, { messages: [] }).kind).toBe('unconfirmed');
  });

  it('retries what never reached Meta and never retries what may have', () => {
    expect(judgeOutcome({ kind: 'not_sent', reason: 'refused' })).toMatchObject(
      { kind: 'retry', scope: 'message', code: 'not_sent' }
    );
    expect(judgeOutcome({ kind: 'unknown', reason: 'timeout' })).toEqual({
      kind: 'unconfirmed',
      code: 'no_answer',
      reason: 'timeout',
    });
  });
});

describe('transportOutcome', () => {
  it.each([['ECONNREFUSED'], ['ENOTFOUND'], ['UND_ERR_CONNECT_TIMEOUT']])(
    'knows %s never reached Meta',
    (code) => {
      expect(transportOutcome(['', code], 'r').kind).toBe('not_sent');
    }
  );

  it.each([
    ['UND_ERR_SOCKET'],
    ['ECONNRESET'],
    ['UND_ERR_HEADERS_TIMEOUT'],
    [''],
  ])('cannot tell whether Meta got the request after %s', (code) => {
    expect(transportOutcome([code], 'r').kind).toBe('unknown');
  });
});

const scopes: RetryScope[] = ['message', 'recipient', 'sender'];
const policy = DEFAULT_RETRY_POLICY;

describe('backoff', () => {
  it('stays between the shortest hold and the ceiling, whatever the draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -3, max: 1000 }),
        fc.constantFrom(...scopes),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, scope, draw) => {
          const seconds = backoffSeconds(attempt, scope, () => draw);
          expect(seconds).toBeGreaterThanOrEqual(policy.minHoldSeconds);
          expect(seconds).toBeLessThanOrEqual(backoffCeiling(attempt, scope));
          expect(seconds).toBeLessThanOrEqual(policy.capSeconds);
          expect(Number.isInteger(seconds)).toBe(true);
        }
      )
    );
  });

  it('never lowers its ceiling as attempts grow', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom(...scopes),
        (attempt, more, scope) => {
          expect(backoffCeiling(attempt + more, scope)).toBeGreaterThanOrEqual(
            backoffCeiling(attempt, scope)
          );
        }
      )
    );
  });

  it('doubles from 5 s and waits 4^n s for the pair limit', () => {
    expect(
      [1, 2, 3, 4].map((attempt) => backoffCeiling(attempt, 'message'))
    ).toEqual([5, 10, 20, 40]);
    expect(
      [1, 2, 3, 4, 5].map((attempt) => backoffCeiling(attempt, 'recipient'))
    ).toEqual([16, 64, 256, 900, 900]);
  });

  it('spreads waits with the draw', () => {
    expect(backoffSeconds(3, 'message', () => 0)).toBe(10);
    expect(backoffSeconds(3, 'message', () => 0.999)).toBe(20);
  });
});

describe('retry bounds', () => {
  it('stops after the last attempt or past the age limit', () => {
    expect(mayRetry(1, 0, 5)).toBe(true);
    expect(mayRetry(policy.maxAttempts, 0, 5)).toBe(false);
    expect(mayRetry(1, policy.maxAgeSeconds - 4, 5)).toBe(false);
  });

  it('cannot hold a message into the dead-letter queue', () => {
    expect(maxReceivesWithin(policy)).toBeLessThan(
      Queues.outbound.maxReceiveCount
    );
  });

  it('never holds for less than the shortest hold', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 10_000_000 }), (waitMs) => {
        const seconds = holdSeconds(waitMs);
        expect(seconds).toBeGreaterThanOrEqual(policy.minHoldSeconds);
        expect(seconds * 1000).toBeGreaterThanOrEqual(waitMs);
      })
    );
  });
});

describe('pacing', () => {
  it('keeps every invocation together under the number throughput', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        (rate, concurrency) => {
          const interval = sendIntervalMs(rate, concurrency);
          // Sends per second of all invocations together.
          expect((concurrency * 1000) / interval).toBeLessThanOrEqual(rate);
        }
      )
    );
  });

  it('gives each of 10 invocations 125 ms at 80 messages per second', () => {
    expect(sendIntervalMs(80, 10)).toBe(125);
    expect(sendIntervalMs(Number.NaN, 10)).toBe(125);
  });
});

describe('reserveSendSlot', () => {
  it('starts at once when no slot is taken or the free one has passed', () => {
    expect(reserveSendSlot(undefined, 125, 1_000)).toEqual({
      startAt: 1_000,
      nextFreeAt: 1_125,
    });
    expect(reserveSendSlot(1_125, 125, 2_000)).toEqual({
      startAt: 2_000,
      nextFreeAt: 2_125,
    });
  });

  it('gives sends reserved at the same moment slots one interval apart', () => {
    // Arrange
    let nextFreeAt: number | undefined;
    const starts: number[] = [];

    // Act
    for (let send = 0; send < 3; send++) {
      const slot = reserveSendSlot(nextFreeAt, 125, 1_000);
      starts.push(slot.startAt);
      nextFreeAt = slot.nextFreeAt;
    }

    // Assert
    expect(starts).toEqual([1_000, 1_125, 1_250]);
  });

  it('never starts two sends closer than the interval, nor before asked', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        // Time passing before each reservation, often none (sends at once).
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 50 }),
        (interval, pauses) => {
          let now = 0;
          let nextFreeAt: number | undefined;
          const starts: number[] = [];
          for (const pause of pauses) {
            now += pause;
            const slot = reserveSendSlot(nextFreeAt, interval, now);
            expect(slot.startAt).toBeGreaterThanOrEqual(now);
            starts.push(slot.startAt);
            nextFreeAt = slot.nextFreeAt;
          }
          for (let index = 1; index < starts.length; index++) {
            expect(
              (starts[index] ?? 0) - (starts[index - 1] ?? 0)
            ).toBeGreaterThanOrEqual(interval);
          }
        }
      )
    );
  });
});

describe('per-recipient gap', () => {
  it('holds a message that comes too early, by what is left', () => {
    expect(gapWaitMs(undefined, 6, 10_000)).toBe(0);
    expect(gapWaitMs(10_000, undefined, 12_000)).toBe(4_000);
    expect(gapWaitMs(10_000, 1, 12_000)).toBe(0);
    expect(gapWaitMs(10_000, 30, 12_000)).toBe(28_000);
  });
});

describe('decideClaim', () => {
  it('claims a new message or one released for a retry', () => {
    expect(decideClaim(undefined, 0)).toEqual({ kind: 'claim' });
    expect(decideClaim({ state: 'retrying' }, 0)).toEqual({ kind: 'claim' });
  });

  it.each(['sent', 'failed', 'unconfirmed'] as const)(
    'acknowledges a message already %s',
    (state) => {
      expect(decideClaim({ state }, 0)).toEqual({ kind: 'done', state });
    }
  );

  it('waits for a live claim and never resends an expired one', () => {
    expect(decideClaim({ state: 'sending', leaseUntil: 5_000 }, 1_000)).toEqual(
      { kind: 'wait', waitMs: 4_000 }
    );
    expect(decideClaim({ state: 'sending', leaseUntil: 5_000 }, 5_000)).toEqual(
      { kind: 'unconfirmed' }
    );
  });

  it('settles an expired claim as sent when a status callback proved it', () => {
    const entry = {
      state: 'sending' as const,
      leaseUntil: 5_000,
      callbackWamid: 'wamid.X',
    };
    expect(decideClaim(entry, 1_000)).toEqual({ kind: 'wait', waitMs: 4_000 });
    expect(decideClaim(entry, 5_000)).toEqual({
      kind: 'confirmed',
      wamid: 'wamid.X',
    });
  });
});
