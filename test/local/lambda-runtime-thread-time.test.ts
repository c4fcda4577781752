import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { throughAwsCallGate } from '#shared/aws/call-gate';
import { functionDefaults, oneVcpuMemoryMb } from '#shared/config/functions';
import { awsTimingProfile } from '../../local/aws-timing-profile';
import { createLambdaRuntime } from '../../local/lambda-runtime';
import { createLocalLogger } from '../../local/log';

const logger = createLocalLogger('SILENT');

/** Holds the thread for at least `ms`, as a CPU-bound stretch of a handler does. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

const busyMs = 60;
const waitMs = 150;

/** A handler that works on the thread, waits off it (as for DynamoDB), then works again after the wait. */
const overrides = {
  wsDefault: async () => {
    busyFor(busyMs);
    await sleep(waitMs);
    busyFor(busyMs);
    return {};
  },
};

describe("the local Lambda runtime's time on the thread", () => {
  it('counts the work before and after a wait, and not the wait', async () => {
    const runtime = createLambdaRuntime({ logger, tableName: (key) => key, overrides, measureOnThreadTime: true });

    await runtime.invoke('wsDefault', {});

    const count = runtime.invocationCounts().wsDefault;
    // Both stretches are on the thread (however slow this machine, each holds it at least busyMs) ...
    expect(count?.onThreadMs).toBeGreaterThanOrEqual(2 * busyMs);
    // ... and the wait is not: the wall time holds at least waitMs more.
    expect((count?.totalMs ?? 0) - (count?.onThreadMs ?? 0)).toBeGreaterThanOrEqual(waitMs - 1);
  });

  it("does not count another invocation's work that runs during this one's wait", async () => {
    const runtime = createLambdaRuntime({ logger, tableName: (key) => key, overrides, measureOnThreadTime: true });

    // The second invocation's first stretch runs while the first one waits.
    await Promise.all([runtime.invoke('wsDefault', {}), runtime.invoke('wsDefault', {})]);

    const count = runtime.invocationCounts().wsDefault;
    // Two invocations of two stretches each; had one counted a stretch of the other's, the total would
    // reach 5 stretches.
    expect(count?.onThreadMs).toBeGreaterThanOrEqual(4 * busyMs);
    expect(count?.onThreadMs).toBeLessThan(5 * busyMs);
  });

  it('measures nothing unless asked', async () => {
    const runtime = createLambdaRuntime({ logger, tableName: (key) => key, overrides });

    await runtime.invoke('wsDefault', {});

    expect(runtime.invocationCounts().wsDefault?.onThreadMs).toBe(0);
  });
});

describe("the local Lambda runtime's CPU sized by memory (AWS timing, `cpuByMemory`)", () => {
  it('waits, before an AWS call, what a function of its memory would have taken longer for the work before it', async () => {
    const stretch = oneVcpuMemoryMb / functionDefaults.memoryMb;
    let workEndedAt = 0;
    let calledAt = 0;
    const runtime = createLambdaRuntime({
      logger,
      tableName: (key) => key,
      cpuByMemory: awsTimingProfile.lambdaCpu,
      overrides: {
        wsDefault: async () => {
          busyFor(busyMs);
          workEndedAt = performance.now();
          await throughAwsCallGate('GetItem', async () => {
            calledAt = performance.now();
          });
          return {};
        },
      },
    });

    await runtime.invoke('wsDefault', {});

    // At 256 MB the work takes about 6.9 times as long: the call waits at least the difference.
    expect(calledAt - workEndedAt).toBeGreaterThanOrEqual(busyMs * (stretch - 1) - 1);
    expect(runtime.invocationCounts().wsDefault?.totalMs).toBeGreaterThanOrEqual(busyMs * stretch - 1);
  });
});
