/** API Gateway's idle timeout and maximum connection age, shortened for the test. */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LambdaHandler } from '../../local/lambda-runtime';
import { startTestStack, type TestStack } from '../support/local-stack';

const disconnects: number[] = [];
let stack: TestStack;

const allow: LambdaHandler = async (event) => ({
  principalId: 'user-1',
  policyDocument: {
    Version: '2012-10-17',
    Statement: [
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: (event as { methodArn: string }).methodArn },
    ],
  },
});

beforeAll(async () => {
  stack = await startTestStack('ws-timeouts', {
    webSocketLimits: { idleTimeoutMs: 300, maxConnectionMs: 1_500 },
    handlerOverrides: {
      wsAuthorizer: allow,
      wsConnect: async () => ({ statusCode: 200 }),
      wsDefault: async () => ({ statusCode: 200 }),
      wsDisconnect: async (event) => {
        disconnects.push(
          (event as { requestContext: { disconnectStatusCode: number } }).requestContext.disconnectStatusCode,
        );
        return { statusCode: 200 };
      },
    },
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function connectAndWaitForClose(keepAlive: boolean): Promise<number> {
  const socket = new WebSocket(`${stack.wsUrl}?token=t&deviceId=d`);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const chatter = keepAlive ? setInterval(() => socket.send('{"action":"ping"}'), 100) : undefined;
  const code = await new Promise<number>((resolve) => socket.once('close', (closeCode) => resolve(closeCode)));
  clearInterval(chatter);
  return code;
}

describe('WebSocket timeouts', () => {
  it('closes an idle connection with 1001 and runs $disconnect', async () => {
    const before = disconnects.length;
    expect(await connectAndWaitForClose(false)).toBe(1001);
    await expect.poll(() => disconnects.length).toBe(before + 1);
  });

  it('closes a busy connection at its maximum age', async () => {
    expect(await connectAndWaitForClose(true)).toBe(1001);
  });
});
