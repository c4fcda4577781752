/**
 * The local stack's AWS timing: draws each wait of local/aws-timing-profile.ts from a log-normal
 * distribution fitted to its p50 and p99, from a seeded source per figure, so a run's draws repeat
 * per seed (which call gets which draw still depends on how calls interleave). Without it (the
 * default, `timing: 'local'`) there is no model and nothing waits.
 */
import { randomInt } from 'node:crypto';
import { awsTimingProfile, type LatencyFigure, type LatencyName, type TimingProfile } from './aws-timing-profile';
import { seededRandom } from './seeded-random';
import type { StreamPollerOptions } from './stream-poller';

/** `'local'` (default): no added latency, the 20 ms poller. `'aws'`: the AWS profile, a random seed. */
export type LocalStackTiming =
  | 'local'
  | 'aws'
  | {
      /** Default: the AWS profile. */
      readonly profile?: TimingProfile;
      /** Default: a random one, reported as the stack's `timing.seed`. */
      readonly seed?: number;
    };

export interface TimingModel {
  readonly profile: TimingProfile;
  readonly seed: number;
  /** One draw of `name`'s latency, in ms. */
  draw(name: LatencyName): number;
  /** One draw for a DynamoDB call of `operation` (`GetItem`, `Query`, ...). */
  dynamoDbCallMs(operation: string): number;
}

/** The standard normal's 99th percentile. */
const z99 = 2.326_347_874_040_840_8;

/** The log-normal whose median is `p50Ms` and 99th percentile `p99Ms`: ln X ~ N(mu, sigma). */
export function logNormalParameters(figure: Pick<LatencyFigure, 'p50Ms' | 'p99Ms'>): { mu: number; sigma: number } {
  if (!(figure.p50Ms > 0) || !(figure.p99Ms >= figure.p50Ms)) {
    throw new RangeError(`A latency needs 0 < p50 <= p99, got ${figure.p50Ms} and ${figure.p99Ms}`);
  }
  return { mu: Math.log(figure.p50Ms), sigma: Math.log(figure.p99Ms / figure.p50Ms) / z99 };
}

/** Draws of `figure` from uniform draws in [0, 1) (Box-Muller: two uniforms make one normal). */
export function latencyDraws(figure: LatencyFigure, uniform: () => number): () => number {
  const { mu, sigma } = logNormalParameters(figure);
  return () => {
    const u = 1 - uniform(); // (0, 1]: the logarithm stays finite
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
    return Math.exp(mu + sigma * normal);
  };
}

/** Which figure a DynamoDB operation waits by: single-item reads, writes, queries, batches, transactions. */
export function dynamoDbLatencyName(operation: string): LatencyName {
  switch (operation) {
    case 'GetItem':
      return 'dynamoDbItemRead';
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return 'dynamoDbItemWrite';
    case 'BatchGetItem':
    case 'BatchWriteItem':
    case 'BatchExecuteStatement':
      return 'dynamoDbBatch';
    case 'TransactGetItems':
    case 'TransactWriteItems':
    case 'ExecuteTransaction':
      return 'dynamoDbTransaction';
    default:
      // Query, Scan, PartiQL statements, control-plane calls.
      return 'dynamoDbQuery';
  }
}

export function createTimingModel(profile: TimingProfile, seed: number): TimingModel {
  const draws = new Map<LatencyName, () => number>();
  const drawsOf = (name: LatencyName): (() => number) => {
    let draw = draws.get(name);
    if (draw === undefined) {
      // A source per figure: adding calls of one kind does not shift the draws of another.
      draw = latencyDraws(profile.latencies[name], seededRandom((seed ^ hashOf(name)) >>> 0).next);
      draws.set(name, draw);
    }
    return draw;
  };
  const draw = (name: LatencyName): number => drawsOf(name)();
  return { profile, seed, draw, dynamoDbCallMs: (operation) => draw(dynamoDbLatencyName(operation)) };
}

/** The stack option made a model; `undefined` for local timing (nothing is added anywhere). */
export function resolveTiming(timing: LocalStackTiming | undefined): TimingModel | undefined {
  if (timing === undefined || timing === 'local') return undefined;
  const { profile = awsTimingProfile, seed = randomInt(2 ** 31) } = timing === 'aws' ? {} : timing;
  return createTimingModel(profile, seed);
}

/** `--timing-seed <n>` (npm start, bench, chaos): a whole number, or undefined when absent. */
export function parseTimingSeed(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--timing-seed must be a whole number, got "${text}"`);
  return seed;
}

/** `--aws-timing [--timing-seed <n>]` as the stack's `timing` option; undefined (local timing) without the switch. */
export function timingFromFlags(awsTiming: boolean, seedText: string | undefined): LocalStackTiming | undefined {
  const seed = parseTimingSeed(seedText);
  if (!awsTiming) {
    if (seed !== undefined) throw new Error('--timing-seed needs --aws-timing');
    return undefined;
  }
  return seed === undefined ? 'aws' : { seed };
}

/** The stream poller's pace: an explicit interval wins; AWS timing adds Lambda's pace and the stream's propagation. */
export function streamTiming(
  pollIntervalMs: number | undefined,
  timing: TimingModel | undefined,
): Pick<StreamPollerOptions, 'idleSleepMs' | 'propagationDelayMs'> {
  const idleSleepMs = pollIntervalMs ?? timing?.profile.streamPollInterval.ms;
  return {
    ...(idleSleepMs === undefined ? {} : { idleSleepMs }),
    ...(timing === undefined ? {} : { propagationDelayMs: () => timing.draw('streamPropagation') }),
  };
}

/** FNV-1a: a figure's name as a 32-bit number, to mix into the seed. */
function hashOf(text: string): number {
  let hash = 0x81_1c_9d_c5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01_00_01_93);
  return hash >>> 0;
}
