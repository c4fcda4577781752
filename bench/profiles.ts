/**
 * Delivery latency under each stack profile: AWS timing with the fast path, AWS timing with the stream
 * path only, and local timing with the fast path. Handlers read their environment once, at import, and
 * a process hosts one stack, so every profile but the run's own runs in a child process,
 * `bench/main.ts --phase-latency --json` with the profile's flags: its own DynamoDB Local, stack and
 * devices, a warm-up, the latency phases (bench/workloads.ts), then one JSON line on stdout.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChartSeries } from './chart';
import { loadAverage } from './machine';
import { chartSeriesOf, type Log, type PhaseContext, type PhaseReport } from './phases';
import type { BenchSettings, StackProfile } from './settings';
import { type LatencyPhases, runLatencyPhases } from './workloads';

export const latencyProfiles: readonly StackProfile[] = [
  { timing: 'aws', fastPath: true },
  { timing: 'aws', fastPath: false },
  { timing: 'local', fastPath: true },
];

export function profileName(profile: StackProfile): string {
  return `${profile.timing === 'aws' ? 'AWS' : 'local'} timing, ${profile.fastPath ? 'fast path' : 'stream only'}`;
}

export type ProfileLatency = ReturnType<typeof profileLatency>;

/** What one profile's latency phases measured, as the report and the docs table show it. */
export function profileLatency(
  profile: StackProfile,
  timingSeed: number | undefined,
  phases: LatencyPhases,
  loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] },
) {
  const { directProbe, direct, groupProbe } = phases;
  return {
    name: profileName(profile),
    profile,
    ...(timingSeed === undefined ? {} : { timingSeed }),
    loadAverage,
    /** 1:1 open loop at the modest rate: send to the other device, and to the sender's `messageAccepted`. */
    direct: {
      rate: direct.targetRate,
      sendRate: direct.sendRate,
      latencyMs: direct.latencyMs,
      acceptedMs: direct.acceptedMs,
      ...faultsOf(direct),
    },
    /** 1:1 one message at a time. */
    directUnloaded: { latencyMs: directProbe.latencyMs, ...faultsOf(directProbe) },
    /** Group messages one at a time: send to the last (and first) of the online member devices. */
    group: {
      lastOnlineDeviceMs: groupProbe.fanOutToLastDeviceMs,
      firstOnlineDeviceMs: groupProbe.firstDeviceMs,
      ...faultsOf(groupProbe),
    },
    /** Per message, one at a time (every fan-out invocation holds one), as the cost model prices them. */
    cost: { direct: directProbe.cost, group: groupProbe.cost },
    phases: [directProbe, direct, groupProbe],
  };
}

/** The latency phases on this process's stack, and what they show for its profile. */
export async function measureOwnProfile(context: PhaseContext) {
  const before = loadAverage();
  const latency = await runLatencyPhases(context);
  const ownProfile = profileLatency(context.settings.profile, context.rig.stack.timing?.seed, latency, {
    before,
    after: loadAverage(),
  });
  return { latency, ownProfile };
}

function faultsOf(phase: PhaseReport) {
  return {
    messages: phase.accepted,
    lost: phase.lost,
    duplicates: phase.duplicates,
    outOfOrder: phase.outOfOrder,
    sendErrors: phase.sendErrors,
  };
}

function sameProfile(a: StackProfile, b: StackProfile): boolean {
  return a.timing === b.timing && a.fastPath === b.fastPath;
}

/** Every profile of `latencyProfiles`: the run's own measurement where it matches, a child process otherwise. */
export async function measureProfiles(
  settings: BenchSettings,
  own: ProfileLatency,
  log: Log,
): Promise<ProfileLatency[]> {
  const measured: ProfileLatency[] = [];
  for (const profile of latencyProfiles) {
    measured.push(sameProfile(profile, settings.profile) ? own : await runProfileChild(profile, settings, log));
  }
  return measured;
}

/** The open-loop latency curves of the profiles that ran in children (the run's own are among its phases). */
export function profileChartSeries(own: StackProfile, profiles: readonly ProfileLatency[]): ChartSeries[] {
  return profiles
    .filter((measured) => !sameProfile(measured.profile, own))
    .flatMap((measured) =>
      chartSeriesOf(
        measured.phases.filter((phase) => phase.mode === 'openLoop'),
        `, ${measured.name}`,
      ),
    );
}

/** `bench/main.ts --phase-latency --json` under `profile`; its last stdout line is the result. */
function runProfileChild(profile: StackProfile, settings: BenchSettings, log: Log): Promise<ProfileLatency> {
  log(`latency phases under ${profileName(profile)}, in a child process`);
  const args = [
    '--phase-latency',
    '--json',
    '--timing-seed',
    String(settings.timingSeed),
    ...(profile.timing === 'aws' ? ['--aws-timing'] : []),
    ...(profile.fastPath ? [] : ['--no-fast-path']),
    ...(settings.quick ? ['--quick'] : []),
  ];
  const child = fork(fileURLToPath(new URL('./main.ts', import.meta.url)), args, {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const lines = stdout.trimEnd().split('\n');
      const last = lines.pop() ?? '';
      // Anything else the child printed (handler log lines) is shown, not parsed.
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
      if (code !== 0) {
        reject(new Error(`the ${profileName(profile)} latency run exited with ${code}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as ProfileLatency);
      } catch {
        reject(new Error(`the ${profileName(profile)} latency run printed no result: ${last.slice(0, 200)}`));
      }
    });
  });
}
