/**
 * A process-wide pause around each DynamoDB call, so a machine without AWS can wait as AWS makes a
 * caller wait. A client middleware asks one process-wide delay for the call's duration and makes the
 * call last at least that long: half before the request is sent (less what such a call typically
 * takes here), the rest after the answer, less whatever the call itself took. On Lambda nothing is installed and every call goes straight through;
 * the local stack installs one under its AWS timing profile (local/aws-timing.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbOperation } from './access-guard';
import { processSlot } from './process-slot';

/** The milliseconds a call of `operation` (`GetItem`, `TransactWriteItems`, ...) is to last; undefined or 0: no wait. */
export type DynamoDbCallDelay = (operation: string) => number | undefined;

const delaySlot = processSlot<DynamoDbCallDelay>('parley.dynamodb.callDelay');

/** Installs the process-wide delay (`undefined` removes it); returns the previous one. */
export function setDynamoDbCallDelay(delay: DynamoDbCallDelay | undefined): DynamoDbCallDelay | undefined {
  return delaySlot.set(delay);
}

/** How long each operation's local call typically takes: a moving mean, per process. */
const typicalLocalMs = new Map<string, number>();
/** Weight of the newest call in that mean: about the last twenty calls count. */
const smoothing = 0.05;

/** Adds the delay to `client`'s middleware stack (shared by every document client built on it). */
export function addDynamoDbCallDelay(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = dynamoDbOperation(context);
      const delayMs = delaySlot.get()?.(operation) ?? 0;
      if (!(delayMs > 0)) return next(args);
      const startedAt = performance.now();
      // The drawn time is AWS's whole round trip, its own processing included, and the local call's
      // processing stands in for that part: the request's way there is shortened by what the call
      // typically takes here, so a write still lands in the table (and its stream) about mid-way and
      // the call lasts the drawn time, or longer only when this machine is slower than usual.
      const typicalMs = typicalLocalMs.get(operation) ?? 0;
      await pause(delayMs / 2 - typicalMs);
      const calledAt = performance.now();
      try {
        return await next(args);
      } finally {
        const tookMs = performance.now() - calledAt;
        typicalLocalMs.set(operation, typicalMs === 0 ? tookMs : typicalMs + (tookMs - typicalMs) * smoothing);
        await pause(delayMs - (performance.now() - startedAt));
      }
    },
    // Initialize: once per call, around the SDK's own retries.
    { step: 'initialize', name: 'parleyCallDelay', override: true },
  );
}

function pause(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
