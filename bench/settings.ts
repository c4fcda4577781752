/** The bench's command line: sizes, rates and durations of a run, and the stack profile of each process. */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseTimingSeed } from '../local/aws-timing';

/** How the stack of a process waits (local/aws-timing.ts) and whether sends deliver directly (the fast path). */
export interface StackProfile {
  readonly timing: 'local' | 'aws';
  readonly fastPath: boolean;
}

/** What one `npm run bench` run does; `--quick` shortens every timed phase but keeps the same report. */
export interface BenchSettings {
  readonly quick: boolean;
  /** `--skip-handlers` leaves out bundling and init timing (for iterating on the workloads). */
  readonly measureHandlers: boolean;
  /** This process's stack: `--aws-timing` and `--no-fast-path` (default local timing, fast path on). */
  readonly profile: StackProfile;
  /** Seeds every AWS-timed stack of the run, this one's and the children's (`--timing-seed`, default random). */
  readonly timingSeed: number;
  /** `--phase-latency`: only the latency phases on this process's stack (how the other profiles run, as children). */
  readonly latencyOnly: boolean;
  /** `--json`: the latency-only result as one JSON line on stdout, progress on stderr. */
  readonly json: boolean;
  /** 1:1 conversations; each user has one connected device, so devices = 2 x pairs. */
  readonly pairs: number;
  readonly groups: number;
  readonly groupSize: number;
  /** Share of each group's members that is online. */
  readonly groupOnlineShare: number;
  /** Devices connected per online group member (phone and laptop); offline members have one known device. */
  readonly devicesPerOnlineMember: number;
  /** The 1:1 latency target is stated at this rate. */
  readonly targetRate: number;
  /** The modest open-loop rate of the 1:1 latency phase run under every profile. */
  readonly latencyRate: number;
  readonly latencySeconds: number;
  readonly targetSeconds: number;
  /** Closed loop: every lane sends, waits until all recipients have the message, sends again. */
  readonly saturationSeconds: number;
  /** Open loop at this share of the measured saturation rate: latency just below capacity. */
  readonly nearCapacityShare: number;
  readonly nearCapacitySeconds: number;
  readonly groupProbeMessages: number;
  /** 1:1 messages sent one at a time (each waited for): the pipeline's latency without load. */
  readonly directProbeMessages: number;
  /**
   * 1:1 closed-loop lanes (one per pair, the first N pairs): enough to saturate the machine while each lane
   * still gets several round trips in (with every pair as a lane, one round trip outlasts a short phase).
   */
  readonly directSaturationLanes: number;
  /** Concurrent sending lanes per group in the group closed loop (senders contend for the seq). */
  readonly groupLanesPerGroup: number;
  readonly warmupSeconds: number;
  /** How long a phase may take after its last send for every delivery to arrive before the rest counts as lost. */
  readonly drainTimeoutMs: number;
  /** Seconds per ceiling concurrency level. */
  readonly ceilingSeconds: number;
  /** 1:1 ceiling lanes tried (one pair each); the best is the ceiling. The workload's lane count is among them. */
  readonly ceilingDirectLanes: readonly number[];
  /** Group ceiling lanes per group tried. */
  readonly ceilingGroupLanesPerGroup: readonly number[];
  readonly hotConversationSenders: number;
  readonly hotConversationSeconds: number;
  /** One device's bursts into one conversation: this many concurrent sends each. */
  readonly hotConversationBursts: readonly number[];
  /** Bursts of each size (a fresh conversation each); the median is reported. */
  readonly hotConversationBurstRuns: number;
  readonly receiptRounds: number;
  /** Messages per burst that the receiving devices read (and so ack) once (the SDK coalesces receipts so). */
  readonly receiptBurstMessages: number;
  /** Keep-alive pings and SDK-style reconnects measured for the cost of a connected device-hour. */
  readonly pingCount: number;
  readonly reconnectCount: number;
  /** The groups' offline devices brought back to sync and ack their inboxes: what a parked copy costs on its return. */
  readonly inboxReturnDevices: number;
  /** `--phase-cost`: setup, the probes and the cost measurements only, then the cost model (for iterating on it). */
  readonly costOnly: boolean;
  /** `--phase-presence`: the presence measurements alone (bench/presence-runs.ts), on a stack with no driver devices. */
  readonly presenceOnly: boolean;
  /** `--phase-hot`: the hot conversation alone (bench/ceiling-runs.ts), on a stack with no driver devices. */
  readonly hotOnly: boolean;
  /** Fresh Node processes per handler for the module initialisation time (the median is reported). */
  readonly initRuns: number;
  /** Handler processes timed side by side: 1 in full runs; 2 in quick ones (faster, noisier). */
  readonly initConcurrency: number;
  /** WebSocket handshakes in flight during setup. */
  readonly connectConcurrency: number;
  /** Characters of text in every benchmark message (all phases and the ceiling alike). */
  readonly textLength: number;
}

export function benchSettings(argv: readonly string[]): BenchSettings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      'skip-handlers': { type: 'boolean' },
      'aws-timing': { type: 'boolean' },
      'timing-seed': { type: 'string' },
      'no-fast-path': { type: 'boolean' },
      'phase-latency': { type: 'boolean' },
      'phase-cost': { type: 'boolean' },
      'phase-presence': { type: 'boolean' },
      'phase-hot': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const quick = values.quick === true;
  const latencyOnly = values['phase-latency'] === true;
  return {
    quick,
    measureHandlers: values['skip-handlers'] !== true,
    profile: { timing: values['aws-timing'] === true ? 'aws' : 'local', fastPath: values['no-fast-path'] !== true },
    timingSeed: parseTimingSeed(values['timing-seed']) ?? randomInt(2 ** 31),
    latencyOnly,
    json: values.json === true,
    // A latency-only stack needs fewer conversations: its open loop is modest and setup is most of its time.
    pairs: latencyOnly ? 40 : 250,
    groups: latencyOnly ? 1 : quick ? 2 : 5,
    groupSize: 100,
    groupOnlineShare: 0.3,
    devicesPerOnlineMember: 2,
    targetRate: 100,
    latencyRate: 20,
    latencySeconds: quick ? 10 : 30,
    targetSeconds: quick ? 5 : 30,
    saturationSeconds: quick ? 5 : 20,
    nearCapacityShare: 0.8,
    nearCapacitySeconds: quick ? 4 : 15,
    groupProbeMessages: quick ? 20 : 60,
    directProbeMessages: quick ? 30 : 200,
    directSaturationLanes: 64,
    groupLanesPerGroup: 3,
    warmupSeconds: quick ? 1 : 5,
    drainTimeoutMs: 30_000,
    ceilingSeconds: quick ? 2 : 10,
    ceilingDirectLanes: quick ? [24, 64] : [8, 24, 64],
    ceilingGroupLanesPerGroup: quick ? [3] : [1, 3],
    hotConversationSenders: 16,
    hotConversationSeconds: quick ? 2 : 10,
    hotConversationBursts: [50, 100],
    hotConversationBurstRuns: quick ? 1 : 3,
    receiptRounds: quick ? 3 : 10,
    receiptBurstMessages: 5,
    pingCount: quick ? 10 : 40,
    reconnectCount: quick ? 5 : 20,
    inboxReturnDevices: quick ? 10 : 40,
    costOnly: values['phase-cost'] === true,
    presenceOnly: values['phase-presence'] === true,
    hotOnly: values['phase-hot'] === true,
    initRuns: quick ? 1 : 7,
    initConcurrency: quick ? 2 : 1,
    connectConcurrency: 16,
    textLength: 100,
  };
}

/** The same text size everywhere, so items (and so units) match between the workloads and the ceiling. */
export function messageText(clientMessageId: string, length: number): string {
  return `${clientMessageId} `.padEnd(length, 'x').slice(0, length);
}
