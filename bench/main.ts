/**
 * `npm run bench [-- --quick]`: the messaging path on the local stack, measured (never asserted).
 * 1. Handler bundles (esbuild as CDK builds them) and their module initialisation time.
 * 2. DynamoDB Local and the local stack in this process, with a tallying capacity recorder; the
 *    devices (500+ WebSocket clients) in a child process, bench/driver.ts.
 * 3. The latency phases (1:1 one at a time and at a modest open-loop rate, group one at a time), then
 *    1:1 and 100-member-group workloads: latency at the target rate, saturation (closed loop),
 *    near capacity; every online device checked for every message, offline inboxes checked too.
 *    Per message: DynamoDB calls and units, postToConnection calls, Lambda invocations, CPU.
 * 4. The DynamoDB-limited ceiling for the same per-message work (bench/ceiling.ts), and the ratio.
 * 4b. What the cost model prices besides messages (bench/price-runs.ts): reactions and edits, bursts of 5
 *    with every receiving device's read (its ack too), a ping and an SDK-style reconnect; the
 *    handlers log as deployed and their lines are counted (bench/log-meter.ts).
 * 5. The latency phases again under the other stack profiles (bench/profiles.ts), each in a child
 *    process: AWS timing with and without the fast path, local timing with it.
 * Writes bench-results/bench-<date>-<commit>.json and .svg (the latency chart), and prints both paths.
 * `--aws-timing` and `--no-fast-path` change this process's stack; `--phase-latency` runs step 3's
 * latency phases alone (what a child does; `--json` prints them as one line); `--phase-cost` runs the
 * probes and step 4b alone and prints the cost model, then the presence measurements (bench/presence-runs.ts);
 * `--phase-presence` runs those alone (quick: no driver devices, no warm-up); `--phase-hot` runs the hot
 * conversation (step 4's last part) alone, then prices each kind of DynamoDB call in CPU (bench/dynamodb-local-ops.ts).
 */
import type { DynamoDbLocalJit } from '../local/dynamodb-local';
import { round } from './capacity-tally';
import { ceilingServices } from './ceiling';
import { measureHotConversationAlone } from './ceiling-runs';
import { checkOfflineInboxes } from './checks';
import { measureOperationCosts } from './dynamodb-local-ops';
import { type HandlerReport, measureHandlers } from './handlers';
import { commitInfo, loadAverage, machineInfo } from './machine';
import { measureIdle } from './meters';
import { type Log, type PhaseContext, warmUp } from './phases';
import { measurePresence, printPresenceCosts } from './presence-runs';
import { measureChanges, measureDeviceHour, measureInboxReturn, measureReceiptBursts } from './price-runs';
import { measureOwnProfile, measureProfiles, type ProfileLatency, profileName } from './profiles';
import { measureReceipts } from './receipts';
import { printCostModel, printProfileLatencies } from './report';
import { benchResult, costModel, type RunFacts, writeReport } from './result';
import { type BenchRig, startBenchStack, stopBenchStack } from './rig';
import { type BenchSettings, benchSettings } from './settings';
import { runDirectWorkload, runGroupWorkload, runLatencyPhases, setUpDevices } from './workloads';

async function main(): Promise<void> {
  const settings = benchSettings(process.argv.slice(2));
  const startedAt = performance.now();
  // With --json stdout carries the result line alone.
  const print = settings.json ? console.error : console.log;
  const prefix = settings.latencyOnly ? `bench, ${profileName(settings.profile)}` : 'bench';
  const log: Log = (line) => print(`[${prefix} +${Math.round((performance.now() - startedAt) / 1000)}s] ${line}`);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (settings.latencyOnly) {
    await latencyOnly(settings, log);
    return;
  }
  if (settings.costOnly) {
    await costOnly(settings, log);
    return;
  }
  if (settings.presenceOnly) {
    await presenceOnly(settings, log);
    return;
  }
  if (settings.hotOnly) {
    await hotOnly(settings, log);
    return;
  }
  const run = describeRun(settings, log);
  const handlers = await measureBundles(settings, log);
  const measured = await runOnStack(settings, log);
  const profiles = await measureProfiles(settings, measured.ownProfile, log);
  writeReport(benchResult({ ...measured, settings, run, startedAt, handlers, profiles }));
}

/** Everything measured on this process's stack, from setup to the receipts. */
async function runOnStack(settings: BenchSettings, log: Log) {
  // Its throughput and ceiling phases measure DynamoDB Local at its peak, with the JVM's full JIT.
  const rig = await startStack(settings, log, true, 'tiered');
  const context: PhaseContext = { rig, settings, log, phases: [] };
  try {
    const setup = await setUpDevices(context);
    const idle = await measureIdleStack(context);
    await warmUp(context);
    const services = ceilingServices(rig.ceilingTables);
    const { latency, ownProfile } = await measureOwnProfile(context);
    log(`throughput phases under ${profileName(settings.profile)} only`);
    const direct = await runDirectWorkload(context, services, latency.directProbe);
    const group = await runGroupWorkload(context, services, latency.groupProbe);
    const inboxes = await checkOfflineInboxes(context);
    const receipts = await measureReceipts(context);
    const changes = await measureChanges(context);
    const bursts = await measureReceiptBursts(context);
    const inboxReturn = await measureInboxReturn(context);
    const deviceHour = await measureDeviceHour(context);
    const hotConversation = await measureHotConversationAlone(context, services);
    const outOfPhase = await rig.driver.stop();
    const loadAfter = loadAverage();
    log(
      `ceiling: 1:1 ${direct.ceiling.messagesPerSecond} msg/s, group ${group.ceiling.messagesPerSecond} msg/s; hot conversation ${round(hotConversation.messagesPerSecond, 1)} msg/s with ${hotConversation.senders} senders, ${hotConversation.bursts.map((b) => `${b.messagesPerSecond} msg/s for a burst of ${b.messages} (${b.framing})`).join(', ')}`,
    );
    return {
      loadAfter,
      setup,
      idle,
      phases: context.phases,
      direct,
      group,
      inboxes,
      receipts,
      changes,
      bursts,
      inboxReturn,
      deviceHour,
      hotConversation,
      outOfPhase,
      ownProfile,
    };
  } finally {
    await stopBenchStack(rig);
  }
}

/** `--phase-latency`: this process's profile, the latency phases only; with `--json`, one line on stdout. */
async function latencyOnly(settings: BenchSettings, log: Log): Promise<void> {
  const rig = await startStack(settings, log);
  const context: PhaseContext = { rig, settings, log, phases: [] };
  let result: ProfileLatency;
  try {
    await setUpDevices(context);
    await warmUp(context);
    result = (await measureOwnProfile(context)).ownProfile;
  } finally {
    await stopBenchStack(rig);
  }
  if (settings.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else printProfileLatencies([result]);
}

/** `--phase-cost`: the probes and the cost measurements on this process's stack, then the cost model alone. */
async function costOnly(settings: BenchSettings, log: Log): Promise<void> {
  const rig = await startStack(settings, log, true);
  const context: PhaseContext = { rig, settings, log, phases: [] };
  try {
    await setUpDevices(context);
    await warmUp(context);
    const latency = await runLatencyPhases(context);
    const changes = await measureChanges(context);
    const bursts = await measureReceiptBursts(context);
    const inboxReturn = await measureInboxReturn(context);
    const deviceHour = await measureDeviceHour(context);
    const presence = await measurePresence(context);
    printCostModel(
      costModel({
        directProbe: latency.directProbe.cost,
        groupProbe: latency.groupProbe.cost,
        changes,
        bursts,
        inboxReturn,
        deviceHour,
        profiles: [],
      }),
    );
    printPresenceCosts(presence);
  } finally {
    await stopBenchStack(rig);
  }
}

/** `--phase-presence`: presence flips and subscriptions on this process's stack, beside their model. */
async function presenceOnly(settings: BenchSettings, log: Log): Promise<void> {
  const rig = await startStack(settings, log, true);
  try {
    printPresenceCosts(await measurePresence({ rig, settings, log, phases: [] }));
  } finally {
    await stopBenchStack(rig);
  }
}

/** DynamoDB Local's JIT settles after about 8 passes (its CPU a message falls from ~60 ms to ~7). */
const HOT_WARM_UP_PASSES = 10;

/**
 * `--phase-hot`: the hot conversation's closed loop and bursts on this process's stack, then what each
 * kind of DynamoDB call costs in CPU on the same warm DynamoDB Local, as one JSON line.
 */
async function hotOnly(settings: BenchSettings, log: Log): Promise<void> {
  const rig = await startStack(settings, log, false, 'tiered');
  try {
    const context: PhaseContext = { rig, settings, log, phases: [] };
    const services = ceilingServices(rig.ceilingTables);
    // The full run reaches this phase with DynamoDB Local's JIT warm, after minutes of work; passes here stand in for that.
    for (let pass = 1; pass <= HOT_WARM_UP_PASSES; pass++) {
      const warm = await measureHotConversationAlone(context, services, `warm${pass}-`);
      log(
        `warm-up ${pass}: ${round(warm.messagesPerSecond, 1)} msg/s, ${warm.dynamoDbLocalCpuMsPerMessage} ms DynamoDB Local CPU a message`,
      );
    }
    const cpuBefore = process.cpuUsage();
    const hot = await measureHotConversationAlone(context, services);
    const cpu = process.cpuUsage(cpuBefore);
    log(
      `load average ${loadAverage().join(' ')}; this process ${round((cpu.user + cpu.system) / 1000, 0)} ms CPU in the measured pass`,
    );
    const operations = await measureOperationCosts(rig.dynamo.endpoint, rig.dynamoPid);
    for (const cost of operations) {
      log(
        `${cost.operation}: ${cost.dynamoDbLocalCpuMs} ms DynamoDB Local CPU, ${cost.callerCpuMs} ms caller CPU a call (${cost.callsPerSecond} calls/s)`,
      );
    }
    console.log(JSON.stringify({ ...hot, operations }));
  } finally {
    await stopBenchStack(rig);
  }
}

/**
 * `meterHandlerLogs`: the handlers log as deployed and the bench counts their lines (never for a
 * `--json` child). `dynamoDbJit`: see `DynamoDbLocalOptions.jit`.
 */
async function startStack(
  settings: BenchSettings,
  log: Log,
  meterHandlerLogs = false,
  dynamoDbJit: DynamoDbLocalJit = 'c1',
): Promise<BenchRig> {
  const rig = await startBenchStack(settings.profile, settings.timingSeed, { meterHandlerLogs, dynamoDbJit });
  const seed = rig.stack.timing === undefined ? '' : ` (seed ${rig.stack.timing.seed})`;
  log(`stack up: ${profileName(settings.profile)}${seed}`);
  return rig;
}

/** Commit, machine and load before the run, logged as its first line. */
function describeRun(settings: BenchSettings, log: Log): RunFacts {
  const run: RunFacts = { when: new Date(), commit: commitInfo(), machine: machineInfo(), loadBefore: loadAverage() };
  log(
    `${settings.quick ? 'quick' : 'full'} run on ${run.machine.cpus} x ${run.machine.cpuModel}; load average ${run.loadBefore.join(' ')}; AWS timing seed ${settings.timingSeed} (--timing-seed to repeat)`,
  );
  return run;
}

/** Handler bundles and their module initialisation time, unless `--skip-handlers`. */
function measureBundles(settings: BenchSettings, log: Log): Promise<HandlerReport | undefined> {
  return settings.measureHandlers
    ? measureHandlers(settings.initRuns, settings.initConcurrency, log)
    : Promise.resolve(undefined);
}

async function measureIdleStack(context: PhaseContext) {
  const idle = await measureIdle(context.rig, context.settings.quick ? 2 : 5);
  context.log(
    `idle stack: ${idle.stackCpuMsPerSecond} ms CPU/s in the stack, ${idle.dynamoDbLocalCpuMsPerSecond} ms CPU/s in DynamoDB Local`,
  );
  return idle;
}

await main();
