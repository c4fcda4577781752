/** `npm start`: the whole of Parley on this machine. Flags win over PARLEY_* variables. */
import { parseArgs } from 'node:util';
import { timingFromFlags } from './aws-timing';
import { javaMissingHint } from './dynamodb-local';
import { parseLogLevel } from './log';
import { defaultPorts, type LocalStack, type LocalStackOptions, startLocalStack } from './stack';

// The SDK nags on Node 20 at the first client; locally that only buries the URLs below.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const usage = `Usage: npm start -- [options]
  --http-port <n>       HTTP API port (PARLEY_HTTP_PORT, default ${defaultPorts.http}; 0 = any free port)
  --ws-port <n>         WebSocket API port (PARLEY_WS_PORT, default ${defaultPorts.ws})
  --s3-port <n>         media uploads, the S3 stand-in (PARLEY_S3_PORT, default ${defaultPorts.s3})
  --cdn-port <n>        media downloads, the CloudFront stand-in (PARLEY_CDN_PORT, default ${defaultPorts.cdn})
  --web-port <n>        the web app (PARLEY_WEB_PORT, default ${defaultPorts.web})
  --dynamodb-port <n>   DynamoDB Local port (PARLEY_DYNAMODB_PORT, default ${defaultPorts.dynamo})
  --dynamodb-endpoint <url>  use a running DynamoDB instead (PARLEY_DYNAMODB_ENDPOINT)
  --data-dir <dir>      keep tables, media and dead letters in <dir> across restarts (PARLEY_DATA_DIR)
  --log-level <level>   DEBUG, INFO, WARN, ERROR or SILENT (PARLEY_LOG_LEVEL, default WARN)
  --no-fast-path        sends deliver nothing directly: every message goes through the stream's fan-out
  --aws-timing          wait as AWS does: stream polling, API Gateway, Lambda and DynamoDB latencies,
                        and Lambda's CPU sized by each function's memory
                        (PARLEY_AWS_TIMING=1; figures in local/aws-timing-profile.ts)
  --timing-seed <n>     with --aws-timing: seed the latency draws (PARLEY_TIMING_SEED; default random)
  --aws-faults          fail as AWS does where DynamoDB Local never does (PARLEY_AWS_FAULTS=1): transaction
                        conflicts, throttles, partial batches, 500s, @connections 429s, Lambda timeouts
                        (rates: awsFaultDefaults in local/faults.ts)`;

function parsePort(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`${name} must be a port number, got "${value}"`);
  return port;
}

function readOptions(): LocalStackOptions {
  const { values } = parseArgs({
    options: {
      'http-port': { type: 'string' },
      'ws-port': { type: 'string' },
      's3-port': { type: 'string' },
      'cdn-port': { type: 'string' },
      'web-port': { type: 'string' },
      'dynamodb-port': { type: 'string' },
      'dynamodb-endpoint': { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'no-fast-path': { type: 'boolean' },
      'aws-timing': { type: 'boolean' },
      'timing-seed': { type: 'string' },
      'aws-faults': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const env = process.env;
  const httpPort = parsePort(values['http-port'] ?? env.PARLEY_HTTP_PORT, '--http-port');
  const wsPort = parsePort(values['ws-port'] ?? env.PARLEY_WS_PORT, '--ws-port');
  const s3Port = parsePort(values['s3-port'] ?? env.PARLEY_S3_PORT, '--s3-port');
  const cdnPort = parsePort(values['cdn-port'] ?? env.PARLEY_CDN_PORT, '--cdn-port');
  const webPort = parsePort(values['web-port'] ?? env.PARLEY_WEB_PORT, '--web-port') ?? defaultPorts.web;
  const dynamoPort = parsePort(values['dynamodb-port'] ?? env.PARLEY_DYNAMODB_PORT, '--dynamodb-port');
  const dynamoEndpoint = values['dynamodb-endpoint'] ?? env.PARLEY_DYNAMODB_ENDPOINT;
  const dataDir = values['data-dir'] ?? env.PARLEY_DATA_DIR;
  const timing = timingFromFlags(
    values['aws-timing'] === true || env.PARLEY_AWS_TIMING === '1',
    values['timing-seed'] ?? env.PARLEY_TIMING_SEED,
  );
  return {
    ...(httpPort === undefined ? {} : { httpPort }),
    ...(wsPort === undefined ? {} : { wsPort }),
    ...(s3Port === undefined ? {} : { s3Port }),
    ...(cdnPort === undefined ? {} : { cdnPort }),
    webPort,
    ...(dynamoPort === undefined ? {} : { dynamoPort }),
    ...(dynamoEndpoint === undefined || dynamoEndpoint === '' ? {} : { dynamoEndpoint }),
    ...(dataDir === undefined || dataDir === '' ? {} : { dataDir }),
    logLevel: parseLogLevel(values['log-level'] ?? env.PARLEY_LOG_LEVEL, 'WARN'),
    ...(values['no-fast-path'] === true ? { directDelivery: false } : {}),
    ...(timing === undefined ? {} : { timing }),
    ...(values['aws-faults'] === true || env.PARLEY_AWS_FAULTS === '1' ? { awsFaults: true } : {}),
  };
}

function stopOnSignals(stack: LocalStack): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C: leave now; the exit hook still kills Java.
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`\n${signal}: stopping Parley's local stack...\n`);
    if (stack.faults !== undefined) process.stderr.write(`Faults injected: ${JSON.stringify(stack.faults.counts)}\n`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Stop failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function main(): Promise<void> {
  const options = readOptions();
  const stack = await startLocalStack(options);
  stopOnSignals(stack);
  process.stdout.write(
    [
      `HTTP API: ${stack.httpUrl}`,
      `WebSocket: ${stack.wsUrl}`,
      `Media uploads (S3): ${stack.s3Endpoint} (bucket ${stack.mediaBucket})`,
      `Media downloads (CDN): ${stack.mediaCdnUrl}`,
      `Push service (stand-in, checks VAPID, keeps pushes): ${stack.pushService.origin}/push/<id>`,
      ...(stack.webUrl === undefined ? [] : [`Web app: ${stack.webUrl}`]),
      ...(stack.timing === undefined
        ? []
        : [`Timing: AWS profile, seed ${stack.timing.seed} (local/aws-timing-profile.ts; a model, not a measurement)`]),
      ...(stack.faults === undefined ? [] : ['AWS faults: on (local/faults.ts; counts in the log on Ctrl-C)']),
      '',
    ].join('\n'),
  );
  process.stdout.write(
    [
      `  token:     curl -s -X POST ${stack.httpUrl}/local/token -d '{"username":"alice"}'`,
      `  connect:   ${stack.wsUrl}?token=<token>&deviceId=<device>`,
      `  DynamoDB:  ${stack.dynamoEndpoint}${options.dataDir === undefined ? ' (in memory)' : ` (data in ${options.dataDir})`}`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`Parley's local stack did not start: ${message}\n`);
  if (message === javaMissingHint) process.stderr.write('(or point --dynamodb-endpoint at a running DynamoDB)\n');
  process.exit(1);
});
