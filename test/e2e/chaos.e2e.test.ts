/**
 * The chaos run, small and with a fixed seed (`npm run chaos -- --test --aws-faults`, chaos/settings.ts):
 * connections cut with and without `$disconnect`, postToConnection 410s, 429s and 500s, flaky and poison
 * fan-out records, batches delivered twice, a DynamoDB Local restart, and AWS's own failures: transaction
 * conflicts, throttles, partial batches, DynamoDB 500s and Lambda timeouts that stop invocations where they are. It runs as its own process, as an operator runs
 * it (it starts its own stack and DynamoDB Local, which it restarts), and this test checks its figures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';

interface ChaosFigures {
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly sent: number;
  readonly lost: number;
  readonly acceptedNotStored: number;
  readonly missingFromCaches: number;
  readonly gapFills: number;
  readonly duplicated: number;
  readonly duplicatesBeforeDedupe: number;
  readonly outOfOrder: number;
  readonly outOfOrderOnWire: number;
  readonly inboxLeft: number;
  readonly inboxItemsForMissingMessages: number;
  readonly sendsFailed: number;
  readonly faults: Readonly<Record<string, number>>;
  readonly poison: {
    readonly deadLettered: boolean;
    readonly redriven: boolean;
    readonly recipients: number;
    readonly reachedByRedrive: number;
  };
}

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
let running: ChildProcess | undefined;

// A timed-out test must not leave the run (and its DynamoDB Local) behind; it stops Java on SIGTERM.
afterEach(() => {
  if (running?.exitCode === null) running.kill('SIGTERM');
});

function runChaos(args: readonly string[]): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/run.ts', ...args], {
      cwd: repositoryRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

/** Every fault kind the run injects; each must have fired at least once. */
const faultKinds = [
  'connectionDrops',
  'connectionDropsWithoutDisconnect',
  'postGone410',
  'postError500',
  'fanOutFailures',
  'poisonFailures',
  'duplicateBatches',
  'directRecordWriteFailures',
  'dynamoDbRestarts',
  'transactionConflicts',
  'transactionsCancelledByConflict',
  'throttles',
  'dynamoDbInternalErrors',
  'unprocessedKeys',
  'unprocessedItems',
  'postThrottled429',
  'lambdaTimeouts',
] as const;

it('loses nothing, shows nothing twice and keeps seq order under every fault; the poison is redriven', async () => {
  const { exitCode, stdout, stderr } = await runChaos(['--test', '--seed', '7', '--aws-faults']);
  // The progress lines explain a failure; they are only shown then.
  const context = `chaos run output:\n${stderr.split('\n').slice(-40).join('\n')}`;
  const line = stdout.trim().split('\n').at(-1) ?? '';
  expect(line.startsWith('{'), context).toBe(true);
  const figures = JSON.parse(line) as ChaosFigures;

  expect(figures.failures, context).toEqual([]);
  expect(figures).toMatchObject({ sent: 150, sendsFailed: 0, lost: 0, duplicated: 0, outOfOrder: 0 });
  expect(figures).toMatchObject({ acceptedNotStored: 0, missingFromCaches: 0 });
  // Reported, not judged: the wire may repeat and reorder (the SDK puts it right); gap fills are explained in docs/operations.md.
  expect(figures.gapFills).toBeGreaterThanOrEqual(0);
  expect(figures.outOfOrderOnWire).toBeGreaterThanOrEqual(0);
  for (const kind of faultKinds) expect(figures.faults[kind], `${kind} fired`).toBeGreaterThan(0);
  expect(figures).toMatchObject({ inboxLeft: 0, inboxItemsForMissingMessages: 0 });
  expect(figures.poison).toMatchObject({ deadLettered: true, redriven: true });
  expect(figures.poison.recipients).toBeGreaterThan(0);
  expect(figures.poison.reachedByRedrive).toBe(figures.poison.recipients);
  // Counts that do not depend on timing: one restart, and the poison failed until its 10 retries ran out.
  expect(figures.faults.dynamoDbRestarts).toBe(1);
  expect(figures.faults.poisonFailures).toBeGreaterThanOrEqual(11);
  expect(figures.ok).toBe(true);
  expect(exitCode, context).toBe(0);
}, 600_000);
