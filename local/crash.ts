import { AsyncLocalStorage } from 'node:async_hooks';
import type { SQSEvent } from 'aws-lambda';
import {
  EnvironmentCrash,
  type Handler,
  type HandlerWrapper,
} from './lambda.js';

/**
 * Kills a sender invocation right after WhatsApp answered a send to a
 * chosen recipient, before the sender can record anything: the crash the
 * send ledger must survive without sending twice. Handlers and the local
 * runtime share one process, so the injector wraps the global `fetch`
 * (the product's WhatsApp client calls it) and the sender's handler (to
 * fail the invocation as a dead environment fails); product code is not
 * touched.
 */
export interface CrashInjector {
  /** Give this to `startRuntime({ wrapHandlers: { sender: ... } })`. */
  readonly wrap: HandlerWrapper;
  /** Crashes the next invocation whose send to `to` (digits) is answered. */
  arm(to: string): Promise<CrashReport>;
  /** Puts the global `fetch` back. */
  restore(): void;
}

export interface CrashReport {
  /** The event of the invocation that died; its records stay in flight. */
  readonly event: SQSEvent;
  /** HTTP status of WhatsApp's answer that the sender never saw. */
  readonly status: number;
}

interface Invocation {
  readonly event: SQSEvent;
  readonly crash: (error: Error) => void;
}

export const crashInjector = (): CrashInjector => {
  const current = new AsyncLocalStorage<Invocation>();
  const realFetch = globalThis.fetch;
  let armed:
    | { readonly to: string; readonly fire: (report: CrashReport) => void }
    | undefined;

  globalThis.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    const invocation = current.getStore();
    const target = armed;
    if (
      invocation === undefined ||
      target === undefined ||
      !sendsTo(init?.body, target.to)
    ) {
      return response;
    }
    armed = undefined;
    // The answer arrived in full; the environment dies before using it.
    await response.arrayBuffer();
    target.fire({ event: invocation.event, status: response.status });
    invocation.crash(
      new EnvironmentCrash('the environment died after WhatsApp answered')
    );

    return new Promise<never>(() => {});
  };

  const wrap =
    (handler: Handler): Handler =>
    (event, context) =>
      new Promise((resolve, reject) => {
        current.run({ event: event as SQSEvent, crash: reject }, () => {
          handler(event, context).then(resolve, reject);
        });
      });

  return {
    wrap,
    arm: (to) =>
      new Promise<CrashReport>((fire) => {
        armed = { to: to.replace(/^\+/, ''), fire };
      }),
    restore: () => {
      globalThis.fetch = realFetch;
    },
  };
};

const sendsTo = (body: unknown, to: string): boolean => {
  if (typeof body !== 'string') return false;
  try {
    const parsed = JSON.parse(body) as { to?: unknown };
    return String(parsed.to ?? '').replace(/^\+/, '') === to;
  } catch {
    return false;
  }
};
