/** The ceiling (bench/ceiling.ts) measured inside a bench run: alone on DynamoDB Local, at a few concurrency levels. */
import { round } from './capacity-tally';
import {
  type CeilingScene,
  type ceilingServices,
  type HotConversationRun,
  hotConversationScene,
  measureHotBurst,
  measureHotConversation,
  measureHotFramedBurst,
  runCeiling,
  seedCeilingScene,
} from './ceiling';
import type { Workload } from './driver-protocol';
import { costBetween, measureIdle, readMeters } from './meters';
import type { PhaseContext } from './phases';
import { aloneOnDynamoDb } from './rig';
import type { BenchSettings } from './settings';

export type CeilingServices = ReturnType<typeof ceilingServices>;
export type CeilingResult = Awaited<ReturnType<typeof measureCeiling>>;

/** The workload's scene for the ceiling: the same group shape and text size as the driver's. */
export function ceilingScene(
  settings: BenchSettings,
  workload: Workload,
  conversations: number,
  lanesPerConversation: number,
): CeilingScene {
  return {
    groupSize: settings.groupSize,
    groupOnlineShare: settings.groupOnlineShare,
    devicesPerOnlineMember: settings.devicesPerOnlineMember,
    textLength: settings.textLength,
    workload,
    conversations,
    lanesPerConversation,
  };
}

/**
 * The ceiling at a few concurrency levels, best one reported: DynamoDB Local does less per second when
 * pushed too hard (lock contention), so the most lanes are not always the most throughput.
 */
export async function measureCeiling(
  context: PhaseContext,
  services: CeilingServices,
  scene: CeilingScene,
  levels: readonly { readonly conversations: number; readonly lanesPerConversation: number }[],
  label: string,
) {
  const { rig, settings } = context;
  // Right after the workload's saturation phase, on the same DynamoDB Local with its data and JIT as the
  // workload left them, and nothing else calling it.
  return aloneOnDynamoDb(rig, async () => {
    // What DynamoDB Local does on its own (TTL sweeps) while nothing calls it.
    const idle = await measureIdle(rig, 2);
    const conversations = await seedCeilingScene(services, scene, label);
    await runCeiling(services, conversations, scene, settings.warmupSeconds, `${label}-warm`);
    const tried = [];
    for (const [index, level] of levels.entries()) {
      const levelScene = { ...scene, lanesPerConversation: level.lanesPerConversation };
      const before = readMeters(rig);
      const run = await runCeiling(
        services,
        conversations.slice(0, level.conversations),
        levelScene,
        settings.ceilingSeconds,
        `${label}-${index}`,
      );
      const after = readMeters(rig);
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

/**
 * One conversation's commit rate, with the stack's pollers held: many senders in a closed loop, and
 * one device's burst of concurrent sends (each size a few times on a fresh conversation, the median
 * reported). Beside each rate, what a message cost: DynamoDB calls (by operation) and DynamoDB
 * Local's CPU, which depend far less than the rate on what else the machine is running. `pass` names
 * the conversations, so a second pass on the same stack starts afresh.
 */
export function measureHotConversationAlone(context: PhaseContext, services: CeilingServices, pass = '') {
  const { rig, settings } = context;
  const metered = async (work: () => Promise<HotConversationRun>) => {
    const before = readMeters(rig);
    const run = await work();
    const cost = costBetween(before, readMeters(rig), run.accepted);
    return {
      ...run,
      dynamoDbCallsPerMessage: cost.dynamoDb.calls,
      callsByOperation: Object.fromEntries(
        Object.entries(cost.dynamoDb.byOperation).map(([operation, tally]) => [operation, tally.calls]),
      ),
      dynamoDbLocalCpuMsPerMessage: cost.cpuMsPerMessage.dynamoDbLocal,
      // The senders' SDK work (about half a millisecond a call) runs in this process.
      senderCpuMsPerMessage: cost.cpuMsPerMessage.stackProcess,
    };
  };
  return aloneOnDynamoDb(rig, async () => {
    const { hotConversationSenders: senders } = settings;
    const scene = await hotConversationScene(services, `${pass}hot`, senders);
    const closedLoop = await metered(() =>
      measureHotConversation(services, scene, senders, settings.hotConversationSeconds, settings.textLength),
    );
    const bursts = [];
    for (const [framing, measure] of [
      ['concurrent sendMessage', measureHotBurst],
      ['sendMessages frames, as the SDK sends', measureHotFramedBurst],
    ] as const)
      for (const messages of settings.hotConversationBursts) {
        const runs = [];
        for (let run = 0; run < settings.hotConversationBurstRuns; run++) {
          const label = `${pass}burst${messages}-${framing.split(' ')[0]}-r${run}`;
          const burstScene = await hotConversationScene(services, label, 1);
          runs.push(await metered(() => measure(services, burstScene, messages, settings.textLength, label)));
        }
        const median = [...runs].sort((a, b) => a.messagesPerSecond - b.messagesPerSecond)[Math.floor(runs.length / 2)];
        bursts.push({
          framing,
          messages,
          runs: runs.length,
          seconds: round(median?.seconds ?? 0, 3),
          failed: runs.reduce((sum, r) => sum + r.failed, 0),
          messagesPerSecond: round(median?.messagesPerSecond ?? 0, 1),
          eachMessagesPerSecond: runs.map((r) => round(r.messagesPerSecond, 1)),
          dynamoDbCallsPerMessage: median?.dynamoDbCallsPerMessage ?? 0,
          callsByOperation: median?.callsByOperation ?? {},
          dynamoDbLocalCpuMsPerMessage: median?.dynamoDbLocalCpuMsPerMessage ?? null,
          senderCpuMsPerMessage: median?.senderCpuMsPerMessage ?? 0,
        });
      }
    return { ...closedLoop, bursts };
  });
}
