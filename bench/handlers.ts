/**
 * Per handler: the bundle CDK would deploy (esbuild with the settings of infra/constructs/lambda-function.ts)
 * and its module initialisation time: the import of that bundle in a fresh Node process with the
 * handler environment set, as a Lambda cold start runs it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import pLimit from 'p-limit';
import { type FunctionName, type FunctionSpec, functions } from '#shared/config/functions';
import { tableKeys, tables } from '#shared/config/tables';
import { handlerEnvironment } from '../local/environment';
import { type LocalTables, localTableName } from '../local/tables';
import { round } from './capacity-tally';

const run = promisify(execFile);

/** The CDK construct's banner, copied: checked against its source below so the two cannot drift silently. */
const esmRequireBanner =
  "import { createRequire as topLevelCreateRequire } from 'node:module'; const require = topLevelCreateRequire(import.meta.url);";

/** NodejsFunction's esbuild flags for this project (format, target, minify, sourcemap, main fields, banner). */
export const bundleSettings = {
  format: 'esm',
  target: 'node22',
  platform: 'node',
  minify: true,
  sourcemap: true,
  mainFields: ['module', 'main'],
  banner: esmRequireBanner,
  externals: 'each function spec nativeModules (sharp for mediaProcess); the AWS SDK is bundled',
} as const;

export interface HandlerMeasurement {
  readonly entry: string;
  /** index.mjs as deployed, minified; the source map beside it is not counted. */
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly sourceMapBytes: number;
  /** Largest contributors to the bundle by package (or app folder), bytes in the output. */
  readonly largestInputs: readonly { readonly name: string; readonly bytes: number }[];
  /** Import time with NODE_OPTIONS=--enable-source-maps, as the CDK construct configures the functions. */
  readonly initMs: { readonly median: number; readonly runs: readonly number[] };
  /** The same without source-map support, to show what that option costs at cold start. */
  readonly initMsWithoutSourceMaps: { readonly median: number; readonly runs: readonly number[] };
}

export interface HandlerReport {
  readonly settings: typeof bundleSettings;
  readonly initRuns: number;
  readonly initConcurrency: number;
  /** False when infra/constructs/lambda-function.ts no longer carries the banner copied here. */
  readonly settingsMatchCdkSource: boolean;
  readonly buildSeconds: number;
  readonly functions: Readonly<Record<string, HandlerMeasurement>>;
}

const repositoryRoot = new URL('..', import.meta.url).pathname;
const outputRoot = join(repositoryRoot, 'node_modules/.cache/parley-bench/bundles');

/** `initConcurrency` > 1 (quick runs) times handlers side by side: faster, and noisier on a small machine. */
export async function measureHandlers(
  initRuns: number,
  initConcurrency: number,
  log: (line: string) => void,
): Promise<HandlerReport> {
  const cdkSource = readFileSync(join(repositoryRoot, 'infra/constructs/lambda-function.ts'), 'utf8');
  const settingsMatchCdkSource =
    cdkSource.includes(esmRequireBanner) &&
    cdkSource.includes("target: 'node22'") &&
    cdkSource.includes('minify: true') &&
    cdkSource.includes("mainFields: ['module', 'main']");
  rmSync(outputRoot, { recursive: true, force: true });
  mkdirSync(outputRoot, { recursive: true });

  const names = Object.keys(functions) as FunctionName[];
  // One esbuild call per set of externals: entries are bundled independently (no splitting), parsing is shared.
  const byExternals = new Map<string, FunctionName[]>();
  for (const name of names) {
    const spec: FunctionSpec = functions[name];
    const key = [...(spec.nativeModules ?? [])].sort().join(',');
    byExternals.set(key, [...(byExternals.get(key) ?? []), name]);
  }
  const started = performance.now();
  const metafiles = await Promise.all(
    [...byExternals].map(async ([externals, group]) => {
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
        sourcemap: bundleSettings.sourcemap,
        mainFields: [...bundleSettings.mainFields],
        banner: { js: bundleSettings.banner },
        external: externals === '' ? [] : externals.split(','),
        absWorkingDir: repositoryRoot,
        metafile: true,
        logLevel: 'error',
      });
      return result.metafile;
    }),
  );
  const buildSeconds = round((performance.now() - started) / 1000, 1);
  log(`bundled ${names.length} handlers in ${buildSeconds} s`);

  const environment = initEnvironment();
  const measured: Record<string, HandlerMeasurement> = {};
  const limit = pLimit(initConcurrency);
  const timings = await Promise.all(
    names.map((name) =>
      limit(async () => {
        const file = join(outputRoot, name, 'index.mjs');
        const withMaps: number[] = [];
        const withoutMaps: number[] = [];
        // Alternating the two settings spreads any background noise over both.
        for (let i = 0; i < initRuns; i++) {
          withMaps.push(await importTime(file, { ...environment, NODE_OPTIONS: '--enable-source-maps' }));
          if (i < Math.max(1, Math.ceil(initRuns / 2))) withoutMaps.push(await importTime(file, environment));
        }
        return { withMaps, withoutMaps };
      }),
    ),
  );
  for (const [index, name] of names.entries()) {
    const file = join(outputRoot, name, 'index.mjs');
    const code = readFileSync(file);
    const { withMaps, withoutMaps } = timings[index] ?? { withMaps: [], withoutMaps: [] };
    measured[name] = {
      entry: functions[name].entry,
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      sourceMapBytes: statSync(`${file}.map`).size,
      largestInputs: largestInputs(metafiles, `/${name}/index.mjs`),
      initMs: { median: median(withMaps), runs: withMaps },
      initMsWithoutSourceMaps: { median: median(withoutMaps), runs: withoutMaps },
    };
  }
  return {
    settings: bundleSettings,
    initRuns,
    initConcurrency,
    settingsMatchCdkSource,
    buildSeconds,
    functions: measured,
  };
}

/** Milliseconds the `import()` of the bundle takes in a fresh Node process. */
async function importTime(file: string, environment: Readonly<Record<string, string>>): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
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
function initEnvironment(): Record<string, string> {
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
    }),
    // Lambda runs Node 22, where the SDK has nothing to warn about; on Node 20 the warning would be timed too.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_LAMBDA_FUNCTION_NAME: 'parley-bench',
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
