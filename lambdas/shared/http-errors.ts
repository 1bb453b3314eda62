import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { AppError } from './domain/errors.js';

type HttpResult = APIGatewayProxyStructuredResultV2;

/** A JSON answer with the house headers. */
export const jsonResponse = (
  statusCode: number,
  body: unknown
): HttpResult => ({
  statusCode,
  headers: {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  },
  body: JSON.stringify(body),
});

/** The answer with an `Allow` header, when a 405 names the methods. */
export const withAllow = (
  response: HttpResult,
  allow: string | undefined
): HttpResult =>
  allow ? { ...response, headers: { ...response.headers, allow } } : response;

/**
 * Turns errors into JSON answers with a stable `code`. Product errors keep
 * their message; anything else is logged and answered with a generic 500.
 */
export const httpErrors = (
  logger: Logger
): MiddlewareObj<APIGatewayProxyEventV2, HttpResult> => ({
  onError: async (request) => {
    const error = request.error;
    if (error instanceof AppError) {
      const details = (error as { details?: readonly string[] }).details;
      request.response = jsonResponse(error.status, {
        code: error.code,
        message: error.message,
        ...(details && details.length > 0 ? { details } : {}),
      });
      return;
    }
    logger.error('request failed', { error: error as Error });
    request.response = jsonResponse(500, {
      code: 'internal_error',
      message: 'The request could not be completed; it is safe to retry.',
    });
  },
});
