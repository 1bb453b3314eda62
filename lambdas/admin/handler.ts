import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithIAMAuthorizer,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { NotFoundError } from '../shared/domain/errors.js';
import { httpErrors, jsonResponse } from '../shared/http-errors.js';
import { observability } from '../shared/observability.js';
import { adminRoutes } from './routes.js';

const { logger } = observability('admin');

/** The admin API: one function, routed by API Gateway's route key. */
const route = async (
  event: APIGatewayProxyEventV2
): Promise<APIGatewayProxyStructuredResultV2> => {
  const target = adminRoutes[event.routeKey];
  if (!target) {
    throw new NotFoundError('route_not_found', `No route ${event.routeKey}.`);
  }
  const result = await target(event);
  logger.info('admin request', {
    route: event.routeKey,
    status: result.status,
    caller: (event as APIGatewayProxyEventV2WithIAMAuthorizer).requestContext
      .authorizer?.iam?.userArn,
  });

  return jsonResponse(result.status, result.body);
};

export const handler = middy(route)
  .use(injectLambdaContext(logger))
  .use(httpErrors(logger));
