/** One driver phase between two meter readings, and what it reports; the unreported warm-up that precedes them. */
import { round } from './capacity-tally';
import type { ChartSeries } from './chart';
import type { DriverCommand, PhaseResult, PhaseSent } from './driver-protocol';
import { type CostReport, costBetween, cpuOf, readMeters } from './meters';
import { type BenchRig, waitForQuiet } from './rig';
import type { BenchSettings } from './settings';
import { cdfPoints, distribution } from './stats';

export type Log = (line: string) => void;

export type PhaseReport = ReturnType<typeof phaseReport>;

/** What phases run on and where they are recorded: a run under another profile would bring its own. */
export interface PhaseContext {
  readonly rig: BenchRig;
  readonly settings: BenchSettings;
  readonly log: Log;
  /** Every measured phase so far, in order (the report's `phases` and the chart's lines). */
  readonly phases: PhaseReport[];
}

/** Every handler imported, JITs warm; not reported. */
export async function warmUp(context: PhaseContext): Promise<void> {
  const { rig, settings } = context;
  const warmup = { seconds: settings.warmupSeconds, drainTimeoutMs: settings.drainTimeoutMs } as const;
  for (const command of [
    { kind: 'openLoop', workload: 'direct', label: 'warm-d', rate: 50, ...warmup },
    { kind: 'openLoop', workload: 'group', label: 'warm-g', rate: 5, ...warmup },
  ] as const) {
    await rig.driver.call<PhaseSent>(command);
    await waitForQuiet(rig, settings.drainTimeoutMs * 4);
    await rig.driver.call<PhaseResult>({ kind: 'summarize' });
  }
}

/** Runs one driver phase between two meter readings taken with the stack idle. */
export async function runPhase(
  context: PhaseContext,
  command: Extract<DriverCommand, { label: string }>,
): Promise<PhaseReport> {
  const { rig, settings, log } = context;
  await waitForQuiet(rig);
  const before = readMeters(rig);
  await rig.driver.call<PhaseSent>(command);
  // CPU is read as the phase ends; calls still finishing (inbox writes) are counted after the stack goes quiet.
  const ended = readMeters(rig);
  // A backlog can outlast the driver's wait: only once the stack has nothing left to do is a missing delivery lost.
  await waitForQuiet(rig, settings.drainTimeoutMs * 4);
  const result = await rig.driver.call<PhaseResult>({ kind: 'summarize' });
  const after = { ...readMeters(rig), ...cpuOf(ended) };
  const report = phaseReport(result, costBetween(before, after, result.accepted, result.driverCpuMs));
  context.phases.push(report);
  log(
    `${report.label}: ${report.accepted} msgs, ${report.completedPerSecond} msg/s, p50 ${report.latencyMs.p50} p99 ${report.latencyMs.p99} max ${report.latencyMs.max} ms; lost ${report.lost}, dup ${report.duplicates}, order ${report.outOfOrder}, errors ${report.sendErrors}`,
  );
  return report;
}

/** The chart's lines: one latency curve per phase, in the order they ran; `suffix` names another profile's. */
export function chartSeriesOf(phases: readonly PhaseReport[], suffix = ''): ChartSeries[] {
  return phases.map((report) => ({ name: `${chartName(report)}${suffix}`, points: report.latencyCdf }));
}

function chartName(report: { label: string; mode: string; targetRate?: number; completedPerSecond: number }) {
  const rate = report.mode === 'openLoop' ? `${report.targetRate} msg/s` : `${report.completedPerSecond} msg/s`;
  return `${report.label} (${report.mode === 'probe' ? 'one at a time' : rate})`;
}

function phaseReport(result: PhaseResult, cost: CostReport) {
  return {
    label: result.label,
    workload: result.workload,
    mode: result.mode,
    ...(result.targetRate === undefined ? {} : { targetRate: result.targetRate }),
    ...(result.lanes === undefined ? {} : { lanes: result.lanes }),
    seconds: round(result.seconds, 2),
    sent: result.sent,
    accepted: result.accepted,
    sendErrors: result.sendErrors,
    sendErrorCodes: result.sendErrorCodes,
    expectedDeliveries: result.expectedDeliveries,
    delivered: result.delivered,
    lost: result.lost,
    duplicates: result.duplicates,
    outOfOrder: result.outOfOrder,
    /** Accepted messages per second of sending (the offered rate in open loop). */
    sendRate: round(result.accepted / Math.max(0.001, result.sendSeconds), 1),
    /** Closed loop: complete messages per second up to the last completion; otherwise per second of the phase. */
    completedPerSecond: round(
      result.mode === 'closedLoop'
        ? result.completeMessages / Math.max(0.001, result.secondsToLastCompletion)
        : result.completeMessages / Math.max(0.001, result.seconds),
      1,
    ),
    deliveriesPerSecond: round(result.delivered / Math.max(0.001, result.seconds), 1),
    latencyMs: distribution(result.latenciesMs),
    fanOutToLastDeviceMs: distribution(result.fanOutMs),
    firstDeviceMs: distribution(result.firstDeviceMs),
    acceptedMs: distribution(result.acceptedMs),
    maxScheduleLagMs: round(result.maxScheduleLagMs, 1),
    lostSamples: result.lostSamples,
    cost,
    latencyCdf: cdfPoints(result.latenciesMs),
  };
}
