/**
 * The devices, pairs and groups the driver sets up, and what runs on them: the latency phases (under
 * every stack profile), then the two workloads, 1:1 and group, each as load and saturation phases, its
 * DynamoDB-limited ceiling, then a phase near capacity.
 */
import { round } from './capacity-tally';
import { type CeilingResult, type CeilingServices, ceilingScene, measureCeiling } from './ceiling-runs';
import { checkConnectionRows } from './checks';
import type { SetupResult, Workload } from './driver-protocol';
import { type PhaseContext, type PhaseReport, runPhase } from './phases';
import { waitForQuiet } from './rig';

export type DeviceSetup = Awaited<ReturnType<typeof setUpDevices>>;

export interface DirectWorkload {
  readonly probe: PhaseReport;
  readonly target: PhaseReport;
  readonly saturation: PhaseReport;
  readonly ceiling: CeilingResult;
}

export interface GroupWorkload {
  readonly probe: PhaseReport;
  readonly saturation: PhaseReport;
  readonly ceiling: CeilingResult;
}

/** Users and conversations first, then every device connects; checks each live connection has its row. */
export async function setUpDevices(context: PhaseContext) {
  const { rig, settings, log } = context;
  log('setting up devices, pairs and groups');
  const created = await rig.driver.call<SetupResult>({
    kind: 'setup',
    setup: {
      httpUrl: rig.stack.httpUrl,
      wsUrl: rig.stack.wsUrl,
      pairs: settings.pairs,
      groups: settings.groups,
      groupSize: settings.groupSize,
      groupOnlineShare: settings.groupOnlineShare,
      devicesPerOnlineMember: settings.devicesPerOnlineMember,
      connectConcurrency: settings.connectConcurrency,
      textLength: settings.textLength,
    },
  });
  await waitForQuiet(rig);
  const connected = await rig.driver.call<SetupResult>({ kind: 'connect' });
  await waitForQuiet(rig);
  const connectionRows = await checkConnectionRows(rig);
  const seconds = round(created.seconds + connected.seconds, 1);
  log(
    `${connected.onlineDevices} devices online, ${connected.offlineDevices} known offline (${seconds} s); ${connectionRows.liveWithoutRow} live connections without a row`,
  );
  return { onlineDevices: connected.onlineDevices, offlineDevices: connected.offlineDevices, seconds, connectionRows };
}

/** The phases every stack profile runs: the latency a user sees, without and with a modest load. */
export interface LatencyPhases {
  /** 1:1, one message at a time. */
  readonly directProbe: PhaseReport;
  /** 1:1, open loop at the modest `latencyRate`. */
  readonly direct: PhaseReport;
  /** Group, one message at a time: send to the last online device is its `fanOutToLastDeviceMs`. */
  readonly groupProbe: PhaseReport;
}

export async function runLatencyPhases(context: PhaseContext): Promise<LatencyPhases> {
  const { settings } = context;
  const directProbe = await runProbe(context, 'direct', settings.directProbeMessages);
  const direct = await runPhase(context, {
    kind: 'openLoop',
    workload: 'direct',
    label: `direct-${settings.latencyRate}`,
    rate: settings.latencyRate,
    seconds: settings.latencySeconds,
    drainTimeoutMs: settings.drainTimeoutMs,
  });
  const groupProbe = await runProbe(context, 'group', settings.groupProbeMessages);
  return { directProbe, direct, groupProbe };
}

/** 1:1 after its latency phases: the target rate, saturation, the ceiling, then near the saturation rate. */
export async function runDirectWorkload(
  context: PhaseContext,
  services: CeilingServices,
  probe: PhaseReport,
): Promise<DirectWorkload> {
  const { settings, log } = context;
  const target = await runPhase(context, {
    kind: 'openLoop',
    workload: 'direct',
    label: 'direct-target',
    rate: settings.targetRate,
    seconds: settings.targetSeconds,
    drainTimeoutMs: settings.drainTimeoutMs,
  });
  const saturation = await runSaturation(context, 'direct', settings.directSaturationLanes, 1);
  log('DynamoDB-limited ceiling, 1:1');
  const ceiling = await measureCeiling(
    context,
    services,
    ceilingScene(settings, 'direct', settings.directSaturationLanes, 1),
    settings.ceilingDirectLanes.map((lanes) => ({ conversations: lanes, lanesPerConversation: 1 })),
    'cd',
  );
  await runNearCapacity(context, 'direct', saturation, 10);
  return { probe, target, saturation, ceiling };
}

/** Groups after their probe: saturation, the ceiling, then near the saturation rate. */
export async function runGroupWorkload(
  context: PhaseContext,
  services: CeilingServices,
  probe: PhaseReport,
): Promise<GroupWorkload> {
  const { settings, log } = context;
  const saturation = await runSaturation(context, 'group', settings.groups, settings.groupLanesPerGroup);
  log('DynamoDB-limited ceiling, group');
  const ceiling = await measureCeiling(
    context,
    services,
    ceilingScene(settings, 'group', settings.groups, settings.groupLanesPerGroup),
    settings.ceilingGroupLanesPerGroup.map((lanes) => ({
      conversations: settings.groups,
      lanesPerConversation: lanes,
    })),
    'cg',
  );
  await runNearCapacity(context, 'group', saturation, 1);
  return { probe, saturation, ceiling };
}

/** One message at a time, each waited for: the pipeline's latency without load. */
function runProbe(context: PhaseContext, workload: Workload, messages: number): Promise<PhaseReport> {
  return runPhase(context, {
    kind: 'probe',
    workload,
    label: `${workload}-probe`,
    messages,
    drainTimeoutMs: context.settings.drainTimeoutMs,
  });
}

/** Closed loop on the first `conversations` of the workload: as fast as deliveries complete. */
function runSaturation(
  context: PhaseContext,
  workload: Workload,
  conversations: number,
  lanesPerConversation: number,
): Promise<PhaseReport> {
  return runPhase(context, {
    kind: 'closedLoop',
    workload,
    label: `${workload}-saturation`,
    lanesPerConversation,
    conversations,
    seconds: context.settings.saturationSeconds,
    drainTimeoutMs: context.settings.drainTimeoutMs,
  });
}

/** Open loop at a share of the saturation rate (never under `minRate`): latency just below capacity. */
function runNearCapacity(
  context: PhaseContext,
  workload: Workload,
  saturation: PhaseReport,
  minRate: number,
): Promise<PhaseReport> {
  const { settings } = context;
  return runPhase(context, {
    kind: 'openLoop',
    workload,
    label: `${workload}-near-capacity`,
    rate: Math.max(minRate, Math.round(settings.nearCapacityShare * saturation.completedPerSecond)),
    seconds: settings.nearCapacitySeconds,
    drainTimeoutMs: settings.drainTimeoutMs,
  });
}
