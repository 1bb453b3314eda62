import { z } from 'zod';
import type { GraphFailure } from './whatsapp-check.js';
import { LIMIT_FAILURES } from './whatsapp-limits.js';

/**
 * Faults the stand-in answers on demand, so the delivery pipeline's
 * handling of each can be tested: queued ones hit the next valid sends in
 * order, random ones hit a share of sends chosen by a seeded generator so
 * a run can be repeated exactly.
 */

/** The client's own timeout is 10 s; a held send outlasts it. */
const DEFAULT_HOLD_MS = 12_000;

const recipient = z
  .string()
  .regex(/^\+?\d{4,15}$/)
  .transform((value) => value.replace(/^\+/, ''));

const FAULT_KINDS = [
  'server_error',
  'throughput',
  'pair',
  'timeout',
  'undeliverable',
] as const;

export const faultSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('server_error'),
    /** 500 answers 131000; 503 answers code 2 (service unavailable). */
    status: z.union([z.literal(500), z.literal(503)]).default(500),
    to: recipient.optional(),
  }),
  z.strictObject({ kind: z.literal('throughput'), to: recipient.optional() }),
  z.strictObject({ kind: z.literal('pair'), to: recipient.optional() }),
  z.strictObject({
    kind: z.literal('timeout'),
    /** How long the response is held before the connection is dropped. */
    holdMs: z.number().int().min(0).max(600_000).default(DEFAULT_HOLD_MS),
    /** Whether the message was accepted (and is delivered) all the same. */
    accept: z.boolean().default(false),
    to: recipient.optional(),
  }),
  /** Accepted with a wamid, then a `failed` callback with 131026. */
  z.strictObject({
    kind: z.literal('undeliverable'),
    to: recipient.optional(),
  }),
]);

export type Fault = z.output<typeof faultSchema>;
export type FaultInput = z.input<typeof faultSchema>;
export type FaultKind = Fault['kind'];

export const TRANSIENT_FAULTS: readonly FaultKind[] = [
  'server_error',
  'throughput',
  'pair',
];

export const randomFaultsSchema = z.strictObject({
  /** Share of sends that get a fault, 0 to 1. */
  rate: z.number().min(0).max(1),
  seed: z.number().int(),
  /** @default server_error, throughput and pair (all transient) */
  kinds: z
    .array(z.enum(FAULT_KINDS))
    .min(1)
    .default([...TRANSIENT_FAULTS]),
});

export type RandomFaults = z.output<typeof randomFaultsSchema>;
export type RandomFaultsInput = z.input<typeof randomFaultsSchema>;

/** The body `POST /_standin/faults` takes. */
export const faultRequestSchema = z.strictObject({
  queue: z.array(faultSchema).max(10_000).default([]),
  /** Replaces the random setting; `null` turns random faults off. */
  random: randomFaultsSchema.nullable().optional(),
});

export class FaultInjector {
  private readonly queued: Fault[] = [];
  private random: RandomFaults | undefined;
  private draw: () => number = () => 1;

  enqueue(faults: readonly FaultInput[]): void {
    for (const fault of faults) this.queued.push(faultSchema.parse(fault));
  }

  /** Random faults from now on, or none with `undefined`. */
  setRandom(random: RandomFaultsInput | undefined): void {
    this.random =
      random === undefined ? undefined : randomFaultsSchema.parse(random);
    this.draw = mulberry32(this.random?.seed ?? 0);
  }

  settings(): { queue: readonly Fault[]; random: RandomFaults | null } {
    return { queue: [...this.queued], random: this.random ?? null };
  }

  clear(): void {
    this.queued.splice(0);
    this.setRandom(undefined);
  }

  /**
   * The fault for a valid send to `recipient`: the first queued one meant
   * for it (or for anyone), else perhaps a random one.
   */
  next(recipient: string): Fault | undefined {
    const index = this.queued.findIndex(
      (fault) => fault.to === undefined || fault.to === recipient
    );
    if (index >= 0) return this.queued.splice(index, 1)[0];
    const random = this.random;
    if (random === undefined || this.draw() >= random.rate) return undefined;
    const kind = random.kinds[Math.floor(this.draw() * random.kinds.length)];

    return faultSchema.parse({ kind: kind ?? 'server_error' });
  }
}

/** The synchronous answer of a fault that has one. */
export const faultFailure = (
  fault: Fault & { kind: 'server_error' | 'throughput' | 'pair' }
): GraphFailure => {
  if (fault.kind === 'throughput') return LIMIT_FAILURES.throughput;
  if (fault.kind === 'pair') return LIMIT_FAILURES.pair;
  if (fault.status === 503) {
    return {
      status: 503,
      code: 2,
      message: '(#2) Service temporarily unavailable',
      details: 'the service is down for a moment (injected fault)',
    };
  }

  return {
    status: 500,
    code: 131000,
    message: '(#131000) Something went wrong',
    details: 'an unknown error occurred (injected fault)',
  };
};

/** What a `failed` status callback carries for 131026. */
export const UNDELIVERABLE_ERROR = {
  code: 131026,
  title: 'Message undeliverable',
  message: 'Message undeliverable',
  error_data: {
    details: 'the message could not be delivered to this recipient',
  },
  href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
} as const;

/** A small seeded generator (mulberry32): the same seed, the same draws. */
const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0;

  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);

    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};
