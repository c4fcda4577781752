/**
 * The local WebSocket API with stand-in handlers: API Gateway's handshake rules, event shapes, routing,
 * limits, and the `@connections` management API driven by the real ApiGatewayManagementApiClient.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LambdaHandler } from '../../local/lambda-runtime';
import type { WebSocketRouteEvent } from '../../local/websocket-events';
import { startTestStack, type TestStack } from '../support/local-stack';

interface Invocation {
  readonly route: string;
  readonly event: WebSocketRouteEvent & { readonly requestContext: { readonly authorizer?: Record<string, unknown> } };
}

const invocations: Invocation[] = [];
let authorizerCalls = 0;
let stack: TestStack;
let managementApi: ApiGatewayManagementApiClient;

/** Allows `token=good`, denies `token=deny`, throws Unauthorized otherwise: the authorizer contract. */
const authorizer: LambdaHandler = async (event) => {
  authorizerCalls += 1;
  const { queryStringParameters, methodArn } = event as {
    queryStringParameters: Record<string, string>;
    methodArn: string;
  };
  if (queryStringParameters.token !== 'good' && queryStringParameters.token !== 'deny') throw new Error('Unauthorized');
  const effect = queryStringParameters.token === 'good' ? 'Allow' : 'Deny';
  return {
    principalId: 'user-1',
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
    },
    context: { userId: 'user-1', deviceId: queryStringParameters.deviceId ?? '' },
  };
};

const recordingRoute =
  (route: string, respond: (event: WebSocketRouteEvent) => unknown): LambdaHandler =>
  async (event) => {
    invocations.push({ route, event: event as Invocation['event'] });
    return respond(event as WebSocketRouteEvent);
  };

async function connect(query: string): Promise<{ socket: WebSocket; frames: string[] }> {
  const socket = new WebSocket(`${stack.wsUrl}?${query}`);
  const frames: string[] = [];
  socket.on('message', (data) => frames.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, frames };
}

function handshakeStatus(query: string): Promise<number> {
  const socket = new WebSocket(`${stack.wsUrl}?${query}`);
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.once('open', () => reject(new Error('handshake was accepted')));
  });
}

function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
}

const lastConnectionId = (): string => {
  const id = stack.connectionIds().at(-1);
  if (id === undefined) throw new Error('no live connection');
  return id;
};

const routesInvoked = (connectionId: string): string[] =>
  invocations.filter((call) => call.event.requestContext.connectionId === connectionId).map((call) => call.route);

beforeAll(async () => {
  stack = await startTestStack('ws-gateway', {
    // The failing-handler test logs an error on purpose.
    logLevel: 'SILENT',
    handlerOverrides: {
      wsAuthorizer: authorizer,
      wsConnect: recordingRoute('$connect', (event) =>
        event.queryStringParameters?.deviceId === 'refused' ? { statusCode: 400 } : { statusCode: 200 },
      ),
      wsDisconnect: recordingRoute('$disconnect', () => ({ statusCode: 200 })),
      wsDefault: recordingRoute('$default', () => ({ statusCode: 200, body: JSON.stringify({ type: 'default' }) })),
      wsSendMessage: recordingRoute('sendMessage', (event) => {
        if (event.body?.includes('explode')) throw new Error('handler bug');
        return { statusCode: 200, body: JSON.stringify({ type: 'accepted' }) };
      }),
      wsSync: recordingRoute('sync', () => ({ statusCode: 200, body: '' })),
    },
  });
  managementApi = new ApiGatewayManagementApiClient({
    endpoint: stack.callbackUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  managementApi?.destroy();
  await stack?.stop();
});

beforeEach(() => {
  invocations.length = 0;
  authorizerCalls = 0;
});

describe('handshake', () => {
  it('refuses a connection without deviceId with 401 and never calls the authorizer', async () => {
    expect(await handshakeStatus('token=good')).toBe(401);
    expect(authorizerCalls).toBe(0);
  });

  it('answers 401 when the authorizer throws Unauthorized and 403 when its policy denies', async () => {
    expect(await handshakeStatus('token=forged&deviceId=phone')).toBe(401);
    expect(await handshakeStatus('token=deny&deviceId=phone')).toBe(403);
    expect(invocations.filter((call) => call.route === '$connect')).toHaveLength(0);
  });

  it('refuses the handshake when $connect answers a non-2xx status', async () => {
    expect(await handshakeStatus('token=good&deviceId=refused')).toBe(400);
  });

  it('gives every event of the connection the authorizer context and principalId', async () => {
    const { socket } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();
    socket.send(JSON.stringify({ action: 'sendMessage', text: 'hi' }));
    await expect.poll(() => routesInvoked(connectionId)).toContain('sendMessage');
    socket.close();
    await expect.poll(() => routesInvoked(connectionId)).toEqual(['$connect', 'sendMessage', '$disconnect']);

    for (const { event } of invocations) {
      expect(event.requestContext.authorizer).toMatchObject({
        principalId: 'user-1',
        userId: 'user-1',
        deviceId: 'phone',
      });
    }
    const [connectEvent, messageEvent, disconnectEvent] = invocations.map((call) => call.event);
    expect(connectEvent?.requestContext).toMatchObject({ eventType: 'CONNECT', routeKey: '$connect', stage: 'prod' });
    expect(connectEvent?.queryStringParameters).toMatchObject({ token: 'good', deviceId: 'phone' });
    expect(messageEvent).toMatchObject({
      body: JSON.stringify({ action: 'sendMessage', text: 'hi' }),
      isBase64Encoded: false,
      requestContext: {
        eventType: 'MESSAGE',
        routeKey: 'sendMessage',
        connectionId,
        identity: { sourceIp: '127.0.0.1' },
      },
    });
    expect(messageEvent?.requestContext.messageId).toEqual(expect.any(String));
    expect(disconnectEvent?.requestContext).toMatchObject({ eventType: 'DISCONNECT', disconnectStatusCode: 1005 });
  });

  it('issues connection ids shaped like API Gateway ones', async () => {
    const { socket } = await connect('token=good&deviceId=phone');
    expect(lastConnectionId()).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    socket.close();
  });
});

describe('routing', () => {
  it('routes by action, sends route responses back, and sends unknown actions and non-JSON to $default', async () => {
    const { socket, frames } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();
    socket.send(JSON.stringify({ action: 'sendMessage' }));
    socket.send(JSON.stringify({ action: 'nope' }));
    socket.send('not json');
    await expect.poll(() => frames.length).toBe(3);

    expect(routesInvoked(connectionId).sort()).toEqual(['$connect', '$default', '$default', 'sendMessage']);
    expect(frames.map((frame) => JSON.parse(frame).type).sort()).toEqual(['accepted', 'default', 'default']);
    socket.close();
  });

  it('sends nothing back for an empty route response body', async () => {
    const { socket, frames } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();
    socket.send(JSON.stringify({ action: 'sync' }));
    socket.send(JSON.stringify({ action: 'sendMessage' }));
    await expect.poll(() => frames.length).toBe(1);
    await expect.poll(() => routesInvoked(connectionId)).toContain('sync');
    expect(JSON.parse(frames[0] ?? '{}')).toEqual({ type: 'accepted' });
    socket.close();
  });

  it("answers a failing handler with API Gateway's internal server error frame", async () => {
    const { socket, frames } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();
    socket.send(JSON.stringify({ action: 'sendMessage', text: 'explode' }));
    await expect.poll(() => frames.length).toBe(1);

    expect(JSON.parse(frames[0] ?? '{}')).toEqual({
      message: 'Internal server error',
      connectionId,
      requestId: expect.any(String),
    });
    socket.close();
  });
});

describe('limits and failures', () => {
  it('closes with 1009 on a frame over 32 KB without routing it', async () => {
    const { socket } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();
    const closing = closed(socket);
    socket.send(JSON.stringify({ action: 'sendMessage', text: 'x'.repeat(33 * 1024) }));

    expect((await closing).code).toBe(1009);
    await expect.poll(() => routesInvoked(connectionId)).toContain('$disconnect');
    expect(routesInvoked(connectionId)).not.toContain('sendMessage');
  });

  it('accepts a fragmented message of 64 KB sent in frames under 32 KB', async () => {
    const { socket, frames } = await connect('token=good&deviceId=phone');
    const payload = JSON.stringify({ action: 'sendMessage', text: 'y'.repeat(64 * 1024) });
    const middle = Math.floor(payload.length / 3);
    socket.send(payload.slice(0, middle), { fin: false });
    socket.send(payload.slice(middle, 2 * middle), { fin: false });
    socket.send(payload.slice(2 * middle), { fin: true });

    await expect.poll(() => frames.length).toBe(1);
    expect(JSON.parse(frames[0] ?? '{}')).toEqual({ type: 'accepted' });
    socket.close();
  });

  it('drops a connection without $disconnect when asked to emulate a missed disconnect', async () => {
    const { socket } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();
    const closing = closed(socket);

    expect(stack.dropConnection(connectionId, { notify: false })).toBe(true);
    await closing;
    expect(stack.connectionIds()).not.toContain(connectionId);
    expect(routesInvoked(connectionId)).toEqual(['$connect']);
  });
});

describe('management API with the real ApiGatewayManagementApiClient', () => {
  it('delivers postToConnection to the client as a text frame', async () => {
    const { socket, frames } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();

    await managementApi.send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: new TextEncoder().encode('{"type":"pushed"}') }),
    );

    await expect.poll(() => frames).toEqual(['{"type":"pushed"}']);
    socket.close();
  });

  it('describes a live connection', async () => {
    const { socket } = await connect('token=good&deviceId=phone');
    const described = await managementApi.send(new GetConnectionCommand({ ConnectionId: lastConnectionId() }));

    expect(described.ConnectedAt).toBeInstanceOf(Date);
    expect(described.LastActiveAt).toBeInstanceOf(Date);
    expect(described.Identity).toMatchObject({ SourceIp: '127.0.0.1' });
    socket.close();
  });

  it('raises GoneException for an unknown id and for a closed connection', async () => {
    const { socket } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();
    const closing = closed(socket);
    socket.close();
    await closing;
    await expect.poll(() => stack.connectionIds()).not.toContain(connectionId);

    const post = (id: string) =>
      managementApi.send(new PostToConnectionCommand({ ConnectionId: id, Data: new Uint8Array([1]) }));
    await expect(post('AAAAAAAAAAAAAAA=')).rejects.toBeInstanceOf(GoneException);
    await expect(post(connectionId)).rejects.toBeInstanceOf(GoneException);
  });

  it('closes the socket on deleteConnection and runs $disconnect once', async () => {
    const { socket } = await connect('token=good&deviceId=phone');
    const connectionId = lastConnectionId();
    const closing = closed(socket);

    await managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));

    await closing;
    await expect.poll(() => routesInvoked(connectionId)).toEqual(['$connect', '$disconnect']);
  });
});
