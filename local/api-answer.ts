import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * Turns a function's result into the HTTP answer API Gateway's HTTP API
 * gives for payload format 2.0, and writes API Gateway's own errors.
 */

/** An HTTP answer, ready to write. */
export interface HttpAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly cookies: readonly string[];
  readonly body: Buffer;
}

/** API Gateway's own answer for its errors: `{"message": ...}`. */
export const gatewayAnswer = (
  statusCode: number,
  message: string
): HttpAnswer => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  cookies: [],
  body: Buffer.from(JSON.stringify({ message })),
});

/**
 * Maps a handler's result the way payload format 2.0 does: a result with
 * `statusCode` is a structured response; anything else is a 200 whose body
 * is the result as JSON. A result API Gateway cannot read is a 500.
 */
export const toHttpAnswer = (result: unknown): HttpAnswer => {
  if (!isStructured(result)) {
    const body = typeof result === 'string' ? result : JSON.stringify(result);
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      cookies: [],
      body: Buffer.from(body ?? '', 'utf8'),
    };
  }
  const statusCode = Number(result.statusCode);
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    return gatewayAnswer(500, 'Internal Server Error');
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    headers[name.toLowerCase()] = String(value);
  }
  const text: unknown = result.body ?? '';
  if (typeof text !== 'string') {
    return gatewayAnswer(500, 'Internal Server Error');
  }

  return {
    statusCode,
    headers,
    cookies: result.cookies ?? [],
    body: result.isBase64Encoded
      ? Buffer.from(text, 'base64')
      : Buffer.from(text, 'utf8'),
  };
};

const isStructured = (
  result: unknown
): result is APIGatewayProxyStructuredResultV2 =>
  typeof result === 'object' &&
  result !== null &&
  !Array.isArray(result) &&
  'statusCode' in result;
