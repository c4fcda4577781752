import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createTokenVerifier, jwtSettingsFromEnv } from '#shared/auth/jwt';
import { limits } from '#shared/config/limits';
import { logger } from './lib/observability';

const verifier = createTokenVerifier(jwtSettingsFromEnv());

/**
 * `$connect` REQUEST authorizer: `?token=<JWT>&deviceId=<id>`. Throwing "Unauthorized" makes API
 * Gateway refuse the handshake with 401; the context reaches every later event of the connection.
 */
export const handler = middy<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const token = event.queryStringParameters?.token;
    const deviceId = event.queryStringParameters?.deviceId;
    if (!token || !deviceId || !limits.deviceIdPattern.test(deviceId)) throw new Error('Unauthorized');
    let userId: string;
    try {
      ({ userId } = await verifier.verify(token));
    } catch {
      logger.info('connection refused: invalid token');
      throw new Error('Unauthorized');
    }
    return {
      principalId: userId,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
      },
      context: { userId, deviceId },
    };
  });
