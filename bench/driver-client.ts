/** The bench's end of the driver: the child process (bench/driver.ts) that holds the devices, called over IPC. */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DriverCommand, DriverRequest, DriverResponse, SettledReply, SettleRequest } from './driver-protocol';

export interface DriverClient {
  call<T>(command: DriverCommand): Promise<T>;
  /** Closes every device (their `$disconnect`s run) and ends the driver; answers what it saw outside phases. */
  stop(): Promise<unknown>;
}

/** `settle`: what the driver's probes wait for between two messages (the stack's streams, settled). */
export function startDriver(settle: () => Promise<void>): DriverClient {
  const child = fork(fileURLToPath(new URL('./driver.ts', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let closed: Promise<unknown> | undefined;
  child.on('message', (message: DriverResponse | SettleRequest) => {
    if ('settleId' in message) {
      const answer = (): void => {
        if (child.connected) child.send({ settledId: message.settleId } satisfies SettledReply);
      };
      // A failed wait still answers: the probe goes on, as it would have without waiting.
      settle().then(answer, answer);
      return;
    }
    const response = message;
    const waiter = pending.get(response.id);
    if (waiter === undefined) return;
    pending.delete(response.id);
    if (response.ok) waiter.resolve(response.result);
    else waiter.reject(new Error(`driver: ${response.error}`));
  });
  child.on('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`driver exited (${code})`));
    pending.clear();
  });
  const call = <T>(command: DriverCommand): Promise<T> => {
    if (child.exitCode !== null || !child.connected) return Promise.reject(new Error('driver is not running'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: (value) => resolve(value as T), reject });
      child.send({ id, command } satisfies DriverRequest);
    });
  };
  return {
    call,
    stop(): Promise<unknown> {
      closed ??= call<unknown>({ kind: 'close' }).finally(() => child.disconnect());
      return closed;
    },
  };
}
