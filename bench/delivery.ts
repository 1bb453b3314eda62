/**
 * A burst of signed Stripe events through the whole local runtime to many
 * recipients, the WhatsApp stand-in enforcing its throughput limit and
 * answering a share of sends with injected transient faults, each answer
 * after a round trip's latency. Prints the accepted sends and the send
 * requests per second against the limit, the most requests in flight at
 * once, rate-limit errors, order inversions per recipient, duplicate sends
 * and the ledger of every event. Prints figures; asserts none, and exits 0
 * whatever they are.
 *
 *   npm run bench:delivery
 *
 * BENCH_EVENTS (2000), BENCH_RECIPIENTS (500), BENCH_GAP_SECONDS (the
 * webhook's minGapSeconds, 1), BENCH_FAULT_RATE (0.2), BENCH_FAULT_KINDS
 * (comma-separated, server_error), BENCH_SEED (7), BENCH_CALLBACKS (on),
 * BENCH_LIMIT (80 messages per second), BENCH_LATENCY_MS (the stand-in's
 * answer latency, 300: a typical Cloud API round trip),
 * BENCH_TIMEOUT_SECONDS (900).
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_THROUGHPUT_MPS,
  sendIntervalMs,
} from '../lambdas/shared/domain/delivery.js';
import { messageKey } from '../lambdas/shared/domain/messages.js';
import type { TraceRecord } from '../lambdas/shared/domain/trace.js';
import { Functions } from '../lib/definitions.js';
import { adminClient, isTraceSettled } from '../local/admin-client.js';
import {
  deliver,
  readFixture,
  stripeDelivery,
  testSecrets,
} from '../local/deliveries.js';
import { PAYMENT_LINK } from '../local/examples.js';
import { startRuntime } from '../local/runtime.js';
import type { FaultKind } from '../local/whatsapp-faults.js';
import type { StandInStats } from '../local/whatsapp-standin.js';
import { countRequests, type RequestTally } from './aws-requests.js';

const numberEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  return Number.isFinite(value) ? value : fallback;
};

const EVENTS = numberEnv('BENCH_EVENTS', 2000);
const RECIPIENTS = numberEnv('BENCH_RECIPIENTS', 500);
const GAP_SECONDS = numberEnv('BENCH_GAP_SECONDS', 1);
const FAULT_RATE = numberEnv('BENCH_FAULT_RATE', 0.2);
const FAULT_KINDS = (process.env.BENCH_FAULT_KINDS ?? 'server_error')
  .split(',')
  .map((kind) => kind.trim()) as FaultKind[];
const SEED = numberEnv('BENCH_SEED', 7);
const CALLBACKS = (process.env.BENCH_CALLBACKS ?? 'on') !== 'off';
const LIMIT = numberEnv('BENCH_LIMIT', DEFAULT_THROUGHPUT_MPS);
/**
 * Below Meta's 80 per second the stand-in's window stretches to hold 80
 * messages (80 / LIMIT seconds), so the sender's pacing meets the same
 * arithmetic as at full speed, slowed down to what this machine carries.
 */
const LIMIT_WINDOW = {
  messages: Math.max(LIMIT, DEFAULT_THROUGHPUT_MPS),
  windowMs: Math.round(
    (1000 * Math.max(LIMIT, DEFAULT_THROUGHPUT_MPS)) / LIMIT
  ),
};
const LATENCY_MS = numberEnv('BENCH_LATENCY_MS', 300);
const TIMEOUT_MS = numberEnv('BENCH_TIMEOUT_SECONDS', 900) * 1000;
/** Events posted at once; far fewer than recipients keeps each one's order. */
const IN_FLIGHT = Math.max(1, Math.min(16, Math.floor(RECIPIENTS / 4)));
/** The run ends when nothing was accepted for this long. */
const STALL_MS = 180_000;
/** How long the ledger may take to settle after the last send. */
const SETTLE_MS = 60_000;
const MAPPING_ID = 'bench';
const SAMPLE_EVENT = 'evt_000000000000000000000000';
const SAMPLE_RECIPIENT = '+15550100142';
const SAMPLE_INTENT = 'pi_000000000000000000000000';

/**
 * Fictional numbers: 555-0100 to 555-0199 under as many US area codes as
 * needed (201, 202, ...).
 */
const recipientOf = (index: number): string =>
  `+1${201 + Math.floor(index / 100)}55501${String(index % 100).padStart(2, '0')}`;

interface SentEvent {
  readonly eventId: string;
  readonly recipient: string;
  /** This recipient's message number, 0 first. */
  readonly seq: number;
  readonly key: string;
}

const secret = testSecrets().stripe;
const fixture = readFixture('stripe-charge-failed.json').toString();
const runTag = Date.now().toString(36);

/** Event `index` goes to recipient `index % RECIPIENTS`, its seq'th. */
const eventBody = (index: number) => {
  const recipient = recipientOf(index % RECIPIENTS);
  const seq = Math.floor(index / RECIPIENTS);
  const body = fixture
    .replace(SAMPLE_EVENT, `evt_bench_${runTag}_${index}`)
    .replace(SAMPLE_RECIPIENT, recipient)
    // The sequence number rides on the button's URL parameter.
    .replace(SAMPLE_INTENT, `pi_seq_${seq}`);

  return { recipient, seq, body: Buffer.from(body) };
};

const postEvents = async (apiUrl: string, webhookId: string) => {
  const sent: SentEvent[] = [];
  const refused: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < EVENTS) {
      const index = next++;
      const { recipient, seq, body } = eventBody(index);
      const answer = await deliver(
        apiUrl,
        webhookId,
        stripeDelivery({ body, secret })
      );
      const eventId = (answer.body as { eventId?: string }).eventId;
      if (answer.status !== 202 || eventId === undefined) {
        refused.push(`${answer.status} ${JSON.stringify(answer.body)}`);
        continue;
      }
      sent[index] = {
        eventId,
        recipient,
        seq,
        key: messageKey(eventId, MAPPING_ID, recipient),
      };
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

  return { sent: sent.filter(Boolean), refused };
};

/** An event's ledger from its trace. */
type Outcome = 'sent' | 'skipped' | 'failed' | 'unconfirmed' | 'open';

const outcomeOf = (records: readonly TraceRecord[] | undefined): Outcome => {
  if (records === undefined || !isTraceSettled(records)) return 'open';
  const stages = new Set(records.map((record) => record.stage as string));
  if (stages.has('sent')) return 'sent';
  if (stages.has('unconfirmed')) return 'unconfirmed';
  if (stages.has('failed')) {
    const reasoned = records.some(
      (record) =>
        record.stage === 'failed' && (record.reason ?? '').trim() !== ''
    );
    return reasoned ? 'failed' : 'open';
  }
  if (stages.has('skipped')) return 'skipped';

  return 'open';
};

const readLedger = async (
  admin: ReturnType<typeof adminClient>,
  events: readonly SentEvent[]
) => {
  const outcomes = new Map<string, Outcome>();
  const reasons = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < events.length) {
      const event = events[next++];
      if (event === undefined) continue;
      const records = await admin.readEvent(event.eventId);
      const outcome = outcomeOf(records);
      outcomes.set(event.eventId, outcome);
      for (const record of records ?? []) {
        if (record.stage === 'failed' || record.stage === 'unconfirmed') {
          const code = `${record.stage} ${record.code ?? '?'}`;
          reasons.set(code, (reasons.get(code) ?? 0) + 1);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));

  return { outcomes, reasons };
};

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/** Accepted sends per second between the 10th and 90th percentile. */
const steadyRate = (times: readonly number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  const from = quantile(sorted, 0.1);
  const to = quantile(sorted, 0.9);
  const inside = sorted.filter((time) => time >= from && time <= to).length;
  const seconds = (to - from) / 1000;

  return {
    rate: seconds > 0 ? (inside - 1) / seconds : 0,
    seconds,
    from,
    to,
    first: sorted[0] ?? 0,
    last: sorted.at(-1) ?? 0,
  };
};

/** The stand-in's count of send requests, read once a second or so. */
interface RequestSample {
  readonly at: number;
  readonly requests: number;
}

/** Send requests made by `at`, between the two samples around it. */
const requestsAt = (samples: readonly RequestSample[], at: number): number => {
  const next = samples.findIndex((sample) => sample.at >= at);
  const after = samples[next];
  const before = samples[next - 1];
  if (after === undefined) return samples.at(-1)?.requests ?? 0;
  if (before === undefined) return after.requests;
  const share = (at - before.at) / Math.max(1, after.at - before.at);

  return before.requests + share * (after.requests - before.requests);
};

/** The busiest one-second windows, to show what the limit saw. */
const peakPerSecond = (times: readonly number[]): number => {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= 1000) start++;
    peak = Math.max(peak, end - start + 1);
  }

  return peak;
};

const orderInversions = (
  stats: StandInStats,
  byKey: ReadonlyMap<string, SentEvent>
) => {
  let inversions = 0;
  let recipientsWithInversions = 0;
  let unknown = 0;
  for (const sends of Object.values(stats.recipients)) {
    let highest = -1;
    let here = 0;
    for (const send of sends) {
      const event = byKey.get(send.key);
      if (event === undefined) {
        unknown++;
        continue;
      }
      if (event.seq < highest) here++;
      highest = Math.max(highest, event.seq);
    }
    inversions += here;
    if (here > 0) recipientsWithInversions++;
  }

  return { inversions, recipientsWithInversions, unknown };
};

/** AWS requests per accepted send and their mean time, busiest first. */
const printRequests = (
  counts: Readonly<Record<string, RequestTally>>,
  accepted: number,
  seconds: number
) => {
  const total = Object.values(counts).reduce(
    (sum, tally) => sum + tally.count,
    0
  );
  const perSecond = (total / seconds).toFixed(0);
  const perSend = (total / Math.max(1, accepted)).toFixed(1);
  console.log(
    `AWS requests to moto during the run: ${total} ` +
      `(${perSecond}/s, ${perSend} per accepted send)`
  );
  console.table(
    Object.fromEntries(
      Object.entries(counts)
        .sort(([, a], [, b]) => b.count - a.count)
        .map(([key, tally]) => [
          key,
          {
            'per accepted send': (tally.count / Math.max(1, accepted)).toFixed(
              2
            ),
            'mean ms': (tally.totalMs / tally.count).toFixed(0),
          },
        ])
    )
  );
};

const goal = (met: boolean): string => (met ? 'met' : 'NOT met');

const main = async () => {
  const loadBefore = loadavg();
  const runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(tmpdir(), 'wapto-bench-delivery-')),
    whatsAppThroughput: LIMIT,
  });
  try {
    const standIn = runtime.standIn;
    if (standIn === undefined) throw new Error('The stand-in is not running.');
    standIn.configure({
      limits: { throughput: LIMIT_WINDOW },
      ...(CALLBACKS ? {} : { callbacks: null }),
    });
    const admin = adminClient(runtime.apiUrl);
    const { webhook } = await admin.createWebhook({
      name: 'delivery bench',
      provider: 'stripe',
      secret,
      minGapSeconds: GAP_SECONDS,
    });
    await admin.putMapping(webhook.webhookId, MAPPING_ID, PAYMENT_LINK);
    await admin.activate(webhook.webhookId);
    standIn.reset();
    standIn.configure({
      limits: { throughput: LIMIT_WINDOW },
      latencyMs: LATENCY_MS,
      ...(CALLBACKS ? {} : { callbacks: null }),
    });
    standIn.setRandomFaults({
      rate: FAULT_RATE,
      seed: SEED,
      kinds: FAULT_KINDS,
    });
    const settings = standIn.settings();
    const invocations = Functions.sender.source.maxConcurrency;
    console.log(
      `Delivery bench: ${EVENTS} events to ${RECIPIENTS} recipients ` +
        `(${Math.ceil(EVENTS / RECIPIENTS)} each at most), minGapSeconds ${GAP_SECONDS}, ` +
        `limit ${JSON.stringify(settings.limits)}, faults ${FAULT_RATE * 100} % ` +
        `${FAULT_KINDS.join('+')} seed ${SEED}, ` +
        `status callbacks ${CALLBACKS ? 'on' : 'off'}, ` +
        `answers after ${settings.latencyMs} ms; ` +
        `the sender paces to ${LIMIT}/s: ` +
        `${sendIntervalMs(LIMIT, invocations)} ms ` +
        `between sends in each of ${invocations} invocations`
    );

    const requests = countRequests();
    const started = Date.now();
    const samples: RequestSample[] = [
      { at: started, requests: standIn.stats().requests },
    ];
    const { sent, refused } = await postEvents(
      runtime.apiUrl,
      webhook.webhookId
    );
    const posted = Date.now();
    console.log(
      `Posted ${sent.length} events (${refused.length} refused) in ` +
        `${((posted - started) / 1000).toFixed(1)} s: ` +
        `${(sent.length / ((posted - started) / 1000)).toFixed(0)} events/s`
    );
    for (const reason of refused.slice(0, 3))
      console.log(`  refused: ${reason}`);
    const byKey = new Map(sent.map((event) => [event.key, event]));

    // Done when every event's key was accepted once, or the ledger settles.
    let lastProgress = Date.now();
    let lastAccepted = -1;
    let lastPrinted = 0;
    while (Date.now() - started < TIMEOUT_MS) {
      const stats = standIn.stats();
      samples.push({ at: Date.now(), requests: stats.requests });
      const keys = new Set(
        Object.values(stats.recipients).flatMap((sends) =>
          sends.map((send) => send.key)
        )
      );
      const open = sent.filter((event) => !keys.has(event.key)).length;
      if (stats.accepted !== lastAccepted) {
        lastAccepted = stats.accepted;
        lastProgress = Date.now();
      }
      if (Date.now() - lastPrinted >= 10_000) {
        lastPrinted = Date.now();
        console.log(
          `  ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
            `${stats.accepted} accepted, ${stats.requests} requests, ` +
            `${open} events unsent`
        );
      }
      if (open === 0) break;
      // Failed messages never reach the stand-in: look at the ledger when
      // nothing has moved for a while.
      if (Date.now() - lastProgress > STALL_MS) break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const finished = Date.now();
    const awsRequests = structuredClone(requests);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const loadAfter = loadavg();

    const stats = standIn.stats();
    const acceptedTimes = Object.values(stats.recipients).flatMap((sends) =>
      sends.map((send) => Date.parse(send.at))
    );
    const steady = steadyRate(acceptedTimes);
    const injectedThroughput = stats.faults.throughput ?? 0;
    const injectedPair = stats.faults.pair ?? 0;
    const limitThroughput =
      stats.rateLimitErrors.throughput - injectedThroughput;
    const limitPair = stats.rateLimitErrors.pair - injectedPair;
    const order = orderInversions(stats, byKey);
    // The sender writes its records after Meta's answer: give an accepted
    // send's trace time to land before counting it open.
    let ledgerRead = await readLedger(admin, sent);
    const settleBy = Date.now() + SETTLE_MS;
    while (
      [...ledgerRead.outcomes.values()].includes('open') &&
      Date.now() < settleBy
    ) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      ledgerRead = await readLedger(admin, sent);
    }
    const { outcomes, reasons } = ledgerRead;
    const tally = (outcome: Outcome) =>
      [...outcomes.values()].filter((value) => value === outcome).length;
    const ledger = {
      sent: tally('sent'),
      skipped: tally('skipped'),
      failed: tally('failed'),
      unconfirmed: tally('unconfirmed'),
      open: tally('open'),
    };
    const balanced =
      ledger.sent + ledger.skipped + ledger.failed + ledger.unconfirmed ===
        sent.length && ledger.open === 0;
    const fraction = steady.rate / LIMIT;
    const requestRate =
      steady.seconds > 0
        ? (requestsAt(samples, steady.to) - requestsAt(samples, steady.from)) /
          steady.seconds
        : 0;

    console.log('\nFigures');
    console.table({
      'accepted sends/s (steady 10–90 %)': {
        value: steady.rate.toFixed(1),
        note: `over ${steady.seconds.toFixed(1)} s`,
      },
      'fraction of the limit': {
        value: fraction.toFixed(2),
        note: `goal ≥ 0.9: ${goal(fraction >= 0.9)}`,
      },
      'send requests/s (same window)': {
        value: requestRate.toFixed(1),
        note:
          `${(requestRate / LIMIT).toFixed(2)} of the limit (goal ≥ 0.9: ` +
          `${goal(requestRate / LIMIT >= 0.9)}); injected faults count`,
      },
      'most requests in flight at once': {
        value: stats.peakInFlight,
        note: `answers after ${LATENCY_MS} ms`,
      },
      'busiest second (accepted)': {
        value: peakPerSecond(acceptedTimes),
        note: '',
      },
      'first to last accepted send': {
        value: `${((steady.last - steady.first) / 1000).toFixed(1)} s`,
        note: `whole run ${((finished - started) / 1000).toFixed(0)} s`,
      },
      'rate-limit errors from the limits (130429 / 131056)': {
        value: `${limitThroughput} / ${limitPair}`,
        note: `goal 0: ${goal(limitThroughput + limitPair === 0)}`,
      },
      'injected faults': {
        value: JSON.stringify(stats.faults),
        note: `of ${stats.requests} requests`,
      },
      'order inversions': {
        value: order.inversions,
        note:
          `${order.recipientsWithInversions} recipients; ` +
          `goal 0: ${goal(order.inversions === 0)}`,
      },
      'duplicate sends': {
        value: stats.duplicates,
        note: `goal 0: ${goal(stats.duplicates === 0)}`,
      },
      'accepted sends not matched to an event': {
        value: order.unknown,
        note: '',
      },
    });
    console.log('Ledger per event (from each event’s trace)');
    console.table({
      accepted: { events: sent.length },
      sent: { events: ledger.sent },
      skipped: { events: ledger.skipped },
      'failed with a reason': { events: ledger.failed },
      'unconfirmed (separately)': { events: ledger.unconfirmed },
      'not settled': { events: ledger.open },
    });
    console.log(
      `Ledger balanced (accepted = sent + skipped + failed + unconfirmed): ${goal(balanced)}`
    );
    if (reasons.size > 0) console.table(Object.fromEntries(reasons));
    printRequests(awsRequests, stats.accepted, (finished - started) / 1000);
    console.log(
      `Error codes answered: ${JSON.stringify(stats.errorCodes)}; ` +
        `load average before ${loadBefore.map((value) => value.toFixed(2)).join(' ')}, ` +
        `after ${loadAfter.map((value) => value.toFixed(2)).join(' ')}`
    );
  } finally {
    await runtime.stop();
  }
};

await main();
