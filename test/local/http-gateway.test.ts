/**
 * The local HTTP API with stand-in handlers: the local token issuer, API Gateway's JWT authorizer,
 * payload v2.0 events, CORS and limits, and the environment handlers get.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '#shared/auth/jwt';
import { tableNameFromEnv } from '#shared/config/env';
import { localTokenAudience, userIdForUsername } from '../../local/token-issuer';
import { startTestStack, type TestStack } from '../support/local-stack';

const events: APIGatewayProxyEventV2WithJWTAuthorizer[] = [];
let stack: TestStack;

async function call(
  method: string,
  path: string,
  init: { token?: string; body?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${stack.httpUrl}${path}`, {
    method,
    headers: { ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

async function tokenFor(username: string): Promise<{ token: string; userId: string }> {
  const { status, body } = await call('POST', '/local/token', { body: JSON.stringify({ username }) });
  expect(status).toBe(200);
  return body;
}

beforeAll(async () => {
  stack = await startTestStack('http-gateway', {
    handlerOverrides: {
      httpCreateConversation: async (event) => {
        events.push(event as APIGatewayProxyEventV2WithJWTAuthorizer);
        // A plain client, as handlers build it: the endpoint and the table name must both come from the environment.
        const { Table } = await new DynamoDBClient({}).send(
          new DescribeTableCommand({ TableName: tableNameFromEnv('conversations') }),
        );
        return {
          statusCode: 201,
          headers: { 'x-handler': 'create' },
          body: JSON.stringify({ name: Table?.TableName }),
        };
      },
      httpGetConversation: async (event) => {
        events.push(event as APIGatewayProxyEventV2WithJWTAuthorizer);
        return { id: (event as APIGatewayProxyEventV2WithJWTAuthorizer).pathParameters?.id };
      },
    },
  });
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  events.length = 0;
});

describe('local token issuer', () => {
  it('issues an ID token that the shared verifier accepts against the served JWKS', async () => {
    const { token, userId } = await tokenFor('Alice');
    const jwks = await call('GET', '/.well-known/jwks.json');
    const verifier = createTokenVerifier({
      issuer: stack.httpUrl,
      audience: localTokenAudience,
      jwksUri: `${stack.httpUrl}/.well-known/jwks.json`,
    });

    const identity = await verifier.verify(token);

    expect(jwks.body.keys).toEqual([
      expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) }),
    ]);
    expect(identity).toMatchObject({ userId, username: 'alice', claims: { token_use: 'id', aud: localTokenAudience } });
    expect(userId).toBe(userIdForUsername('alice'));
  });

  it('answers 400 with an error body for an invalid username', async () => {
    for (const username of ['', 'has space', 'x'.repeat(33), 42]) {
      const { status, body } = await call('POST', '/local/token', { body: JSON.stringify({ username }) });
      expect(status).toBe(400);
      expect(body).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
    }
  });
});

describe('HTTP API', () => {
  it('answers 401 like the JWT authorizer without a token or with a bad one, before any handler runs', async () => {
    const { token } = await tokenFor('bob');
    const missing = await call('GET', '/conversations/abc');
    const tampered = await call('GET', '/conversations/abc', { token: `${token.slice(0, -4)}AAAA` });

    expect([missing.status, tampered.status]).toEqual([401, 401]);
    expect(missing.body).toEqual({ message: 'Unauthorized' });
    expect(events).toHaveLength(0);
  });

  it('answers 404 for a route that does not exist', async () => {
    const { token } = await tokenFor('bob');
    const { status, body } = await call('DELETE', '/conversations/abc', { token });
    expect(status).toBe(404);
    expect(body).toEqual({ message: 'Not Found' });
  });

  it('builds a payload v2.0 event with path parameters, query, cookies and the JWT claims', async () => {
    const { token, userId } = await tokenFor('carol');

    const { status, body } = await call('GET', '/conversations/conv%201?limit=5&limit=6&x=y', {
      token,
      headers: { cookie: 'a=1; b=2', 'x-custom': 'yes' },
    });

    expect(status).toBe(200);
    expect(body).toEqual({ id: 'conv 1' });
    expect(events[0]).toMatchObject({
      version: '2.0',
      routeKey: 'GET /conversations/{id}',
      rawPath: '/conversations/conv%201',
      rawQueryString: 'limit=5&limit=6&x=y',
      cookies: ['a=1', 'b=2'],
      queryStringParameters: { limit: '5,6', x: 'y' },
      pathParameters: { id: 'conv 1' },
      isBase64Encoded: false,
      headers: { 'x-custom': 'yes' },
      requestContext: {
        accountId: '000000000000',
        routeKey: 'GET /conversations/{id}',
        stage: '$default',
        http: { method: 'GET', path: '/conversations/conv%201', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
        authorizer: { jwt: { claims: { sub: userId, 'cognito:username': 'carol', token_use: 'id' }, scopes: null } },
      },
    });
    expect(events[0]?.headers.cookie).toBeUndefined();
    expect(events[0]?.body).toBeUndefined();
    expect(typeof events[0]?.requestContext.authorizer.jwt.claims.exp).toBe('string');
  });

  it("answers with the handler's structured result, and handlers reach DynamoDB Local through the environment", async () => {
    const { token } = await tokenFor('dave');

    const { status, headers, body } = await call('POST', '/conversations', { token, body: '{"type":"direct"}' });

    expect(status).toBe(201);
    expect(headers.get('x-handler')).toBe('create');
    expect(headers.get('access-control-allow-origin')).toBe('*');
    expect(body.name).toBe(stack.tables.conversations.tableName);
    expect(events[0]?.body).toBe('{"type":"direct"}');
  });

  it('answers a CORS preflight without calling a handler', async () => {
    const { status, headers } = await call('OPTIONS', '/conversations', {
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });

    expect(status).toBe(204);
    expect(headers.get('access-control-allow-origin')).toBe('*');
    expect(headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(headers.get('access-control-allow-methods')).toContain('POST');
    expect(events).toHaveLength(0);
  });

  it('refuses a body over 10 MB with 413', async () => {
    const { token } = await tokenFor('erin');
    const { status } = await call('POST', '/conversations', { token, body: 'x'.repeat(10 * 1024 * 1024 + 1) });
    expect(status).toBe(413);
    expect(events).toHaveLength(0);
  });

  it('answers the health probe', async () => {
    expect(await call('GET', '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});
