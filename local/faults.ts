/**
 * Fault injection for chaos runs (`npm run chaos`): the local stack answers postToConnection with
 * 410 or 500, delivers stream batches twice and fails a writer's direct-delivery record, each with a
 * probability that can change while it runs. Off unless `startLocalStack({ faults })` asks for it; normal runs never roll a die.
 */
import type { DynamoDbAccessGuard } from '#shared/aws/access-guard';

/** Probabilities (0..1) per call; all 0 by default. */
export interface FaultSettings {
  /** postToConnection finds its connection gone (410): the socket is cut first, as a real 410 means. */
  postGone: number;
  /** postToConnection answers 500 (the SDK retries it; a handler sees the error after its retries). */
  postError: number;
  /** Share of injected 500s answered after the frame went out (a lost answer: the retry duplicates it). */
  postErrorAfterDelivery: number;
  /** The poller invokes a batch, ignores the answer and invokes it again (at-least-once delivery). */
  duplicateBatch: number;
  /** A writer's direct-delivery record (PutItem) fails after the SDK's retries: fan-out serves every device. */
  directRecordWrite: number;
}

/** How many of each fault were injected. */
export interface FaultCounts {
  postGone: number;
  postError: number;
  duplicateBatch: number;
  directRecordWrite: number;
  dynamoDbRestarts: number;
}

export interface FaultInjector {
  /** Mutable: a harness turns faults up while it works and off before it checks. */
  readonly settings: FaultSettings;
  readonly counts: FaultCounts;
  /** Rolls a die for `kind` with its current probability; counts it when it hits. */
  roll(kind: 'postGone' | 'postError' | 'duplicateBatch' | 'directRecordWrite'): boolean;
  /** A plain draw in [0, 1) from the injector's (seedable) source. */
  random(): number;
}

export const noFaults: FaultSettings = {
  postGone: 0,
  postError: 0,
  postErrorAfterDelivery: 0,
  duplicateBatch: 0,
  directRecordWrite: 0,
};

export function createFaultInjector(
  initial: Partial<FaultSettings>,
  random: () => number = Math.random,
): FaultInjector {
  const settings: FaultSettings = { ...noFaults, ...initial };
  const counts: FaultCounts = {
    postGone: 0,
    postError: 0,
    duplicateBatch: 0,
    directRecordWrite: 0,
    dynamoDbRestarts: 0,
  };
  return {
    settings,
    counts,
    roll(kind) {
      const probability = settings[kind];
      // No draw at probability 0: a seeded run stays reproducible when a fault kind is switched off.
      if (probability <= 0 || random() >= probability) return false;
      counts[kind] += 1;
      return true;
    },
    random,
  };
}

/** A 500 the management API answers instead of (or after) delivering; a 410 needs none: the socket is cut. */
export type PostFault = 'error' | 'errorAfterDelivery';

/** Asked before each postToConnection; undefined means no fault. */
export type PostFaultHook = (connectionId: string) => PostFault | undefined;

/** What DynamoDB answers when it fails a request on its side (HTTP 500), as the SDK surfaces it. */
export class InjectedInternalServerError extends Error {
  override readonly name = 'InternalServerError';
  readonly $fault = 'server';
}

/**
 * A DynamoDB fault hook for the Lambda runtime: fails a direct-delivery record write (a send's PutItem
 * or a burst's BatchWriteItem on `directDeliveriesTable`) when the dice say so, before it is sent.
 */
export function directRecordFault(injector: FaultInjector, directDeliveriesTable: string): DynamoDbAccessGuard {
  return (accesses) => {
    const recordWrite = accesses.some(
      (access) =>
        (access.action === 'PutItem' || access.action === 'BatchWriteItem') &&
        access.tableName === directDeliveriesTable,
    );
    if (recordWrite && injector.roll('directRecordWrite')) {
      throw new InjectedInternalServerError('Injected: DynamoDB failed the direct-delivery record write');
    }
  };
}
