/**
 * Fault injection for chaos runs (`npm run chaos`) and `--aws-faults`: the local stack answers
 * postToConnection with 410, 429 or 500, delivers stream batches twice, fails a writer's direct-delivery
 * record, and (AWS's own failures, local/dynamodb-faults.ts and the Lambda runtime) conflicts, throttles,
 * answers batches in part, fails DynamoDB requests with 500 and cuts invocations off where they are,
 * each with a probability that can change while it runs. Off unless `startLocalStack({ faults })` or
 * `startLocalStack({ awsFaults })` asks for it; normal runs never roll a die.
 */
import type { DynamoDbAccessGuard } from '#shared/aws/access-guard';

/** Probabilities (0..1) per call; all 0 by default. */
export interface FaultSettings {
  /** postToConnection finds its connection gone (410): the socket is cut first, as a real 410 means. */
  postGone: number;
  /** postToConnection answers 500 (the poster retries it as the SDK would; a handler sees the error after its retries). */
  postError: number;
  /** Share of injected 500s answered after the frame went out (a lost answer: the retry duplicates it). */
  postErrorAfterDelivery: number;
  /** The poller invokes a batch, ignores the answer and invokes it again (at-least-once delivery). */
  duplicateBatch: number;
  /** A writer's direct-delivery record (PutItem) fails after the SDK's retries: fan-out serves every device. */
  directRecordWrite: number;
  /** postToConnection answers 429 LimitExceededException (API Gateway's throttle; the poster retries it as the SDK would). */
  postThrottle: number;
  /** A DynamoDB request attempt answers ThrottlingException or ProvisionedThroughputExceededException (the SDK retries it). */
  throttle: number;
  /** A DynamoDB request attempt answers 500 InternalServerError (the SDK retries it). */
  dynamoDbInternalError: number;
  /** A BatchGetItem or BatchWriteItem of two or more keys is answered in part (UnprocessedKeys / UnprocessedItems). */
  unprocessed: number;
  /**
   * An AWS call (DynamoDB or `@connections`) made inside an invocation is where the invocation runs out
   * of time: it is stopped there, before the call is sent or after it took effect, and its answer never comes.
   */
  lambdaTimeout: number;
  /**
   * Not a probability: how long (ms, drawn between half and 1.5 times this) a transaction holds its items
   * past DynamoDB Local's answer, during which a write to one of them conflicts. 0: only while in flight.
   */
  transactionHoldMs: number;
}

/** The AWS failure kinds' rates `--aws-faults` turns on (a chaos run sets its own). */
export const awsFaultDefaults: Pick<
  FaultSettings,
  'postThrottle' | 'throttle' | 'dynamoDbInternalError' | 'unprocessed' | 'lambdaTimeout' | 'transactionHoldMs'
> = {
  postThrottle: 0.01,
  throttle: 0.01,
  dynamoDbInternalError: 0.005,
  unprocessed: 0.05,
  lambdaTimeout: 0.001,
  transactionHoldMs: 20,
};

/** How many of each fault were injected. */
export interface FaultCounts {
  postGone: number;
  postError: number;
  duplicateBatch: number;
  directRecordWrite: number;
  dynamoDbRestarts: number;
  postThrottle: number;
  throttle: number;
  dynamoDbInternalError: number;
  /** BatchGetItem answers with UnprocessedKeys. */
  unprocessedKeys: number;
  /** BatchWriteItem answers with UnprocessedItems. */
  unprocessedItems: number;
  /** Single-item writes refused with TransactionConflictException (modelled: an in-flight transaction held the item). */
  transactionConflict: number;
  /** TransactWriteItems cancelled with reason TransactionConflict (another transaction held an item). */
  transactionCancelledByConflict: number;
  /** Invocations stopped where they were by an injected timeout. */
  lambdaTimeout: number;
}

/** The kinds a die is rolled for. */
export type RolledFault =
  | 'postGone'
  | 'postError'
  | 'duplicateBatch'
  | 'directRecordWrite'
  | 'postThrottle'
  | 'throttle'
  | 'dynamoDbInternalError'
  | 'unprocessed'
  | 'lambdaTimeout';

/** Counted kinds that no die decides alone (modelled, or counted under another name than their die). */
export type CountedFault = keyof FaultCounts;

export interface FaultInjector {
  /** Mutable: a harness turns faults up while it works and off before it checks. */
  readonly settings: FaultSettings;
  readonly counts: FaultCounts;
  /**
   * Rolls a die for `kind` with its current probability; counts it when it hits (unless `count` is false).
   * `armedAs` names the case an armed roll stands for (default: the kind).
   */
  roll(kind: RolledFault, count?: boolean, armedAs?: string): boolean;
  /**
   * Makes the first roll of each case (at a probability above 0) hit: a short seeded run then meets every
   * kind at least once whatever its timing, instead of by luck of the dice.
   */
  armEachOnce(): void;
  /** Counts one fault of `kind` that happened without a die of its own. */
  count(kind: CountedFault): void;
  /** A plain draw in [0, 1) from the injector's (seedable) source. */
  random(): number;
}

export const noFaults: FaultSettings = {
  postGone: 0,
  postError: 0,
  postErrorAfterDelivery: 0,
  duplicateBatch: 0,
  directRecordWrite: 0,
  postThrottle: 0,
  throttle: 0,
  dynamoDbInternalError: 0,
  unprocessed: 0,
  lambdaTimeout: 0,
  transactionHoldMs: 0,
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
    postThrottle: 0,
    throttle: 0,
    dynamoDbInternalError: 0,
    unprocessedKeys: 0,
    unprocessedItems: 0,
    transactionConflict: 0,
    transactionCancelledByConflict: 0,
    lambdaTimeout: 0,
  };
  // Cases already met since armEachOnce; undefined while not armed.
  let metSinceArmed: Set<string> | undefined;
  return {
    settings,
    counts,
    roll(kind, count = true, armedAs = kind) {
      const probability = settings[kind];
      // No draw at probability 0: a seeded run stays reproducible when a fault kind is switched off.
      if (probability <= 0) return false;
      const armedHit = metSinceArmed !== undefined && !metSinceArmed.has(armedAs);
      metSinceArmed?.add(armedAs);
      if (!armedHit && random() >= probability) return false;
      if (count && kind !== 'unprocessed') counts[kind] += 1;
      return true;
    },
    count(kind) {
      counts[kind] += 1;
    },
    armEachOnce() {
      metSinceArmed = new Set();
    },
    random,
  };
}

/** A 500 (or 429) the management API answers instead of (or after) delivering; a 410 needs none: the socket is cut. */
export type PostFault = 'error' | 'errorAfterDelivery' | 'throttled';

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
