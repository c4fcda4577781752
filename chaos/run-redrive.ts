/** The operator's fix for the poison: `npm run redrive`, run by the chaos harness in a process of its own. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RedriveRun {
  readonly exitCode: number | null;
  readonly line: string;
  readonly redriven: number;
}

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

/** `npm run redrive -- --local --data-dir <dir>`, as an operator would run it, in its own process. */
export function runRedrive(dataDir: string): Promise<RedriveRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repositoryRoot, 'scripts/redrive.ts'), '--local', '--data-dir', dataDir],
      { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      const line = output.trim().split('\n').at(-1) ?? '';
      let redriven = 0;
      try {
        const summary: unknown = JSON.parse(line);
        const value: unknown = typeof summary === 'object' && summary !== null ? Reflect.get(summary, 'redriven') : 0;
        redriven = typeof value === 'number' ? value : 0;
      } catch {
        // Not JSON: the exit code and the line tell what happened.
      }
      resolve({ exitCode, line, redriven });
    });
  });
}
