/**
 * `npm run bench [-- --quick]`: the messaging path on the local stack, measured (never asserted).
 * 1. Handler bundles (esbuild as CDK builds them) and their module initialisation time.
 * 2. DynamoDB Local and the local stack in this process, with a tallying capacity recorder; the
 *    devices (500+ WebSocket clients) in a child process, bench/driver.ts.
 * 3. 1:1 and 100-member-group workloads: latency at the target rate, saturation (closed loop),
 *    near capacity; every online device checked for every message, offline inboxes checked too.
 *    Per message: DynamoDB calls and units, postToConnection calls, Lambda invocations, CPU.
 * 4. The DynamoDB-limited ceiling for the same per-message work (bench/ceiling.ts), and the ratio.
 * Writes bench-results/bench-<date>-<commit>.json and .svg (the latency chart), and prints both paths.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { setCapacityRecorder } from '#shared/aws/capacity-meter';
import type { FunctionName } from '#shared/config/functions';
import { tables } from '#shared/config/tables';
import { inboxKeys } from '#shared/keys';
import { createLocalDynamoDbClient } from '../local/aws-local';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import type { InvocationCount } from '../local/lambda-runtime';
import type { ManagementApiCounts } from '../local/management-api';
import { startLocalStack } from '../local/stack';
import { createLocalTables } from '../local/tables';
import { CapacityTally, round, tallyPerMessage } from './capacity-tally';
import {
  anchorCeilingStreams,
  type CeilingScene,
  ceilingServices,
  measureHotConversation,
  runCeiling,
  seedCeilingScene,
} from './ceiling';
import { type ChartSeries, latencyChartSvg } from './chart';
import { dollarsPerMillion, type MeasuredPerMessage, prices } from './cost-model';
import type {
  DriverCommand,
  DriverRequest,
  DriverResponse,
  GroupLedger,
  PhaseResult,
  PhaseSent,
  ReceiptAckResult,
  ReceiptSendResult,
  SetupResult,
} from './driver-protocol';
import { type HandlerReport, measureHandlers } from './handlers';
import { commitInfo, findDynamoDbLocalPid, loadAverage, machineInfo, processCpuMs } from './machine';
import { printSummary } from './report';
import { benchSettings } from './settings';
import { cdfPoints, distribution } from './stats';

const settings = benchSettings(process.argv.slice(2));
const stackTablePrefix = 'bench-';
const ceilingTablePrefix = 'ceiling-';
const startedAt = performance.now();
const log = (line: string) => console.log(`[bench +${Math.round((performance.now() - startedAt) / 1000)}s] ${line}`);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const when = new Date();
const commit = commitInfo();
const machine = machineInfo();
const loadBefore = loadAverage();
log(
  `${settings.quick ? 'quick' : 'full'} run on ${machine.cpus} x ${machine.cpuModel}; load average ${loadBefore.join(' ')}`,
);

const handlers = settings.measureHandlers
  ? await measureHandlers(settings.initRuns, settings.initConcurrency, log)
  : undefined;

const tally = new CapacityTally();
setCapacityRecorder(tally.record);
const dynamo = await startDynamoDbLocal({ port: 0 });
const dynamoPid = findDynamoDbLocalPid();
// The ceiling's own tables, in the DynamoDB Local the workloads use, their streams begun before the stack's.
const ceilingTables = await createLocalTables(createLocalDynamoDbClient(dynamo.endpoint), ceilingTablePrefix);
await anchorCeilingStreams(createLocalDynamoDbClient(dynamo.endpoint), ceilingTables);
const stack = await startLocalStack({
  dynamoEndpoint: dynamo.endpoint,
  tablePrefix: stackTablePrefix,
  httpPort: 0,
  wsPort: 0,
  s3Port: 0,
  cdnPort: 0,
  logLevel: 'ERROR',
});
const driver = startDriver();

type Meters = ReturnType<typeof meters>;
type PhaseReport = ReturnType<typeof phaseReport>;
const phases: PhaseReport[] = [];
const chartSeries: ChartSeries[] = [];

try {
  log('setting up devices, pairs and groups');
  const created = await driver.call<SetupResult>({
    kind: 'setup',
    setup: {
      httpUrl: stack.httpUrl,
      wsUrl: stack.wsUrl,
      pairs: settings.pairs,
      groups: settings.groups,
      groupSize: settings.groupSize,
      groupOnlineShare: settings.groupOnlineShare,
      devicesPerOnlineMember: settings.devicesPerOnlineMember,
      connectConcurrency: settings.connectConcurrency,
      textLength: settings.textLength,
    },
  });
  await waitForQuiet();
  const setup = await driver.call<SetupResult>({ kind: 'connect' });
  await waitForQuiet();
  const connectionRows = await checkConnectionRows();
  log(
    `${setup.onlineDevices} devices online, ${setup.offlineDevices} known offline (${round(created.seconds + setup.seconds, 1)} s); ${connectionRows.liveWithoutRow} live connections without a row`,
  );

  const idle = await measureIdle(settings.quick ? 2 : 5);
  log(
    `idle stack: ${idle.stackCpuMsPerSecond} ms CPU/s in the stack, ${idle.dynamoDbLocalCpuMsPerSecond} ms CPU/s in DynamoDB Local`,
  );

  // Warm-up: every handler imported, JITs warm; not reported.
  const warmup = { seconds: settings.warmupSeconds, drainTimeoutMs: settings.drainTimeoutMs } as const;
  for (const command of [
    { kind: 'openLoop', workload: 'direct', label: 'warm-d', rate: 50, ...warmup },
    { kind: 'openLoop', workload: 'group', label: 'warm-g', rate: 5, ...warmup },
  ] as const) {
    await driver.call<PhaseSent>(command);
    await waitForQuiet(settings.drainTimeoutMs * 4);
    await driver.call<PhaseResult>({ kind: 'summarize' });
  }

  const services = ceilingServices(ceilingTables);
  const sceneBase = {
    groupSize: settings.groupSize,
    groupOnlineShare: settings.groupOnlineShare,
    devicesPerOnlineMember: settings.devicesPerOnlineMember,
    textLength: settings.textLength,
  };
  const drain = { drainTimeoutMs: settings.drainTimeoutMs } as const;
  await phase({
    kind: 'probe',
    workload: 'direct',
    label: 'direct-probe',
    messages: settings.directProbeMessages,
    ...drain,
  });
  const directTarget = await phase({
    kind: 'openLoop',
    workload: 'direct',
    label: 'direct-target',
    rate: settings.targetRate,
    seconds: settings.targetSeconds,
    ...drain,
  });
  const directSaturation = await phase({
    kind: 'closedLoop',
    workload: 'direct',
    label: 'direct-saturation',
    lanesPerConversation: 1,
    conversations: settings.directSaturationLanes,
    seconds: settings.saturationSeconds,
    ...drain,
  });
  log('DynamoDB-limited ceiling, 1:1');
  const ceilingDirect = await ceiling(
    services,
    { ...sceneBase, workload: 'direct', conversations: settings.directSaturationLanes, lanesPerConversation: 1 },
    settings.ceilingDirectLanes.map((lanes) => ({ conversations: lanes, lanesPerConversation: 1 })),
    'cd',
  );
  await phase({
    kind: 'openLoop',
    workload: 'direct',
    label: 'direct-near-capacity',
    rate: Math.max(10, Math.round(settings.nearCapacityShare * directSaturation.completedPerSecond)),
    seconds: settings.nearCapacitySeconds,
    ...drain,
  });
  const groupProbe = await phase({
    kind: 'probe',
    workload: 'group',
    label: 'group-probe',
    messages: settings.groupProbeMessages,
    ...drain,
  });
  const groupSaturation = await phase({
    kind: 'closedLoop',
    workload: 'group',
    label: 'group-saturation',
    lanesPerConversation: settings.groupLanesPerGroup,
    conversations: settings.groups,
    seconds: settings.saturationSeconds,
    ...drain,
  });
  log('DynamoDB-limited ceiling, group');
  const ceilingGroup = await ceiling(
    services,
    {
      ...sceneBase,
      workload: 'group',
      conversations: settings.groups,
      lanesPerConversation: settings.groupLanesPerGroup,
    },
    settings.ceilingGroupLanesPerGroup.map((lanes) => ({
      conversations: settings.groups,
      lanesPerConversation: lanes,
    })),
    'cg',
  );
  await phase({
    kind: 'openLoop',
    workload: 'group',
    label: 'group-near-capacity',
    rate: Math.max(1, Math.round(settings.nearCapacityShare * groupSaturation.completedPerSecond)),
    seconds: settings.nearCapacitySeconds,
    ...drain,
  });

  log('checking offline devices inboxes');
  const inboxes = await checkInboxes(await driver.call<GroupLedger>({ kind: 'groupLedger' }));
  log(`offline inboxes: ${inboxes.devices} devices, ${inboxes.missing} missing, ${inboxes.unexpected} unexpected`);

  log('receipts');
  const receipts = {
    perAck: await receiptCost('ack'),
    perRead: await receiptCost('read'),
  };

  const hotConversation = await aloneOnDynamoDb(() =>
    measureHotConversation(
      services,
      settings.hotConversationSenders,
      settings.hotConversationSeconds,
      settings.textLength,
    ),
  );
  const outOfPhase = await driver.stop();
  const loadAfter = loadAverage();
  log(
    `ceiling: 1:1 ${ceilingDirect.messagesPerSecond} msg/s, group ${ceilingGroup.messagesPerSecond} msg/s; hot conversation ${round(hotConversation.messagesPerSecond, 1)} msg/s`,
  );

  const workloads = {
    direct: workloadSummary('direct', setup),
    group: {
      ...workloadSummary('group', setup),
      fanOutToLastOnlineDeviceMs: groupProbe.fanOutToLastDeviceMs,
      fanOutUnderLoadMs: groupSaturation.fanOutToLastDeviceMs,
      offlineInboxes: inboxes,
    },
  };
  const ratios = {
    direct: round(directSaturation.completedPerSecond / ceilingDirect.messagesPerSecond, 3),
    group: round(groupSaturation.completedPerSecond / ceilingGroup.messagesPerSecond, 3),
  };
  const directProbe = phases.find((p) => p.label === 'direct-probe') ?? directTarget;
  const costModel = {
    prices,
    assumptions:
      'Quantities measured in this run; each send is 2 billed frames (sendMessage in, messageAccepted out) plus its posts; each ack or read is 2 frames plus its receipt posts; Lambda durations are the local means.',
    perMillionMessages: {
      direct: dollarsPerMillion(directProbe.cost, 2),
      directWithAckAndRead: dollarsPerMillion(sumMeasured([directProbe.cost, receipts.perAck, receipts.perRead]), 6),
      groupUnbatched: dollarsPerMillion(groupProbe.cost, 2),
      groupBatched: dollarsPerMillion(groupSaturation.cost, 2),
    },
  };
  const result = {
    schema: 'parley-bench/1',
    date: when.toISOString(),
    commit,
    mode: settings.quick ? 'quick' : 'full',
    machine: { ...machine, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
    settings,
    durationSeconds: round((performance.now() - startedAt) / 1000, 1),
    setup: {
      onlineDevices: setup.onlineDevices,
      offlineDevices: setup.offlineDevices,
      seconds: round(created.seconds + setup.seconds, 1),
      connectionRows,
    },
    idle,
    handlers: handlers ?? null,
    workloads,
    phases,
    receipts,
    ceiling: {
      description:
        "Same per-message DynamoDB work through the same services and SDK clients, no gateway, Lambda runtime, stream polling or posts; each lane pipelined up to 4 messages deep; run right after the saturation phase on the same DynamoDB Local with the stack's stream pollers held and the devices idle; the ceiling tables' streams begun before the workloads' (docs/performance.md)",
      direct: ceilingDirect,
      group: ceilingGroup,
      hotConversation: {
        ...hotConversation,
        seconds: round(hotConversation.seconds, 2),
        messagesPerSecond: round(hotConversation.messagesPerSecond, 1),
      },
      /** Calls per message by operation where the ceiling's mix differs from the workload's (empty: same mix). */
      mixDifferences: {
        direct: mixDifferences(directProbe.cost.dynamoDb.byOperation, ceilingDirect.cost.dynamoDb.byOperation),
        group: mixDifferences(groupSaturation.cost.dynamoDb.byOperation, ceilingGroup.cost.dynamoDb.byOperation),
      },
      messagingToCeilingRatio: ratios,
      /** The same ratio in DynamoDB calls per second: batching makes the per-message mix differ under load. */
      dynamoDbCallsPerSecondRatio: {
        direct: perSecondRatio(directSaturation, ceilingDirect, (cost) => cost.dynamoDb.calls),
        group: perSecondRatio(groupSaturation, ceilingGroup, (cost) => cost.dynamoDb.calls),
      },
      /**
       * DynamoDB Local's CPU per second at saturation over its CPU per second in the ceiling: how busy the
       * path kept the database, whatever else (gateway, runtime, posts) held the path's rate down.
       */
      dynamoDbLocalCpuRatio: {
        direct: perSecondRatio(directSaturation, ceilingDirect, (cost) => cost.cpuMsPerMessage.dynamoDbLocal ?? 0),
        group: perSecondRatio(groupSaturation, ceilingGroup, (cost) => cost.cpuMsPerMessage.dynamoDbLocal ?? 0),
      },
    },
    outOfPhaseOrderViolations: outOfPhase,
    costModel,
    targets: targets(directTarget, ratios, handlers, inboxes.missing),
  };

  mkdirSync('bench-results', { recursive: true });
  const base = `bench-results/bench-${result.date.replace(/[:.]/g, '-')}-${commit.sha.slice(0, 7)}${settings.quick ? '-quick' : ''}`;
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(
    `${base}.svg`,
    latencyChartSvg(
      `Parley send-to-deliver latency, local stack (${result.mode} run)`,
      `${commit.sha.slice(0, 7)}${commit.dirty ? '+changes' : ''} · ${result.date.slice(0, 16)} · ${machine.cpus} x ${machine.cpuModel} · load ${loadBefore[0]} before, ${loadAfter[0]} after`,
      chartSeries,
      100,
    ),
  );
  printSummary(result);
  console.log(`\nresult: ${base}.json`);
  console.log(`chart:  ${base}.svg`);
} finally {
  await driver.stop().catch(() => undefined);
  await stack.stop();
  await dynamo.stop();
  setCapacityRecorder(undefined);
}

/** Runs one driver phase between two meter readings taken with the stack idle. */
async function phase(command: Extract<DriverCommand, { label: string }>) {
  await waitForQuiet();
  const before = meters();
  await driver.call<PhaseSent>(command);
  // CPU is read as the phase ends; calls still finishing (inbox writes) are counted after the stack goes quiet.
  const ended = meters();
  // A backlog can outlast the driver's wait: only once the stack has nothing left to do is a missing delivery lost.
  await waitForQuiet(settings.drainTimeoutMs * 4);
  const result = await driver.call<PhaseResult>({ kind: 'summarize' });
  const after = { ...meters(), ...cpuOf(ended) };
  const report = phaseReport(result, costBetween(before, after, result.accepted, result.driverCpuMs));
  phases.push(report);
  chartSeries.push({ name: chartName(report), points: report.latencyCdf });
  log(
    `${report.label}: ${report.accepted} msgs, ${report.completedPerSecond} msg/s, p50 ${report.latencyMs.p50} p99 ${report.latencyMs.p99} max ${report.latencyMs.max} ms; lost ${report.lost}, dup ${report.duplicates}, order ${report.outOfOrder}, errors ${report.sendErrors}`,
  );
  return report;
}

function chartName(report: { label: string; mode: string; targetRate?: number; completedPerSecond: number }) {
  const rate = report.mode === 'openLoop' ? `${report.targetRate} msg/s` : `${report.completedPerSecond} msg/s`;
  return `${report.label} (${report.mode === 'probe' ? 'one at a time' : rate})`;
}

function phaseReport(result: PhaseResult, cost: ReturnType<typeof costBetween>) {
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
    maxScheduleLagMs: round(result.maxScheduleLagMs, 1),
    lostSamples: result.lostSamples,
    cost,
    latencyCdf: cdfPoints(result.latenciesMs),
  };
}

/** Zero-loss phases of a workload and the best rate among them. */
function workloadSummary(workload: 'direct' | 'group', setup: SetupResult) {
  const mine = phases.filter((p) => p.workload === workload);
  const clean = mine.filter((p) => p.lost === 0 && p.duplicates === 0 && p.outOfOrder === 0 && p.sendErrors === 0);
  // Open loop counts only when it kept up (p99 under a second); closed loop is self-limiting.
  const rateOf = (p: PhaseReport) =>
    p.mode === 'closedLoop' ? p.completedPerSecond : p.mode === 'openLoop' && p.latencyMs.p99 < 1000 ? p.sendRate : 0;
  const best = clean.reduce<PhaseReport | undefined>(
    (top, p) => (top && rateOf(top) >= rateOf(p) ? top : p),
    undefined,
  );
  const reference =
    mine.find((p) => p.label === `${workload}-target`) ?? mine.find((p) => p.mode === 'openLoop') ?? mine[0];
  return {
    devicesOnline: setup.onlineDevices,
    sustainedMessagesPerSecondZeroLoss: best ? rateOf(best) : 0,
    sustainedPhase: best?.label,
    deliveriesPerSecondAtSustained: best?.deliveriesPerSecond,
    phasesWithLoss: mine.length - clean.length,
    latencyMs: reference?.latencyMs,
    latencyPhase: reference?.label,
    /** One message at a time: what the pipeline itself takes, without queueing. */
    unloadedLatencyMs: mine.find((p) => p.label === `${workload}-probe`)?.latencyMs,
    perMessage: reference?.cost,
  };
}

function targets(
  directTarget: PhaseReport,
  ratios: { direct: number; group: number },
  handlerReport: HandlerReport | undefined,
  inboxMissing: number,
) {
  const totals = phases.reduce(
    (sum, p) => ({
      lost: sum.lost + p.lost,
      duplicates: sum.duplicates + p.duplicates,
      outOfOrder: sum.outOfOrder + p.outOfOrder,
      errors: sum.errors + p.sendErrors,
    }),
    { lost: 0, duplicates: 0, outOfOrder: 0, errors: 0 },
  );
  const bundles = Object.entries(handlerReport?.functions ?? {});
  const largest = bundles.reduce<(typeof bundles)[number] | undefined>(
    (a, b) => (a && a[1].bytes >= b[1].bytes ? a : b),
    undefined,
  );
  const slowest = bundles.reduce<(typeof bundles)[number] | undefined>(
    (a, b) => (a && a[1].initMs.median >= b[1].initMs.median ? a : b),
    undefined,
  );
  const underInit = bundles.filter(([, h]) => h.initMs.median < 100).length;
  return [
    {
      target: '1:1 p99 send-to-deliver < 100 ms at 100 msg/s',
      measured: `p99 ${directTarget.latencyMs.p99} ms (p50 ${directTarget.latencyMs.p50}, max ${directTarget.latencyMs.max}) at ${directTarget.sendRate} msg/s`,
      met: directTarget.latencyMs.p99 < 100 && directTarget.sendRate >= 0.95 * settings.targetRate,
    },
    {
      target: 'no message lost at any rate tried',
      measured: `${phases.length} phases: ${totals.lost} lost, ${totals.duplicates} duplicates, ${totals.outOfOrder} out of order, ${totals.errors} send errors; ${inboxMissing} missing from offline inboxes`,
      met: totals.lost + totals.duplicates + totals.outOfOrder + totals.errors + inboxMissing === 0,
    },
    {
      target: 'messaging throughput >= 70% of the DynamoDB-limited ceiling',
      // Above 100% the ceiling run did less than the messaging path itself: it is no bound, so nothing is shown.
      measured: `1:1 ${round(ratios.direct * 100, 1)}%, group ${round(ratios.group * 100, 1)}%${
        ratios.direct > 1 || ratios.group > 1
          ? ' (a ratio above 100% means the ceiling run under-measured: not established)'
          : ''
      }`,
      met: [ratios.direct, ratios.group].every((ratio) => ratio >= 0.7 && ratio <= 1),
    },
    {
      target: 'each handler bundle < 1 MB minified',
      measured: largest
        ? `largest ${largest[0]} ${round(largest[1].bytes / 1e6, 3)} MB; ${bundles.filter(([, h]) => h.bytes < 1e6).length} of ${bundles.length} under`
        : 'not measured (--skip-handlers)',
      met: largest !== undefined && bundles.every(([, h]) => h.bytes < 1e6),
    },
    {
      target: 'module initialisation < 100 ms',
      measured: slowest
        ? `slowest ${slowest[0]} ${slowest[1].initMs.median} ms (median, as deployed: no run-time source maps); ${underInit} of ${bundles.length} under`
        : 'not measured (--skip-handlers)',
      met: slowest !== undefined && underInit === bundles.length,
    },
  ];
}

/**
 * The ceiling at a few concurrency levels, best one reported: DynamoDB Local does less per second when
 * pushed too hard (lock contention), so the most lanes are not always the most throughput.
 */
async function ceiling(
  services: ReturnType<typeof ceilingServices>,
  scene: CeilingScene,
  levels: readonly { readonly conversations: number; readonly lanesPerConversation: number }[],
  label: string,
) {
  // Right after the workload's saturation phase, on the same DynamoDB Local with its data and JIT as the
  // workload left them, and nothing else calling it.
  return aloneOnDynamoDb(async () => {
    // What DynamoDB Local does on its own (TTL sweeps) while nothing calls it.
    const idle = await measureIdle(2);
    const conversations = await seedCeilingScene(services, scene, label);
    await runCeiling(services, conversations, scene, settings.warmupSeconds, `${label}-warm`);
    const tried = [];
    for (const [index, level] of levels.entries()) {
      const levelScene = { ...scene, lanesPerConversation: level.lanesPerConversation };
      const before = meters();
      const run = await runCeiling(
        services,
        conversations.slice(0, level.conversations),
        levelScene,
        settings.ceilingSeconds,
        `${label}-${index}`,
      );
      const after = meters();
      tried.push({
        lanes: run.lanes,
        messages: run.messages,
        failures: run.failures,
        seconds: round(run.seconds, 2),
        messagesPerSecond: round(run.messagesPerSecond, 1),
        meanFanOutBatch: round(run.completedInAll / Math.max(1, run.fanOutBatches), 1),
        cost: costBetween(before, after, run.completedInAll),
      });
    }
    const best = tried.reduce((a, b) => (b.messagesPerSecond > a.messagesPerSecond ? b : a));
    return {
      workload: scene.workload,
      idleBefore: idle,
      ...best,
      levels: tried.map(({ cost: _cost, ...level }) => level),
    };
  });
}

/** Runs `work` with the stack quiet and its stream pollers held (records wait in the stream), then resumes them. */
async function aloneOnDynamoDb<T>(work: () => Promise<T>): Promise<T> {
  await waitForQuiet();
  await stack.pauseStreams();
  try {
    return await work();
  } finally {
    stack.resumeStreams();
  }
}

type CostReport = ReturnType<typeof costBetween>;

/** A per-message quantity as a per-second rate, saturation phase over ceiling. */
function perSecondRatio(
  saturation: { readonly completedPerSecond: number; readonly cost: CostReport },
  ceilingRun: { readonly messagesPerSecond: number; readonly cost: CostReport },
  perMessage: (cost: CostReport) => number,
): number {
  const ceilingRate = ceilingRun.messagesPerSecond * perMessage(ceilingRun.cost);
  return ceilingRate > 0 ? round((saturation.completedPerSecond * perMessage(saturation.cost)) / ceilingRate, 3) : 0;
}

/** Ack or read cost alone: a message is sent and delivered first (not counted), then acknowledged. */
async function receiptCost(action: 'ack' | 'read') {
  const rounds: ReturnType<typeof costBetween>[] = [];
  let receiptFrames = 0;
  for (let i = 0; i < settings.receiptRounds; i++) {
    const sent = await driver.call<ReceiptSendResult>({ kind: 'receiptSend', label: `${action}-${i}` });
    await waitForQuiet();
    const before = meters();
    await driver.call<undefined>({ kind: 'receiptAck', action, ...sent });
    const answered = meters();
    await waitForQuiet();
    rounds.push(costBetween(before, { ...meters(), ...cpuOf(answered) }, 1));
    const counted = await driver.call<ReceiptAckResult>({ kind: 'receiptCount', conversationId: sent.conversationId });
    receiptFrames += counted.receiptFramesToSender;
  }
  return {
    rounds: rounds.length,
    ...averageDeep(rounds),
    receiptFramesToSender: round(receiptFrames / rounds.length, 2),
  };
}

/**
 * Every live connection should have its row: fan-out finds devices through them. The sparse
 * `byConnectionId` index of the users table holds connection rows only.
 */
async function checkConnectionRows() {
  const client = DynamoDBDocumentClient.from(createLocalDynamoDbClient(dynamo.endpoint));
  const rows = new Set<string>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: stack.tables.users.tableName,
        IndexName: tables.users.globalIndexes[0].indexName,
        ProjectionExpression: 'connectionId',
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) rows.add(String(item.connectionId));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  client.destroy();
  const live = stack.connectionIds();
  return { live: live.length, rows: rows.size, liveWithoutRow: live.filter((id) => !rows.has(id)).length };
}

async function checkInboxes(ledger: GroupLedger) {
  const client = DynamoDBDocumentClient.from(createLocalDynamoDbClient(dynamo.endpoint));
  const limit = pLimit(16);
  let devices = 0;
  let expected = 0;
  let missing = 0;
  let unexpected = 0;
  await Promise.all(
    ledger.groups.flatMap((group) =>
      group.offlineDevices.map((device) =>
        limit(async () => {
          const prefix = `${group.conversationId}#`;
          const found = new Set<number>();
          let start: Record<string, unknown> | undefined;
          do {
            const page = await client.send(
              new QueryCommand({
                TableName: stack.tables.inbox.tableName,
                KeyConditionExpression: 'deviceKey = :d AND begins_with(#p, :c)',
                ExpressionAttributeNames: { '#p': 'position' },
                ExpressionAttributeValues: { ':d': inboxKeys.device(device.userId, device.deviceId), ':c': prefix },
                ProjectionExpression: '#p',
                ExclusiveStartKey: start,
              }),
            );
            for (const item of page.Items ?? []) found.add(Number(String(item.position).slice(prefix.length)));
            start = page.LastEvaluatedKey;
          } while (start !== undefined);
          devices += 1;
          expected += group.acceptedSeqs.length;
          const wanted = new Set(group.acceptedSeqs);
          for (const seq of wanted) if (!found.has(seq)) missing += 1;
          // The creation event (seq 1) may be parked too; anything else would be a stray.
          for (const seq of found) if (!wanted.has(seq) && seq !== 1) unexpected += 1;
        }),
      ),
    ),
  );
  client.destroy();
  return { devices, expectedItems: expected, missing, unexpected };
}

function meters() {
  const cpu = process.cpuUsage();
  return {
    tally: tally.snapshot(),
    posts: { ...stack.managementApiCounts } as ManagementApiCounts,
    invocations: stack.invocationCounts(),
    streamBatches: stack.streamStats.batches,
    streamRecords: stack.streamStats.records,
    stackCpuMs: (cpu.user + cpu.system) / 1000,
    dynamoCpuMs: dynamoPid === undefined ? undefined : processCpuMs(dynamoPid),
  };
}

function cpuOf(m: Meters) {
  return { stackCpuMs: m.stackCpuMs, dynamoCpuMs: m.dynamoCpuMs };
}

/** CPU the idle stack burns (stream pollers polling, timers), per second: the floor under every phase. */
async function measureIdle(seconds: number) {
  await waitForQuiet();
  const before = meters();
  await sleep(seconds * 1000);
  const after = meters();
  const perSecond = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? null : round((b - a) / seconds, 1);
  return {
    seconds,
    stackCpuMsPerSecond: perSecond(before.stackCpuMs, after.stackCpuMs),
    dynamoDbLocalCpuMsPerSecond: perSecond(before.dynamoCpuMs, after.dynamoCpuMs),
  };
}

function costBetween(before: Meters, after: Meters, messages: number, deviceCpuMs?: number) {
  const per = (value: number) => round(value / Math.max(1, messages), 3);
  const zero: InvocationCount = { invocations: 0, running: 0, failures: 0, totalMs: 0 };
  const byFunction: Record<string, { perMessage: number; meanMs: number; failures: number }> = {};
  for (const [name, count] of Object.entries(after.invocations) as [FunctionName, InvocationCount | undefined][]) {
    const was = before.invocations[name] ?? zero;
    const invocations = (count?.invocations ?? 0) - was.invocations;
    if (invocations <= 0 || count === undefined) continue;
    byFunction[name] = {
      perMessage: per(invocations),
      meanMs: round((count.totalMs - was.totalMs) / invocations, 1),
      failures: count.failures - was.failures,
    };
  }
  const batches = after.streamBatches - before.streamBatches;
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

/** Waits until no invocation runs and no DynamoDB call, post, invocation or stream record has happened for 300 ms. */
async function waitForQuiet(maxMs = 15_000): Promise<void> {
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
      return;
    }
  }
}

function mixDifferences(
  workload: Readonly<Record<string, { calls: number }>>,
  ceilingMix: Readonly<Record<string, { calls: number }>>,
) {
  const operations = new Set([...Object.keys(workload), ...Object.keys(ceilingMix)]);
  return [...operations]
    .map((operation) => ({
      operation,
      workload: workload[operation]?.calls ?? 0,
      ceiling: ceilingMix[operation]?.calls ?? 0,
    }))
    .filter((d) => Math.abs(d.workload - d.ceiling) > 0.05);
}

/** Adds per-message costs: a message plus the acknowledgements it causes. */
function sumMeasured(parts: readonly MeasuredPerMessage[]): MeasuredPerMessage {
  const byFunction: Record<string, { perMessage: number; meanMs: number }> = {};
  for (const part of parts) {
    for (const [name, f] of Object.entries(part.lambdaInvocations.byFunction)) {
      const into = byFunction[name];
      // Durations combine weighted by invocations, so GB-seconds add up.
      byFunction[name] = into
        ? {
            perMessage: into.perMessage + f.perMessage,
            meanMs: (into.meanMs * into.perMessage + f.meanMs * f.perMessage) / (into.perMessage + f.perMessage),
          }
        : { perMessage: f.perMessage, meanMs: f.meanMs };
    }
  }
  return {
    dynamoDb: {
      readUnits: parts.reduce((sum, part) => sum + part.dynamoDb.readUnits, 0),
      writeUnits: parts.reduce((sum, part) => sum + part.dynamoDb.writeUnits, 0),
    },
    postToConnection: parts.reduce((sum, part) => sum + part.postToConnection, 0),
    lambdaInvocations: { byFunction },
  };
}

/** Mean of each numeric leaf over objects of the same shape (a leaf missing from one counts as 0). */
function averageDeep<T>(objects: readonly T[]): T {
  const merge = (values: readonly unknown[]): unknown => {
    const present = values.filter((value) => value !== undefined && value !== null);
    if (present.every((value) => typeof value === 'number')) {
      return round((present as number[]).reduce((sum, value) => sum + value, 0) / values.length, 3);
    }
    if (present.every((value) => typeof value === 'object')) {
      const keys = new Set(present.flatMap((value) => Object.keys(value as object)));
      return Object.fromEntries(
        [...keys].map((key) => [key, merge(values.map((value) => (value as Record<string, unknown> | null)?.[key]))]),
      );
    }
    return present[0];
  };
  return merge(objects) as T;
}

function startDriver() {
  const child = fork(fileURLToPath(new URL('./driver.ts', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let closed: Promise<unknown> | undefined;
  child.on('message', (response: DriverResponse) => {
    const waiter = pending.get(response.id);
    if (waiter === undefined) return;
    pending.delete(response.id);
    if (response.ok) waiter.resolve(response.result);
    else waiter.reject(new Error(`driver: ${response.error}`));
  });
  child.on('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`driver exited (${code})`));
    pending.clear();
  });
  const call = <T>(command: DriverCommand): Promise<T> => {
    if (child.exitCode !== null || !child.connected) return Promise.reject(new Error('driver is not running'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: (value) => resolve(value as T), reject });
      child.send({ id, command } satisfies DriverRequest);
    });
  };
  return {
    call,
    /** Closes every device (their `$disconnect`s run) and ends the driver; answers what it saw outside phases. */
    stop(): Promise<unknown> {
      closed ??= call<unknown>({ kind: 'close' }).finally(() => child.disconnect());
      return closed;
    },
  };
}
