/**
 * How every handler is bundled: one declaration read by the CDK construct (NodejsFunction) and by the
 * benchmark, so the bundle sizes and init times it reports are those of what gets deployed.
 */
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
} as const;
