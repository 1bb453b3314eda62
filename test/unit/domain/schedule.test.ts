import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DelayedMessage } from '../../../lambdas/shared/domain/messages.js';
import {
  type CancelPlan,
  cancellationTrace,
  cancelVerdict,
  DelayState,
  delayKey,
  dueTime,
  type HeldMessage,
  heldMessageOf,
  hopsFor,
  isDue,
  MAX_DELAY_SECONDS,
  MAX_HOP_SECONDS,
  nextHopSeconds,
  parseHopSeconds,
  releaseTrace,
} from '../../../lambdas/shared/domain/schedule.js';
import type { TemplateMessageRequest } from '../../../lambdas/shared/domain/whatsapp.js';
import { paymentLinkRequest } from '../../fixtures/requests.js';

const NOW = new Date('2026-12-03T10:00:00.000Z');

describe('hops', () => {
  it('adds up to the delay, each hop at most the hop length', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_DELAY_SECONDS }),
        fc.integer({ min: 1, max: MAX_HOP_SECONDS }),
        (delay, hop) => {
          const hops = hopsFor(delay, hop);
          expect(hops.reduce((sum, seconds) => sum + seconds, 0)).toBe(delay);
          expect(hops.every((seconds) => seconds >= 1 && seconds <= hop)).toBe(
            true
          );
          expect(hops).toHaveLength(Math.ceil(delay / hop));
        }
      )
    );
  });

  it('never hops past the due time, whenever a hop arrives', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_DELAY_SECONDS * 1000 }),
        fc.integer({ min: 0, max: MAX_DELAY_SECONDS * 1000 }),
        (delayMs, elapsedMs) => {
          const dueAt = new Date(NOW.getTime() + delayMs).toISOString();
          const now = new Date(NOW.getTime() + elapsedMs);
          const hop = nextHopSeconds(dueAt, now, MAX_HOP_SECONDS);
          const remainingMs = delayMs - elapsedMs;
          if (remainingMs <= 0) {
            expect(hop).toBe(0);
            expect(isDue(dueAt, now)).toBe(true);
          } else {
            expect(hop).toBeGreaterThanOrEqual(1);
            expect(hop).toBeLessThanOrEqual(MAX_HOP_SECONDS);
            // A full hop, or one that ends no earlier than the due time.
            expect(hop === MAX_HOP_SECONDS || hop * 1000 >= remainingMs).toBe(
              true
            );
            expect(isDue(dueAt, now)).toBe(false);
          }
        }
      )
    );
  });

  it('counts the delay from when the event was accepted', () => {
    expect(dueTime('2026-12-03T10:00:00.000Z', 86_400)).toBe(
      '2026-12-04T10:00:00.000Z'
    );
  });
});

describe('parseHopSeconds', () => {
  it('is 900 seconds unless told otherwise', () => {
    expect(parseHopSeconds(undefined)).toBe(900);
    expect(parseHopSeconds('')).toBe(900);
    expect(parseHopSeconds('2')).toBe(2);
  });

  it.each(['0', '901', '1.5', 'soon', '-3'])('refuses %s', (raw) => {
    expect(() => parseHopSeconds(raw)).toThrow(/whole number of seconds/);
  });
});

describe('delayKey', () => {
  it('puts one business key of one webhook in one partition, by mapping', () => {
    const first = delayKey('wh_1', 'pi_123', 'reminder', 'k1');
    const second = delayKey('wh_1', 'pi_123', 'other', 'k2');

    expect(first.pk).toBe(second.pk);
    expect(first.sk).toBe('reminder#k1');
    expect(first.pk).not.toContain('pi_123');
    expect(delayKey('wh_2', 'pi_123', 'reminder', 'k1').pk).not.toBe(first.pk);
    expect(delayKey('wh_1', 'pi_124', 'reminder', 'k1').pk).not.toBe(first.pk);
  });

  it('gives a message without a business key a partition of its own', () => {
    expect(delayKey('wh_1', undefined, 'reminder', 'k1').pk).not.toBe(
      delayKey('wh_1', undefined, 'reminder', 'k2').pk
    );
  });
});

const held = (overrides: Partial<HeldMessage> = {}): HeldMessage => ({
  eventId: 'ev_failed',
  mappingId: 'reminder',
  messageKey: 'k1',
  recipient: '***0142',
  template: 'payment_link',
  dueAt: '2026-12-03T11:00:00.000Z',
  state: DelayState.Waiting,
  ...overrides,
});

describe('cancelVerdict', () => {
  it('cancels only a message still waiting', () => {
    expect(cancelVerdict(held(), 'ev_paid')).toBe('cancel');
    expect(cancelVerdict(held({ state: DelayState.Released }), 'ev_paid')).toBe(
      'released'
    );
    expect(
      cancelVerdict(
        held({ state: DelayState.Cancelled, cancelledBy: 'ev_other' }),
        'ev_paid'
      )
    ).toBe('cancelled');
  });

  it('repeats its own cancellation on a retry', () => {
    expect(
      cancelVerdict(
        held({ state: DelayState.Cancelled, cancelledBy: 'ev_paid' }),
        'ev_paid'
      )
    ).toBe('cancel');
  });

  it('never cancels what the same event held', () => {
    expect(cancelVerdict(held(), 'ev_failed')).toBe('own');
  });
});

const plan: CancelPlan = {
  mappingId: 'paid',
  cancels: ['reminder'],
  businessKey: 'pi_123',
};
const paidEvent = { eventId: 'ev_paid', webhookId: 'wh_1' };

describe('cancellationTrace', () => {
  it('names what it cancelled on both chains', () => {
    const trace = cancellationTrace(
      paidEvent,
      [plan],
      [{ plan, target: 'reminder', held: held(), verdict: 'cancel' }],
      NOW
    );

    expect(trace).toEqual([
      expect.objectContaining({
        eventId: 'ev_paid',
        stage: 'cancel',
        mappingId: 'paid',
        cancelledMappingId: 'reminder',
        cancelledEventId: 'ev_failed',
        recipient: '***0142',
      }),
      expect.objectContaining({
        eventId: 'ev_failed',
        stage: 'cancelled',
        mappingId: 'reminder',
        cancelledBy: 'ev_paid',
        until: '2026-12-03T11:00:00.000Z',
      }),
    ]);
  });

  it('says when nothing was waiting or the message had left', () => {
    const trace = cancellationTrace(
      paidEvent,
      [{ ...plan, cancels: ['reminder', 'survey'] }],
      [],
      NOW
    );
    const late = cancellationTrace(
      paidEvent,
      [plan],
      [
        {
          plan,
          target: 'reminder',
          held: held({ state: DelayState.Released }),
          verdict: 'released',
        },
      ],
      NOW
    );

    expect(
      trace.map((record) => [record.cancelledMappingId, record.code])
    ).toEqual([
      ['reminder', 'nothing_waiting'],
      ['survey', 'nothing_waiting'],
    ]);
    expect(late).toEqual([
      expect.objectContaining({ stage: 'cancel', code: 'already_released' }),
    ]);
  });
});

describe('held messages', () => {
  const delayed: DelayedMessage = {
    v: 1,
    dueAt: '2026-12-03T11:00:00.000Z',
    key: { pk: 'DELAY#wh_1#x', sk: 'reminder#k1' },
    message: {
      v: 1,
      eventId: 'ev_failed',
      webhookId: 'wh_1',
      mappingId: 'reminder',
      messageKey: 'k1',
      recipient: '+15550100142',
      queuedAt: NOW.toISOString(),
      request: paymentLinkRequest('+15550100142') as TemplateMessageRequest,
    },
  };

  it('keep the phone number masked in their record and trace', () => {
    expect(heldMessageOf(delayed)).toMatchObject({
      recipient: '***0142',
      state: 'waiting',
    });
    expect(JSON.stringify(releaseTrace(delayed, NOW))).not.toContain(
      '5550100142'
    );
    expect(releaseTrace(delayed, NOW)).toMatchObject({
      stage: 'released',
      eventId: 'ev_failed',
      until: '2026-12-03T11:00:00.000Z',
    });
  });
});
