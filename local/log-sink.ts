import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Sends what handlers write to stdout and stderr (Powertools' JSON lines,
 * EMF metrics) to a file, as Lambda sends them to CloudWatch Logs, so the
 * terminal keeps the runtime's own short messages. Output is attributed by
 * async context, so concurrent invocations and the runtime's own output
 * never mix.
 */
export interface LogSink {
  readonly file: string;
  /** Runs `fn` with everything it writes going to the file. */
  capture<T>(fn: () => T): T;
  /** Puts stdout and stderr back as they were. */
  close(): void;
}

type Write = typeof process.stdout.write;

const insideHandler = new AsyncLocalStorage<true>();
let openSinks = 0;
let target: string | undefined;
let originals: { stdout: Write; stderr: Write } | undefined;

/**
 * Opens the sink, emptying `file`. One file serves the whole process: a
 * second sink opened while one is open writes to the first one's file.
 */
export const openLogSink = (file: string): LogSink => {
  if (openSinks === 0) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '');
    target = file;
    originals = { stdout: process.stdout.write, stderr: process.stderr.write };
    process.stdout.write = divert(originals.stdout);
    process.stderr.write = divert(originals.stderr);
  }
  openSinks += 1;
  let closed = false;
  const current = target ?? file;

  return {
    file: current,
    capture: (fn) => insideHandler.run(true, fn),
    close: () => {
      if (closed) return;
      closed = true;
      openSinks -= 1;
      if (openSinks === 0 && originals !== undefined) {
        process.stdout.write = originals.stdout;
        process.stderr.write = originals.stderr;
        originals = undefined;
      }
    },
  };
};

const divert = (original: Write): Write =>
  function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    if (insideHandler.getStore() !== true || target === undefined) {
      return (original as (...args: unknown[]) => boolean).call(
        this,
        chunk,
        ...rest
      );
    }
    appendFileSync(target, toText(chunk, rest[0]));
    const callback = rest.find((item) => typeof item === 'function');
    if (callback !== undefined) queueMicrotask(callback as () => void);

    return true;
  } as Write;

const toText = (chunk: unknown, encoding: unknown): string | Uint8Array => {
  if (typeof chunk === 'string') {
    return typeof encoding === 'string' && encoding !== 'utf8'
      ? Buffer.from(chunk, encoding as BufferEncoding)
      : chunk;
  }

  return chunk as Uint8Array;
};
