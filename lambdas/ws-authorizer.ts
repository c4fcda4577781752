import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createTokenVerifier, jwtSettingsFromEnv } from '#shared/auth/jwt';
import { limits } from '#shared/config/limits';
import { logger, observed } from './lib/observability';
import { createAccountStanding, createConnectTicketStore } from './lib/security-wiring';

const verifier = createTokenVerifier(jwtSettingsFromEnv());
const tickets = createConnectTicketStore();
const standing = createAccountStanding();

/** The authorizer contract: this message makes API Gateway refuse the handshake with 401. */
const unauthorized = () => new Error('Unauthorized');

/** The user a ticket (single use, consumed here) or a JWT names; exactly one of the two must be given. */
async function userOf(token: string | undefined, ticket: string | undefined): Promise<string> {
  if ((token === undefined) === (ticket === undefined)) throw unauthorized();
  if (ticket !== undefined) {
    const userId = await tickets.consume(ticket);
    if (userId === undefined) {
      logger.info('connection refused: unknown, used or expired ticket');
      throw unauthorized();
    }
    return userId;
  }
  try {
    return (await verifier.verify(token ?? '')).userId;
  } catch {
    logger.info('connection refused: invalid token');
    throw unauthorized();
  }
}

const policy = (userId: string, effect: 'Allow' | 'Deny', resource: string) => ({
  principalId: userId,
  policyDocument: {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
  },
});

/**
 * `$connect` REQUEST authorizer: `?ticket=<connect ticket>&deviceId=<id>` (browsers; see
 * POST /connect-ticket), or `?token=<JWT>&deviceId=<id>` (non-browser clients). Throwing
 * "Unauthorized" refuses the handshake with 401, a Deny policy with 403 (the device limit);
 * the context reaches every later event of the connection.
 */
export const handler = middy<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>()
  .use(observed())
  .handler(async (event) => {
    const query = event.queryStringParameters ?? {};
    const deviceId = query.deviceId;
    if (!deviceId || !limits.deviceIdPattern.test(deviceId)) throw unauthorized();
    const userId = await userOf(query.token || undefined, query.ticket || undefined);

    const verdict = await standing.forConnect(userId, deviceId);
    if (verdict.kind === 'deleted') {
      logger.info('connection refused: deleted account');
      throw unauthorized();
    }
    if (verdict.kind === 'deviceLimit') {
      logger.info('connection refused: device limit', { activeDevices: verdict.activeDevices });
      return policy(userId, 'Deny', event.methodArn);
    }
    return { ...policy(userId, 'Allow', event.methodArn), context: { userId, deviceId } };
  });
