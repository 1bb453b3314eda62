import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Routes } from '../lib/definitions.js';
import { gatewayAnswer, type HttpAnswer, toHttpAnswer } from './api-answer.js';
import {
  buildEvent,
  matchRoute,
  newRequestId,
  type RawRequest,
} from './api-event.js';
import { type LocalFunctions, newTraceId } from './lambda.js';
import { closeServer, LOOPBACK, listen } from './net.js';

/** HTTP API's payload limit (FACTS E). */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export interface RequestSummary {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  /** Set when the function failed, for the terminal. */
  readonly error?: unknown;
}

export interface HttpApiOptions {
  /** @default 3000 */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** The functions, once loaded; requests before that get a 503. */
  readonly functions: () => LocalFunctions | undefined;
  readonly onRequest?: (summary: RequestSummary) => void;
}

export interface HttpApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A local stand-in for the HTTP API: it matches `Routes`, builds payload
 * 2.0 events, invokes the route's function and maps its result back.
 * Admin routes use IAM in AWS; locally they answer loopback callers only.
 */
export const startHttpApi = async (
  options: HttpApiOptions
): Promise<HttpApi> => {
  const host = options.host ?? LOOPBACK;
  const server = createServer((request, response) => {
    void serve(request, response, options);
  });
  const port = await listen(server, options.port ?? 3000, host, 'WAPTO_PORT');
  const shownHost = host === '0.0.0.0' ? LOOPBACK : host;

  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () => closeServer(server),
  };
};

const serve = async (
  request: IncomingMessage,
  response: ServerResponse,
  options: HttpApiOptions
): Promise<void> => {
  const started = Date.now();
  const requestId = newRequestId();
  let outcome: { answer: HttpAnswer; error?: unknown };
  try {
    outcome = await handle(request, options, requestId);
  } catch (error) {
    outcome = { answer: gatewayAnswer(500, 'Internal Server Error'), error };
  }
  write(response, outcome.answer, requestId);
  options.onRequest?.({
    method: request.method ?? '',
    path: (request.url ?? '').split('?')[0] ?? '',
    status: outcome.answer.statusCode,
    durationMs: Date.now() - started,
    error: outcome.error,
  });
};

const handle = async (
  request: IncomingMessage,
  options: HttpApiOptions,
  requestId: string
): Promise<{ answer: HttpAnswer; error?: unknown }> => {
  const body = await readBody(request);
  if (body === undefined) {
    return { answer: gatewayAnswer(413, 'Request Entity Too Large') };
  }
  const target = request.url ?? '/';
  const path = target.split('?')[0] ?? '/';
  const matched = matchRoute(Routes, request.method ?? '', path);
  if (matched === undefined) {
    return { answer: gatewayAnswer(404, 'Not Found') };
  }
  const sourceIp = clientAddress(request);
  if (matched.route.auth === 'iam' && !isLoopback(sourceIp)) {
    return { answer: gatewayAnswer(403, 'Forbidden') };
  }
  const functions = options.functions();
  if (functions === undefined) {
    return { answer: gatewayAnswer(503, 'Service Unavailable') };
  }
  const traceId = newTraceId();
  const raw: RawRequest = {
    method: request.method ?? 'GET',
    target,
    rawHeaders: request.rawHeaders,
    body,
    sourceIp,
    httpVersion: request.httpVersion,
    localPort: request.socket.localPort ?? 0,
  };
  // LIMITATION: Lambda's 6 MB limit on a synchronous invocation's event and
  // result is not enforced; the product's 4 MiB body limit is chosen to stay
  // under it even for base64-encoded bodies.
  // A function that throws or times out becomes a 500 in `serve`.
  const result = await functions[matched.route.target].invoke(
    buildEvent(raw, matched, { requestId, traceId })
  );

  return { answer: toHttpAnswer(result) };
};

/** The whole body, or `undefined` when it is over the limit (drained). */
const readBody = async (
  request: IncomingMessage
): Promise<Buffer | undefined> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk as Buffer);
  }

  return size > MAX_REQUEST_BYTES ? undefined : Buffer.concat(chunks);
};

const clientAddress = (request: IncomingMessage): string =>
  (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');

const isLoopback = (address: string): boolean =>
  address === '::1' || address.startsWith('127.');

const write = (
  response: ServerResponse,
  answer: HttpAnswer,
  requestId: string
): void => {
  if (response.headersSent) return;
  const headers: Record<string, string | string[]> = {
    ...answer.headers,
    'content-length': String(answer.body.length),
    'apigw-requestid': requestId,
  };
  if (answer.cookies.length > 0) headers['set-cookie'] = [...answer.cookies];
  response.writeHead(answer.statusCode, headers);
  response.end(answer.body);
};
