/** Readings of the counters the bench keeps (capacity tally, posts, invocations, stream, CPU) and costs between two. */
import { setTimeout as sleep } from 'node:timers/promises';
import { type FunctionName, type FunctionSpec, functions, memoryMbOf } from '#shared/config/functions';
import { awsTimingProfile, cpuStretch } from '../local/aws-timing-profile';
import type { InvocationCount } from '../local/lambda-runtime';
import type { ManagementApiCounts } from '../local/management-api';
import { round, tallyPerMessage } from './capacity-tally';
import { processCpuMs } from './machine';
import { type BenchRig, ceilingTablePrefix, stackTablePrefix, waitForQuiet } from './rig';

export type Meters = ReturnType<typeof readMeters>;
export type CostReport = ReturnType<typeof costBetween>;

export function readMeters(rig: BenchRig) {
  const { stack, tally, dynamoPid } = rig;
  const cpu = process.cpuUsage();
  return {
    tally: tally.snapshot(),
    posts: { ...stack.managementApiCounts } as ManagementApiCounts,
    invocations: stack.invocationCounts(),
    streamBatches: stack.streamStats.batches,
    streamRecords: stack.streamStats.records,
    handlerLogs: rig.handlerLogs === undefined ? undefined : rig.handlerLogs.reading(),
    stackCpuMs: (cpu.user + cpu.system) / 1000,
    dynamoCpuMs: dynamoPid === undefined ? undefined : processCpuMs(dynamoPid),
    // The runtime already waits what a function's memory-sized CPU adds.
    cpuModelled: stack.cpuByMemory,
  };
}

export function cpuOf(m: Meters) {
  return { stackCpuMs: m.stackCpuMs, dynamoCpuMs: m.dynamoCpuMs };
}

/** CPU the idle stack burns (stream pollers polling, timers), per second: the floor under every phase. */
export async function measureIdle(rig: BenchRig, seconds: number) {
  await waitForQuiet(rig);
  const before = readMeters(rig);
  await sleep(seconds * 1000);
  const after = readMeters(rig);
  const perSecond = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? null : round((b - a) / seconds, 1);
  return {
    seconds,
    stackCpuMsPerSecond: perSecond(before.stackCpuMs, after.stackCpuMs),
    dynamoDbLocalCpuMsPerSecond: perSecond(before.dynamoCpuMs, after.dynamoCpuMs),
  };
}

export function costBetween(before: Meters, after: Meters, messages: number, deviceCpuMs?: number) {
  const per = (value: number) => round(value / Math.max(1, messages), 3);
  const zero: InvocationCount = { invocations: 0, running: 0, failures: 0, totalMs: 0, onThreadMs: 0 };
  const byFunction: Record<
    string,
    { perMessage: number; meanMs: number; onThreadMs: number; billedMs: number; failures: number }
  > = {};
  for (const [name, count] of Object.entries(after.invocations) as [FunctionName, InvocationCount | undefined][]) {
    const was = before.invocations[name] ?? zero;
    const invocations = (count?.invocations ?? 0) - was.invocations;
    if (invocations <= 0 || count === undefined) continue;
    const meanMs = (count.totalMs - was.totalMs) / invocations;
    // Mean time on the thread, where the stack measures it (its cost phases); else 0.
    const onThreadMs = (count.onThreadMs - was.onThreadMs) / invocations;
    // Here a handler runs at this machine's core; under 1,769 MB Lambda's CPU is slower, and its work
    // on the thread lasts that much longer there (local/aws-timing-profile.ts, `lambdaCpu`).
    const spec: FunctionSpec = functions[name];
    const stretch = after.cpuModelled ? 1 : cpuStretch(memoryMbOf(spec), awsTimingProfile.lambdaCpu);
    byFunction[name] = {
      perMessage: per(invocations),
      meanMs: round(meanMs, 1),
      onThreadMs: round(onThreadMs, 1),
      /** What AWS would bill per invocation: the local duration with the work stretched to the memory's CPU. */
      billedMs: round(meanMs + onThreadMs * (stretch - 1), 1),
      failures: count.failures - was.failures,
    };
  }
  const batches = after.streamBatches - before.streamBatches;
  const logs = after.handlerLogs !== undefined && before.handlerLogs !== undefined ? after.handlerLogs : undefined;
  return {
    messages,
    dynamoDb: tallyPerMessage(before.tally, after.tally, messages, logicalTable),
    postToConnection: per(after.posts.posts - before.posts.posts),
    postsGone: per(after.posts.postsGone - before.posts.postsGone),
    lambdaInvocations: {
      total: round(
        Object.values(byFunction).reduce((sum, f) => sum + f.perMessage, 0),
        3,
      ),
      byFunction,
    },
    ...(logs === undefined || before.handlerLogs === undefined
      ? {}
      : {
          handlerLogs: {
            bytes: per(logs.bytes - before.handlerLogs.bytes),
            events: per(logs.events - before.handlerLogs.events),
          },
        }),
    streamBatches: batches,
    meanStreamBatch: batches > 0 ? round((after.streamRecords - before.streamRecords) / batches, 1) : 0,
    cpuMsPerMessage: {
      stackProcess: per(after.stackCpuMs - before.stackCpuMs),
      dynamoDbLocal:
        after.dynamoCpuMs === undefined || before.dynamoCpuMs === undefined
          ? null
          : per(after.dynamoCpuMs - before.dynamoCpuMs),
      devices: deviceCpuMs === undefined ? null : per(deviceCpuMs),
    },
  };
}

/** `bench-Messages` and `ceiling-Messages` are both `Messages`: results compare across runs and with the ceiling. */
function logicalTable(physical: string): string {
  for (const prefix of [stackTablePrefix, ceilingTablePrefix]) {
    if (physical.startsWith(prefix)) return physical.slice(prefix.length);
  }
  return physical;
}
