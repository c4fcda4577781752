/**
 * A process-wide gate around each AWS call (DynamoDB, `@connections`), so the local stack can stop an
 * invocation where it is, as Lambda does at its timeout: a call made after the stop is never sent, and
 * one in flight at the stop never answers (what it did on the service side stays done). On Lambda
 * nothing is installed and every call goes straight through; the local Lambda runtime installs one.
 */
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { processSlot } from './process-slot';

export interface AwsCallGate {
  /** Before anything else: a wait the caller owes first (the local runtime's CPU sized by memory). */
  beforeCall?(): Promise<void> | undefined;
  /** Before `operation` is sent: false means the caller has stopped, and the call never happens. */
  admit(operation: string): boolean;
  /** Once it answered (or failed): false means the caller stopped meanwhile, and the answer never arrives. */
  deliver(): boolean;
}

const gateSlot = processSlot<AwsCallGate>('parley.aws.callGate');

/** Installs the process-wide gate (`undefined` removes it); returns the previous one. */
export function setAwsCallGate(gate: AwsCallGate | undefined): AwsCallGate | undefined {
  return gateSlot.set(gate);
}

/** A promise that never settles: what a stopped invocation's code waits on for ever. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/** Runs one AWS call through the gate, when one is installed (`operation` names it to the gate). */
export async function throughAwsCallGate<T>(operation: string, call: () => Promise<T>): Promise<T> {
  const gate = gateSlot.get();
  if (gate === undefined) return call();
  await gate.beforeCall?.();
  if (!gate.admit(operation)) return never();
  try {
    const output = await call();
    return gate.deliver() ? output : never();
  } catch (error) {
    if (!gate.deliver()) return never();
    throw error;
  }
}

/** Adds the gate to an SDK client's middleware stack (outermost: around the SDK's own retries). */
export function addAwsCallGate(client: DynamoDBClient | ApiGatewayManagementApiClient): void {
  // One middleware for both clients: it only looks at the command's name.
  (client.middlewareStack as DynamoDBClient['middlewareStack']).add(
    (next, context) => (args) =>
      throughAwsCallGate((context.commandName ?? 'Unknown').replace(/Command$/, ''), () => next(args)),
    { step: 'initialize', name: 'parleyCallGate', override: true },
  );
}
