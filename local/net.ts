import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** The host every local server binds to unless told otherwise. */
export const LOOPBACK = '127.0.0.1';

/** A port the system reports free right now. */
export const freePort = async (): Promise<number> => {
  const server = createServer();
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');

  return port;
};

/** A port that is already taken; the message says how to choose another. */
export class PortTakenError extends Error {
  constructor(
    readonly port: number,
    readonly hint: string
  ) {
    super(`Port ${port} on ${LOOPBACK} is already in use. ${hint}`);
    this.name = 'PortTakenError';
  }
}

/**
 * Starts listening and resolves with the bound port, or rejects with a
 * `PortTakenError` naming the port and the variable that moves it.
 */
export const listen = async (
  server: Server,
  port: number,
  host: string,
  portVariable: string
): Promise<number> => {
  const failed = new Promise<never>((_, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new PortTakenError(
              port,
              `Stop whatever holds it or set ${portVariable} to another port.`
            )
          : error
      );
    });
  });
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), failed]);

  return (server.address() as AddressInfo).port;
};

/** Closes a server and every connection it still holds. */
export const closeServer = async (server: Server): Promise<void> => {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
};

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Says what was awaited, for the error when time runs out. */
  readonly what: string;
}

/**
 * Polls `check` until it returns something other than `undefined`. The
 * bound only guards against a hang; callers never assert on timing.
 */
export const waitFor = async <T>(
  check: () => Promise<T | undefined>,
  options: WaitOptions
): Promise<T> => {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `Gave up after ${options.timeoutMs / 1000} s ` +
          `waiting for ${options.what}.`
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
};
