import { describe, expect, it } from 'vitest';
import {
  admitMessage,
  judgeEvent,
  readSelection,
  replayedTrace,
  replayRequestSchema,
} from '../../../lambdas/shared/domain/replay.js';
import type { TraceRecord } from '../../../lambdas/shared/domain/trace.js';

const NOW = new Date('2026-12-03T10:00:00.000Z');

const record = (
  stage: TraceRecord['stage'],
  at: string,
  extra: Partial<TraceRecord> = {}
): TraceRecord => ({ eventId: 'ev_1', webhookId: 'wh_1', stage, at, ...extra });

const received = record('received', '2026-12-03T09:00:00.000Z');

describe('readSelection', () => {
  it('takes failed events over everything kept when no window is given', () => {
    const selection = readSelection({ failed: true }, NOW);

    expect(selection).toEqual({
      mode: 'failed',
      from: '1970-01-01T00:00:00.000Z',
      to: NOW.toISOString(),
      retryFailed: false,
      dryRun: false,
    });
  });

  it('normalises a window to the times the trace records carry', () => {
    const selection = readSelection(
      { from: '2026-12-03T10:00:00+02:00', to: '2026-12-03T09:00:00Z' },
      NOW
    );

    expect(selection).toMatchObject({
      mode: 'window',
      from: '2026-12-03T08:00:00.000Z',
      to: '2026-12-03T09:00:00.000Z',
    });
  });

  it.each([
    [{}, 'replay_selection_missing'],
    [{ from: '2026-12-03T09:00:00Z' }, 'invalid_window'],
    [{ failed: true, to: '2026-12-03T09:00:00Z' }, 'invalid_window'],
    [
      { from: '2026-12-03T10:00:00Z', to: '2026-12-03T09:00:00Z' },
      'invalid_window',
    ],
  ] as const)('refuses %j with %s', (request, code) => {
    expect(readSelection(request, NOW)).toMatchObject({ code });
  });

  it('refuses fields it does not know and times without a zone', () => {
    expect(replayRequestSchema.safeParse({ failed: false }).success).toBe(
      false
    );
    expect(
      replayRequestSchema.safeParse({ from: '2026-12-03 09:00' }).success
    ).toBe(false);
    expect(replayRequestSchema.safeParse({ all: true }).success).toBe(false);
  });
});

describe('judgeEvent', () => {
  it('replays every event of a window', () => {
    expect(
      judgeEvent([received, record('sent', '2026-12-03T09:01:00Z')], 'window')
    ).toEqual({
      replay: true,
    });
  });

  it('never replays a provider re-delivery, whose messages the ledger would not know', () => {
    const verdict = judgeEvent(
      [received, record('duplicate', '2026-12-03T09:00:01.000Z')],
      'window'
    );

    expect(verdict).toMatchObject({
      replay: false,
      code: 'duplicate_delivery',
    });
  });

  it.each(['failed', 'rejected', 'unconfirmed'] as const)(
    'selects a chain with a %s record for a failed replay',
    (stage) => {
      expect(
        judgeEvent(
          [received, record(stage, '2026-12-03T09:00:01.000Z')],
          'failed'
        )
      ).toEqual({ replay: true });
    }
  );

  it('leaves a chain whose failures a later replay answered', () => {
    const chain = [
      received,
      record('failed', '2026-12-03T09:00:01.000Z'),
      record('replayed', '2026-12-03T09:30:00.000Z'),
      record('sent', '2026-12-03T09:30:02.000Z'),
    ];

    expect(judgeEvent(chain, 'failed')).toMatchObject({
      replay: false,
      code: 'no_failure',
    });
  });

  it('selects a chain again when its replay failed too', () => {
    const chain = [
      received,
      record('failed', '2026-12-03T09:00:01.000Z'),
      record('replayed', '2026-12-03T09:30:00.000Z'),
      record('failed', '2026-12-03T09:30:01.000Z'),
    ];

    expect(judgeEvent(chain, 'failed')).toEqual({ replay: true });
  });
});

describe('admitMessage', () => {
  it.each([
    [undefined, false, 'send'],
    ['retrying', false, 'send'],
    ['failed', true, 'retry'],
  ] as const)('ledger %s, retryFailed %s: %s', (state, retry, kind) => {
    expect(admitMessage(state, retry).kind).toBe(kind);
  });

  it.each([
    ['sent', 'already_sent'],
    ['unconfirmed', 'already_unconfirmed'],
    ['sending', 'in_progress'],
    ['failed', 'failed_before'],
  ] as const)(
    'never sends a message whose ledger says %s: %s',
    (state, code) => {
      expect(admitMessage(state, false)).toMatchObject({ kind: 'skip', code });
    }
  );

  it('keeps sent and possibly sent messages back even when failures are retried', () => {
    expect(admitMessage('sent', true).kind).toBe('skip');
    expect(admitMessage('unconfirmed', true).kind).toBe('skip');
  });

  it('treats a sent message WhatsApp could not deliver as failed', () => {
    expect(admitMessage('sent', true, true).kind).toBe('retry');
    expect(admitMessage('sent', false, true)).toMatchObject({
      kind: 'skip',
      code: 'failed_before',
    });
    expect(admitMessage('unconfirmed', true, true).kind).toBe('skip');
  });
});

describe('replayedTrace', () => {
  it('says who replayed the event, when, with how many others and why', () => {
    const trace = replayedTrace(
      { eventId: 'ev_1', webhookId: 'wh_1' },
      { replayId: 'rp_1', requestedAt: NOW.toISOString(), retryFailed: true },
      {
        mode: 'failed',
        from: '1970-01-01T00:00:00.000Z',
        to: NOW.toISOString(),
        retryFailed: true,
        dryRun: false,
      },
      'arn:aws:iam::000000000000:user/ops',
      3
    );

    expect(trace).toEqual({
      eventId: 'ev_1',
      webhookId: 'wh_1',
      stage: 'replayed',
      at: NOW.toISOString(),
      replayId: 'rp_1',
      requestedBy: 'arn:aws:iam::000000000000:user/ops',
      reason:
        'replayed with 2 other event(s) because something in its chain ' +
        'failed; failed messages are tried again',
    });
  });
});
