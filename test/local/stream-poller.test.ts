/**
 * The stream poller against DynamoDB Local with test handlers: Lambda's event shape, order, filters,
 * ReportBatchItemFailures checkpoints, bisection, bounded retries and the dead-letter list.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteItemCommand, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type StreamTriggerSpec, streamTriggers } from '#shared/config/functions';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { createTimingModel, streamTiming } from '../../local/aws-timing';
import { awsTimingProfile } from '../../local/aws-timing-profile';
import { createDeadLetterQueue, type DeadLetterQueue } from '../../local/dead-letters';
import { createLocalLogger } from '../../local/log';
import {
  type PollerPauseReason,
  type StreamBatchHandler,
  type StreamPoller,
  type StreamPollerOptions,
  startStreamPoller,
} from '../../local/stream-poller';
import { toLambdaRecord } from '../../local/stream-records';
import { createLocalTables, type LocalTables } from '../../local/tables';

const logger = createLocalLogger('SILENT');
const baseTrigger: StreamTriggerSpec = streamTriggers[0];
let client: DynamoDBClient;
let endpoint: string;
let running: StreamPoller | undefined;

beforeAll(() => {
  endpoint = inject('dynamoEndpoint');
  client = createLocalDynamoDbClient(endpoint);
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

afterAll(() => client.destroy());

/** Fresh tables per test, so each stream holds only that test's records. */
async function freshTables(): Promise<LocalTables> {
  return createLocalTables(client, `poller-${randomUUID().slice(0, 8)}-`);
}

async function putMessages(tables: LocalTables, count: number, conversationId = 'c1', firstSeq = 1): Promise<void> {
  for (let seq = firstSeq; seq < firstSeq + count; seq += 1) {
    await client.send(
      new PutItemCommand({
        TableName: tables.messages.tableName,
        Item: { conversationId: { S: conversationId }, seq: { N: String(seq) }, text: { S: `text ${seq}` } },
      }),
    );
  }
}

async function poll(
  streamArn: string | undefined,
  trigger: Partial<StreamTriggerSpec>,
  invoke: StreamBatchHandler,
  extra: Pick<StreamPollerOptions, 'idleSleepMs' | 'propagationDelayMs' | 'sleep'> = {},
): Promise<{ poller: StreamPoller; deadLetters: DeadLetterQueue }> {
  if (streamArn === undefined) throw new Error('table has no stream');
  const deadLetters = createDeadLetterQueue({ logger });
  running = await startStreamPoller({
    endpoint,
    logger,
    deadLetters,
    bindings: [{ trigger: { ...baseTrigger, ...trigger }, streamArn, startingPosition: 'TRIM_HORIZON', invoke }],
    ...extra,
  });
  return { poller: running, deadLetters };
}

const seqOf = (record: DynamoDBRecord): number => Number(record.dynamodb?.Keys?.seq?.N);

// A loaded 2-core machine (CI) can take seconds over retries and backoffs; expect.poll's default is 1 s.
const pollTimeout = { timeout: 15_000 };

describe('stream poller', () => {
  it("delivers records in Lambda's JSON shape, in order, in batches no larger than batchSize", async () => {
    const tables = await freshTables();
    await putMessages(tables, 12);
    const batches: DynamoDBStreamEvent[] = [];

    await poll(tables.messages.streamArn, { batchSize: 5 }, async (event) => {
      batches.push(event);
    });

    await expect.poll(() => batches.flatMap((batch) => batch.Records).length, pollTimeout).toBe(12);
    expect(batches.flatMap((batch) => batch.Records).map(seqOf)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(Math.max(...batches.map((batch) => batch.Records.length))).toBeLessThanOrEqual(5);
    expect(batches[0]?.Records[0]).toMatchObject({
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: tables.messages.streamArn,
      dynamodb: {
        Keys: { conversationId: { S: 'c1' }, seq: { N: '1' } },
        NewImage: { conversationId: { S: 'c1' }, seq: { N: '1' }, text: { S: 'text 1' } },
        StreamViewType: 'NEW_IMAGE',
        SequenceNumber: expect.any(String),
        SizeBytes: expect.any(Number),
        ApproximateCreationDateTime: expect.any(Number),
      },
    });
  });

  it('holds records while paused and delivers them, in order, once resumed', async () => {
    const tables = await freshTables();
    await putMessages(tables, 3);
    const delivered: number[] = [];
    const { poller } = await poll(tables.messages.streamArn, { batchSize: 100 }, async (event) => {
      delivered.push(...event.Records.map(seqOf));
    });
    await expect.poll(() => delivered, pollTimeout).toEqual([1, 2, 3]);

    await poller.pause();
    const readsWhenPaused = poller.stats.batches;
    await putMessages(tables, 3, 'c1', 4);
    // Several idle-poll intervals pass with records waiting: none is delivered while paused.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(delivered).toEqual([1, 2, 3]);
    expect(poller.stats.batches).toBe(readsWhenPaused);
    // Paused, it delivers nothing more until resumed: settled, though records wait.
    await poller.settled();
    expect(delivered).toEqual([1, 2, 3]);

    poller.resume();
    await expect.poll(() => delivered, pollTimeout).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('holds records for the batching window in one batch, and is not settled until it delivered them', async () => {
    const tables = await freshTables();
    const delivered: number[][] = [];
    const { poller } = await poll(
      tables.messages.streamArn,
      { batchSize: 100, maxBatchingWindowSeconds: 1 },
      async (event) => {
        delivered.push(event.Records.map(seqOf));
      },
    );
    await poller.settled();

    await putMessages(tables, 3);
    // A poll or two later the records are read and held for the window's second: settled() waits it
    // out, where the next empty poll would have called the stream settled with them undelivered.
    await sleep(300);
    await poller.settled();

    expect(delivered).toEqual([[1, 2, 3]]);
  });

  it('delivers only records that match a filter (Lambda filter criteria)', async () => {
    const tables = await freshTables();
    const table = tables.messages.tableName;
    await putMessages(tables, 2);
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: { conversationId: { S: 'c1' }, seq: { N: '1' }, text: { S: 'edited' } },
      }),
    );
    await client.send(
      new DeleteItemCommand({ TableName: table, Key: { conversationId: { S: 'c1' }, seq: { N: '2' } } }),
    );
    await putMessages(tables, 1, 'c2');
    const delivered: DynamoDBRecord[] = [];

    const { poller } = await poll(
      tables.messages.streamArn,
      { filters: [{ eventName: ['INSERT'], dynamodb: { Keys: { conversationId: { S: ['c1'] } } } }] },
      async (event) => {
        delivered.push(...event.Records);
      },
    );

    await expect.poll(() => poller.stats.filteredOut, pollTimeout).toBe(3);
    await expect
      .poll(() => delivered.map((record) => `${record.eventName} ${seqOf(record)}`), pollTimeout)
      .toEqual(['INSERT 1', 'INSERT 2']);
  });

  it('restarts the next batch from the first failed record a handler reports', async () => {
    const tables = await freshTables();
    await putMessages(tables, 8);
    const invocations: number[][] = [];
    let reported = false;

    const { poller } = await poll(tables.messages.streamArn, { batchSize: 8 }, async (event) => {
      invocations.push(event.Records.map(seqOf));
      if (reported) return { batchItemFailures: [] };
      reported = true;
      // Reported out of order: the checkpoint is the lowest one.
      const failed = event.Records.filter((record) => [6, 4].includes(seqOf(record)));
      return {
        batchItemFailures: failed.reverse().map((record) => ({ itemIdentifier: record.dynamodb?.SequenceNumber })),
      };
    });

    await expect.poll(() => poller.stats.records, pollTimeout).toBe(8);
    expect(invocations).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8],
      [4, 5, 6, 7, 8],
    ]);
    expect(poller.stats).toMatchObject({ batches: 2, retries: 1, failedBatches: 1, deadLettered: 0 });
  });

  it('bisects a failing batch, retries the poison record, then dead-letters it and moves on', async () => {
    const tables = await freshTables();
    await putMessages(tables, 8);
    const invocations: number[][] = [];
    const completed: number[] = [];

    const { poller, deadLetters } = await poll(
      tables.messages.streamArn,
      { batchSize: 8, retryAttempts: 2, bisectBatchOnError: true },
      async (event) => {
        const seqs = event.Records.map(seqOf);
        invocations.push(seqs);
        if (seqs.includes(3)) throw new Error('poison record 3');
        completed.push(...seqs);
      },
    );

    await expect.poll(() => completed, pollTimeout).toEqual([1, 2, 4, 5, 6, 7, 8]);
    expect(invocations).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8],
      [1, 2, 3, 4],
      [1, 2],
      [3, 4],
      [3],
      [3],
      [3],
      [4],
      [5, 6, 7, 8],
    ]);
    expect(deadLetters.entries).toHaveLength(1);
    expect(deadLetters.entries[0]).toMatchObject({
      function: baseTrigger.function,
      condition: 'RetryAttemptsExhausted',
      attempts: 3,
      lastError: 'poison record 3',
      record: { eventName: 'INSERT', dynamodb: { Keys: { seq: { N: '3' } } } },
    });
    expect(poller.stats).toMatchObject({ deadLettered: 1, records: 7 });
  });

  it('retries a failing batch whole, and discards it after retryAttempts, without bisection', async () => {
    const tables = await freshTables();
    await putMessages(tables, 3);
    const invocations: number[][] = [];

    const { deadLetters } = await poll(
      tables.messages.streamArn,
      { batchSize: 2, retryAttempts: 1, bisectBatchOnError: false },
      async (event) => {
        const seqs = event.Records.map(seqOf);
        invocations.push(seqs);
        if (seqs.includes(1)) throw new Error('always fails');
      },
    );

    await expect.poll(() => invocations.at(-1), pollTimeout).toEqual([3]);
    expect(invocations).toEqual([[1, 2], [1, 2], [3]]);
    expect(
      deadLetters.entries.map((letter) => (letter.source === 'stream' ? seqOf(letter.record) : undefined)),
    ).toEqual([1, 2]);
  });

  it('reports a TTL expiry (UNKNOWN_TO_SDK_VERSION from DynamoDB Local) as a REMOVE by the DynamoDB service', () => {
    // A TTL delete as DynamoDB Local 3.3 returns it from GetRecords. Its sweeper runs on its own schedule
    // (seconds to minutes with many tables), so the record is built here rather than waited for.
    const streamArn = 'arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2026-11-27T18:50:08.181';
    const ttlDelete = {
      eventID: 'b2d7c8a4-3f53-4d5c-9f1c-7f3c1b9e0a11',
      eventName: 'UNKNOWN_TO_SDK_VERSION',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'ddblocal',
      dynamodb: {
        ApproximateCreationDateTime: new Date('2026-11-27T18:50:00.000Z'),
        Keys: { id: { S: 'gone' } },
        OldImage: { id: { S: 'gone' }, expiresAt: { N: '1795805000' }, blob: { B: new Uint8Array([1, 2]) } },
        SequenceNumber: '000000000000000000002',
        SizeBytes: 30,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    } as unknown as Parameters<typeof toLambdaRecord>[0];

    expect(toLambdaRecord(ttlDelete, streamArn)).toEqual({
      eventID: 'b2d7c8a4-3f53-4d5c-9f1c-7f3c1b9e0a11',
      eventName: 'REMOVE',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: streamArn,
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
      dynamodb: {
        ApproximateCreationDateTime: 1795805400,
        Keys: { id: { S: 'gone' } },
        OldImage: { id: { S: 'gone' }, expiresAt: { N: '1795805000' }, blob: { B: 'AQI=' } },
        SequenceNumber: '000000000000000000002',
        SizeBytes: 30,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
  });
});

type ScheduleEntry =
  | { readonly kind: PollerPauseReason; readonly ms: number; readonly polls: number }
  | { readonly kind: 'invoke'; readonly records: number; readonly polls: number };

describe('stream poller under the AWS timing profile', () => {
  // Asserted on the pauses the poller asks for and on the draws, never on elapsed time.
  it('pauses its idle interval after every empty poll, holds new records by a propagation draw, and polls again at once after them', async () => {
    const seed = 7;
    const tables = await freshTables();
    const schedule: ScheduleEntry[] = [];
    const polls = (): number => running?.stats.polls ?? 0;

    await poll(
      tables.messages.streamArn,
      {},
      async (event) => {
        schedule.push({ kind: 'invoke', records: event.Records.length, polls: polls() });
      },
      {
        ...streamTiming(undefined, createTimingModel(awsTimingProfile, seed)),
        // Records what the poller asks for; a short real pause keeps the loop from spinning.
        sleep: async (ms, reason) => {
          schedule.push({ kind: reason, ms, polls: polls() });
          await sleep(3);
        },
      },
    );

    const idles = (): number => schedule.filter((entry) => entry.kind === 'idle').length;
    await expect.poll(idles, pollTimeout).toBeGreaterThanOrEqual(3);
    await putMessages(tables, 3);
    const delivered = (): number =>
      schedule.reduce((sum, entry) => sum + (entry.kind === 'invoke' ? entry.records : 0), 0);
    await expect.poll(delivered, pollTimeout).toBe(3);
    const idlesAfterDelivery = idles() + 3;
    await expect.poll(idles, pollTimeout).toBeGreaterThanOrEqual(idlesAfterDelivery);
    await running?.stop();

    const pauses = schedule.filter((entry) => entry.kind !== 'invoke');
    // Every idle pause is Lambda's interval, and between two pauses exactly one GetRecords ran: no poll
    // happens without its pause when nothing is found, and none waits after records.
    for (const pause of pauses) {
      if (pause.kind === 'idle') expect(pause.ms).toBe(250);
      expect(['idle', 'propagation']).toContain(pause.kind);
    }
    for (let i = 1; i < pauses.length; i += 1) expect(pauses[i]?.polls).toBe((pauses[i - 1]?.polls ?? 0) + 1);

    // Each read that found records held them by the next propagation draw, then invoked at once.
    const expected = createTimingModel(awsTimingProfile, seed);
    const holds = schedule.flatMap((entry, index) => (entry.kind === 'propagation' ? [index] : []));
    expect(holds.length).toBeGreaterThanOrEqual(1);
    for (const index of holds) {
      const hold = schedule[index];
      expect(hold?.kind === 'propagation' ? hold.ms : undefined).toBe(expected.draw('streamPropagation'));
      expect(schedule[index + 1]).toMatchObject({ kind: 'invoke', polls: hold?.polls });
      // The next pause comes after one more poll: the re-poll after a batch did not wait.
      const next = schedule.slice(index + 1).find((entry) => entry.kind !== 'invoke');
      expect(next?.polls).toBe((hold?.polls ?? 0) + 1);
    }
  });

  it('pauses its 20 ms after an empty poll and holds nothing without the switch', async () => {
    const tables = await freshTables();
    const pauses: Array<{ ms: number; reason: PollerPauseReason }> = [];
    let invoked = 0;
    await poll(
      tables.messages.streamArn,
      {},
      async () => {
        invoked += 1;
      },
      {
        ...streamTiming(undefined, undefined),
        sleep: async (ms, reason) => {
          pauses.push({ ms, reason });
          await sleep(3);
        },
      },
    );
    // An empty poll first (the table has no records yet), so there is a pause to see whatever the timing.
    await expect.poll(() => pauses.length, pollTimeout).toBeGreaterThan(0);
    await putMessages(tables, 2);
    await expect.poll(() => invoked, pollTimeout).toBeGreaterThanOrEqual(1);
    await running?.stop();
    expect(pauses.every((pause) => pause.reason === 'idle' && pause.ms === 20)).toBe(true);
  });

  it('leaves no wait behind when a batch ends before the idle pace: short batches under a long pace pile up no stop listeners', async () => {
    const tables = await freshTables();
    const conversations = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    for (const conversationId of conversations) await putMessages(tables, 5, conversationId);
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    let delivered = 0;
    try {
      // Each round with batches in flight waits for the first of them or the (long) idle pace.
      await poll(
        tables.messages.streamArn,
        { batchSize: 1, parallelizationFactor: 3 },
        async (event) => {
          await sleep(2);
          delivered += event.Records.length;
        },
        { idleSleepMs: 10_000 },
      );
      await expect.poll(() => delivered, pollTimeout).toBe(30);
      // Node reports an EventTarget with more than 10 listeners of one event on the next tick.
      await sleep(20);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('delivers batches of one shard concurrently, up to its ParallelizationFactor, in order per partition key', async () => {
    const tables = await freshTables();
    const conversations = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'];
    for (const conversationId of conversations) await putMessages(tables, 6, conversationId);
    const delivered = new Map<string, number[]>();
    const inFlight = new Set<string>();
    let mostAtOnce = 0;
    let sharedKeyInFlight = false;
    let inFlightBatches = 0;

    const { poller } = await poll(
      tables.messages.streamArn,
      { batchSize: 3, parallelizationFactor: 3 },
      async (event) => {
        const keys = new Set(event.Records.map((record) => String(record.dynamodb?.Keys?.conversationId?.S)));
        if ([...keys].some((key) => inFlight.has(key))) sharedKeyInFlight = true;
        for (const key of keys) inFlight.add(key);
        mostAtOnce = Math.max(mostAtOnce, inFlightBatches + 1);
        inFlightBatches += 1;
        await sleep(60);
        inFlightBatches -= 1;
        for (const key of keys) inFlight.delete(key);
        for (const record of event.Records) {
          const key = String(record.dynamodb?.Keys?.conversationId?.S);
          delivered.set(key, [...(delivered.get(key) ?? []), seqOf(record)]);
        }
      },
    );

    await expect.poll(() => [...delivered.values()].flat().length, { timeout: 20_000 }).toBe(48);
    for (const conversationId of conversations) expect(delivered.get(conversationId)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sharedKeyInFlight).toBe(false);
    expect(mostAtOnce).toBeGreaterThan(1);
    expect(mostAtOnce).toBeLessThanOrEqual(3);
    expect(poller.stats.concurrentBatches).toBeGreaterThan(0);
  });
});
