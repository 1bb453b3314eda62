import { z } from 'zod';
import {
  type CallbackRecord,
  type CallbackSettings,
  type CallbackSettingsInput,
  callbackSettingsSchema,
} from './whatsapp-callbacks.js';
import {
  type Fault,
  type FaultInput,
  faultRequestSchema,
  type RandomFaults,
  type RandomFaultsInput,
} from './whatsapp-faults.js';
import type { LimitSettings } from './whatsapp-limits.js';
import type { StandInStats } from './whatsapp-stats.js';

/**
 * The stand-in's own control routes under `/_standin/`, beside the Graph
 * API it imitates. They speak the product's error format.
 */

/** What `PUT /_standin/config` and `configure()` take. */
export interface StandInSettings {
  readonly limits?: Partial<LimitSettings>;
  /** `null` stops status callbacks. */
  readonly callbacks?: CallbackSettingsInput | null;
  /** The access token it accepts from now on, as after a rotation. */
  readonly token?: string;
  /** How long each send's answer takes, as Meta's round trip. @default 0 */
  readonly latencyMs?: number;
}

export interface StandInControl {
  /** Every request to the Graph paths so far, oldest first. */
  requests(): readonly unknown[];
  stats(): StandInStats;
  /** Every status callback posted so far, oldest first. */
  callbacks(): readonly CallbackRecord[];
  faults(): { queue: readonly Fault[]; random: RandomFaults | null };
  injectFaults(faults: readonly FaultInput[]): void;
  setRandomFaults(random: RandomFaultsInput | undefined): void;
  clearFaults(): void;
  configure(settings: StandInSettings): void;
  settings(): {
    limits: LimitSettings;
    callbacks: CallbackSettings | null;
    latencyMs: number;
  };
  reset(): void;
}

export const CONTROL_PREFIX = '/_standin/';

const throughputSchema = z.strictObject({
  messages: z.number().int().min(1),
  windowMs: z.number().int().min(1).default(1_000),
});

const pairSchema = z.strictObject({
  intervalMs: z.number().int().min(1),
  burst: z.number().int().min(1),
});

export const settingsSchema = z.strictObject({
  limits: z
    .strictObject({
      throughput: z.union([throughputSchema, z.literal(false)]).optional(),
      pair: z.union([pairSchema, z.literal(false)]).optional(),
    })
    .optional(),
  callbacks: callbackSettingsSchema.nullable().optional(),
  token: z.string().min(1).optional(),
  latencyMs: z.number().int().min(0).max(60_000).optional(),
});

type Answer = { readonly status: number; readonly answer: unknown };

/** Answers a control request, or `undefined` for a path it does not own. */
export const handleControl = (
  control: StandInControl,
  method: string,
  path: string,
  body: string
): Answer | undefined => {
  if (!path.startsWith(CONTROL_PREFIX)) return undefined;
  const route = `${method} ${path.slice(CONTROL_PREFIX.length)}`;
  switch (route) {
    case 'GET requests':
      return ok(control.requests());
    case 'GET stats':
      return ok(control.stats());
    case 'GET callbacks':
      return ok(control.callbacks());
    case 'GET faults':
      return ok(control.faults());
    case 'POST faults':
      return parsed(faultRequestSchema, body, (request) => {
        control.injectFaults(request.queue);
        if (request.random !== undefined) {
          control.setRandomFaults(request.random ?? undefined);
        }
        return ok(control.faults());
      });
    case 'DELETE faults':
      control.clearFaults();
      return ok(control.faults());
    case 'GET config':
      return ok(control.settings());
    case 'PUT config':
      return parsed(settingsSchema, body, (settings) => {
        control.configure(settings);
        return ok(control.settings());
      });
    case 'POST reset':
      control.reset();
      return ok(control.stats());
    default:
      return {
        status: 404,
        answer: {
          code: 'not_found',
          message: `The stand-in has no control route ${method} ${path}.`,
        },
      };
  }
};

const ok = (answer: unknown): Answer => ({ status: 200, answer });

const parsed = <T>(
  schema: z.ZodType<T>,
  body: string,
  use: (value: T) => Answer
): Answer => {
  let json: unknown;
  try {
    json = JSON.parse(body === '' ? '{}' : body);
  } catch {
    return invalid(['the body is not JSON']);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    return invalid(
      result.error.issues.map(
        (issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`
      )
    );
  }

  return use(result.data);
};

const invalid = (details: string[]): Answer => ({
  status: 400,
  answer: {
    code: 'invalid_request',
    message: 'The stand-in could not use this request.',
    details,
  },
});
