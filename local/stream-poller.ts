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
}

export interface StreamPoller {
  readonly stats: Readonly<StreamPollerStats>;
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
  /** Read but not yet completed, in stream order; the head is the checkpoint. */
  readonly pending: DynamoDBRecord[];
  /** Sizes of the next batches, set by a failure: a retry of the same records or bisected halves. */
  readonly plannedBatchSizes: number[];
  readonly failedAttempts: Map<string, number>;
  firstPendingAt: number | undefined;
}

/** One event source mapping: reads the trigger's stream shard by shard and invokes its function. */
class TriggerPoller {
  private readonly shards = new Map<string, ShardState>();
  private discoveredOnce = false;
  private nextDiscoveryAt = 0;
  /** Rounds of the loop begun, and waiters for an idle round numbered above a given one. */
  private round = 0;
  private readonly idleWaiters: { readonly after: number; readonly resolve: () => void }[] = [];

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
      await this.hold.wait();
      if (this.stopSignal.aborted) break;
      try {
        const round = ++this.round;
        if (Date.now() >= this.nextDiscoveryAt) await this.discoverShards();
        let didWork = false;
        for (const shard of this.readyShards()) {
          if (shard.pending.length < this.binding.trigger.batchSize) didWork = (await this.read(shard)) || didWork;
          didWork = (await this.deliver(shard)) || didWork;
        }
        // After records, the next poll comes at once (Lambda "resumes polling until it receives more records").
        if (!didWork) {
          this.settleWaitersUpTo(round);
          await this.pause(this.idleSleepMs(), 'idle');
        }
      } catch (error) {
        if (this.stopSignal.aborted) break;
        this.options.logger.warn('stream poller error; retrying', { function: this.binding.trigger.function, error });
        await this.pause(errorBackoffMs, 'error');
      }
    }
  }

  /** Resolves after a round that starts later than now finds nothing to do. */
  idleRoundAfterNow(): Promise<void> {
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
        pending: [],
        plannedBatchSizes: [],
        failedAttempts: new Map(),
        firstPendingAt: undefined,
      };
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
    return shard.closed && shard.pending.length === 0;
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
      shard.firstPendingAt ??= Date.now();
      shard.pending.push(record);
      queued += 1;
    }
    const { propagationDelayMs } = this.options;
    if (queued > 0 && propagationDelayMs !== undefined) await this.pause(propagationDelayMs(), 'propagation');
    return records.length > 0;
  }

  private async deliver(shard: ShardState): Promise<boolean> {
    this.dropExpiredRecords(shard);
    if (shard.pending.length === 0) return false;
    const isRetry = shard.plannedBatchSizes.length > 0;
    if (!isRetry && this.keepsBatching(shard)) return false;

    const batchSize = Math.min(shard.plannedBatchSizes.shift() ?? this.binding.trigger.batchSize, shard.pending.length);
    const batch = shard.pending.slice(0, batchSize);
    this.stats.batches += 1;
    if (isRetry) this.stats.retries += 1;
    const outcome = await this.invoke(batch);

    if (outcome.kind !== 'success' && !(await this.streamReachable())) {
      this.retryAfterOutage(shard, batchSize, outcome);
      await this.pause(errorBackoffMs, 'outage');
      return true;
    }
    if (outcome.kind === 'success') {
      this.complete(shard, batchSize);
    } else if (outcome.kind === 'partialFailure') {
      this.stats.failedBatches += 1;
      this.complete(shard, outcome.firstFailedIndex);
      this.retryFromCheckpoint(shard, batchSize - outcome.firstFailedIndex, 'Reported in batchItemFailures');
    } else {
      this.stats.failedBatches += 1;
      if (this.binding.trigger.bisectBatchOnError && batchSize > 1) {
        // Emulates Lambda's bisection: first half, then second half; splitting is not counted as a retry.
        shard.plannedBatchSizes.unshift(Math.ceil(batchSize / 2), Math.floor(batchSize / 2));
      } else {
        this.retryWholeBatch(shard, batchSize, outcome.error);
      }
    }
    return true;
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
  private retryAfterOutage(
    shard: ShardState,
    batchSize: number,
    outcome: Exclude<BatchOutcome, { kind: 'success' }>,
  ): void {
    this.stats.outageRetries += 1;
    const done = outcome.kind === 'partialFailure' ? outcome.firstFailedIndex : 0;
    this.complete(shard, done);
    shard.plannedBatchSizes.unshift(batchSize - done);
  }

  /** The head failed (reported by the function): count it; retry from it, or give it up and go on. */
  private retryFromCheckpoint(shard: ShardState, retryBatchSize: number, reason: string): void {
    const head = shard.pending[0];
    if (head === undefined) return;
    const attempts = this.countFailure(shard, head);
    if (!this.retriesExhausted(attempts)) {
      shard.plannedBatchSizes.unshift(retryBatchSize);
      return;
    }
    this.deadLetter(shard, [head], 'RetryAttemptsExhausted', attempts, reason);
    if (retryBatchSize > 1) shard.plannedBatchSizes.unshift(retryBatchSize - 1);
  }

  /** The whole batch failed: retry it as it was, or discard it when its retries are used up. */
  private retryWholeBatch(shard: ShardState, batchSize: number, error: string): void {
    const batch = shard.pending.slice(0, batchSize);
    const attempts = Math.max(...batch.map((record) => this.countFailure(shard, record)));
    if (!this.retriesExhausted(attempts)) {
      shard.plannedBatchSizes.unshift(batchSize);
      return;
    }
    this.deadLetter(shard, batch, 'RetryAttemptsExhausted', attempts, error);
  }

  private countFailure(shard: ShardState, record: DynamoDBRecord): number {
    const key = sequenceNumberOf(record);
    const attempts = (shard.failedAttempts.get(key) ?? 0) + 1;
    shard.failedAttempts.set(key, attempts);
    return attempts;
  }

  /** `retryAttempts` retries after the first attempt; -1 means until the record expires. */
  private retriesExhausted(failedAttempts: number): boolean {
    const { retryAttempts } = this.binding.trigger;
    return retryAttempts >= 0 && failedAttempts > retryAttempts;
  }

  private complete(shard: ShardState, count: number): void {
    for (const record of shard.pending.splice(0, count)) shard.failedAttempts.delete(sequenceNumberOf(record));
    this.stats.records += count;
    if (shard.pending.length === 0) shard.firstPendingAt = undefined;
  }

  private deadLetter(
    shard: ShardState,
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
        shardId: shard.shardId,
        condition,
        attempts,
        ...(lastError === undefined ? {} : { lastError }),
        record,
        at,
      });
      shard.failedAttempts.delete(sequenceNumberOf(record));
    }
    shard.pending.splice(0, records.length);
    this.stats.deadLettered += records.length;
    if (shard.pending.length === 0) shard.firstPendingAt = undefined;
  }

  /** Lambda skips records older than MaximumRecordAgeInSeconds (-1: no limit) and reports them. */
  private dropExpiredRecords(shard: ShardState): void {
    const { maxRecordAgeSeconds } = this.binding.trigger;
    if (maxRecordAgeSeconds < 0) return;
    const oldestAllowed = Date.now() / 1000 - maxRecordAgeSeconds;
    for (;;) {
      const head = shard.pending[0];
      const createdAt = head?.dynamodb?.ApproximateCreationDateTime;
      if (head === undefined || createdAt === undefined || createdAt >= oldestAllowed) return;
      this.deadLetter(
        shard,
        [head],
        'RecordAgeExceeded',
        shard.failedAttempts.get(sequenceNumberOf(head)) ?? 0,
        undefined,
      );
      const planned = shard.plannedBatchSizes[0];
      if (planned !== undefined) {
        if (planned > 1) shard.plannedBatchSizes[0] = planned - 1;
        else shard.plannedBatchSizes.shift();
      }
    }
  }

  /** MaximumBatchingWindowInSeconds: wait for a full batch, at most that long after the first record. */
  private keepsBatching(shard: ShardState): boolean {
    const windowMs = this.binding.trigger.maxBatchingWindowSeconds * 1000;
    if (windowMs <= 0 || shard.closed || shard.pending.length >= this.binding.trigger.batchSize) return false;
    return Date.now() - (shard.firstPendingAt ?? Date.now()) < windowMs;
  }

  /** Sleeps, but wakes at once when the poller stops. */
  private pause(ms: number, reason: PollerPauseReason): Promise<void> {
    if (this.options.sleep !== undefined) return this.options.sleep(ms, reason);
    const signal = this.stopSignal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
