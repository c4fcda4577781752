import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvokeStore } from '@aws/lambda-invoke-store';
import type { Context } from 'aws-lambda';
import { type DynamoDbAccessGuard, setDynamoDbAccessGuard } from '#shared/aws/access-guard';
import { setDynamoDbCallDelay } from '#shared/aws/call-delay';
import { setAwsCallGate } from '#shared/aws/call-gate';
import {
  type FunctionName,
  type FunctionSpec,
  functionDefaults,
  functions,
  memoryMbOf,
} from '#shared/config/functions';
import type { TableKey } from '#shared/config/tables';
import { localAccountId, localRegion } from './aws-local';
import type { TimingModel } from './aws-timing';
import { type CpuFigure, cpuStretch } from './aws-timing-profile';
import { dynamoDbGuardFor } from './iam';
import type { LocalLogger } from './log';

/** What every catalog handler is to the runtime: async, `(event, context)`, middy-wrapped or not. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** Stand-ins for catalog handlers, so a test can drive a gateway or poller without the real one. */
export type HandlerOverrides = Partial<Record<FunctionName, LambdaHandler>>;

export interface LambdaRuntime {
  /** Runs one invocation like Lambda: JSON in, JSON out, a Context, the function's timeout. */
  invoke(functionName: FunctionName, event: unknown): Promise<unknown>;
  /** Invocations so far, per function that ran at least once (benchmarks take differences). */
  invocationCounts(): Partial<Record<FunctionName, InvocationCount>>;
}

/** Running totals for one function since the runtime started. */
export interface InvocationCount {
  invocations: number;
  /** Started and not yet finished (a timed-out one counts as finished). */
  running: number;
  /** Invocations that threw or timed out. */
  failures: number;
  /** Wall time spent in the handler (not in the cold-start import), summed. */
  totalMs: number;
  /**
   * Time the handler's own code held the thread (its callbacks, the SDK's work for it, its GC), summed;
   * 0 unless the runtime measures it (`measureOnThreadTime`). Lambda sizes CPU by memory, so this is
   * the part of `totalMs` a smaller function stretches.
   */
  onThreadMs: number;
}

export interface LambdaRuntimeOptions {
  readonly logger: LocalLogger;
  /** The stack's name for each table: a function may use on it only the actions its catalog entry grants. */
  readonly tableName: (key: TableKey) => string;
  readonly overrides?: HandlerOverrides;
  /** Chaos runs: shown each DynamoDB call a handler makes (after IAM's check); throws to fail it unsent. */
  readonly dynamoDbFault?: DynamoDbAccessGuard;
  /** AWS timing: each invocation waits Lambda's invoke overhead, each DynamoDB call in it AWS's round trip. */
  readonly timing?: TimingModel;
  /**
   * `--aws-faults`: asked at each AWS call an invocation makes; says when the invocation runs out of
   * time right there, before the call is sent or once it took effect (see `FaultSettings.lambdaTimeout`).
   * Absent: only a real timeout stops one.
   */
  readonly timeoutAt?: () => InjectedTimeout | undefined;
  /** Adds up each invocation's time on the thread (`InvocationCount.onThreadMs`); costs every callback a hook. */
  readonly measureOnThreadTime?: boolean;
  /**
   * Lambda's CPU sized by memory: an invocation's time on the thread is stretched by this memory over
   * its function's (when larger), the difference waited before each of its AWS calls and its answer.
   * Implies `measureOnThreadTime`.
   */
  readonly cpuByMemory?: CpuFigure;
}

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * Every handler shares this process and runs concurrently, as on Lambda's multi-concurrency runtime:
 * AWS_LAMBDA_MAX_CONCURRENCY makes Powertools keep log keys and metrics per invocation, in the store
 * each invocation runs in. Set only once the store exists: Powertools throws without it.
 */
const invokeStore = InvokeStore.getInstanceAsync(true).then((store) => {
  process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= '64';
  return store;
});

/** What a DynamoDB call made inside an invocation answers to. */
interface InvocationScope {
  /** The function's IAM stand-in (see local/iam.ts). */
  readonly guard: DynamoDbAccessGuard;
  /** Under AWS timing: how long the call is to take. */
  readonly dynamoDbCallMs: ((operation: string) => number) | undefined;
}

/** Where an injected timeout falls on the call it hits. */
export type InjectedTimeout = 'beforeSend' | 'afterEffect';

/**
 * One invocation's life: once stopped (its timeout, real or injected), its AWS calls never go out and
 * never answer, so its code stops where it is, as Lambda's does; what it already did stays done.
 */
class InvocationLife {
  stopped = false;
  /** An injected timeout falls after this call took effect: its answer, and every later one, never comes. */
  private stopAfterAnswer = false;
  private onStop: (() => void) | undefined;

  constructor(private readonly timeoutAt: (() => InjectedTimeout | undefined) | undefined) {}

  /** Resolves when the invocation is stopped by an injected timeout. */
  readonly injectedTimeout = new Promise<void>((resolve) => {
    this.onStop = resolve;
  });

  stop(): void {
    this.stopped = true;
  }

  admit(): boolean {
    if (this.stopped || this.stopAfterAnswer) return false;
    const timeout = this.timeoutAt?.();
    if (timeout === undefined) return true;
    if (timeout === 'beforeSend') {
      this.stopped = true;
      this.onStop?.();
      return false;
    }
    this.stopAfterAnswer = true;
    return true;
  }

  deliver(): boolean {
    if (this.stopAfterAnswer && !this.stopped) {
      this.stopped = true;
      this.onStop?.();
    }
    return !this.stopped;
  }
}

const invocationLife = new AsyncLocalStorage<InvocationLife>();

/** An invocation's time on the thread: every callback run in its async context, timed from before to after. */
class ThreadClock {
  ms = 0;
  private depth = 0;
  private since = 0;
  /** What of the stretch (`ms * (stretch - 1)`) the invocation has already waited. */
  private waitedMs = 0;

  /** `stretch`: how much slower than here the function's CPU is (1: as fast). */
  constructor(private readonly stretch = 1) {}

  /** The stretch not yet waited, from the work done so far; counted as waited from now on. */
  owed(): number {
    // The stretch under way counts too: a call is often made in the same callback as the work before it.
    const soFar = this.ms + (this.depth > 0 ? performance.now() - this.since : 0);
    const owed = soFar * (this.stretch - 1) - this.waitedMs;
    if (owed <= 0) return 0;
    this.waitedMs += owed;
    return owed;
  }

  enter(): void {
    if (this.depth++ === 0) this.since = performance.now();
  }

  leave(): void {
    if (--this.depth === 0) this.ms += performance.now() - this.since;
  }
}

const threadClock = new AsyncLocalStorage<ThreadClock>();
const threadClockHook = createHook({
  before: () => threadClock.getStore()?.enter(),
  after: () => threadClock.getStore()?.leave(),
});
/** Invocations with a clock running: the hook costs every callback in the process, so it is on only then. */
let clockedInvocations = 0;

/** Runs `work` with `clock` timing its time on the thread; the process-wide hook is on while any clock runs. */
async function clocked<T>(clock: ThreadClock, work: () => Promise<T>): Promise<T> {
  if (clockedInvocations++ === 0) threadClockHook.enable();
  try {
    return await threadClock.run(clock, work);
  } finally {
    if (--clockedInvocations === 0) threadClockHook.disable();
  }
}

/**
 * The scope of the invocation a DynamoDB call is made in. Calls outside any invocation (table setup,
 * tests, benchmarks) are not a function's: they pass, and never wait.
 */
const invocationScope = new AsyncLocalStorage<InvocationScope>();
setDynamoDbAccessGuard((accesses) => invocationScope.getStore()?.guard(accesses));
setDynamoDbCallDelay((operation) => invocationScope.getStore()?.dynamoDbCallMs?.(operation));
setAwsCallGate({
  beforeCall: () => waitOwed(threadClock.getStore()),
  admit: () => invocationLife.getStore()?.admit() ?? true,
  deliver: () => invocationLife.getStore()?.deliver() ?? true,
});

/** Waits what a slower CPU would have taken on top of the work done so far (nothing at full speed). */
function waitOwed(clock: ThreadClock | undefined): Promise<void> | undefined {
  const owedMs = clock?.owed() ?? 0;
  return owedMs > 0 ? sleep(owedMs) : undefined;
}

/** Entries imported by any runtime in this process: Node caches modules, so their cold start ran once. */
const importedEntries = new Set<string>();

export function anyHandlerModuleImported(): boolean {
  return importedEntries.size > 0;
}

export function createLambdaRuntime(options: LambdaRuntimeOptions): LambdaRuntime {
  const { logger, cpuByMemory } = options;
  const measureAll = options.measureOnThreadTime === true;
  // One "container" per function: its module is imported once, on first use, like a cold start.
  const containers = new Map<FunctionName, Promise<LambdaHandler>>();
  const counts: Partial<Record<FunctionName, InvocationCount>> = {};
  const scopes = new Map<FunctionName, InvocationScope>();
  const scopeFor = (functionName: FunctionName): InvocationScope => {
    const known = scopes.get(functionName);
    if (known !== undefined) return known;
    const iam = dynamoDbGuardFor(functionName, options.tableName, logger);
    const { dynamoDbFault } = options;
    const scope: InvocationScope = {
      guard:
        dynamoDbFault === undefined
          ? iam
          : (accesses) => {
              iam(accesses);
              dynamoDbFault(accesses);
            },
      dynamoDbCallMs: options.timing?.dynamoDbCallMs,
    };
    scopes.set(functionName, scope);
    return scope;
  };

  const handlerFor = (functionName: FunctionName): Promise<LambdaHandler> => {
    const override = options.overrides?.[functionName];
    if (override !== undefined) return Promise.resolve(override);
    let container = containers.get(functionName);
    if (container === undefined) {
      container = importHandler(functions[functionName]);
      // A failed import (syntax error, missing file) is retried on the next invocation once fixed.
      container.catch(() => containers.delete(functionName));
      containers.set(functionName, container);
    }
    return container;
  };

  return {
    async invoke(functionName, event) {
      const spec: FunctionSpec = functions[functionName];
      const handler = await handlerFor(functionName);
      // Lambda's own share of a warm invoke: routing the request to an environment and the answer back.
      if (options.timing !== undefined) await sleep(options.timing.draw('lambdaInvoke'));
      const timeoutMs = (spec.timeoutSeconds ?? functionDefaults.timeoutSeconds) * 1000;
      const context = createContext(functionName, spec, Date.now() + timeoutMs);
      const startedAt = performance.now();
      const count = counts[functionName] ?? { invocations: 0, running: 0, failures: 0, totalMs: 0, onThreadMs: 0 };
      counts[functionName] = count;
      count.invocations += 1;
      count.running += 1;
      const stretch = cpuByMemory ? cpuStretch(memoryMbOf(spec), cpuByMemory) : 1;
      // Clocked when measured, or when a slower CPU is to be waited for (a function under 1,769 MB).
      const clock = measureAll || stretch > 1 ? new ThreadClock(stretch) : undefined;
      try {
        // One store context per invocation, as Lambda's multi-concurrency runtime does: Powertools keeps
        // log keys, correlation ids and metrics per invocation though every handler here shares one process.
        const store = await invokeStore;
        const life = new InvocationLife(options.timeoutAt);
        const run = () =>
          invocationLife.run(life, () =>
            invocationScope.run(scopeFor(functionName), () => store.run({}, () => handler(jsonCopy(event), context))),
          );
        // The handler's first, synchronous stretch runs here, outside any callback the hook sees.
        const timed = () => {
          clock?.enter();
          try {
            return run();
          } finally {
            clock?.leave();
          }
        };
        // The answer leaves once the slower CPU would have finished the work after the last call: within
        // the timeout, as on Lambda, where that work is part of the invocation.
        const handled = clock
          ? clocked(clock, timed).then(async (answer) => {
              await waitOwed(clock);
              return answer;
            })
          : run();
        const result = await withTimeout(handled, timeoutMs, life);
        count.onThreadMs += clock?.ms ?? 0;
        count.totalMs += performance.now() - startedAt;
        count.running -= 1;
        logger.debug('invocation done', {
          function: functionName,
          requestId: context.awsRequestId,
          ms: Math.round(performance.now() - startedAt),
        });
        return jsonCopy(result);
      } catch (error) {
        count.onThreadMs += clock?.ms ?? 0;
        count.totalMs += performance.now() - startedAt;
        count.running -= 1;
        count.failures += 1;
        // API Gateway's authorizer contract: throwing "Unauthorized" is how a handler says 401, not a fault.
        const level = error instanceof Error && error.message === 'Unauthorized' ? 'info' : 'error';
        logger[level]('invocation failed', { function: functionName, requestId: context.awsRequestId, error });
        throw error;
      }
    },
    invocationCounts: () => structuredClone(counts),
  };
}

async function importHandler(spec: FunctionSpec): Promise<LambdaHandler> {
  const moduleUrl = pathToFileURL(resolve(repositoryRoot, spec.entry)).href;
  const module: unknown = await import(moduleUrl);
  importedEntries.add(spec.entry);
  const handler = typeof module === 'object' && module !== null && 'handler' in module ? module.handler : undefined;
  if (typeof handler !== 'function') throw new Error(`${spec.entry} does not export a handler function`);
  return (event, context) => Promise.resolve(handler(event, context));
}

function createContext(functionName: FunctionName, spec: FunctionSpec, deadline: number): Context {
  const physicalName = `parley-local-${functionName}`;
  const notSupported = (): never => {
    throw new Error('Callback-style context methods are not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: physicalName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${localRegion}:${localAccountId}:function:${physicalName}`,
    memoryLimitInMB: String(memoryMbOf(spec)),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${physicalName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: notSupported,
    fail: notSupported,
    succeed: notSupported,
  };
}

/** Lambda hands events and results over as JSON: no shared references, no Dates, undefined is null. */
function jsonCopy(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/**
 * Lambda stops a function at its timeout: the result is abandoned with Lambda's message, and the
 * invocation's AWS calls from then on never go out nor answer (`InvocationLife`). An injected timeout
 * stops it at once, wherever it is.
 */
function withTimeout<T>(work: Promise<T>, timeoutMs: number, life: InvocationLife): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const message = `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      life.stop();
      reject(new Error(message));
    }, timeoutMs);
    void life.injectedTimeout.then(() => reject(new Error(message)));
  });
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
}
