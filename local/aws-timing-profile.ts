/**
 * How long AWS makes Parley wait, as one declared model: every figure the local stack's AWS timing
 * (`npm start -- --aws-timing`, `startLocalStack({ timing: 'aws' })`) uses is here, once, with its
 * source. AWS publishes few of them; the rest are estimates, marked so, with the reason. Latencies are
 * drawn per call from a log-normal distribution with the declared median (p50) and 99th percentile
 * (local/aws-timing.ts), so tails show. docs/performance.md mirrors this file in a table (a test
 * checks that they agree): change both together.
 */
import { oneVcpuMemoryMb } from '#shared/config/functions';

/** One latency: the distribution's median and 99th percentile, in milliseconds, and where they come from. */
export interface LatencyFigure {
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** An AWS documentation URL, or `estimate: ` and why. */
  readonly source: string;
}

/** A fixed figure (no distribution). */
export interface FixedFigure {
  readonly ms: number;
  readonly source: string;
}

export type LatencyName =
  | 'streamPropagation'
  | 'lambdaInvoke'
  | 'webSocketFrameIn'
  | 'webSocketRouteResponseOut'
  | 'postToConnectionFrameOut'
  | 'postToConnectionAnswer'
  | 'httpRequestIn'
  | 'httpResponseOut'
  | 'dynamoDbItemRead'
  | 'dynamoDbItemWrite'
  | 'dynamoDbQuery'
  | 'dynamoDbBatch'
  | 'dynamoDbTransaction';

/** How Lambda sizes a function's CPU: in proportion to its memory, one vCPU at this much. */
export interface CpuFigure {
  readonly oneVcpuAtMemoryMb: number;
  readonly source: string;
}

/** How many times longer than on one vCPU (this machine's core) a function of `memoryMb` takes over its own work. */
export function cpuStretch(memoryMb: number, cpu: CpuFigure): number {
  return Math.max(1, cpu.oneVcpuAtMemoryMb / memoryMb);
}

export interface TimingProfile {
  /** Lambda's pause between two GetRecords on a stream shard after one that found nothing. */
  readonly streamPollInterval: FixedFigure;
  /** With `cpuByMemory`: an invocation's time on the thread here is stretched by this over its memory. */
  readonly lambdaCpu: CpuFigure;
  readonly latencies: Readonly<Record<LatencyName, LatencyFigure>>;
}

const lambdaDynamoDbStreams = 'https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html';
const dynamoDbSingleDigit = 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Introduction.html';

export const awsTimingProfile: TimingProfile = {
  streamPollInterval: {
    ms: 250,
    source: `${lambdaDynamoDbStreams} ("polls shards ... at a base rate of 4 times per second"; at once again after a batch)`,
  },
  lambdaCpu: {
    oneVcpuAtMemoryMb: oneVcpuMemoryMb,
    source:
      'https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html ("At 1,769 MB, a function has the equivalent of one vCPU"; CPU in proportion to memory); this machine\'s core stands in for one vCPU (an estimate)',
  },
  latencies: {
    streamPropagation: {
      p50Ms: 10,
      p99Ms: 40,
      source:
        'estimate: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html says only "near-real time"; the write reaching the stream plus the GetRecords round trip that returns it',
    },
    lambdaInvoke: {
      p50Ms: 2,
      p99Ms: 8,
      source:
        'estimate: warm invoke overhead (routing to a warm environment), unpublished; with the WebSocket hop it makes the ~10/~30 ms of docs/performance.md',
    },
    webSocketFrameIn: {
      p50Ms: 8,
      p99Ms: 25,
      source:
        'estimate: API Gateway WebSocket frame (or handshake) in -> Lambda invoke; docs/performance.md (~10/~30 ms with the invoke)',
    },
    webSocketRouteResponseOut: {
      p50Ms: 5,
      p99Ms: 15,
      source: 'estimate: the route response rides back on the invoke answer, one hop to the socket',
    },
    postToConnectionFrameOut: {
      p50Ms: 10,
      p99Ms: 30,
      source: 'estimate: docs/performance.md, "API Gateway: post -> frame out" (~10/~30 ms)',
    },
    postToConnectionAnswer: {
      p50Ms: 10,
      p99Ms: 30,
      source: "estimate: the @connections POST's own HTTPS round trip from Lambda, as the frame's",
    },
    httpRequestIn: {
      p50Ms: 8,
      p99Ms: 25,
      source: 'estimate: HTTP API with its JWT authorizer -> Lambda invoke, as the WebSocket hop',
    },
    httpResponseOut: {
      p50Ms: 5,
      p99Ms: 15,
      source: 'estimate: Lambda answer -> HTTP response, as the WebSocket route response',
    },
    dynamoDbItemRead: {
      p50Ms: 5,
      p99Ms: 15,
      source: `estimate: within DynamoDB's "single-digit millisecond" (${dynamoDbSingleDigit}); GetItem, below a write`,
    },
    dynamoDbItemWrite: {
      p50Ms: 7,
      p99Ms: 20,
      source: `estimate: within "single-digit millisecond" (${dynamoDbSingleDigit}), docs/performance.md's ~7/~20 ms round trip; PutItem, UpdateItem, DeleteItem`,
    },
    dynamoDbQuery: {
      p50Ms: 7,
      p99Ms: 22,
      source: 'estimate: a Query of one small partition, a read returning a page of items',
    },
    dynamoDbBatch: {
      p50Ms: 10,
      p99Ms: 30,
      source: 'estimate: BatchGetItem/BatchWriteItem fan out to partitions in parallel; the slowest answers last',
    },
    dynamoDbTransaction: {
      p50Ms: 12,
      p99Ms: 35,
      source:
        'estimate: TransactWriteItems/TransactGetItems coordinate every item (two phases); AWS documents the doubled capacity, not the time',
    },
  },
};
