import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { WHATSAPP_API_VERSION } from '../lib/definitions.js';
import { closeServer, LOOPBACK, listen } from './net.js';
import {
  type CallbackSettingsInput,
  StatusCallbacks,
} from './whatsapp-callbacks.js';
import {
  type CheckResult,
  checkSendRequest,
  type GraphFailure,
} from './whatsapp-check.js';
import {
  handleControl,
  type StandInControl,
  type StandInSettings,
  settingsSchema,
} from './whatsapp-control.js';
import {
  FaultInjector,
  type FaultInput,
  faultFailure,
  type RandomFaultsInput,
} from './whatsapp-faults.js';
import {
  type Clock,
  DEFAULT_LIMITS,
  LIMIT_FAILURES,
  type LimitSettings,
  SendLimiter,
} from './whatsapp-limits.js';
import { StatsLedger } from './whatsapp-stats.js';
import { answerTemplateList } from './whatsapp-template-list.js';
import {
  loadTemplates,
  type TemplateDefinition,
} from './whatsapp-templates.js';

export type { CallbackRecord } from './whatsapp-callbacks.js';
export type { StandInSettings } from './whatsapp-control.js';
export type { StandInStats } from './whatsapp-stats.js';

/** One request the stand-in received, kept for inspection. */
export interface RecordedRequest {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  /** Header names lower-cased; the bearer token is masked. */
  readonly headers: Record<string, string>;
  /** The body exactly as received. */
  readonly body: string;
  /** 0 when the stand-in held the request and dropped the connection. */
  readonly status: number;
  readonly response: unknown;
}

export interface StandInOptions {
  readonly token: string;
  readonly phoneNumberId: string;
  /** The account whose templates `GET .../message_templates` lists. */
  readonly businessAccountId?: string;
  /** @default a free port */
  readonly port?: number;
  readonly templates?: readonly TemplateDefinition[];
  /**
   * Throughput per phone number id (130429) and pair limit per recipient
   * (131056); a part left out keeps its default, `false` turns it off.
   * @default 80 messages per 1,000 ms; one message per 6 s per recipient
   * on average, bursts of 45
   */
  readonly limits?: Partial<LimitSettings>;
  /** Where and how status callbacks go. @default none are sent */
  readonly callbacks?: CallbackSettingsInput;
  /** Faults to answer from the start. */
  readonly faults?: {
    readonly queue?: readonly FaultInput[];
    readonly random?: RandomFaultsInput;
  };
  /** Time for the limits and the callbacks' timestamps. @default Date.now */
  readonly clock?: Clock;
  /**
   * How long each answer of the send endpoint takes, as Meta's round trip
   * does; limits and faults are decided when the request arrives.
   * @default 0
   */
  readonly latencyMs?: number;
}

export interface WhatsAppStandIn extends StandInControl {
  readonly url: string;
  /** Every request so far, oldest first. */
  requests(): readonly RecordedRequest[];
  /** Resolves once the callbacks scheduled so far have been posted. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const SEND_PATH = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/;
const MAX_RECORDED_REQUESTS = 1_000;

/** The parts that decide a valid send's fate, beside the template checks. */
interface SendState {
  readonly limiter: SendLimiter;
  readonly faults: FaultInjector;
  readonly callbacks: StatusCallbacks;
  readonly stats: StatsLedger;
}

/** What the stand-in does with a request. */
type Outcome = {
  readonly status: number;
  readonly answer: unknown;
  /** Hold the response this long, then drop the connection unanswered. */
  readonly holdMs?: number;
  /** Starts the status callbacks: once answered, or at once when held. */
  readonly startCallbacks?: () => void;
};

/**
 * A stand-in for the WhatsApp Cloud API's send endpoint. It answers as
 * Meta documents: bearer token, template registry, parameter rules, error
 * codes in Graph's error shape, and a `wamid` on success. A valid send
 * then meets, in this order: a fault queued or drawn at random
 * (`whatsapp-faults.ts`), the throughput and pair limits
 * (`whatsapp-limits.ts`), and once accepted and answered, signed status
 * callbacks (`whatsapp-callbacks.ts`). Each send is decided when it
 * arrives and answered after `latencyMs`, standing for Meta's round trip;
 * its stats count the most sends awaiting an answer at once. Control
 * routes live under `/_standin/` (`whatsapp-control.ts`).
 *
 * LIMITATION: it does not emulate media uploads, free-form messages,
 * callback retries, the `contacts` block of status callbacks, or Meta's
 * exact pair-limit algorithm (unpublished; an average rate with bursts).
 */
export const startWhatsAppStandIn = async (
  options: StandInOptions
): Promise<WhatsAppStandIn> => {
  const templates = options.templates ?? loadTemplates();
  const clock = options.clock ?? Date.now;
  const recorded: RecordedRequest[] = [];
  const state: SendState = {
    limiter: new SendLimiter({ ...DEFAULT_LIMITS, ...options.limits }, clock),
    faults: new FaultInjector(),
    callbacks: new StatusCallbacks(options.callbacks, clock),
    stats: new StatsLedger(clock),
  };
  state.faults.enqueue(options.faults?.queue ?? []);
  state.faults.setRandom(options.faults?.random);
  const holding = new Set<NodeJS.Timeout>();
  const later = (run: () => void, ms: number) => {
    const timer = setTimeout(() => {
      holding.delete(timer);
      run();
    }, ms);
    holding.add(timer);
  };
  // The token and the latency can be changed over the control route, as
  // Meta rotates a token or its round trip varies.
  const live = { token: options.token, latencyMs: options.latencyMs ?? 0 };
  const control = controlOf(state, recorded, live);
  /** Decides a send at once; answers it after the latency, or holds it. */
  const serveSend = (
    current: StandInOptions,
    request: IncomingMessage,
    response: ServerResponse,
    body: string
  ) => {
    state.stats.startRequest();
    response.once('close', () => state.stats.finishRequest());
    const outcome = respond(current, templates, state, request, body);
    const code = (outcome.answer as { error?: { code?: number } }).error?.code;
    if (code !== undefined) state.stats.countError(code);
    recorded.push(record(request, body, outcome.status, outcome.answer));
    if (recorded.length > MAX_RECORDED_REQUESTS) recorded.shift();
    if (outcome.holdMs !== undefined) {
      outcome.startCallbacks?.();
      return later(() => response.destroy(), outcome.holdMs);
    }
    const answer = () => {
      send(response, outcome.status, outcome.answer);
      outcome.startCallbacks?.();
    };
    if (live.latencyMs === 0) return answer();
    later(answer, live.latencyMs);
  };
  const server = createServer((request, response) => {
    readText(request)
      .then((body) => {
        const current = { ...options, token: live.token };
        const path = (request.url ?? '').split('?')[0] ?? '';
        const routed = handleControl(control, request.method ?? '', path, body);
        if (routed !== undefined) {
          return send(response, routed.status, routed.answer);
        }
        const listing = answerTemplateList(current, templates, request, url);
        if (listing !== undefined) {
          const answer =
            'failure' in listing ? failure(listing.failure) : listing;
          return send(response, answer.status, answer.answer);
        }
        serveSend(current, request, response, body);
      })
      .catch(() => send(response, 500, graphError(serverError())));
  });
  let url = '';
  const port = await listen(
    server,
    options.port ?? 0,
    LOOPBACK,
    'WAPTO_WHATSAPP_PORT'
  );

  url = `http://${LOOPBACK}:${port}`;

  return {
    ...control,
    url,
    settled: () => state.callbacks.idle(),
    close: async () => {
      for (const timer of holding) clearTimeout(timer);
      holding.clear();
      await state.callbacks.close();
      await closeServer(server);
    },
  };
};

const controlOf = (
  state: SendState,
  recorded: RecordedRequest[],
  live: { token: string; latencyMs: number }
): StandInControl & { requests(): readonly RecordedRequest[] } => ({
  requests: () => [...recorded],
  stats: () => state.stats.snapshot(),
  callbacks: () => state.callbacks.records(),
  faults: () => state.faults.settings(),
  injectFaults: (faults) => state.faults.enqueue(faults),
  setRandomFaults: (random) => state.faults.setRandom(random),
  clearFaults: () => state.faults.clear(),
  configure: (input: StandInSettings) => {
    const settings = settingsSchema.parse(input);
    if (settings.limits !== undefined) {
      state.limiter.configure({
        ...state.limiter.current(),
        ...settings.limits,
      });
    }
    if (settings.callbacks !== undefined) {
      state.callbacks.configure(settings.callbacks ?? undefined);
    }
    if (settings.token !== undefined) live.token = settings.token;
    if (settings.latencyMs !== undefined) live.latencyMs = settings.latencyMs;
  },
  settings: () => ({
    limits: state.limiter.current(),
    callbacks: state.callbacks.current() ?? null,
    latencyMs: live.latencyMs,
  }),
  reset: () => {
    recorded.splice(0);
    state.stats.reset();
    state.limiter.reset();
    state.faults.clear();
    state.callbacks.clearRecords();
  },
});

const respond = (
  options: StandInOptions,
  templates: readonly TemplateDefinition[],
  state: SendState,
  request: IncomingMessage,
  body: string
): Outcome => {
  const match = SEND_PATH.exec((request.url ?? '').split('?')[0] ?? '');
  if (request.method !== 'POST' || match === null) {
    return failure({
      status: 400,
      code: 100,
      message: `Unknown path components: ${request.url ?? ''}`,
      details:
        `the stand-in serves POST /${WHATSAPP_API_VERSION}` +
        '/{phone-number-id}/messages',
    });
  }
  if (request.headers.authorization !== `Bearer ${options.token}`) {
    return failure({
      status: 401,
      code: 190,
      message: 'Invalid OAuth access token - Cannot parse access token',
      details: 'the bearer token is missing or is not the configured one',
    });
  }
  if (match[2] !== options.phoneNumberId) return unknownObject(match[2] ?? '');
  const parsed = parseJson(body);
  if (parsed === undefined) {
    return failure({
      status: 400,
      code: 100,
      message: '(#100) Invalid parameter',
      details: 'the request body is not JSON',
    });
  }
  const verdict = checkSendRequest(templates, parsed);
  if (!verdict.ok) return failure(verdict.failure);

  return decideSend(state, options.phoneNumberId, parsed, body, verdict);
};

/**
 * A valid send's fate: an injected fault, else the limits, else accepted.
 * Injected faults bypass the limits and use none of their quota.
 */
const decideSend = (
  state: SendState,
  phoneNumberId: string,
  parsed: unknown,
  body: string,
  verdict: Extract<CheckResult, { ok: true }>
): Outcome => {
  const recipient = verdict.waId;
  const fault = state.faults.next(recipient);
  if (fault !== undefined) state.stats.countFault(fault.kind);
  if (
    fault?.kind === 'server_error' ||
    fault?.kind === 'throughput' ||
    fault?.kind === 'pair'
  ) {
    return failure(faultFailure(fault));
  }
  if (fault === undefined) {
    const limit = state.limiter.admit(phoneNumberId, recipient);
    if (limit !== 'ok') return failure(LIMIT_FAILURES[limit]);
  }
  const dropped = fault?.kind === 'timeout' ? fault : undefined;
  if (dropped !== undefined && !dropped.accept) return held(dropped.holdMs);
  const wamid = newWamid();
  state.stats.countAccepted(recipient, wamid, parsed, body);
  const opaque = (parsed as { biz_opaque_callback_data?: unknown })
    .biz_opaque_callback_data;
  const startCallbacks = () =>
    state.callbacks.report(
      {
        wamid,
        phoneNumberId,
        recipientId: recipient,
        category: verdict.template.category.toLowerCase(),
        ...(typeof opaque === 'string'
          ? { bizOpaqueCallbackData: opaque }
          : {}),
      },
      fault?.kind !== 'undeliverable'
    );
  if (dropped !== undefined) {
    return { ...held(dropped.holdMs, wamid), startCallbacks };
  }

  return {
    startCallbacks,
    status: 200,
    answer: {
      messaging_product: 'whatsapp',
      contacts: [{ input: (parsed as { to: string }).to, wa_id: recipient }],
      messages: [{ id: wamid, message_status: 'accepted' }],
    },
  };
};

/** A request held unanswered; the record says so (status 0). */
const held = (holdMs: number, acceptedAs?: string): Outcome => ({
  status: 0,
  answer: { dropped: true, holdMs, ...(acceptedAs ? { acceptedAs } : {}) },
  holdMs,
});

const failure = (graph: GraphFailure) => ({
  status: graph.status,
  answer: graphError(graph),
});

/** Meta's answer when a phone number id is not the account's. */
const unknownObject = (id: string) => ({
  status: 400,
  answer: {
    error: {
      message:
        `Unsupported post request. Object with ID '${id}' does not exist, ` +
        'cannot be loaded due to missing permissions, or does not support ' +
        'this operation.',
      type: 'GraphMethodException',
      code: 100,
      error_subcode: 33,
      fbtrace_id: traceId(),
    },
  },
});

const serverError = (): GraphFailure => ({
  status: 500,
  code: 131000,
  message: '(#131000) Something went wrong',
  details: 'the stand-in failed to read the request',
});

const graphError = (graph: GraphFailure) => ({
  error: {
    message: graph.message,
    type: 'OAuthException',
    code: graph.code,
    error_data: { messaging_product: 'whatsapp', details: graph.details },
    fbtrace_id: traceId(),
  },
});

const record = (
  request: IncomingMessage,
  body: string,
  status: number,
  response: unknown
): RecordedRequest => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  if (headers.authorization !== undefined) headers.authorization = 'Bearer ***';

  return {
    at: new Date().toISOString(),
    method: request.method ?? '',
    path: request.url ?? '',
    headers,
    body,
    status,
    response,
  };
};

const readText = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);

  return Buffer.concat(chunks).toString('utf8');
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const send = (response: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    'x-fb-trace-id': traceId(),
  });
  response.end(text);
};

const newWamid = (): string => `wamid.${randomBytes(30).toString('base64url')}`;

const traceId = (): string => randomBytes(8).toString('base64url').slice(0, 11);
