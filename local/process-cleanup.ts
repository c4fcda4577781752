import type { ChildProcess } from 'node:child_process';

const terminationSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const liveChildren = new Set<ChildProcess>();
let hooksInstalled = false;

/** Kills `child` when this process exits or is signalled, so no Java outlives Node. */
export function killWithParent(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  installHooks();
}

function killAll(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAll);
  for (const signal of terminationSignals) {
    const onSignal = (): void => {
      // Another listener (local/main.ts, a test runner) owns shutdown and ends in process exit.
      if (process.listenerCount(signal) > 1) return;
      killAll();
      // Alone, we must not swallow the signal: re-raise it with the default action.
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
