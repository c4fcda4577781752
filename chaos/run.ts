/**
 * `npm run chaos [-- --quick]`: the chaos scenario (chaos/scenario.ts) on a local stack of its own.
 * Progress goes to stderr; stdout gets ONE JSON line with the figures. Exits 1 when an invariant fails.
 */
import { runChaos } from './scenario';
import { chaosUsage, parseChaosArgs } from './settings';

// The SDK nags on Node 20 at the first client; it would bury the progress lines.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const startedAt = performance.now();
const log = (line: string): void => {
  process.stderr.write(`[chaos +${Math.round((performance.now() - startedAt) / 1000)}s] ${line}\n`);
};

async function main(): Promise<void> {
  const commandLine = parseChaosArgs(process.argv.slice(2));
  if (commandLine.help) {
    process.stdout.write(`${chaosUsage}\n`);
    return;
  }
  const report = await runChaos({
    settings: commandLine.settings,
    log,
    keepData: commandLine.keepData,
    strictInbox: commandLine.strictInbox,
    timing: commandLine.timing,
  });
  process.stdout.write(`${JSON.stringify(report)}\n`);
  if (!report.ok) {
    log(`FAILED: ${report.failures.join('; ')}`);
    process.exitCode = 1;
  }
}

main().then(
  // Sockets and timers of 100 clients may linger a moment; the verdict is in.
  () => process.exit(),
  (error: unknown) => {
    log(`chaos run crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(2);
  },
);
