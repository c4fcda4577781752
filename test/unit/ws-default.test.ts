import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { WebSocketEvent } from '../../lambdas/lib/websocket';
import { handler } from '../../lambdas/ws-default';

const context = { functionName: 'wsDefault', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 3000 } as Context;

function frameEvent(body: string): WebSocketEvent {
  return {
    body,
    isBase64Encoded: false,
    requestContext: {
      routeKey: '$default',
      eventType: 'MESSAGE',
      connectionId: 'conn-1=',
      messageId: 'm-1',
      extendedRequestId: 'x',
      requestTime: '',
      messageDirection: 'IN',
      stage: 'prod',
      connectedAt: 0,
      requestTimeEpoch: 0,
      requestId: 'r-1',
      domainName: 'localhost',
      apiId: 'local',
      authorizer: { userId: 'u1', deviceId: 'd1' },
    },
  };
}

async function answer(body: string): Promise<Record<string, unknown>> {
  const result = await handler(frameEvent(body), context);
  return JSON.parse(String(result.body)) as Record<string, unknown>;
}

describe('$default route', () => {
  it('answers ping with pong', async () => {
    expect(await answer('{"action":"ping"}')).toEqual({ type: 'pong' });
  });

  it('answers a frame that is not JSON with bad_request', async () => {
    expect(await answer('{not json')).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('answers an unknown action with bad_request, echoing the action', async () => {
    expect(await answer('{"action":"typing","clientMessageId":"c9"}')).toMatchObject({
      type: 'error',
      code: 'bad_request',
      action: 'typing',
      clientMessageId: 'c9',
    });
  });
});
