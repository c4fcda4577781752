/**
 * The AWS timing profile: its draws (seeded, spread out, with the declared p50 and p99), how DynamoDB
 * calls map to its figures, the stack option that turns it on (and that nothing is added without it),
 * and docs/performance.md's table of it. Statistics on drawn values only: nothing here times itself.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createTimingModel,
  dynamoDbLatencyName,
  latencyDraws,
  logNormalParameters,
  resolveTiming,
  streamTiming,
} from '../../local/aws-timing';
import { awsTimingProfile, type LatencyName } from '../../local/aws-timing-profile';
import { seededRandom } from '../../local/seeded-random';
import { defaultIdleSleepMs } from '../../local/stream-poller';

const seed = 20_251_127;
const latencyNames = Object.keys(awsTimingProfile.latencies) as LatencyName[];

function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function drawMany(draw: () => number, count: number): number[] {
  return Array.from({ length: count }, draw).sort((a, b) => a - b);
}

describe('the AWS timing profile', () => {
  it('declares every figure once, with p50 <= p99 and a source: an AWS documentation URL or a marked estimate', () => {
    expect(awsTimingProfile.streamPollInterval.ms).toBe(250);
    expect(awsTimingProfile.streamPollInterval.source).toContain('https://docs.aws.amazon.com/lambda/');
    for (const name of latencyNames) {
      const figure = awsTimingProfile.latencies[name];
      expect(figure.p50Ms, name).toBeGreaterThan(0);
      expect(figure.p99Ms, name).toBeGreaterThan(figure.p50Ms);
      expect(figure.source, name).toMatch(/^(https:\/\/docs\.aws\.amazon\.com\/|estimate: )/);
    }
  });

  it.each(latencyNames)('draws %s spread out around the declared p50 and p99 (seeded)', (name) => {
    const figure = awsTimingProfile.latencies[name];
    const model = createTimingModel(awsTimingProfile, seed);
    const draws = drawMany(() => model.draw(name), 40_000);

    expect(quantile(draws, 0.5)).toBeGreaterThan(figure.p50Ms * 0.95);
    expect(quantile(draws, 0.5)).toBeLessThan(figure.p50Ms * 1.05);
    expect(quantile(draws, 0.99)).toBeGreaterThan(figure.p99Ms * 0.9);
    expect(quantile(draws, 0.99)).toBeLessThan(figure.p99Ms * 1.1);
    // A distribution, not a constant: a quarter of the draws lie below the p50 by a visible margin.
    expect(quantile(draws, 0.25)).toBeLessThan(figure.p50Ms * 0.9);
    expect(draws[0]).toBeGreaterThan(0);
    expect(new Set(draws).size).toBe(draws.length);
  });

  it('fits the log-normal exactly to the two quantiles', () => {
    const { mu, sigma } = logNormalParameters({ p50Ms: 10, p99Ms: 30 });
    expect(Math.exp(mu)).toBeCloseTo(10, 10);
    expect(Math.exp(mu + 2.326_347_874 * sigma)).toBeCloseTo(30, 6);
    expect(() => logNormalParameters({ p50Ms: 0, p99Ms: 1 })).toThrow(RangeError);
    expect(() => logNormalParameters({ p50Ms: 5, p99Ms: 4 })).toThrow(RangeError);
  });

  it('repeats its draws for a seed, figure by figure, whatever else was drawn in between', () => {
    const first = createTimingModel(awsTimingProfile, seed);
    const second = createTimingModel(awsTimingProfile, seed);
    const other = createTimingModel(awsTimingProfile, seed + 1);
    const fromFirst = [first.draw('dynamoDbQuery'), first.draw('dynamoDbQuery')];
    second.draw('webSocketFrameIn');
    second.dynamoDbCallMs('PutItem');
    expect([second.draw('dynamoDbQuery'), second.draw('dynamoDbQuery')]).toEqual(fromFirst);
    expect(other.draw('dynamoDbQuery')).not.toBe(fromFirst[0]);
  });

  it('draws from any uniform source (Box-Muller), never zero or infinite at the ends of [0, 1)', () => {
    const ends = [0, 0.999_999_999, 0, 0.5];
    const draw = latencyDraws({ p50Ms: 10, p99Ms: 30, source: 'estimate: test' }, () => ends.shift() ?? 0.5);
    expect(Number.isFinite(draw())).toBe(true);
    expect(draw()).toBeGreaterThan(0);
  });

  it('waits single-item reads, writes, queries, batches and transactions by their own figures', () => {
    expect(dynamoDbLatencyName('GetItem')).toBe('dynamoDbItemRead');
    for (const operation of ['PutItem', 'UpdateItem', 'DeleteItem']) {
      expect(dynamoDbLatencyName(operation)).toBe('dynamoDbItemWrite');
    }
    expect(dynamoDbLatencyName('Query')).toBe('dynamoDbQuery');
    expect(dynamoDbLatencyName('Scan')).toBe('dynamoDbQuery');
    expect(dynamoDbLatencyName('BatchGetItem')).toBe('dynamoDbBatch');
    expect(dynamoDbLatencyName('BatchWriteItem')).toBe('dynamoDbBatch');
    expect(dynamoDbLatencyName('TransactWriteItems')).toBe('dynamoDbTransaction');
    expect(dynamoDbLatencyName('TransactGetItems')).toBe('dynamoDbTransaction');
  });

  it('keeps the stream path honest: a modelled 1:1 send-to-deliver p50 well above 100 ms', () => {
    // The path docs/performance.md describes, as the stack waits it (the commit lands mid-transaction).
    const model = createTimingModel(awsTimingProfile, seed);
    // Where in Lambda's polling cycle the record lands: uniform over one interval.
    const phase = seededRandom(seed).next;
    const poll = awsTimingProfile.streamPollInterval.ms;
    const call = (operation: string): number => model.dynamoDbCallMs(operation);
    const sendToDeliver = (): number =>
      model.draw('webSocketFrameIn') +
      model.draw('lambdaInvoke') +
      call('UpdateItem') +
      call('BatchGetItem') +
      call('TransactWriteItems') / 2 +
      model.draw('streamPropagation') +
      phase() * poll +
      model.draw('lambdaInvoke') +
      call('Query') +
      Math.max(call('Query'), call('Query')) +
      model.draw('postToConnectionFrameOut');
    const totals = drawMany(sendToDeliver, 20_000);
    expect(quantile(totals, 0.5)).toBeGreaterThan(150);
    expect(quantile(totals, 0.5)).toBeLessThan(260);
    expect(quantile(totals, 0.99)).toBeGreaterThan(300);
  });
});

describe('the timing option', () => {
  it('adds nothing without the switch: no model, and the poller keeps its 20 ms pause and no propagation', () => {
    expect(resolveTiming(undefined)).toBeUndefined();
    expect(resolveTiming('local')).toBeUndefined();
    expect(streamTiming(undefined, undefined)).toEqual({});
    expect(defaultIdleSleepMs).toBe(20);
    expect(streamTiming(5, undefined)).toEqual({ idleSleepMs: 5 });
  });

  it("turns on the AWS profile with a random seed, or the given profile and seed; the poller polls at Lambda's pace", () => {
    const aws = resolveTiming('aws');
    expect(aws?.profile).toBe(awsTimingProfile);
    expect(Number.isInteger(aws?.seed)).toBe(true);
    const seeded = resolveTiming({ seed: 42 });
    expect(seeded?.seed).toBe(42);
    expect(seeded?.draw('dynamoDbQuery')).toBe(createTimingModel(awsTimingProfile, 42).draw('dynamoDbQuery'));

    const stream = streamTiming(undefined, seeded);
    expect(stream.idleSleepMs).toBe(250);
    expect(stream.propagationDelayMs?.()).toBeGreaterThan(0);
    // An explicit interval still wins.
    expect(streamTiming(20, seeded).idleSleepMs).toBe(20);
  });
});

describe("docs/performance.md's table of the profile", () => {
  const doc = readFileSync(new URL('../../docs/performance.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### The AWS timing profile'));
  const rows = new Map(
    [...section.matchAll(/^\| `(\w+)`\s*\|\s*([\d.]+)\s*\|\s*([\d.—-]+)\s*\|\s*(.+?)\s*\|$/gm)].map((row) => [
      row[1],
      { p50: row[2], p99: row[3], source: row[4] ?? '' },
    ]),
  );

  it('lists every figure with the numbers the file declares', () => {
    expect(rows.get('streamPollInterval')?.p50).toBe(String(awsTimingProfile.streamPollInterval.ms));
    expect(rows.get('lambdaCpu')?.p50).toBe(String(awsTimingProfile.lambdaCpu.oneVcpuAtMemoryMb));
    for (const name of latencyNames) {
      const figure = awsTimingProfile.latencies[name];
      expect(rows.get(name), name).toMatchObject({ p50: String(figure.p50Ms), p99: String(figure.p99Ms) });
      expect(rows.get(name)?.source.startsWith('estimate'), name).toBe(figure.source.startsWith('estimate'));
    }
    expect(rows.size).toBe(latencyNames.length + 2);
  });
});
