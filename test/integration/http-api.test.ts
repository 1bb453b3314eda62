import { request as httpRequest } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FunctionKey, Functions } from '../../lib/definitions.js';
import { type HttpApi, startHttpApi } from '../../local/http-api.js';
import type { LocalFunction, LocalFunctions } from '../../local/lambda.js';

/**
 * The local HTTP API against real HTTP requests: the events it builds for
 * the functions and the answers it makes of their results. The functions
 * here record what they get; the subject is the API layer.
 */
let api: HttpApi;
let events: APIGatewayProxyEventV2[] = [];
let result: () => unknown = () => ({ statusCode: 204 });

const recording = (key: FunctionKey): LocalFunction => ({
  key,
  name: `test-${key}`,
  definition: Functions[key],
  invoke: async (event) => {
    events.push(event as APIGatewayProxyEventV2);
    return result();
  },
});

beforeAll(async () => {
  const functions = Object.fromEntries(
    (Object.keys(Functions) as FunctionKey[]).map((key) => [
      key,
      recording(key),
    ])
  ) as LocalFunctions;
  api = await startHttpApi({ port: 0, functions: () => functions });
});

afterAll(async () => {
  await api?.close();
});

beforeEach(() => {
  events = [];
  result = () => ({ statusCode: 204 });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Raw HTTP, so repeated headers reach the server as separate lines. */
const send = (
  method: string,
  path: string,
  headers: Record<string, string | string[]> = {},
  body?: Buffer
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const call = httpRequest(
      `${api.url}${path}`,
      { method, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          })
        );
      }
    );
    call.on('error', reject);
    call.end(body);
  });

describe('HTTP API events (payload format 2.0)', () => {
  it('builds the event as API Gateway does', async () => {
    // Arrange
    const body = Buffer.from('{"id":"evt_1"}');

    // Act
    await send(
      'POST',
      '/webhooks/wh_1?x=1&x=2&y=a%20b',
      {
        'Content-Type': 'application/json',
        'X-Repeated': ['one', 'two'],
        Cookie: 'a=1; b=2',
        'User-Agent': 'test-agent',
      },
      body
    );

    // Assert
    const [event] = events;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /webhooks/{webhookId}',
      rawPath: '/webhooks/wh_1',
      rawQueryString: 'x=1&x=2&y=a%20b',
      cookies: ['a=1', 'b=2'],
      queryStringParameters: { x: '1,2', y: 'a b' },
      pathParameters: { webhookId: 'wh_1' },
      body: '{"id":"evt_1"}',
      isBase64Encoded: false,
      requestContext: {
        accountId: expect.any(String),
        apiId: expect.any(String),
        domainName: new URL(api.url).host,
        domainPrefix: expect.any(String),
        http: {
          method: 'POST',
          path: '/webhooks/wh_1',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'test-agent',
        },
        requestId: expect.any(String),
        routeKey: 'POST /webhooks/{webhookId}',
        stage: '$default',
        time: expect.stringMatching(
          /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/
        ),
        timeEpoch: expect.any(Number),
      },
    });
    expect(event?.headers['x-repeated']).toBe('one,two');
    expect(event?.headers['content-type']).toBe('application/json');
    expect(event?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(event?.headers).not.toHaveProperty('cookie');
    expect(Object.keys(event?.headers ?? {})).toEqual(
      Object.keys(event?.headers ?? {}).map((name) => name.toLowerCase())
    );
  });

  it.each([
    ['application/json; charset=utf-8', false],
    ['text/plain', false],
    ['application/xml', false],
    ['application/javascript', false],
    ['application/x-www-form-urlencoded', true],
    ['application/octet-stream', true],
    [undefined, true],
  ])('passes a %s body with isBase64Encoded %s', async (type, base64) => {
    // Arrange
    const body = Buffer.from('a=1&b=caf\u00e9');
    const headers: Record<string, string> =
      type === undefined ? {} : { 'Content-Type': type };

    // Act
    await send('POST', '/webhooks/wh_1', headers, body);

    // Assert
    const [event] = events;
    expect(event?.isBase64Encoded).toBe(base64);
    const decoded = Buffer.from(event?.body ?? '', base64 ? 'base64' : 'utf8');
    expect(decoded.equals(body)).toBe(true);
  });

  it('gives admin routes an IAM caller and omits absent fields', async () => {
    // Act
    await send('GET', '/admin/webhooks');

    // Assert
    const [event] = events;
    expect(event?.routeKey).toBe('GET /admin/webhooks');
    expect(event).not.toHaveProperty('body');
    expect(event).not.toHaveProperty('pathParameters');
    expect(event?.requestContext).toMatchObject({
      authorizer: { iam: { userArn: expect.stringContaining(':user/') } },
    });
  });
});

describe('HTTP API answers', () => {
  it('answers 404 {"message":"Not Found"} for an unknown route', async () => {
    // Act
    const answers = await Promise.all([
      send('GET', '/nowhere'),
      send('GET', '/webhooks/wh_1/extra'),
      send('POST', '/webhooks/'),
    ]);

    // Assert
    for (const answer of answers) {
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.body.toString())).toEqual({
        message: 'Not Found',
      });
    }
    expect(events).toEqual([]);
  });

  it('answers 413 to a body over 10 MB, calling nothing', async () => {
    // Arrange
    const body = Buffer.alloc(10 * 1024 * 1024 + 1, 'a');

    // Act
    const answer = await send('POST', '/webhooks/wh_1', {}, body);

    // Assert
    expect(answer.status).toBe(413);
    expect(events).toEqual([]);
  });

  it('maps a structured result with cookies and base64 body', async () => {
    // Arrange
    result = () => ({
      statusCode: 201,
      headers: { 'Content-Type': 'text/plain', 'X-Id': 7 },
      cookies: ['session=1; HttpOnly', 'theme=dark'],
      body: Buffer.from('created').toString('base64'),
      isBase64Encoded: true,
    });

    // Act
    const answer = await send('GET', '/admin/webhooks');

    // Assert
    expect(answer.status).toBe(201);
    expect(answer.headers['content-type']).toBe('text/plain');
    expect(answer.headers['x-id']).toBe('7');
    expect(answer.headers['set-cookie']).toEqual([
      'session=1; HttpOnly',
      'theme=dark',
    ]);
    expect(answer.headers['apigw-requestid']).toBeTruthy();
    expect(answer.body.toString()).toBe('created');
  });

  it('answers 200 JSON for a result without a status code', async () => {
    // Arrange
    result = () => ({ webhooks: [] });

    // Act
    const answer = await send('GET', '/admin/webhooks');

    // Assert
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer.body.toString())).toEqual({ webhooks: [] });
  });

  it('answers 500 Internal Server Error when the function throws', async () => {
    // Arrange
    result = () => {
      throw new Error('boom');
    };

    // Act
    const answer = await send('GET', '/admin/webhooks');

    // Assert
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body.toString())).toEqual({
      message: 'Internal Server Error',
    });
  });
});
