/** The chaos run's local stack: its fault controls, the fan-out faults, the harness's dice and its data directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalStackTiming } from '../local/aws-timing';
import { noFaults } from '../local/faults';
import { parseLogLevel } from '../local/log';
import { type Random, seededRandom } from '../local/seeded-random';
import { anyFreeServicePorts, type LocalStack, type LocalStackFaults, startLocalStack } from '../local/stack';
import { createFanOutFaults, type FanOutFaults } from './fan-out-faults';
import type { ChaosSettings } from './settings';

export interface ChaosRig {
  readonly stack: LocalStack;
  readonly faults: LocalStackFaults;
  readonly fanOutFaults: FanOutFaults;
  /** The harness's own choices (the plan, the drops); the fault dice roll apart. */
  readonly random: Random;
  readonly dataDir: string;
}

export interface DropCounters {
  drops: number;
  dropsWithoutDisconnect: number;
}

export async function startStackWithFaults(
  settings: ChaosSettings,
  timing: LocalStackTiming | undefined,
): Promise<ChaosRig> {
  // Separate streams: the plan stays the same whatever the fault dice did.
  const random = seededRandom(settings.seed);
  const faultRandom = seededRandom(settings.seed ^ 0x5eed_f00d);
  const fanOutFaults = createFanOutFaults(faultRandom.next, 0);
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-chaos-'));
  const stack = await startLocalStack({
    dataDir,
    dynamoPort: 0,
    ...anyFreeServicePorts,
    logLevel: parseLogLevel(process.env.PARLEY_LOG_LEVEL, 'SILENT'),
    faults: { random: faultRandom.next },
    // The proxy and the runtime's hooks are on from the start; their rates stay 0 until the sending phase.
    ...(settings.awsFaults
      ? {
          awsFaults: {
            postThrottle: 0,
            throttle: 0,
            dynamoDbInternalError: 0,
            unprocessed: 0,
            lambdaTimeout: 0,
            transactionHoldMs: settings.transactionHoldMs,
          },
        }
      : {}),
    handlerOverrides: { streamFanOut: fanOutFaults.handler },
    ...(timing === undefined ? {} : { timing }),
  });
  const faults = stack.faults;
  if (faults === undefined) {
    await stack.stop();
    throw new Error('The stack was started without fault controls');
  }
  return { stack, faults, fanOutFaults, random, dataDir };
}

export async function stopStackWithFaults(rig: ChaosRig, keepData: boolean): Promise<void> {
  await rig.stack.stop();
  if (!keepData) rmSync(rig.dataDir, { recursive: true, force: true });
}

export function turnFaultsOn(rig: ChaosRig, settings: ChaosSettings): void {
  Object.assign(rig.faults.settings, {
    postGone: settings.postGone,
    postError: settings.postError,
    postErrorAfterDelivery: settings.postErrorAfterDelivery,
    duplicateBatch: settings.duplicateBatch,
    directRecordWrite: settings.directRecordWrite,
    ...(settings.awsFaults
      ? {
          postThrottle: settings.postThrottle,
          throttle: settings.throttle,
          dynamoDbInternalError: settings.dynamoDbInternalError,
          unprocessed: settings.unprocessed,
          lambdaTimeout: settings.lambdaTimeout,
        }
      : {}),
  });
  rig.fanOutFaults.flakyFailure = settings.flakyFailure;
  if (settings.everyFaultAtLeastOnce) {
    rig.faults.armEachOnce();
    rig.fanOutFaults.failNextFlaky = true;
  }
}

/**
 * Faults stop before anything is checked: what is missing then is lost, not merely late. (Transactions
 * still conflict as they do on AWS: that is no fault of the run's.)
 */
export function turnFaultsOff(rig: ChaosRig): void {
  Object.assign(rig.faults.settings, { ...noFaults, transactionHoldMs: rig.faults.settings.transactionHoldMs });
  rig.fanOutFaults.flakyFailure = 0;
  rig.fanOutFaults.failNextFlaky = false;
}

/** Every fault the run injected, by kind, as the report lists them (AWS's kinds with `--aws-faults`). */
export function faultCounts(
  rig: ChaosRig,
  counters: Readonly<DropCounters>,
  settings: Pick<ChaosSettings, 'awsFaults'>,
): Record<string, number> {
  const counts = rig.faults.counts;
  return {
    connectionDrops: counters.drops,
    connectionDropsWithoutDisconnect: counters.dropsWithoutDisconnect,
    postGone410: counts.postGone,
    postError500: counts.postError,
    fanOutFailures: rig.fanOutFaults.counts.flakyFailures,
    poisonFailures: rig.fanOutFaults.counts.poisonFailures,
    duplicateBatches: counts.duplicateBatch,
    directRecordWriteFailures: counts.directRecordWrite,
    dynamoDbRestarts: counts.dynamoDbRestarts,
    ...(settings.awsFaults
      ? {
          transactionConflicts: counts.transactionConflict,
          transactionsCancelledByConflict: counts.transactionCancelledByConflict,
          throttles: counts.throttle,
          dynamoDbInternalErrors: counts.dynamoDbInternalError,
          unprocessedKeys: counts.unprocessedKeys,
          unprocessedItems: counts.unprocessedItems,
          postThrottled429: counts.postThrottle,
          lambdaTimeouts: counts.lambdaTimeout,
        }
      : {}),
  };
}
