import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { WHATSAPP_API_VERSION } from '../lib/definitions.js';
import { closeServer, LOOPBACK, listen } from './net.js';
import { checkSendRequest, type GraphFailure } from './whatsapp-check.js';
import { answerTemplateList } from './whatsapp-template-list.js';
import {
  loadTemplates,
  type TemplateDefinition,
} from './whatsapp-templates.js';

/** One request the stand-in received, kept for inspection. */
export interface RecordedRequest {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  /** Header names lower-cased; the bearer token is masked. */
  readonly headers: Record<string, string>;
  /** The body exactly as received. */
  readonly body: string;
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
}

export interface WhatsAppStandIn {
  readonly url: string;
  /** Every request so far, oldest first. */
  requests(): readonly RecordedRequest[];
  close(): Promise<void>;
}

const SEND_PATH = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/;
const RECORDS_PATH = '/_standin/requests';
const MAX_RECORDED_REQUESTS = 1_000;

/**
 * A stand-in for the WhatsApp Cloud API's send endpoint. It answers as
 * Meta documents: bearer token, template registry, parameter rules, error
 * codes in Graph's error shape, and a `wamid` on success.
 *
 * LIMITATION: it does not emulate throughput or pair rate limits (130429,
 * 131056), delivery status callbacks, media uploads or free-form messages.
 */
export const startWhatsAppStandIn = async (
  options: StandInOptions
): Promise<WhatsAppStandIn> => {
  const templates = options.templates ?? loadTemplates();
  const recorded: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    readText(request)
      .then((body) => {
        if (request.method === 'GET' && request.url === RECORDS_PATH) {
          return send(response, 200, recorded);
        }
        const listing = answerTemplateList(options, templates, request, url);
        if (listing !== undefined) {
          const answer =
            'failure' in listing ? failure(listing.failure) : listing;
          return send(response, answer.status, answer.answer);
        }
        const { status, answer } = respond(options, templates, request, body);
        recorded.push(record(request, body, status, answer));
        if (recorded.length > MAX_RECORDED_REQUESTS) recorded.shift();
        send(response, status, answer);
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
    url,
    requests: () => [...recorded],
    close: () => closeServer(server),
  };
};

const respond = (
  options: StandInOptions,
  templates: readonly TemplateDefinition[],
  request: IncomingMessage,
  body: string
): { status: number; answer: unknown } => {
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
  const to = (parsed as { to: string }).to;

  return {
    status: 200,
    answer: {
      messaging_product: 'whatsapp',
      contacts: [{ input: to, wa_id: verdict.waId }],
      messages: [{ id: newWamid(), message_status: 'accepted' }],
    },
  };
};

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
