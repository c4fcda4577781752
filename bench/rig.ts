/**
 * What the bench runs on: DynamoDB Local with a tallying capacity recorder, the ceiling's tables, the local
 * stack in this process and the driver holding the devices; and how the bench waits for it to go quiet.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { setCapacityRecorder } from '#shared/aws/capacity-meter';
import type { FunctionName } from '#shared/config/functions';
import { createLocalDynamoDbClient } from '../local/aws-local';
import { type DynamoDbLocal, type DynamoDbLocalJit, startDynamoDbLocal } from '../local/dynamodb-local';
import { anyFreeServicePorts, type LocalStack, startLocalStack } from '../local/stack';
import { createLocalTables, type LocalTables } from '../local/tables';
import { CapacityTally } from './capacity-tally';
import { anchorCeilingStreams } from './ceiling';
import { type DriverClient, startDriver } from './driver-client';
import { type HandlerLogMeter, meterHandlerLogs } from './log-meter';
import { findDynamoDbLocalPid } from './machine';
import type { StackProfile } from './settings';

export const stackTablePrefix = 'bench-';
/** The longest a probe waits for the stack to settle before its next message. */
const probeSettleLimitMs = 15_000;
export const ceilingTablePrefix = 'ceiling-';

export interface BenchRig {
  readonly dynamo: DynamoDbLocal;
  /** DynamoDB Local's process, for its CPU time (undefined where it cannot be found). */
  readonly dynamoPid: number | undefined;
  readonly tally: CapacityTally;
  readonly ceilingTables: LocalTables;
  readonly stack: LocalStack;
  readonly driver: DriverClient;
  /** Present when the handlers log as deployed (INFO, metrics on): what they wrote, counted and kept off the console. */
  readonly handlerLogs: HandlerLogMeter | undefined;
}

/** The stack under `profile`: AWS timing draws from `timingSeed`; `fastPath: false` is `--no-fast-path`. */
export async function startBenchStack(
  profile: StackProfile,
  timingSeed: number,
  options: {
    readonly meterHandlerLogs?: boolean;
    /** DynamoDB Local's JIT: `'tiered'` where throughput ceilings are measured, C1 only elsewhere. */
    readonly dynamoDbJit?: DynamoDbLocalJit;
  } = {},
): Promise<BenchRig> {
  const tally = new CapacityTally();
  setCapacityRecorder(tally.record);
  const dynamo = await startDynamoDbLocal({ port: 0, ...(options.dynamoDbJit ? { jit: options.dynamoDbJit } : {}) });
  const dynamoPid = findDynamoDbLocalPid();
  // The ceiling's own tables, in the DynamoDB Local the workloads use, their streams begun before the stack's.
  const ceilingTables = await createLocalTables(createLocalDynamoDbClient(dynamo.endpoint), ceilingTablePrefix);
  await anchorCeilingStreams(createLocalDynamoDbClient(dynamo.endpoint), ceilingTables);
  const stack = await startLocalStack({
    dynamoEndpoint: dynamo.endpoint,
    tablePrefix: stackTablePrefix,
    ...anyFreeServicePorts,
    // Deployed handlers log at Powertools' default level, INFO, and publish metrics: metered runs do the same.
    logLevel: options.meterHandlerLogs ? 'INFO' : 'ERROR',
    metrics: options.meterHandlerLogs === true,
    timing: profile.timing === 'aws' ? { seed: timingSeed } : 'local',
    directDelivery: profile.fastPath,
    // Metered runs also time each function on the thread: what Lambda's memory-sized CPU stretches.
    measureOnThreadTime: options.meterHandlerLogs === true,
  });
  const handlerLogs = options.meterHandlerLogs ? meterHandlerLogs() : undefined;
  // Probes send their next message once every stream has been through its function, then at a random
  // point of the poller's cycle: sent right after a poll, every stream-path message would wait a full one.
  const driver = startDriver(async () => {
    // Bounded: a batch retried for minutes (a poison record) must not hold the probe for ever.
    await Promise.race([stack.streamsSettled(), sleep(probeSettleLimitMs, undefined, { ref: false })]);
    await sleep(Math.random() * stack.streamIdleSleepMs);
  });
  return { dynamo, dynamoPid, tally, ceilingTables, stack, driver, handlerLogs };
}

export async function stopBenchStack(rig: BenchRig): Promise<void> {
  await rig.driver.stop().catch(() => undefined);
  await rig.stack.stop();
  await rig.dynamo.stop();
  rig.handlerLogs?.stop();
  setCapacityRecorder(undefined);
}

/**
 * Runs `start`, which answers how many invocations of `name` it caused, then waits until that many
 * more have finished: for frames answered only when refused, which say nothing when they succeed.
 */
export async function invocationsFinished(
  rig: BenchRig,
  name: FunctionName,
  start: () => Promise<number>,
  maxMs = 30_000,
): Promise<void> {
  const finished = () => {
    const count = rig.stack.invocationCounts()[name];
    return count === undefined ? 0 : count.invocations - count.running;
  };
  const before = finished();
  const caused = await start();
  const deadline = performance.now() + maxMs;
  while (finished() < before + caused) {
    if (performance.now() > deadline) throw new Error(`${caused} ${name} invocation(s) did not finish in ${maxMs} ms`);
    await sleep(5);
  }
}

/**
 * Waits until no invocation runs and no DynamoDB call, post, invocation or stream record has happened
 * for 300 ms, and every stream trigger has had an idle round since.
 */
export async function waitForQuiet(rig: BenchRig, maxMs = 15_000): Promise<void> {
  const { stack, tally } = rig;
  const signature = () => {
    const counts = Object.values(stack.invocationCounts());
    const invocations = counts.reduce((sum, c) => sum + (c?.invocations ?? 0), 0);
    // A running invocation is never quiet, however long its DynamoDB call takes on a starved machine.
    const running = counts.reduce((sum, c) => sum + (c?.running ?? 0), 0);
    return running > 0
      ? `running ${performance.now()}`
      : `${tally.calls}/${stack.managementApiCounts.posts}/${invocations}/${stack.streamStats.records}`;
  };
  const deadline = performance.now() + maxMs;
  let last = signature();
  let stableSince = performance.now();
  while (performance.now() < deadline) {
    await sleep(50);
    const now = signature();
    if (now !== last) {
      last = now;
      stableSince = performance.now();
    } else if (performance.now() - stableSince >= 300) {
      // A trigger holding records for its batching window (the receipts stream's second) looks quiet.
      await stack.streamsSettled();
      const settled = signature();
      if (settled === last) return;
      last = settled;
      stableSince = performance.now();
    }
  }
}

/** Runs `work` with the stack quiet and its stream pollers held (records wait in the stream), then resumes them. */
export async function aloneOnDynamoDb<T>(rig: BenchRig, work: () => Promise<T>): Promise<T> {
  await waitForQuiet(rig);
  await rig.stack.pauseStreams();
  try {
    return await work();
  } finally {
    rig.stack.resumeStreams();
  }
}
