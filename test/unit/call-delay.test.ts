/**
 * The process-wide DynamoDB call delay: with none installed (Lambda, and the local stack without AWS
 * timing) a call goes straight through; with one, it lasts the drawn time, half of it before the request
 * is sent. Fake timers: nothing here depends on how fast this machine is.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { setDynamoDbCallDelay } from '#shared/aws/call-delay';
import { createDocumentClient } from '#shared/aws/dynamodb';

let sentAt: number[];

/** A document client whose requests never leave the process: each answers `{}`, at once or after `takesMs`. */
function stubbedClient(takesMs = 0) {
  const requestHandler = {
    handle: async () => {
      sentAt.push(Date.now());
      if (takesMs > 0) await new Promise((resolve) => setTimeout(resolve, takesMs));
      return {
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: new TextEncoder().encode('{}'),
        },
      };
    },
  };
  return createDocumentClient(
    new DynamoDBClient({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
      requestHandler,
    }),
  );
}

/** Resolves with whether `call` settled, after letting pending promise work (not timers) run. */
async function settled(call: Promise<unknown>): Promise<boolean> {
  let done = false;
  void call.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 50; i += 1) await Promise.resolve();
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

beforeAll(async () => {
  // The SDK's first call loads parts of itself (real I/O, which spinning promises does not wait for).
  sentAt = [];
  await stubbedClient().send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));
});

beforeEach(() => {
  sentAt = [];
  vi.useFakeTimers();
});

afterEach(() => {
  setDynamoDbCallDelay(undefined);
  vi.useRealTimers();
});

describe('the DynamoDB call delay middleware', () => {
  it('sends at once and answers without any timer when no delay is installed (Lambda, local timing)', async () => {
    const call = stubbedClient().send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));
    expect(await settled(call)).toBe(true);
    expect(sentAt).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('adds nothing when the installed delay answers undefined (a call outside any invocation)', async () => {
    const asked: string[] = [];
    setDynamoDbCallDelay((operation) => {
      asked.push(operation);
      return undefined;
    });
    const call = stubbedClient().send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));
    expect(await settled(call)).toBe(true);
    expect(asked).toEqual(['GetItem']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('makes a call last the drawn time: half before it is sent, the rest after the answer', async () => {
    setDynamoDbCallDelay((operation) => (operation === 'GetItem' ? 40 : undefined));
    const startedAt = Date.now();
    const call = stubbedClient().send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));

    expect(await settled(call)).toBe(false);
    expect(sentAt).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(sentAt).toEqual([startedAt + 20]);
    expect(await settled(call)).toBe(false);
    await vi.advanceTimersByTimeAsync(19);
    expect(await settled(call)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(call)).toBe(true);
  });

  it("counts the local call's own time as part of the drawn time: sent that much earlier, done on time", async () => {
    setDynamoDbCallDelay((operation) => (operation === 'PutItem' ? 40 : undefined));
    const client = stubbedClient(12);
    const first = client.send(new PutCommand({ TableName: 't', Item: { pk: 'a' } }));
    await vi.advanceTimersByTimeAsync(40);
    expect(await settled(first)).toBe(true);
    sentAt = [];

    const startedAt = Date.now();
    const second = client.send(new PutCommand({ TableName: 't', Item: { pk: 'a' } }));
    await vi.advanceTimersByTimeAsync(8);
    expect(sentAt).toEqual([startedAt + 8]);
    await vi.advanceTimersByTimeAsync(31);
    expect(await settled(second)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(second)).toBe(true);
  });
});
