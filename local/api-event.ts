import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type RouteDefinition, routeKey } from '../lib/definitions.js';
import { LOCAL_ACCOUNT_ID } from './resources.js';

/**
 * Builds API Gateway HTTP API events (payload format 2.0) following AWS's
 * rules (FACTS E) rather than convenience.
 */

/** What arrived on the wire, before any interpretation. */
export interface RawRequest {
  readonly method: string;
  /** Path and query as sent, e.g. `/webhooks/abc?x=1`. */
  readonly target: string;
  /** Node's `rawHeaders`: names and values alternating, as sent. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly sourceIp: string;
  readonly httpVersion: string;
  readonly localPort: number;
}

export interface MatchedRoute {
  readonly route: RouteDefinition;
  readonly pathParameters: Record<string, string>;
}

export const LOCAL_API_ID = 'waptolocal';

/** Bodies API Gateway hands over as text; everything else is base64. */
const TEXT_MEDIA_TYPES = new Set([
  'application/json',
  'application/xml',
  'application/javascript',
]);

/** Connection-level headers that end at API Gateway's front door. */
const HOP_BY_HOP_HEADERS = new Set(['connection', 'keep-alive']);

/** Finds the route for a method and path, as HTTP API matches them. */
export const matchRoute = (
  routes: readonly RouteDefinition[],
  method: string,
  path: string
): MatchedRoute | undefined => {
  const segments = path.split('/');
  // A route naming the method wins over an ANY route, as in HTTP API.
  const candidates = [
    ...routes.filter((route) => route.method === method),
    ...routes.filter((route) => route.method === 'ANY'),
  ];
  for (const route of candidates) {
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    const pathParameters: Record<string, string> = {};
    const matches = pattern.every((part, index) => {
      const segment = segments[index] ?? '';
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name === undefined) return part === segment;
      if (segment === '') return false;
      pathParameters[name] = safeDecode(segment);
      return true;
    });
    if (matches) return { route, pathParameters };
  }

  return undefined;
};

const safeDecode = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/** Whether API Gateway would pass this body as text (not base64). */
export const isTextContentType = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false;
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';

  return mediaType.startsWith('text/') || TEXT_MEDIA_TYPES.has(mediaType);
};

/**
 * Header names lower-cased and repeated headers joined with commas; the
 * `cookie` header becomes `cookies[]`. API Gateway adds the forwarding
 * headers and a trace id of its own.
 */
export const collectHeaders = (
  request: RawRequest,
  traceId: string
): { headers: Record<string, string>; cookies: string[] } => {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let index = 0; index + 1 < request.rawHeaders.length; index += 2) {
    const name = (request.rawHeaders[index] ?? '').toLowerCase();
    const value = request.rawHeaders[index + 1] ?? '';
    if (HOP_BY_HOP_HEADERS.has(name)) continue;
    if (name === 'cookie') {
      cookies.push(...value.split(';').map((part) => part.trim()));
      continue;
    }
    headers[name] = Object.hasOwn(headers, name)
      ? `${headers[name]},${value}`
      : value;
  }
  const forwardedFor = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor
    ? `${forwardedFor}, ${request.sourceIp}`
    : request.sourceIp;
  headers['x-forwarded-port'] = String(request.localPort);
  headers['x-forwarded-proto'] = 'http';
  headers['x-amzn-trace-id'] = traceId.split(';')[0] ?? traceId;

  return { headers, cookies: cookies.filter((cookie) => cookie !== '') };
};

/** The event API Gateway would send to the route's function. */
export const buildEvent = (
  request: RawRequest,
  matched: MatchedRoute,
  ids: { readonly requestId: string; readonly traceId: string },
  now: Date = new Date()
): APIGatewayProxyEventV2 => {
  const queryStart = request.target.indexOf('?');
  const rawPath =
    queryStart < 0 ? request.target : request.target.slice(0, queryStart);
  const rawQueryString =
    queryStart < 0 ? '' : request.target.slice(queryStart + 1);
  const { headers, cookies } = collectHeaders(request, ids.traceId);
  const domainName = headers.host ?? `127.0.0.1:${request.localPort}`;
  const key = routeKey(matched.route);
  const hasPathParameters = Object.keys(matched.pathParameters).length > 0;

  return {
    version: '2.0',
    routeKey: key,
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...queryParameters(rawQueryString),
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      ...iamAuthorizer(matched.route),
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: request.method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: ids.requestId,
      routeKey: key,
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...bodyFields(request.body, headers['content-type']),
    ...(hasPathParameters ? { pathParameters: matched.pathParameters } : {}),
  } as APIGatewayProxyEventV2;
};

const queryParameters = (
  rawQueryString: string
): { queryStringParameters?: Record<string, string> } => {
  if (rawQueryString === '') return {};
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters[name] = Object.hasOwn(parameters, name)
      ? `${parameters[name]},${value}`
      : value;
  }

  return { queryStringParameters: parameters };
};

// API Gateway places `isBase64Encoded` after `pathParameters`; key order
// changes nothing for handlers, so it stays next to the body here.
const bodyFields = (
  body: Buffer,
  contentType: string | undefined
): Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'> => {
  if (body.length === 0) return { isBase64Encoded: false };
  // LIMITATION: how API Gateway passes a text-typed body that is not valid
  // UTF-8 (Latin-1 JSON, gzip bytes) is not documented; here it arrives
  // base64-encoded so the exact bytes reach the verifier.
  if (isTextContentType(contentType) && isUtf8(body)) {
    return { body: body.toString('utf8'), isBase64Encoded: false };
  }

  return { body: body.toString('base64'), isBase64Encoded: true };
};

/**
 * Locally nobody signs requests with SigV4, so IAM routes carry a fixed
 * local caller in the shape API Gateway gives an IAM-authorised one.
 */
const iamAuthorizer = (route: RouteDefinition) =>
  route.auth === 'iam'
    ? {
        authorizer: {
          iam: {
            accessKey: 'LOCALACCESSKEY',
            accountId: LOCAL_ACCOUNT_ID,
            callerId: 'LOCALCALLER',
            cognitoIdentity: null,
            principalOrgId: null,
            userArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/local-admin`,
            userId: 'LOCALCALLER',
          },
        },
      }
    : {};

/** An id shaped like API Gateway's (`JKJaXmPLvHcESHA=`). */
export const newRequestId = (): string =>
  `${randomBytes(12).toString('base64').replace(/[+/]/g, 'A').slice(0, 15)}=`;

/** `12/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`. */
export const apiGatewayTime = (date: Date): string => {
  const pad = (value: number) => String(value).padStart(2, '0');
  const day = pad(date.getUTCDate());
  const month = date.toLocaleString('en-US', {
    month: 'short',
    timeZone: 'UTC',
  });
  const clock = [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    .map(pad)
    .join(':');

  return `${day}/${month}/${date.getUTCFullYear()}:${clock} +0000`;
};
