import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort, LOOPBACK, waitFor } from './net.js';
import { PROJECT_ROOT } from './paths.js';

export interface MotoServer {
  /** Base URL for AWS_ENDPOINT_URL, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /** File that receives moto's output; kept in memory when absent. */
  readonly logFile?: string;
  /** @default a free port */
  readonly port?: number;
}

const VENV_PYTHON = join(PROJECT_ROOT, '.venv', 'bin', 'python');
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 3_000;
const KEPT_OUTPUT_LINES = 20;

/*
 * Runs moto's server through a few lines of Python that first ask Linux to
 * send the server SIGTERM when this process dies. Without it a crashed or
 * SIGKILLed runtime would leave moto holding its port.
 */
const LAUNCHER = `
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
from moto.server import main
main(sys.argv[2:])
`;

/**
 * Installs the pinned Python tools when they are missing or outdated; the
 * script is idempotent and returns at once when they are in place.
 */
export const ensurePythonTools = async (): Promise<void> => {
  const script = join(PROJECT_ROOT, 'scripts', 'python-tools.sh');
  const child = spawn('bash', [script], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0 || !existsSync(VENV_PYTHON)) {
    throw new Error(
      `scripts/python-tools.sh failed (exit ${code}); moto is not installed.`
    );
  }
};

/**
 * Starts moto's server on the loopback interface and resolves once it
 * answers. The server stops with `stop()`, and also when this process
 * exits for any reason.
 */
export const startMoto = async (
  options: MotoOptions = {}
): Promise<MotoServer> => {
  await ensurePythonTools();
  const port = options.port ?? (await freePort());
  const output = openLog(options.logFile);
  const child = spawn(
    VENV_PYTHON,
    ['-c', LAUNCHER, String(process.pid), '-H', LOOPBACK, '-p', String(port)],
    { cwd: PROJECT_ROOT, stdio: ['ignore', output, output] }
  );
  if (typeof output === 'number') closeSync(output);
  const recent = keepRecentOutput(child);
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const stop = () => stopChild(child, killOnExit);
  const endpoint = `http://${LOOPBACK}:${port}`;
  try {
    await Promise.race([answers(endpoint), failsToStart(child, recent)]);
  } catch (error) {
    await stop();
    throw error;
  }

  return { endpoint, pid: child.pid ?? -1, stop };
};

const openLog = (logFile: string | undefined): number | 'pipe' => {
  if (logFile === undefined) return 'pipe';
  mkdirSync(dirname(logFile), { recursive: true });

  return openSync(logFile, 'w');
};

/** The last lines moto printed, for the error when it fails to start. */
const keepRecentOutput = (child: ChildProcess): (() => string) => {
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - KEPT_OUTPUT_LINES));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  return () => lines.join('\n');
};

const failsToStart = (child: ChildProcess, recent: () => string) =>
  new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const output = recent();
      reject(
        new Error(
          `moto exited during start-up (${signal ?? `code ${code}`}).` +
            (output === '' ? '' : `\n${output}`)
        )
      );
    });
  });

const answers = (endpoint: string) =>
  waitFor(
    async () => {
      try {
        const response = await fetch(`${endpoint}/moto-api/`);
        await response.body?.cancel();
        return response.ok ? true : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 100, what: 'moto to answer' }
  );

const stopChild = async (
  child: ChildProcess,
  killOnExit: () => void
): Promise<void> => {
  process.off('exit', killOnExit);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
};
