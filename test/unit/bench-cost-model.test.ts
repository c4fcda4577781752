/** The bench's cost arithmetic: what each measured quantity adds to the price, and the failed calls it counts. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { oneVcpuMemoryMb } from '#shared/config/functions';
import { lambdaSystemLogLevel } from '#shared/config/monitoring';
import { CapacityTally, tallyPerMessage } from '../../bench/capacity-tally';
import {
  accessLogLineBytes,
  assumed,
  deviceHourCost,
  dollarsPerMillion,
  type MeasuredPerMessage,
  presenceModel,
  prices,
  pushCostPerMillion,
  pushWork,
  sdkConnection,
  sumMeasured,
} from '../../bench/cost-model';
import { meterHandlerLogs } from '../../bench/log-meter';
import { costBetween, type Meters } from '../../bench/meters';

const nothing: MeasuredPerMessage = {
  dynamoDb: { readUnits: 0, writeUnits: 0 },
  postToConnection: 0,
  lambdaInvocations: { byFunction: {} },
};

const lineOf = (priced: ReturnType<typeof dollarsPerMillion>, startsWith: string) => {
  const line = priced.lines.find((each) => each.item.startsWith(startsWith));
  if (line === undefined) throw new Error(`no line ${startsWith}`);
  return line;
};

describe('dollarsPerMillion', () => {
  it('bills a route request twice (frame and route response) plus every post', () => {
    const priced = dollarsPerMillion({ ...nothing, postToConnection: 59 }, { routeRequests: 1 });

    expect(lineOf(priced, 'API Gateway WebSocket').quantityPerMessage).toBe(61);
    expect(lineOf(priced, 'API Gateway WebSocket').usdPerMillionMessages).toBe(61);
  });

  it('prices the estimated units of failed calls beside the reported write units', () => {
    const priced = dollarsPerMillion(
      { ...nothing, dynamoDb: { readUnits: 8, writeUnits: 10, failedWriteUnits: 2 } },
      { routeRequests: 1 },
    );

    expect(lineOf(priced, 'DynamoDB write request').usdPerMillionMessages).toBe(6.25);
    expect(lineOf(priced, 'DynamoDB write units of failed calls').usdPerMillionMessages).toBe(1.25);
    expect(lineOf(priced, 'DynamoDB read').usdPerMillionMessages).toBe(1);
  });

  it('traces the default sampling share of invocations at the X-Ray price', () => {
    const measured: MeasuredPerMessage = {
      ...nothing,
      lambdaInvocations: {
        byFunction: { wsSendMessage: { perMessage: 1, meanMs: 1 }, streamFanOut: { perMessage: 1, meanMs: 1 } },
      },
    };

    const priced = dollarsPerMillion(measured, { routeRequests: 1 });

    expect(lineOf(priced, 'X-Ray').quantityPerMessage).toBe(0.1);
    expect(lineOf(priced, 'X-Ray').usdPerMillionMessages).toBe(0.5);
    expect(lineOf(priced, 'Lambda requests').usdPerMillionMessages).toBe(0.4);
  });

  it('prices measured handler log bytes with the per-event overhead at the ingestion price', () => {
    const priced = dollarsPerMillion({ ...nothing, handlerLogs: { bytes: 974, events: 1 } }, { routeRequests: 0 });

    // (974 + 26) bytes = 1 KB a message: a million messages ingest 1 GB at $0.50.
    expect(lineOf(priced, 'CloudWatch Logs: handler').usdPerMillionMessages).toBe(0.5);
  });

  it('counts an access log line per route request, connect and disconnect, and platform lines per invocation', () => {
    const perAccessLine = accessLogLineBytes() + assumed.cloudWatchLogEventOverheadBytes.value;
    const perInvocation =
      assumed.lambdaPlatformLogBytesPerInvocation.value +
      assumed.lambdaPlatformLogEventsPerInvocation.value * assumed.cloudWatchLogEventOverheadBytes.value;
    const measured: MeasuredPerMessage = {
      ...nothing,
      lambdaInvocations: { byFunction: { wsConnect: { perMessage: 2, meanMs: 1 } } },
    };

    const priced = dollarsPerMillion(measured, { routeRequests: 1, connects: 1, disconnects: 1 });

    expect(lineOf(priced, 'CloudWatch Logs: Lambda platform').quantityPerMessage).toBeCloseTo(
      3 * perAccessLine + 2 * perInvocation,
      1,
    );
    // The connect upgrade is billed as a message; the disconnect is not.
    expect(lineOf(priced, 'API Gateway WebSocket').quantityPerMessage).toBe(3);
  });

  it("prices no Lambda platform line for a successful invocation at the stack's WARN system log level", () => {
    expect(lambdaSystemLogLevel).toBe('WARN');
    const measured: MeasuredPerMessage = {
      ...nothing,
      lambdaInvocations: { byFunction: { wsSendMessage: { perMessage: 1, meanMs: 1 } } },
    };
    // No route request either: only the invocation could add a platform line, and it adds none.
    expect(
      lineOf(dollarsPerMillion(measured, { routeRequests: 0 }), 'CloudWatch Logs: Lambda platform').quantityPerMessage,
    ).toBe(0);
  });

  it('renders the access log line as a JSON object of typical size', () => {
    expect(accessLogLineBytes()).toBeGreaterThan(150);
    expect(accessLogLineBytes()).toBeLessThan(400);
  });
});

describe('Lambda compute', () => {
  const wsAckAt = (f: { meanMs: number; billedMs?: number }): MeasuredPerMessage => ({
    ...nothing,
    lambdaInvocations: { byFunction: { wsAck: { perMessage: 1, ...f } } },
  });

  it('bills the duration as Lambda would at the function memory CPU where it was measured, else the local one', () => {
    const local = lineOf(dollarsPerMillion(wsAckAt({ meanMs: 20 }), { routeRequests: 0 }), 'Lambda compute');
    const billed = lineOf(
      dollarsPerMillion(wsAckAt({ meanMs: 20, billedMs: 79.1 }), { routeRequests: 0 }),
      'Lambda compute',
    );

    // wsAck has 256 MB: 20 ms and 80 ms (billed in 1 ms steps) of a quarter GB.
    expect(local.quantityPerMessage).toBeCloseTo(0.005, 5);
    expect(billed.quantityPerMessage).toBeCloseTo(0.02, 5);
  });
});

describe('costBetween', () => {
  const meters = (invocation: { invocations: number; totalMs: number; onThreadMs: number }, cpuModelled: boolean) => ({
    tally: new CapacityTally().snapshot(),
    posts: { posts: 0, postsGone: 0 } as Meters['posts'],
    invocations: { wsAck: { running: 0, failures: 0, ...invocation } },
    streamBatches: 0,
    streamRecords: 0,
    handlerLogs: undefined,
    stackCpuMs: 0,
    dynamoCpuMs: undefined,
    cpuModelled,
  });

  it("stretches a function's time on the thread to its memory's CPU, unless AWS timing already waited for it", () => {
    const before = meters({ invocations: 0, totalMs: 0, onThreadMs: 0 }, false);
    const local = costBetween(before, meters({ invocations: 1, totalMs: 20, onThreadMs: 10 }, false), 1);
    const modelled = costBetween(before, meters({ invocations: 1, totalMs: 20, onThreadMs: 10 }, true), 1);

    // 256 MB is 1,769 / 256 = 6.9 times slower than one vCPU: 10 ms of work lasts 69 ms there.
    expect(local.lambdaInvocations.byFunction.wsAck?.billedMs).toBeCloseTo(20 + 10 * (oneVcpuMemoryMb / 256 - 1), 1);
    expect(modelled.lambdaInvocations.byFunction.wsAck?.billedMs).toBe(20);
  });
});

describe('pushCostPerMillion', () => {
  const itemOf = (priced: ReturnType<typeof pushCostPerMillion>, startsWith: string) =>
    priced.lines.find((each) => each.item.startsWith(startsWith));

  it('prices one sender request, one window write and its bytes out per push', () => {
    const priced = pushCostPerMillion();

    expect(itemOf(priced, 'Lambda requests')?.usdPerMillionPushes).toBeCloseTo(prices.lambdaRequest.usd * 1e6, 3);
    expect(itemOf(priced, 'DynamoDB write units')?.quantityPerPush).toBe(pushWork.windowWriteUnits);
    expect(itemOf(priced, 'Data transfer out')?.usdPerMillionPushes).toBeCloseTo(
      (pushWork.requestBytes / 1e9) * prices.dataTransferOutGb.usd * 1e6,
      3,
    );
  });

  it("adds a write per suppressed claim, and a retry's request, compute and bytes", () => {
    const plain = pushCostPerMillion();
    const burstAndRetry = pushCostPerMillion({ suppressedPerPush: 4, retriesPerPush: 1 });

    expect(itemOf(burstAndRetry, 'DynamoDB write units')?.quantityPerPush).toBe(5 * pushWork.windowWriteUnits);
    expect(itemOf(burstAndRetry, 'Lambda requests')?.quantityPerPush).toBe(2);
    expect(burstAndRetry.usdPerMillionPushes).toBeGreaterThan(plain.usdPerMillionPushes);
  });
});

describe('sumMeasured', () => {
  it('adds parts times their share, and weights durations by invocations', () => {
    const message: MeasuredPerMessage = {
      dynamoDb: { readUnits: 5, writeUnits: 11, failedWriteUnits: 1 },
      postToConnection: 1,
      lambdaInvocations: { byFunction: { wsAck: { perMessage: 1, meanMs: 10 } } },
      handlerLogs: { bytes: 100, events: 1 },
    };
    const receipt: MeasuredPerMessage = {
      dynamoDb: { readUnits: 4, writeUnits: 6 },
      postToConnection: 1,
      lambdaInvocations: { byFunction: { wsAck: { perMessage: 1, meanMs: 30 } } },
    };

    const sum = sumMeasured([
      { part: message, times: 1 },
      { part: receipt, times: 0.2 },
    ]);

    expect(sum.dynamoDb.writeUnits).toBeCloseTo(12.2);
    expect(sum.dynamoDb.failedWriteUnits).toBeCloseTo(1);
    expect(sum.postToConnection).toBeCloseTo(1.2);
    expect(sum.lambdaInvocations.byFunction.wsAck?.perMessage).toBeCloseTo(1.2);
    expect(sum.lambdaInvocations.byFunction.wsAck?.meanMs).toBeCloseTo((10 + 0.2 * 30) / 1.2);
    expect(sum.handlerLogs).toEqual({ bytes: 100, events: 1 });
  });
});

describe('deviceHourCost', () => {
  it('prices connection minutes, a ping per keep-alive interval and a reconnect per maximum connection time', () => {
    const ping = { lines: [], usdPerMillionMessages: 3 };
    const reconnect = { lines: [], usdPerMillionMessages: 22 };

    const hour = deviceHourCost(ping, reconnect, { keepAliveMs: 5 * 60_000, maxConnectionMs: 110 * 60_000 });

    expect(hour.lines.map((line) => line.usdPerMillionDeviceHours)).toEqual([15, 36, 12]);
    expect(hour.usdPerMillionDeviceHours).toBe(63);
  });

  it('uses the intervals the SDK is built with', () => {
    const source = readFileSync(new URL('../../client/parley-client.ts', import.meta.url), 'utf8');
    const minutes = (name: string) => Number(new RegExp(`${name}: (\\d+) \\* 60_000`).exec(source)?.[1]) * 60_000;

    expect(sdkConnection.keepAliveMs).toBe(minutes('keepAliveMs'));
    expect(sdkConnection.maxConnectionMs).toBe(minutes('maxConnectionMs'));
  });
});

describe('CapacityTally', () => {
  const call = (operation: string, tables: string[], writeUnits: number, failed = false) => ({
    operation,
    tables: tables.map((table) => ({ table, readUnits: 0, writeUnits: failed ? 0 : writeUnits / tables.length })),
    readUnits: 0,
    writeUnits: failed ? 0 : writeUnits,
    failed,
    attempts: 1,
  });

  it('bills a failed call like the successful calls of the same shape', () => {
    const tally = new CapacityTally();
    const before = tally.snapshot();
    tally.record(call('TransactWriteItems', ['Conversations', 'Messages'], 10));
    tally.record(call('TransactWriteItems', ['Conversations', 'Messages'], 12));

    tally.record(call('TransactWriteItems', ['Messages', 'Conversations'], 0, true));

    const cost = tallyPerMessage(before, tally.snapshot(), 1, (name) => name);
    expect(cost.failedCalls).toBe(1);
    expect(cost.failedByOperation).toEqual({ TransactWriteItems: 1 });
    expect(cost.failedWriteUnits).toBe(11);
    expect(cost.writeUnits).toBe(22);
  });

  it('falls back to the minimum AWS bills when no call of that shape succeeded', () => {
    const tally = new CapacityTally();

    tally.record(call('PutItem', ['Receipts'], 0, true));
    tally.record(call('TransactWriteItems', ['Receipts', 'Conversations'], 0, true));

    expect(tally.snapshot().total.failedWriteUnits).toBe(1 + 4);
  });

  it('bills nothing for a failed read', () => {
    const tally = new CapacityTally();
    tally.record({ ...call('Query', ['Users'], 0, true), readUnits: 0 });

    expect(tally.snapshot().total).toMatchObject({ failedCalls: 1, failedWriteUnits: 0 });
  });
});

describe('meterHandlerLogs', () => {
  const fakeStream = () => {
    const written: string[] = [];
    const stream = { write: (chunk: string) => written.push(chunk) > 0 } as unknown as NodeJS.WriteStream;
    return { stream, written };
  };

  it('counts JSON lines on both streams, swallows those on stdout and lets everything else through', () => {
    const out = fakeStream();
    const err = fakeStream();
    const meter = meterHandlerLogs(out.stream, err.stream);

    out.stream.write('{"level":"INFO","message":"message accepted"}\n');
    out.stream.write('[bench +1s] a progress line\n');
    err.stream.write('{"level":"ERROR"}\n');
    meter.stop();
    out.stream.write('{"after":"stop"}\n');

    expect(meter.reading()).toEqual({ bytes: 45 + 17, events: 2 });
    expect(out.written).toEqual(['[bench +1s] a progress line\n', '{"after":"stop"}\n']);
    expect(err.written).toEqual(['{"level":"ERROR"}\n']);
  });
});

describe('presenceModel', () => {
  it('prices a presence flip as one Query of the watchers, plus the switch and a post per watcher when there are any', () => {
    const nobody = presenceModel.flip(0);
    const five = presenceModel.flip(5);

    expect(nobody.measured).toMatchObject({ dynamoDb: { readUnits: 0.5, writeUnits: 0 }, postToConnection: 0 });
    expect(five.measured).toMatchObject({ dynamoDb: { readUnits: 1, writeUnits: 0 }, postToConnection: 5 });
    expect(lineOf(dollarsPerMillion(five.measured, five.billing), 'API Gateway WebSocket').quantityPerMessage).toBe(5);
  });

  it('reads 100 watcher items in 2 RRU, as the bench measures them (bench/presence-runs.ts), beside the switch', () => {
    const hundred = presenceModel.flip(100);

    expect(hundred.measured).toMatchObject({ dynamoDb: { readUnits: 2.5, writeUnits: 0 }, postToConnection: 100 });
  });

  it('bills a typing frame once (no route response) beside a post per live connection', () => {
    const direct = presenceModel.typing(2, 1);

    const priced = dollarsPerMillion(direct.measured, direct.billing);

    expect(lineOf(priced, 'API Gateway WebSocket').quantityPerMessage).toBe(2);
    expect(direct.measured.dynamoDb).toEqual({ readUnits: 2, writeUnits: 1 });
  });

  it('writes a watcher item per subscribed user and the watch list once', () => {
    const subscription = presenceModel.subscription(20, 10);

    expect(subscription.measured.dynamoDb.writeUnits).toBe(21);
    expect(subscription.measured.dynamoDb.readUnits).toBe(21 * 0.5 + 20);
  });
});
