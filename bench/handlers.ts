/**
 * Per handler: the bundle CDK would deploy (esbuild with shared/config/bundling.ts, as NodejsFunction runs it)
 * and its module initialisation time: the import of that bundle in a fresh Node process with the
 * handler environment set, as a Lambda cold start runs it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import pLimit from 'p-limit';
import { bundleDefines, handlerBundling } from '#shared/config/bundling';
import { type FunctionName, type FunctionSpec, functions } from '#shared/config/functions';
import { tableKeys, tables } from '#shared/config/tables';
import { handlerEnvironment } from '../local/environment';
import { type LocalTables, localTableName } from '../local/tables';
import { round } from './capacity-tally';

const run = promisify(execFile);

/** What the benchmark reports of the bundling: the shared declaration the CDK construct also reads. */
export const bundleSettings = {
  ...handlerBundling,
  externals: 'each function spec nativeModules (sharp for mediaProcess); the AWS SDK is bundled',
  defines: 'per function spec: sdkTracing false fixes POWERTOOLS_TRACE_ENABLED, leaving the X-Ray SDK out',
} as const;

export interface HandlerMeasurement {
  readonly entry: string;
  /** index.mjs as deployed, minified; the source map beside it is not counted. */
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly sourceMapBytes: number;
  /** Largest contributors to the bundle by package (or app folder), bytes in the output. */
  readonly largestInputs: readonly { readonly name: string; readonly bytes: number }[];
  /** Import time as deployed: no source-map support at run time. */
  readonly initMs: { readonly median: number; readonly runs: readonly number[] };
  /** The same with NODE_OPTIONS=--enable-source-maps, to show what that option would cost (full runs only). */
  readonly initMsWithSourceMaps?: { readonly median: number; readonly runs: readonly number[] };
}

export interface HandlerReport {
  readonly settings: typeof bundleSettings;
  readonly initRuns: number;
  readonly initConcurrency: number;
  /** Import time of an empty module in a fresh Node process: this machine's floor under every figure above. */
  readonly emptyModuleInitMs: number;
  readonly buildSeconds: number;
  readonly functions: Readonly<Record<string, HandlerMeasurement>>;
}

const repositoryRoot = new URL('..', import.meta.url).pathname;
// Outside the repository: a bare import the bundle left out must not resolve to its node_modules, as on Lambda.
const outputRoot = join(tmpdir(), 'parley-bench-bundles');

/**
 * What Lambda has beside a bundle: node_modules holding the function's native modules and nothing else
 * (NodejsFunction installs them for arm64; here the host's build of the same locked version is linked).
 */
export function linkNativeModules(functionDirectory: string, modules: readonly string[]): void {
  for (const module of modules) {
    const link = join(functionDirectory, 'node_modules', module);
    rmSync(link, { recursive: true, force: true });
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(repositoryRoot, 'node_modules', module), link, 'dir');
  }
}

/** `initConcurrency` > 1 (quick runs) times handlers side by side: faster, and noisier on a small machine. */
export async function measureHandlers(
  initRuns: number,
  initConcurrency: number,
  log: (line: string) => void,
): Promise<HandlerReport> {
  rmSync(outputRoot, { recursive: true, force: true });
  mkdirSync(outputRoot, { recursive: true });

  const names = Object.keys(functions) as FunctionName[];
  // One esbuild call per set of externals and defines: entries are bundled independently (no splitting), parsing is shared.
  const byBuild = new Map<string, FunctionName[]>();
  for (const name of names) {
    const spec: FunctionSpec = functions[name];
    const key = JSON.stringify([[...(spec.nativeModules ?? [])].sort(), bundleDefines(spec)]);
    byBuild.set(key, [...(byBuild.get(key) ?? []), name]);
  }
  const started = performance.now();
  const metafiles = await Promise.all(
    [...byBuild].map(async ([key, group]) => {
      const [externals, define] = JSON.parse(key) as [string[], Record<string, string>];
      const result = await build({
        entryPoints: Object.fromEntries(
          group.map((name) => [`${name}/index`, join(repositoryRoot, functions[name].entry)]),
        ),
        outdir: outputRoot,
        outExtension: { '.js': '.mjs' },
        bundle: true,
        format: bundleSettings.format,
        target: bundleSettings.target,
        platform: bundleSettings.platform,
        minify: bundleSettings.minify,
        sourcemap: bundleSettings.sourceMap,
        mainFields: [...bundleSettings.mainFields],
        banner: { js: bundleSettings.banner },
        external: externals,
        define,
        alias: Object.fromEntries(
          Object.entries(bundleSettings.aliases).map(([module, path]) => [module, join(repositoryRoot, path)]),
        ),
        absWorkingDir: repositoryRoot,
        metafile: true,
        logLevel: 'error',
      });
      return result.metafile;
    }),
  );
  const buildSeconds = round((performance.now() - started) / 1000, 1);
  log(`bundled ${names.length} handlers in ${buildSeconds} s`);
  for (const name of names) {
    const spec: FunctionSpec = functions[name];
    linkNativeModules(join(outputRoot, name), spec.nativeModules ?? []);
  }

  const environment = coldStartEnvironment();
  const measured: Record<string, HandlerMeasurement> = {};
  const limit = pLimit(initConcurrency);
  const timings = await Promise.all(
    names.map((name) =>
      limit(async () => {
        const file = join(outputRoot, name, 'index.mjs');
        const asDeployed: number[] = [];
        const withMaps: number[] = [];
        // Alternating the two settings spreads any background noise over both.
        for (let i = 0; i < initRuns; i++) {
          asDeployed.push(await coldImportMs(file, environment));
          // Quick runs (one run each) leave the comparison out.
          if (initRuns > 1 && i < Math.ceil(initRuns / 2)) {
            withMaps.push(await coldImportMs(file, { ...environment, NODE_OPTIONS: '--enable-source-maps' }));
          }
        }
        return { asDeployed, withMaps };
      }),
    ),
  );
  for (const [index, name] of names.entries()) {
    const file = join(outputRoot, name, 'index.mjs');
    const code = readFileSync(file);
    const { asDeployed, withMaps } = timings[index] ?? { asDeployed: [], withMaps: [] };
    measured[name] = {
      entry: functions[name].entry,
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      sourceMapBytes: statSync(`${file}.map`).size,
      largestInputs: largestInputs(metafiles, `/${name}/index.mjs`),
      initMs: { median: median(asDeployed), runs: asDeployed },
      ...(withMaps.length > 0 ? { initMsWithSourceMaps: { median: median(withMaps), runs: withMaps } } : {}),
    };
  }
  return {
    settings: bundleSettings,
    initRuns,
    initConcurrency,
    emptyModuleInitMs: await emptyModuleInitMs(initRuns),
    buildSeconds,
    functions: measured,
  };
}

async function emptyModuleInitMs(runs: number): Promise<number> {
  const file = join(outputRoot, 'empty.mjs');
  writeFileSync(file, 'export {};\n');
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await coldImportMs(file, {}, { handler: false }));
  return median(times);
}

/**
 * Milliseconds the `import()` of the bundle takes in a fresh Node process. Rejects, with the child's
 * stderr, when the import fails or (unless told otherwise) the module exports no `handler` function.
 */
export async function coldImportMs(
  file: string,
  environment: Readonly<Record<string, string>>,
  { handler = true }: { readonly handler?: boolean } = {},
): Promise<number> {
  const check = handler
    ? "if (typeof loaded.handler !== 'function') throw new Error('the bundle exports no handler function');"
    : '';
  const script = `const t = performance.now(); const loaded = await import(${JSON.stringify(pathToFileURL(file).href)}); const ms = performance.now() - t; ${check} process.stdout.write(String(ms));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...environment },
    encoding: 'utf8',
  });
  return round(Number(stdout), 1);
}

/**
 * What the function would see on Lambda (tables, endpoints, JWT and media settings), pointed at
 * placeholders: module initialisation only reads settings, it calls nothing.
 */
export function coldStartEnvironment(): Record<string, string> {
  const { POWERTOOLS_TRACE_ENABLED, AWS_XRAY_MANUAL_MODE, ...handlerSettings } = localHandlerEnvironment();
  return {
    ...handlerSettings,
    // As Lambda sets them for an actively traced function: Powertools' tracer loads unless the bundle left it out.
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129:2000',
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    // Lambda runs Node 22, where the SDK has nothing to warn about; on Node 20 the warning would be timed too.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_LAMBDA_FUNCTION_NAME: 'parley-bench',
  };
}

/** The local stack's handler settings (tables, endpoints, JWT and media), pointed at placeholders. */
function localHandlerEnvironment(): Record<string, string> {
  const placeholder = 'http://127.0.0.1:9';
  const localTables = Object.fromEntries(
    tableKeys.map((key) => [
      key,
      { key, spec: tables[key], tableName: localTableName('bench-', tables[key]), createdNow: true },
    ]),
  ) as LocalTables;
  return {
    ...handlerEnvironment({
      tables: localTables,
      callbackUrl: placeholder,
      jwt: { issuer: placeholder, audience: 'bench', jwksUri: `${placeholder}/jwks.json` },
      dynamoEndpoint: placeholder,
      logLevel: 'ERROR',
      metricsEnabled: false,
      media: {
        s3Endpoint: placeholder,
        secretsManagerEndpoint: placeholder,
        bucket: 'bench-media',
        cdnUrl: placeholder,
        keyPairId: 'BENCHKEY',
        signingKeySecret: 'bench/media-signing-key',
      },
      push: {
        lambdaEndpoint: placeholder,
        vapidPublicKey: 'BENCHVAPIDKEY',
        vapidPrivateKeySecret: 'bench/vapid-private-key',
        pushSendFunction: 'parley-bench-pushSend',
        localPushOrigin: placeholder,
      },
    }),
  };
}

function largestInputs(metafiles: readonly Metafile[], outputSuffix: string) {
  const output = metafiles
    .flatMap((metafile) => Object.entries(metafile.outputs))
    .find(([path]) => path.endsWith(outputSuffix))?.[1];
  const byPackage = new Map<string, number>();
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const name = packageOf(path);
    byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
  }
  return [...byPackage]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([name, bytes]) => ({ name, bytes }));
}

/** `node_modules/@aws-sdk/client-dynamodb/dist-es/x.js` is `@aws-sdk/client-dynamodb`; app files count by top folder. */
function packageOf(path: string): string {
  const at = path.lastIndexOf('node_modules/');
  if (at === -1) return `(app) ${path.split('/')[0] ?? path}`;
  const parts = path.slice(at + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : round(((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2, 1);
}
