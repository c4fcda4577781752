/** Sizes, rates and fault probabilities of a chaos run: the full run, `--quick`, and the test's smaller one. */
import { parseArgs } from 'node:util';
import { type LocalStackTiming, timingFromFlags } from '../local/aws-timing';

export interface ChaosSettings {
  readonly name: 'full' | 'quick' | 'test';
  readonly seed: number;
  readonly users: number;
  readonly devicesPerUser: number;
  /** Each user is in about this many 1:1 chats. */
  readonly directPerUser: number;
  readonly groups: number;
  readonly groupSize: { readonly min: number; readonly max: number };
  readonly messages: number;
  /** Sends awaiting their answer at once, over all devices. */
  readonly sendConcurrency: number;
  /** Share of messages marked to make the fan-out fail at random. */
  readonly flakyShare: number;
  /** Chance that a fan-out invocation holding a flaky message throws. */
  readonly flakyFailure: number;
  readonly postGone: number;
  readonly postError: number;
  readonly postErrorAfterDelivery: number;
  readonly duplicateBatch: number;
  /**
   * Chance a writer's direct-delivery record write fails: fan-out then waits out the writer (a send's
   * timeout, 15 s, holding its batch) and serves every device. Rare, as on AWS, or the run is all waiting.
   */
  readonly directRecordWrite: number;
  /**
   * `--aws-faults`: AWS's own failures too (local/dynamodb-faults.ts, local/faults.ts): transactions
   * conflict as they do on AWS (modelled), and these rates apply while messages go out.
   */
  readonly awsFaults: boolean;
  /** postToConnection answers 429 LimitExceededException. */
  readonly postThrottle: number;
  /** A DynamoDB request attempt is throttled (ThrottlingException / ProvisionedThroughputExceededException). */
  readonly throttle: number;
  /** A DynamoDB request attempt answers 500 InternalServerError. */
  readonly dynamoDbInternalError: number;
  /** A BatchGetItem / BatchWriteItem of two or more keys is answered in part. */
  readonly unprocessed: number;
  /** An AWS call inside an invocation is where its timeout stops it (before it is sent, or after, its answer lost). */
  readonly lambdaTimeout: number;
  /** How long a transaction holds its items past DynamoDB Local's answer (ms, drawn from half to 1.5 times). */
  readonly transactionHoldMs: number;
  /** Mean pause between two cut connections (half of them without `$disconnect`). */
  readonly dropEveryMs: number;
  /** DynamoDB Local restarts, spread over the sending phase. */
  readonly dynamoRestarts: number;
  /** How long DynamoDB stays down before it starts again (plus its own start time). */
  readonly dynamoDownMs: number;
  /**
   * The first chance of each fault kind hits, then the dice decide: a short run meets every kind whatever
   * its timing (the test asserts each fired).
   */
  readonly everyFaultAtLeastOnce: boolean;
  /** How long the run may take to converge after the last send before it counts what is missing. */
  readonly settleTimeoutMs: number;
}

const full: ChaosSettings = {
  name: 'full',
  seed: 20_261_127,
  users: 50,
  devicesPerUser: 2,
  directPerUser: 3,
  groups: 12,
  groupSize: { min: 3, max: 12 },
  messages: 10_000,
  sendConcurrency: 48,
  flakyShare: 0.02,
  flakyFailure: 0.3,
  postGone: 0.002,
  postError: 0.005,
  postErrorAfterDelivery: 0.5,
  duplicateBatch: 0.05,
  directRecordWrite: 0.001,
  awsFaults: false,
  postThrottle: 0.005,
  throttle: 0.005,
  dynamoDbInternalError: 0.002,
  unprocessed: 0.03,
  lambdaTimeout: 0.0005,
  transactionHoldMs: 20,
  dropEveryMs: 400,
  dynamoRestarts: 3,
  dynamoDownMs: 1_000,
  settleTimeoutMs: 180_000,
  everyFaultAtLeastOnce: false,
};

const quick: ChaosSettings = {
  ...full,
  name: 'quick',
  users: 10,
  directPerUser: 2,
  groups: 3,
  groupSize: { min: 3, max: 6 },
  messages: 500,
  sendConcurrency: 12,
  flakyShare: 0.04,
  postGone: 0.005,
  postError: 0.01,
  duplicateBatch: 0.1,
  directRecordWrite: 0.004,
  postThrottle: 0.01,
  throttle: 0.01,
  dynamoDbInternalError: 0.005,
  unprocessed: 0.05,
  lambdaTimeout: 0.002,
  dropEveryMs: 500,
  dynamoRestarts: 1,
  settleTimeoutMs: 90_000,
};

/** `npm test`'s version: small, one restart, fixed seed; fits in about a minute on two busy cores. */
export const testSettings: ChaosSettings = {
  ...quick,
  name: 'test',
  users: 6,
  directPerUser: 2,
  groups: 2,
  groupSize: { min: 3, max: 4 },
  messages: 150,
  sendConcurrency: 8,
  flakyShare: 0.05,
  // Enough that every kind fires in 150 messages (a direct record write that fails holds its fan-out lane 15 s).
  directRecordWrite: 0.02,
  postThrottle: 0.02,
  throttle: 0.02,
  dynamoDbInternalError: 0.01,
  unprocessed: 0.3,
  lambdaTimeout: 0.004,
  dropEveryMs: 800,
  settleTimeoutMs: 60_000,
  everyFaultAtLeastOnce: true,
};

export const chaosUsage = `Usage: npm run chaos -- [--quick] [--seed <n>] [--messages <n>] [--users <n>] [--aws-faults] [--aws-timing] [--keep-data]
  --quick        10 users, 20 devices, 500 messages, one DynamoDB restart (a minute or two)
  --test         the smaller run test/e2e/chaos.e2e.test.ts uses (6 users, 150 messages)
  --seed <n>     the harness's and the fault dice's seed (timing still varies run to run)
  --messages <n> override the number of messages
  --users <n>    override the number of users (2 devices each)
  --aws-faults   AWS's own failures too: modelled transaction conflicts, throttles, partial batches,
                 DynamoDB 500s, @connections 429s, Lambda timeouts that stop an invocation where it is
  --aws-timing   the stack waits as AWS does (local/aws-timing-profile.ts); the report gives the seed
  --timing-seed <n>  with --aws-timing: seed the latency draws (default random)
  --keep-data    leave the run's data directory (DynamoDB files, dead-letters.jsonl) in place
  --strict-inbox fail on inbox items left after the run's acks even when the devices' next sync clears them`;

export interface ChaosCommandLine {
  readonly settings: ChaosSettings;
  readonly keepData: boolean;
  readonly strictInbox: boolean;
  /** `--aws-timing [--timing-seed <n>]`; absent: local timing. */
  readonly timing: LocalStackTiming | undefined;
  readonly help: boolean;
}

export function parseChaosArgs(args: readonly string[]): ChaosCommandLine {
  const { values } = parseArgs({
    args: [...args],
    options: {
      quick: { type: 'boolean' },
      test: { type: 'boolean' },
      seed: { type: 'string' },
      messages: { type: 'string' },
      users: { type: 'string' },
      'keep-data': { type: 'boolean' },
      'strict-inbox': { type: 'boolean' },
      'aws-timing': { type: 'boolean' },
      'aws-faults': { type: 'boolean' },
      'timing-seed': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const base = values.test === true ? testSettings : values.quick === true ? quick : full;
  const settings: ChaosSettings = {
    ...base,
    ...(values.seed === undefined ? {} : { seed: positiveInteger(values.seed, '--seed') }),
    ...(values.messages === undefined ? {} : { messages: positiveInteger(values.messages, '--messages') }),
    ...(values.users === undefined ? {} : { users: Math.max(3, positiveInteger(values.users, '--users')) }),
    ...(values['aws-faults'] === true ? { awsFaults: true } : {}),
  };
  return {
    settings,
    keepData: values['keep-data'] === true,
    strictInbox: values['strict-inbox'] === true,
    timing: timingFromFlags(values['aws-timing'] === true, values['timing-seed']),
    help: values.help === true,
  };
}

function positiveInteger(value: string, name: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new Error(`${name} must be a positive integer, got "${value}"`);
  return parsed;
}
