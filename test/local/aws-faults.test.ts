/**
 * The local stack's AWS limits and `--aws-faults`: API Gateway stops waiting for an integration at its
 * timeout while the function runs on, and an invocation stopped by its timeout stops where it is (its
 * later AWS calls never happen, its result is discarded).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDocumentClient } from '#shared/aws/dynamodb';
import type { LambdaHandler } from '../../local/lambda-runtime';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;
const finished: string[] = [];

const allow: LambdaHandler = async (event) => ({
  principalId: 'user-1',
  policyDocument: {
    Version: '2012-10-17',
    Statement: [
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: (event as { methodArn: string }).methodArn },
    ],
  },
});

/** Handlers' own client: the endpoint the stack gave them (the fault proxy), as a handler builds one. */
const handlerDocumentClient = () => createDocumentClient(new DynamoDBClient({}));

beforeAll(async () => {
  stack = await startTestStack('aws-faults', {
    webSocketLimits: { integrationTimeoutMs: 300 },
    httpIntegrationTimeoutMs: 300,
    awsFaults: { throttle: 0, dynamoDbInternalError: 0, unprocessed: 0, postThrottle: 0, lambdaTimeout: 0 },
    handlerOverrides: {
      wsAuthorizer: allow,
      wsConnect: async () => ({ statusCode: 200 }),
      wsDisconnect: async () => ({ statusCode: 200 }),
      wsDefault: async (event) => {
        const body = JSON.parse(String((event as { body?: string }).body ?? '{}')) as { id?: string; slowMs?: number };

        if (body.slowMs !== undefined) {
          await sleep(body.slowMs);
          finished.push(`ws ${body.id}`);
          return { statusCode: 200, body: '{"late":true}' };
        }
        return { statusCode: 200, body: '{}' };
      },
      // Two writes (a function granted them): a timeout at the first means the second never happens.
      httpCreateConnectTicket: async (event) => {
        const id = String((event as { body?: string }).body);
        const documentClient = handlerDocumentClient();
        const table = stack.tables.connectTickets.tableName;
        await documentClient.send(new PutCommand({ TableName: table, Item: { ticketHash: `${id}-1` } }));
        await documentClient.send(new PutCommand({ TableName: table, Item: { ticketHash: `${id}-2` } }));
        finished.push(`ticket ${id}`);
        return { statusCode: 200, body: '{"done":true}' };
      },
      httpGetUser: async () => {
        await sleep(700);
        finished.push('http');
        return { statusCode: 200, body: '{}' };
      },
    },
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function frameAnswering(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const socket = new WebSocket(`${stack.wsUrl}?token=t&deviceId=d`);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const answer = new Promise<Record<string, unknown>>((resolve) =>
    socket.once('message', (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>)),
  );
  socket.send(JSON.stringify(body));
  try {
    return await answer;
  } finally {
    socket.close();
  }
}

async function ticketExists(ticketHash: string): Promise<boolean> {
  const client = new DynamoDBClient({
    endpoint: stack.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const result = await createDocumentClient(client).send(
      new GetCommand({ TableName: stack.tables.connectTickets.tableName, Key: { ticketHash }, ConsistentRead: true }),
    );
    return result.Item !== undefined;
  } finally {
    client.destroy();
  }
}

describe('API Gateway integration timeouts', () => {
  it('answers a WebSocket route "Endpoint request timed out" at 29 s (shortened here) while the function runs on', async () => {
    const id = randomUUID();
    const answer = await frameAnswering({ action: 'anything', id, slowMs: 700 });

    expect(answer).toMatchObject({ message: 'Endpoint request timed out' });
    expect(finished).not.toContain(`ws ${id}`);
    await expect.poll(() => finished).toContain(`ws ${id}`);
  });

  it('answers an HTTP route 503 at 30 s (shortened here) while the function runs on', async () => {
    const { token } = await stack.issueToken(`slow-${randomUUID().slice(0, 8)}`);
    const response = await fetch(`${stack.httpUrl}/users/someone`, { headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ message: 'Service Unavailable' });
    await expect.poll(() => finished).toContain('http');
  });
});

describe('an invocation stopped by its timeout', () => {
  it('stops where it is: no later AWS call happens, and the caller gets the failure', async () => {
    const faults = stack.faults;
    if (faults === undefined) throw new Error('no fault controls');
    const id = randomUUID();
    const { token } = await stack.issueToken(`cut-${randomUUID().slice(0, 8)}`);
    faults.settings.lambdaTimeout = 1;
    let response: Response;
    try {
      response = await fetch(`${stack.httpUrl}/connect-ticket`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: id,
      });
    } finally {
      faults.settings.lambdaTimeout = 0;
    }

    expect(response.status).toBe(500);
    expect(faults.counts.lambdaTimeout).toBe(1);
    await sleep(300);
    // The first write was either never sent or took effect with its answer lost; the second never happened.
    expect(await ticketExists(`${id}-2`)).toBe(false);
    expect(finished).not.toContain(`ticket ${id}`);
  });
});
