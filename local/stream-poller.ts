import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type Shard,
  type ShardIteratorType,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamTriggerSpec } from '#shared/config/functions';
import { tables } from '#shared/config/tables';
import { createLocalStreamsClient } from './aws-local';
import { awsTimingProfile } from './aws-timing-profile';
import { type BatchOutcome, interpretBatchResponse, sequenceNumberOf } from './batch-response';
import type { DeadLetterCondition, DeadLetterQueue } from './dead-letters';
import type { LocalLogger } from './log';
import { PollingHold } from './polling-hold';
import { passesFilters, toLambdaRecord } from './stream-records';

/** Receives one batch as Lambda would; resolves with the function's response, rejects when it fails. */
export type StreamBatchHandler = (event: DynamoDBStreamEvent) => Promise<unknown>;

export interface StreamTriggerBinding {
  /** Batch, retry and filter settings: an entry of `streamTriggers`, or a test's variant of one. */
  readonly trigger: StreamTriggerSpec;
  readonly streamArn: string;
  /** Where shards that exist at start are read from; shards that appear later start at TRIM_HORIZON. */
  readonly startingPosition: 'LATEST' | 'TRIM_HORIZON';
  readonly invoke: StreamBatchHandler;
}

export interface StreamPollerOptions {
  readonly endpoint: string;
  readonly bindings: readonly StreamTriggerBinding[];
  readonly deadLetters: DeadLetterQueue;
  readonly logger: LocalLogger;
  /**
   * Pause after a poll that found nothing, for triggers without a batching window. AWS polls each shard
   * about 4 times a second (the AWS timing profile passes that); locally the fan-out polls faster.
   * Triggers that batch anyway poll at AWS's pace.
   */
  readonly idleSleepMs?: number;
  /** How often DescribeStream looks for new shards (DynamoDB rolls shards over). */
  readonly shardDiscoveryIntervalMs?: number;
  /** Chaos runs only: true when the next batch is to be delivered twice (see local/faults.ts). */
  readonly duplicateBatch?: () => boolean;
  /**
   * AWS timing: how long new records take to reach a GetRecords after their write (a draw per read that
   * found some). Modelled as a hold before they are delivered: the same wait per message as AWS's
   * "visible later, found by a later poll". Absent: none.
   */
  readonly propagationDelayMs?: () => number;
  /** Tests: stands in for every pause of the trigger loops (how long, and why); the default sleeps, waking on stop. */
  readonly sleep?: PollerSleep;
}

/** Why a trigger loop pauses: an empty poll, records still propagating, an error, DynamoDB away. */
export type PollerPauseReason = 'idle' | 'propagation' | 'error' | 'outage';

export type PollerSleep = (ms: number, reason: PollerPauseReason) => Promise<void>;

/** Running totals over every trigger, for tests and benchmarks. */
export interface StreamPollerStats {
  /** Function invocations, retries included. */
  batches: number;
  /** Records the function completed. */
  records: number;
  /** Invocations that re-sent records after a failure (a retry or a bisected half). */
  retries: number;
  /** Invocations that threw, timed out or reported batch item failures. */
  failedBatches: number;
  deadLettered: number;
  /** Records dropped by the trigger's filter criteria (they never reach the function). */
  filteredOut: number;
  /** Failed invocations retried without counting an attempt, because DynamoDB itself did not answer. */
  outageRetries: number;
  /** GetRecords calls, empty ones included. */
  polls: number;
  /** Batches started while another batch of the same shard was in flight (ParallelizationFactor above 1). */
  concurrentBatches: number;
}

export interface StreamPoller {
  readonly stats: Readonly<StreamPollerStats>;
  /** The pause after an empty poll, for triggers without a batching window (the fan-out's pace). */
  readonly idleSleepMs: number;
  /**
   * Holds every trigger after its current batch, resolving once none is reading or invoking; nothing is
   * skipped, the records wait in the stream. For benchmarks that need DynamoDB Local to themselves.
   */
  pause(): Promise<void>;
  resume(): void;
  /**
   * Resolves once every trigger has finished a poll, begun after this call, that found nothing to read
   * or deliver: everything written before the call has been through its function. For tests that must
   * know fan-out is done (parking included), now that a marker's direct delivery no longer implies it.
   * A paused trigger counts as settled once its loop waits in the pause: it delivers nothing more
   * until `resume`.
   */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export const defaultIdleSleepMs = 20;
/** Lambda's own polling pace for a DynamoDB stream shard: about four GetRecords a second. */
const awsIdleSleepMs = awsTimingProfile.streamPollInterval.ms;
const defaultShardDiscoveryIntervalMs = 1_000;
const errorBackoffMs = 1_000;
const getRecordsLimit = 1_000;
const outageProbeTimeoutMs = 2_000;

export async function startStreamPoller(options: StreamPollerOptions): Promise<StreamPoller> {
  const client = createLocalStreamsClient(options.endpoint);
  const stats: StreamPollerStats = {
    batches: 0,
    records: 0,
    retries: 0,
    failedBatches: 0,
    deadLettered: 0,
    filteredOut: 0,
    outageRetries: 0,
    polls: 0,
    concurrentBatches: 0,
  };
  const stopping = new AbortController();
  const hold = new PollingHold();
  const pollers = options.bindings.map(
    (binding) => new TriggerPoller(binding, client, stats, options, stopping.signal, hold),
  );
  // Shards and LATEST iterators are fixed before the stack reports ready, so no later write is missed.
  await Promise.all(pollers.map((poller) => poller.discoverShards()));
  const loops = pollers.map((poller) => poller.run());
  return {
    stats,
    idleSleepMs: options.idleSleepMs ?? defaultIdleSleepMs,
    pause: () => hold.hold(pollers.length),
    resume: () => hold.release(),
    settled: () => Promise.all(pollers.map((poller) => poller.idleRoundAfterNow())).then(() => undefined),
    async stop() {
      stopping.abort();
      hold.release();
      await Promise.all(loops);
      client.destroy();
    },
  };
}

interface ShardState {
  readonly shardId: string;
  readonly parentShardId: string | undefined;
  readonly startingPosition: ShardIteratorType;
  iterator: string | undefined;
  /** DynamoDB said the shard is closed and every record in it has been read. */
  closed: boolean;
  lastReadSequenceNumber: string | undefined;
  /**
   * ParallelizationFactor: the shard's records split by partition key into this many lanes, each
   * delivered one batch at a time, in order, beside the others (order holds per partition key).
   */
  readonly lanes: readonly Lane[];
}

/** One of a shard's concurrent batch streams (all of it with ParallelizationFactor 1). */
interface Lane {
  readonly shard: ShardState;
  /** Read but not yet completed, in stream order; the head is the checkpoint. */
  readonly pending: DynamoDBRecord[];
  /** Sizes of the next batches, set by a failure: a retry of the same records or bisected halves. */
  readonly plannedBatchSizes: number[];
  readonly failedAttempts: Map<string, number>;
  firstPendingAt: number | undefined;
  /** The batch being delivered, if any. */
  delivering: Promise<void> | undefined;
}

/** One event source mapping: reads the trigger's stream shard by shard and invokes its function. */
class TriggerPoller {
  private readonly shards = new Map<string, ShardState>();
  private discoveredOnce = false;
  private nextDiscoveryAt = 0;
  /** Rounds of the loop begun, and waiters for an idle round numbered above a given one. */
  private round = 0;
  private readonly idleWaiters: { readonly after: number; readonly resolve: () => void }[] = [];
  /** The loop waits in a pause: nothing is delivered until it is released. */
  private paused = false;

  constructor(
    private readonly binding: StreamTriggerBinding,
    private readonly client: DynamoDBStreamsClient,
    private readonly stats: StreamPollerStats,
    private readonly options: StreamPollerOptions,
    private readonly stopSignal: AbortSignal,
    private readonly hold: PollingHold,
  ) {}

  async run(): Promise<void> {
    while (!this.stopSignal.aborted) {
      // A pause holds the loop once no batch is in flight.
      if (this.hold.requested) {
        await Promise.all(this.busyLanes());
        this.paused = true;
        this.settleWaitersUpTo(Number.POSITIVE_INFINITY);
      }
      await this.hold.wait();
      this.paused = false;
      if (this.stopSignal.aborted) break;
      try {
        const round = ++this.round;
        if (Date.now() >= this.nextDiscoveryAt) await this.discoverShards();
        let didWork = false;
        for (const shard of this.readyShards()) {
          if (queued(shard) < this.binding.trigger.batchSize * shard.lanes.length) {
            didWork = (await this.read(shard)) || didWork;
          }
          didWork = this.startDeliveries(shard) || didWork;
        }
        const busy = this.busyLanes();
        if (!didWork && busy.length > 0) {
          // Batches in flight: read again when one ends, or at the idle pace for the other lanes.
          const idle = this.timer(this.idleSleepMs());
          try {
            await Promise.race([...busy, idle.elapsed]);
          } finally {
            // A batch that ended first leaves no timer or stop listener behind for the next round to pile on.
            idle.cancel();
          }
          continue;
        }
        // After records, the next poll comes at once (Lambda "resumes polling until it receives more records").
        if (!didWork) {
          // Records held for the batching window are not delivered yet: that round is not idle.
          if (!this.holdsRecords()) this.settleWaitersUpTo(round);
          await this.pause(this.idleSleepMs(), 'idle');
        }
      } catch (error) {
        if (this.stopSignal.aborted) break;
        this.options.logger.warn('stream poller error; retrying', { function: this.binding.trigger.function, error });
        await this.pause(errorBackoffMs, 'error');
      }
    }
    await Promise.all(this.busyLanes());
  }

  private parallelization(): number {
    return Math.max(1, Math.floor(this.binding.trigger.parallelizationFactor));
  }

  private holdsRecords(): boolean {
    return [...this.shards.values()].some((shard) => shard.lanes.some((lane) => lane.pending.length > 0));
  }

  private busyLanes(): Promise<void>[] {
    return [...this.shards.values()].flatMap((shard) =>
      shard.lanes.flatMap((lane) => (lane.delivering === undefined ? [] : [lane.delivering])),
    );
  }

  /** Starts a batch on every lane that is free and has one to deliver; true when any started. */
  private startDeliveries(shard: ShardState): boolean {
    let started = false;
    for (const lane of shard.lanes) {
      if (lane.delivering !== undefined || !this.hasBatch(lane)) continue;
      started = true;
      const others = shard.lanes.filter((other) => other.delivering !== undefined).length;
      if (others > 0) this.stats.concurrentBatches += 1;
      lane.delivering = this.deliver(lane)
        .catch((error: unknown) =>
          this.options.logger.warn('stream poller delivery error', { function: this.binding.trigger.function, error }),
        )
        .finally(() => {
          lane.delivering = undefined;
        });
    }
    return started;
  }

  /** Which lane a record goes to: by its partition key, so one key's records keep their order. */
  private laneOf(shard: ShardState, record: DynamoDBRecord): Lane {
    const lanes = shard.lanes;
    if (lanes.length === 1) return lanes[0] as Lane;
    const partitionKey = tables[this.binding.trigger.table].partitionKey.name;
    const key = JSON.stringify(record.dynamodb?.Keys?.[partitionKey] ?? record.dynamodb?.Keys ?? '');
    return lanes[hashOf(key) % lanes.length] as Lane;
  }

  /** A real timer (not the test's `sleep`), for the pauses and the waits between rounds; ends early on stop or cancel. */
  private timer(ms: number): { readonly elapsed: Promise<void>; cancel(): void } {
    const signal = this.stopSignal;
    let cancel = (): void => undefined;
    const elapsed = new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      cancel = done;
    });
    return { elapsed, cancel: () => cancel() };
  }

  /** Resolves after a round that starts later than now finds nothing to do, or at once while paused. */
  idleRoundAfterNow(): Promise<void> {
    if (this.paused) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push({ after: this.round, resolve }));
  }

  private settleWaitersUpTo(idleRound: number): void {
    for (let i = this.idleWaiters.length - 1; i >= 0; i--) {
      const waiter = this.idleWaiters[i];
      if (waiter && waiter.after < idleRound) {
        this.idleWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Every idle poll costs DynamoDB Local CPU that the latency-sensitive fan-out would otherwise get. */
  private idleSleepMs(): number {
    const fast = this.options.idleSleepMs ?? defaultIdleSleepMs;
    return this.binding.trigger.maxBatchingWindowSeconds > 0 ? Math.max(fast, awsIdleSleepMs) : fast;
  }

  async discoverShards(): Promise<void> {
    const isFirstDiscovery = !this.discoveredOnce;
    for (const shard of await this.describeShards()) {
      const shardId = shard.ShardId;
      if (shardId === undefined || this.shards.has(shardId)) continue;
      const startingPosition = isFirstDiscovery ? this.binding.startingPosition : 'TRIM_HORIZON';
      const state: ShardState = {
        shardId,
        parentShardId: shard.ParentShardId,
        startingPosition,
        iterator: undefined,
        closed: false,
        lastReadSequenceNumber: undefined,
        lanes: [],
      };
      (state.lanes as Lane[]).push(...Array.from({ length: this.parallelization() }, (): Lane => newLane(state)));
      // Taken now rather than when the shard's turn comes: LATEST means "from start-up on".
      state.iterator = await this.shardIterator(state);
      this.shards.set(shardId, state);
    }
    this.discoveredOnce = true;
    this.nextDiscoveryAt = Date.now() + (this.options.shardDiscoveryIntervalMs ?? defaultShardDiscoveryIntervalMs);
  }

  private async describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription: description } = await this.client.send(
        new DescribeStreamCommand({ StreamArn: this.binding.streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      shards.push(...(description?.Shards ?? []));
      exclusiveStartShardId = description?.LastEvaluatedShardId;
    } while (exclusiveStartShardId !== undefined);
    return shards;
  }

  private async shardIterator(shard: ShardState): Promise<string | undefined> {
    const resumeAfter = shard.lastReadSequenceNumber;
    const { ShardIterator: iterator } = await this.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.binding.streamArn,
        ShardId: shard.shardId,
        ...(resumeAfter === undefined
          ? { ShardIteratorType: shard.startingPosition }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: resumeAfter }),
      }),
    );
    return iterator;
  }

  private isFinished(shard: ShardState): boolean {
    return shard.closed && shard.lanes.every((lane) => lane.pending.length === 0 && lane.delivering === undefined);
  }

  /** Order across a reshard: a child waits until its parent is drained (or gone from the stream). */
  private readyShards(): ShardState[] {
    return [...this.shards.values()].filter((shard) => {
      if (this.isFinished(shard)) return false;
      const parent = shard.parentShardId === undefined ? undefined : this.shards.get(shard.parentShardId);
      return parent === undefined || this.isFinished(parent);
    });
  }

  private async read(shard: ShardState): Promise<boolean> {
    if (shard.closed || shard.iterator === undefined) return false;
    let response: GetRecordsCommandOutput;
    this.stats.polls += 1;
    try {
      response = await this.client.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: getRecordsLimit }),
      );
    } catch (error) {
      if (!(error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException)) throw error;
      shard.iterator = await this.shardIterator(shard);
      return false;
    }
    shard.iterator = response.NextShardIterator;
    if (shard.iterator === undefined) shard.closed = true;
    const records = response.Records ?? [];
    let queued = 0;
    for (const sdkRecord of records) {
      const record = toLambdaRecord(sdkRecord, this.binding.streamArn);
      shard.lastReadSequenceNumber = record.dynamodb?.SequenceNumber ?? shard.lastReadSequenceNumber;
      if (!passesFilters(record, this.binding.trigger.filters)) {
        this.stats.filteredOut += 1;
        continue;
      }
      const lane = this.laneOf(shard, record);
      lane.firstPendingAt ??= Date.now();
      lane.pending.push(record);
      queued += 1;
    }
    const { propagationDelayMs } = this.options;
    if (queued > 0 && propagationDelayMs !== undefined) await this.pause(propagationDelayMs(), 'propagation');
    return records.length > 0;
  }

  /** The lane has records to deliver now (not waiting out a batching window). */
  private hasBatch(lane: Lane): boolean {
    this.dropExpiredRecords(lane);
    if (lane.pending.length === 0) return false;
    return lane.plannedBatchSizes.length > 0 || !this.keepsBatching(lane);
  }

  private async deliver(lane: Lane): Promise<void> {
    const isRetry = lane.plannedBatchSizes.length > 0;
    const batchSize = Math.min(lane.plannedBatchSizes.shift() ?? this.binding.trigger.batchSize, lane.pending.length);
    const batch = lane.pending.slice(0, batchSize);
    this.stats.batches += 1;
    if (isRetry) this.stats.retries += 1;
    const outcome = await this.invoke(batch);

    if (outcome.kind !== 'success' && !(await this.streamReachable())) {
      this.retryAfterOutage(lane, batchSize, outcome);
      await this.pause(errorBackoffMs, 'outage');
      return;
    }
    if (outcome.kind === 'success') {
      this.complete(lane, batchSize);
    } else if (outcome.kind === 'partialFailure') {
      this.stats.failedBatches += 1;
      this.complete(lane, outcome.firstFailedIndex);
      this.retryFromCheckpoint(lane, batchSize - outcome.firstFailedIndex, 'Reported in batchItemFailures');
    } else {
      this.stats.failedBatches += 1;
      if (this.binding.trigger.bisectBatchOnError && batchSize > 1) {
        // Emulates Lambda's bisection: first half, then second half; splitting is not counted as a retry.
        lane.plannedBatchSizes.unshift(Math.ceil(batchSize / 2), Math.floor(batchSize / 2));
      } else {
        this.retryWholeBatch(lane, batchSize, outcome.error);
      }
    }
  }

  private async invoke(batch: DynamoDBRecord[]): Promise<BatchOutcome> {
    if (this.options.duplicateBatch?.() === true) {
      // At-least-once delivery: the first answer is lost and the same records come again.
      this.stats.batches += 1;
      await this.invokeOnce(batch);
    }
    return this.invokeOnce(batch);
  }

  private async invokeOnce(batch: DynamoDBRecord[]): Promise<BatchOutcome> {
    try {
      const response = await this.binding.invoke({ Records: batch });
      return this.binding.trigger.reportBatchItemFailures
        ? interpretBatchResponse(response, batch)
        : { kind: 'success' };
    } catch (error) {
      return { kind: 'failure', error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** False when DynamoDB does not answer a DescribeStream: then the function most likely failed because the database is away. */
  private async streamReachable(): Promise<boolean> {
    try {
      await this.client.send(new DescribeStreamCommand({ StreamArn: this.binding.streamArn, Limit: 1 }), {
        abortSignal: AbortSignal.timeout(outageProbeTimeoutMs),
      });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A failure while DynamoDB itself is down (DynamoDB Local restarting) is not the records' fault: the
   * same records are retried without counting an attempt, so an outage never dead-letters good records.
   */
  private retryAfterOutage(lane: Lane, batchSize: number, outcome: Exclude<BatchOutcome, { kind: 'success' }>): void {
    this.stats.outageRetries += 1;
    const done = outcome.kind === 'partialFailure' ? outcome.firstFailedIndex : 0;
    this.complete(lane, done);
    lane.plannedBatchSizes.unshift(batchSize - done);
  }

  /** The head failed (reported by the function): count it; retry from it, or give it up and go on. */
  private retryFromCheckpoint(lane: Lane, retryBatchSize: number, reason: string): void {
    const head = lane.pending[0];
    if (head === undefined) return;
    const attempts = this.countFailure(lane, head);
    if (!this.retriesExhausted(attempts)) {
      lane.plannedBatchSizes.unshift(retryBatchSize);
      return;
    }
    this.deadLetter(lane, [head], 'RetryAttemptsExhausted', attempts, reason);
    if (retryBatchSize > 1) lane.plannedBatchSizes.unshift(retryBatchSize - 1);
  }

  /** The whole batch failed: retry it as it was, or discard it when its retries are used up. */
  private retryWholeBatch(lane: Lane, batchSize: number, error: string): void {
    const batch = lane.pending.slice(0, batchSize);
    const attempts = Math.max(...batch.map((record) => this.countFailure(lane, record)));
    if (!this.retriesExhausted(attempts)) {
      lane.plannedBatchSizes.unshift(batchSize);
      return;
    }
    this.deadLetter(lane, batch, 'RetryAttemptsExhausted', attempts, error);
  }

  private countFailure(lane: Lane, record: DynamoDBRecord): number {
    const key = sequenceNumberOf(record);
    const attempts = (lane.failedAttempts.get(key) ?? 0) + 1;
    lane.failedAttempts.set(key, attempts);
    return attempts;
  }

  /** `retryAttempts` retries after the first attempt; -1 means until the record expires. */
  private retriesExhausted(failedAttempts: number): boolean {
    const { retryAttempts } = this.binding.trigger;
    return retryAttempts >= 0 && failedAttempts > retryAttempts;
  }

  private complete(lane: Lane, count: number): void {
    for (const record of lane.pending.splice(0, count)) lane.failedAttempts.delete(sequenceNumberOf(record));
    this.stats.records += count;
    if (lane.pending.length === 0) lane.firstPendingAt = undefined;
  }

  private deadLetter(
    lane: Lane,
    records: readonly DynamoDBRecord[],
    condition: DeadLetterCondition,
    attempts: number,
    lastError: string | undefined,
  ): void {
    const at = new Date().toISOString();
    for (const record of records) {
      this.options.deadLetters.add({
        source: 'stream',
        function: this.binding.trigger.function,
        streamArn: this.binding.streamArn,
        shardId: lane.shard.shardId,
        condition,
        attempts,
        ...(lastError === undefined ? {} : { lastError }),
        record,
        at,
      });
      lane.failedAttempts.delete(sequenceNumberOf(record));
    }
    lane.pending.splice(0, records.length);
    this.stats.deadLettered += records.length;
    if (lane.pending.length === 0) lane.firstPendingAt = undefined;
  }

  /** Lambda skips records older than MaximumRecordAgeInSeconds (-1: no limit) and reports them. */
  private dropExpiredRecords(lane: Lane): void {
    const { maxRecordAgeSeconds } = this.binding.trigger;
    if (maxRecordAgeSeconds < 0) return;
    const oldestAllowed = Date.now() / 1000 - maxRecordAgeSeconds;
    for (;;) {
      const head = lane.pending[0];
      const createdAt = head?.dynamodb?.ApproximateCreationDateTime;
      if (head === undefined || createdAt === undefined || createdAt >= oldestAllowed) return;
      this.deadLetter(
        lane,
        [head],
        'RecordAgeExceeded',
        lane.failedAttempts.get(sequenceNumberOf(head)) ?? 0,
        undefined,
      );
      const planned = lane.plannedBatchSizes[0];
      if (planned !== undefined) {
        if (planned > 1) lane.plannedBatchSizes[0] = planned - 1;
        else lane.plannedBatchSizes.shift();
      }
    }
  }

  /** MaximumBatchingWindowInSeconds: wait for a full batch, at most that long after the first record. */
  private keepsBatching(lane: Lane): boolean {
    const windowMs = this.binding.trigger.maxBatchingWindowSeconds * 1000;
    if (windowMs <= 0 || lane.shard.closed || lane.pending.length >= this.binding.trigger.batchSize) return false;
    return Date.now() - (lane.firstPendingAt ?? Date.now()) < windowMs;
  }

  /** Sleeps, but wakes at once when the poller stops. */
  private pause(ms: number, reason: PollerPauseReason): Promise<void> {
    if (this.options.sleep !== undefined) return this.options.sleep(ms, reason);
    return this.timer(ms).elapsed;
  }
}

function newLane(shard: ShardState): Lane {
  return {
    shard,
    pending: [],
    plannedBatchSizes: [],
    failedAttempts: new Map(),
    firstPendingAt: undefined,
    delivering: undefined,
  };
}

/** Records read and not yet completed, over the shard's lanes. */
function queued(shard: ShardState): number {
  return shard.lanes.reduce((sum, lane) => sum + lane.pending.length, 0);
}

/** FNV-1a of a partition key's JSON. */
function hashOf(text: string): number {
  let hash = 0x81_1c_9d_c5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01_00_01_93);
  return hash >>> 0;
}
