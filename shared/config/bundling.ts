/**
 * How every handler is bundled: one declaration read by the CDK construct (NodejsFunction) and by the
 * benchmark, so the bundle sizes and init times it reports are those of what gets deployed.
 */
import type { FunctionSpec } from './functions';

export const handlerBundling = {
  format: 'esm',
  target: 'node22',
  platform: 'node',
  minify: true,
  // The map ships beside the bundle for offline symbolication; Node is not told to apply it, because
  // --enable-source-maps adds 60-90 ms to every cold start (measured by `npm run bench`).
  sourceMap: true,
  mainFields: ['module', 'main'],
  // ESM bundles have no `require`; CommonJS dependencies bundled inside still call it.
  banner:
    "import { createRequire as topLevelCreateRequire } from 'node:module'; const require = topLevelCreateRequire(import.meta.url);",
  /**
   * Modules swapped at bundle time, paths from the repository root. Lambda hands a function its role's
   * credentials in environment variables, so the SDK's default chain (profiles, SSO, STS web identity,
   * instance metadata: a fifth of a bundle) is replaced by the environment provider alone.
   */
  aliases: { '@aws-sdk/credential-provider-node': 'lambdas/lib/lambda-credentials.ts' },
} as const;

/**
 * Values esbuild writes into one function's bundle in place of `process.env` reads, so the code they
 * switch off is left out rather than skipped at run time.
 */
export function bundleDefines(spec: Pick<FunctionSpec, 'sdkTracing'>): Readonly<Record<string, string>> {
  return spec.sdkTracing === false ? { 'process.env.POWERTOOLS_TRACE_ENABLED': JSON.stringify('false') } : {};
}
