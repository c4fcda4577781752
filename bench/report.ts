/** The console summary of a result (the JSON file has everything). */
import type { HandlerReport } from './handlers';
import type { ProfileLatency } from './profiles';
import type { Distribution } from './stats';

interface PhaseLine {
  readonly label: string;
  readonly accepted: number;
  readonly sendRate: number;
  readonly completedPerSecond: number;
  readonly deliveriesPerSecond: number;
  readonly latencyMs: Distribution;
  readonly fanOutToLastDeviceMs: Distribution;
  readonly lost: number;
  readonly duplicates: number;
  readonly outOfOrder: number;
  readonly sendErrors: number;
  readonly cost: CostLine;
}

interface CostLine {
  readonly dynamoDb: { readonly calls: number; readonly readUnits: number; readonly writeUnits: number };
  readonly postToConnection: number;
  readonly lambdaInvocations: { readonly total: number };
  readonly cpuMsPerMessage: { readonly stackProcess: number; readonly dynamoDbLocal: number | null };
}

export interface SummaryInput {
  readonly mode: string;
  readonly profile: { readonly name: string };
  readonly latencyByProfile: readonly ProfileLatency[];
  readonly durationSeconds: number;
  readonly commit: { readonly sha: string; readonly dirty: boolean };
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly loadAverageBefore: readonly number[];
    readonly loadAverageAfter: readonly number[];
  };
  readonly phases: readonly PhaseLine[];
  readonly handlers: HandlerReport | null;
  readonly workloads: Readonly<Record<string, { readonly sustainedMessagesPerSecondZeroLoss: number }>>;
  readonly ceiling: {
    readonly direct: { readonly messagesPerSecond: number; readonly cost: CostLine };
    readonly group: { readonly messagesPerSecond: number; readonly cost: CostLine };
    readonly hotConversation: HotRate & {
      readonly senders: number;
      readonly bursts: readonly (HotRate & { readonly messages: number; readonly framing: string })[];
    };
    readonly messagingToCeilingRatio: { readonly direct: number; readonly group: number };
    readonly dynamoDbLocalCpuRatio: { readonly direct: number; readonly group: number };
  };
  readonly receipts: Readonly<Record<string, CostLine & { readonly receiptFramesToSender: number }>>;
  readonly targets: readonly { readonly target: string; readonly measured: string; readonly met: boolean }[];
  readonly costModel: CostModelSummary;
}

interface CostModelSummary {
  readonly perMillionMessages: Readonly<
    Record<
      string,
      {
        readonly usdPerMillionMessages: number;
        readonly lines: readonly { readonly item: string; readonly usdPerMillionMessages: number }[];
      }
    >
  >;
  readonly perMillionDeviceHours: {
    readonly lines: readonly {
      readonly item: string;
      readonly quantityPerHour: number;
      readonly usdPerMillionDeviceHours: number;
    }[];
    readonly usdPerMillionDeviceHours: number;
  };
  readonly fastPath: Readonly<Record<'direct' | 'group', FastPathPrice>> | null;
}

interface FastPathPrice {
  readonly usdPerMillionMessages: {
    readonly fastPath: number;
    readonly streamOnly: number;
    readonly difference: number;
  };
  readonly perMessageDifference: {
    readonly dynamoDbCalls: number;
    readonly readUnits: number;
    readonly writeUnits: number;
  };
}

/** One conversation's commit rate and what each message cost. */
interface HotRate {
  readonly messagesPerSecond: number;
  readonly dynamoDbCallsPerMessage: number;
  readonly dynamoDbLocalCpuMsPerMessage: number | null;
}

const hotRate = (rate: HotRate) =>
  `${rate.messagesPerSecond} msg/s (${rate.dynamoDbCallsPerMessage} DynamoDB calls, ${rate.dynamoDbLocalCpuMsPerMessage ?? '?'} ms of DynamoDB Local CPU a message)`;

export function printSummary(result: SummaryInput): void {
  const out: string[] = [];
  out.push(
    '',
    `Parley bench (${result.mode}) at ${result.commit.sha.slice(0, 7)}${result.commit.dirty ? ' + uncommitted changes' : ''}, ${result.machine.cpus} x ${result.machine.cpuModel}, load ${result.machine.loadAverageBefore.join('/')} before, ${result.machine.loadAverageAfter.join('/')} after, ${result.durationSeconds} s`,
    '',
    `Phases under ${result.profile.name} (throughput, saturation and ceiling phases run under this profile only):`,
    table(
      [
        'phase',
        'msgs',
        'send/s',
        'done/s',
        'deliv/s',
        'p50',
        'p95',
        'p99',
        'max',
        'last dev p50',
        'lost',
        'dup',
        'order',
        'err',
      ],
      result.phases.map((p) => [
        p.label,
        p.accepted,
        p.sendRate,
        p.completedPerSecond,
        p.deliveriesPerSecond,
        p.latencyMs.p50,
        p.latencyMs.p95,
        p.latencyMs.p99,
        p.latencyMs.max,
        p.fanOutToLastDeviceMs.p50,
        p.lost,
        p.duplicates,
        p.outOfOrder,
        p.sendErrors,
      ]),
    ),
    '',
    'Per message (DynamoDB units as DynamoDB Local reports them; CPU ms of the stack process and of DynamoDB Local):',
    table(
      ['phase', 'DDB calls', 'RRU', 'WRU', 'posts', 'lambdas', 'stack CPU', 'DDB CPU'],
      [
        ...result.phases.map((p): unknown[] => [p.label, ...costCells(p.cost)]),
        ['ceiling 1:1', ...costCells(result.ceiling.direct.cost)],
        ['ceiling group', ...costCells(result.ceiling.group.cost)],
        ...Object.entries(result.receipts).map(([name, cost]): unknown[] => [`receipt ${name}`, ...costCells(cost)]),
      ],
    ),
    '',
    `Sustained with zero loss: 1:1 ${result.workloads.direct?.sustainedMessagesPerSecondZeroLoss} msg/s, group ${result.workloads.group?.sustainedMessagesPerSecondZeroLoss} msg/s`,
    `DynamoDB-limited ceiling: 1:1 ${result.ceiling.direct.messagesPerSecond} msg/s (ratio ${pct(result.ceiling.messagingToCeilingRatio.direct)}), group ${result.ceiling.group.messagesPerSecond} msg/s (ratio ${pct(result.ceiling.messagingToCeilingRatio.group)})`,
    `One conversation, sends only: ${result.ceiling.hotConversation.senders} senders ${hotRate(result.ceiling.hotConversation)}; ${result.ceiling.hotConversation.bursts.map((b) => `1 sender x ${b.messages} at once (${b.framing}) ${hotRate(b)}`).join('; ')}`,
    `DynamoDB Local CPU at saturation, share of its CPU in the ceiling: 1:1 ${pct(result.ceiling.dynamoDbLocalCpuRatio.direct)}, group ${pct(result.ceiling.dynamoDbLocalCpuRatio.group)}`,
    ...costModelLines(result.costModel),
    '',
    profileLatencyTable(result.latencyByProfile),
    '',
    `Handlers (bundle as CDK builds it; import time in a fresh Node, median; an empty module takes ${result.handlers?.emptyModuleInitMs} ms here):`,
    table(
      ['function', 'KB', 'gzip KB', 'init ms', 'init ms (source maps on)'],
      Object.entries(result.handlers?.functions ?? {}).map(([name, h]) => [
        name,
        Math.round(h.bytes / 1000),
        Math.round(h.gzipBytes / 1000),
        h.initMs.median,
        h.initMsWithSourceMaps?.median ?? '-',
      ]),
    ),
    '',
    'Targets (measured, not asserted):',
    ...result.targets.map((t) => `  [${t.met ? 'met' : 'MISSED'}] ${t.target}: ${t.measured}`),
  );
  console.log(out.join('\n'));
}

/** What `--phase-cost` prints: the cost model alone. */
export function printCostModel(costModel: CostModelSummary): void {
  console.log(['', ...costModelLines(costModel)].join('\n'));
}

/**
 * The one line later runs are compared by (`name $x.xx` entries), the dollars per million of each line
 * item by workload (reactions and edits per million changes), and a connected device-hour.
 */
function costModelLines(costModel: CostModelSummary): string[] {
  const entries = Object.entries(costModel.perMillionMessages);
  const items = [...new Set(entries.flatMap(([, cost]) => cost.lines.map((line) => line.item)))];
  const device = costModel.perMillionDeviceHours;
  return [
    `Cost per million messages at list prices: ${entries.map(([name, cost]) => `${name} $${cost.usdPerMillionMessages.toFixed(2)}`).join(', ')}`,
    ...(costModel.fastPath === null ? [] : [fastPathLine(costModel.fastPath)]),
    '',
    'Dollars per million messages by line item (per million changes for the reaction and edit columns):',
    table(
      ['item', ...entries.map(([name]) => name)],
      [
        ...items.map((item) => [
          item,
          ...entries.map(([, cost]) =>
            (cost.lines.find((line) => line.item === item)?.usdPerMillionMessages ?? 0).toFixed(2),
          ),
        ]),
        ['total', ...entries.map(([, cost]) => cost.usdPerMillionMessages.toFixed(2))],
      ],
    ),
    `Cost per million connected device-hours at list prices: ${device.lines.map((line) => `${line.item} x${line.quantityPerHour} $${line.usdPerMillionDeviceHours.toFixed(2)}`).join(', ')}; total $${device.usdPerMillionDeviceHours.toFixed(2)}`,
  ];
}

/** The latency phases under each profile (what `--phase-latency` prints alone). */
export function printProfileLatencies(profiles: readonly ProfileLatency[]): void {
  console.log(`\n${profileLatencyTable(profiles)}`);
}

function profileLatencyTable(profiles: readonly ProfileLatency[]): string {
  const rate = profiles[0]?.direct.rate;
  return [
    `Delivery latency by profile, ms (1:1: open loop at ${rate} msg/s, send to the other device; group: one message at a time, send to the last online device):`,
    table(
      [
        'profile',
        'seed',
        '1:1 p50',
        'p95',
        'p99',
        'max',
        'accepted p50',
        'unloaded p50',
        'group p50',
        'p95',
        'p99',
        'lost',
        'dup',
        'err',
        'load',
      ],
      profiles.map((p) => [
        p.name,
        p.timingSeed ?? '-',
        p.direct.latencyMs.p50,
        p.direct.latencyMs.p95,
        p.direct.latencyMs.p99,
        p.direct.latencyMs.max,
        p.direct.acceptedMs.p50,
        p.directUnloaded.latencyMs.p50,
        p.group.lastOnlineDeviceMs.p50,
        p.group.lastOnlineDeviceMs.p95,
        p.group.lastOnlineDeviceMs.p99,
        p.direct.lost + p.directUnloaded.lost + p.group.lost,
        p.direct.duplicates + p.directUnloaded.duplicates + p.group.duplicates,
        p.direct.sendErrors + p.directUnloaded.sendErrors + p.group.sendErrors,
        `${p.loadAverage.before[0]}-${p.loadAverage.after[0]}`,
      ]),
    ),
  ].join('\n');
}

function fastPathLine(price: Readonly<Record<'direct' | 'group', FastPathPrice>>): string {
  const part = (name: string, p: FastPathPrice) =>
    `${name} $${p.usdPerMillionMessages.fastPath} vs $${p.usdPerMillionMessages.streamOnly} stream only (${signed(p.usdPerMillionMessages.difference, '$')}; ${signed(p.perMessageDifference.dynamoDbCalls)} DynamoDB calls, ${signed(p.perMessageDifference.readUnits)} RRU, ${signed(p.perMessageDifference.writeUnits)} WRU a message)`;
  return `The fast path's price, both AWS-timing runs, one message at a time: ${part('1:1', price.direct)}; ${part('group', price.group)}`;
}

function signed(value: number, unit = ''): string {
  return `${value >= 0 ? '+' : '-'}${unit}${Math.abs(value)}`;
}

function costCells(cost: CostLine): unknown[] {
  return [
    cost.dynamoDb.calls,
    cost.dynamoDb.readUnits,
    cost.dynamoDb.writeUnits,
    cost.postToConnection,
    cost.lambdaInvocations.total,
    cost.cpuMsPerMessage.stackProcess,
    cost.cpuMsPerMessage.dynamoDbLocal ?? '-',
  ];
}

function pct(ratio: number): string {
  return `${Math.round(ratio * 1000) / 10}%`;
}

function table(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [header, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
        .join('  '),
    )
    .join('\n');
}
