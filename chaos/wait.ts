/** Patience for the chaos harness: polling until something settles, and retrying its own HTTP calls. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `remaining` until it is 0 or the time is up; answers the last value. */
export async function waitFor(
  what: string,
  timeoutMs: number,
  log: (line: string) => void,
  remaining: () => number | Promise<number>,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let lastLog = Date.now();
  for (;;) {
    const left = await remaining();
    if (left === 0) return 0;
    if (Date.now() > deadline) {
      log(`gave up waiting for ${what}: ${left} left`);
      return left;
    }
    if (Date.now() - lastLog > 5_000) {
      log(`waiting for ${what}: ${left} left`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
}

/** HTTP calls of the harness itself retry through faults (a DynamoDB restart answers 500 for a while). */
export async function retry<T>(call: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
  }
}

/** True once `work` settles; false when nothing progressed for `stallMs` (a long run is fine, a stuck one is not). */
export async function settleUnlessStalled(
  work: Promise<unknown>,
  lastProgressAt: () => number,
  stallMs: number,
): Promise<boolean> {
  let settled = false;
  void work.then(() => {
    settled = true;
  });
  while (!settled) {
    if (Date.now() - lastProgressAt() > stallMs) return false;
    await sleep(250);
  }
  return true;
}
