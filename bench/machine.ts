/** Where and on what a result was measured: commit, machine, load, and CPU time per process. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';

export interface CommitInfo {
  readonly sha: string;
  readonly subject: string;
  /** Uncommitted changes were present: the numbers belong to the working tree, not exactly to `sha`. */
  readonly dirty: boolean;
}

export function commitInfo(): CommitInfo {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  return {
    sha: git('rev-parse', 'HEAD') || 'unknown',
    subject: git('log', '-1', '--format=%s'),
    dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
  };
}

export function machineInfo() {
  const cpuList = cpus();
  let java = 'unknown';
  try {
    // `java -version` writes to stderr.
    java = execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8' }).trim().split('\n')[0] ?? java;
  } catch {
    // No Java: DynamoDB Local would not have started either.
  }
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    java,
  };
}

/** 1, 5 and 15 minute load averages, rounded. */
export function loadAverage(): readonly [number, number, number] {
  const [one = 0, five = 0, fifteen = 0] = loadavg().map((value) => Math.round(value * 100) / 100);
  return [one, five, fifteen];
}

let clockTicks: number | undefined;

/** CPU seconds (user + system) a process has used, from /proc; undefined when it is gone or not Linux. */
export function processCpuMs(pid: number): number | undefined {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state; utime and stime are 14th and 15th overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) / clockTicks) * 1000;
  } catch {
    return undefined;
  }
}

/** The DynamoDB Local JVM this process started (its child running DynamoDBLocal.jar). */
export function findDynamoDbLocalPid(): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (parent !== process.pid) continue;
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('DynamoDBLocal.jar')) return Number(entry);
      } catch {
        // Processes come and go while the directory is read.
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}
