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
import { round } from './capacity-tally';
import { ceilingServices } from './ceiling';
import { measureHotConversationAlone } from './ceiling-runs';
import { checkOfflineInboxes } from './checks';
import { type HandlerReport, measureHandlers } from './handlers';
import { commitInfo, loadAverage, machineInfo } from './machine';
import { measureIdle } from './meters';
import { type Log, type PhaseContext, warmUp } from './phases';
import { measureReceipts } from './receipts';
import { benchResult, type RunFacts, writeReport } from './result';
import { startBenchStack, stopBenchStack } from './rig';
import { type BenchSettings, benchSettings } from './settings';
import { runDirectWorkload, runGroupWorkload, setUpDevices } from './workloads';

async function main(): Promise<void> {
  const settings = benchSettings(process.argv.slice(2));
  const startedAt = performance.now();
  const log: Log = (line) => console.log(`[bench +${Math.round((performance.now() - startedAt) / 1000)}s] ${line}`);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const run = describeRun(settings, log);
  const handlers = await measureBundles(settings, log);
  const rig = await startBenchStack();
  const context: PhaseContext = { rig, settings, log, phases: [] };
  try {
    const setup = await setUpDevices(context);
    const idle = await measureIdleStack(context);
    await warmUp(context);
    const services = ceilingServices(rig.ceilingTables);
    const direct = await runDirectWorkload(context, services);
    const group = await runGroupWorkload(context, services);
    const inboxes = await checkOfflineInboxes(context);
    const receipts = await measureReceipts(context);
    const hotConversation = await measureHotConversationAlone(context, services);
    const outOfPhase = await rig.driver.stop();
    const loadAfter = loadAverage();
    log(
      `ceiling: 1:1 ${direct.ceiling.messagesPerSecond} msg/s, group ${group.ceiling.messagesPerSecond} msg/s; hot conversation ${round(hotConversation.messagesPerSecond, 1)} msg/s with ${hotConversation.senders} senders, ${hotConversation.bursts.map((b) => `${b.messagesPerSecond} msg/s for a burst of ${b.messages}`).join(', ')}`,
    );
    writeReport(
      benchResult({
        settings,
        run,
        startedAt,
        loadAfter,
        setup,
        idle,
        handlers,
        phases: context.phases,
        direct,
        group,
        inboxes,
        receipts,
        hotConversation,
        outOfPhase,
      }),
    );
  } finally {
    await stopBenchStack(rig);
  }
}

/** Commit, machine and load before the run, logged as its first line. */
function describeRun(settings: BenchSettings, log: Log): RunFacts {
  const run: RunFacts = { when: new Date(), commit: commitInfo(), machine: machineInfo(), loadBefore: loadAverage() };
  log(
    `${settings.quick ? 'quick' : 'full'} run on ${run.machine.cpus} x ${run.machine.cpuModel}; load average ${run.loadBefore.join(' ')}`,
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
