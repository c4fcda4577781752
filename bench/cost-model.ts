/**
 * Turns measured per-message work into dollars at AWS list prices (us-east-1, on-demand, no free
 * tier, first volume tier). Quantities come from the run; only the prices and the Lambda memory
 * sizes (the catalog's) are inputs. docs/performance.md explains the model and its limits.
 */
import { type FunctionName, type FunctionSpec, functions, memoryMbOf } from '#shared/config/functions';
import { lambdaSystemLogLevel } from '#shared/config/monitoring';
import { round } from './capacity-tally';

export const prices = {
  apiGatewayMessage: {
    usd: 1.0 / 1e6,
    unit: 'WebSocket message (per 32 KB, either direction)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  apiGatewayConnectionMinute: {
    usd: 0.25 / 1e6,
    unit: 'WebSocket connection minute',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  lambdaRequest: { usd: 0.2 / 1e6, unit: 'Lambda request', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaGbSecondArm64: {
    usd: 0.0000133334,
    unit: 'Lambda GB-second, arm64',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  dynamoDbWriteUnit: {
    usd: 0.625 / 1e6,
    unit: 'DynamoDB on-demand write request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoDbReadUnit: {
    usd: 0.125 / 1e6,
    unit: 'DynamoDB on-demand read request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  s3StandardGbMonth: { usd: 0.023, unit: 'S3 Standard GB-month', source: 'https://aws.amazon.com/s3/pricing/' },
  s3Put: { usd: 0.005 / 1000, unit: 'S3 PUT request', source: 'https://aws.amazon.com/s3/pricing/' },
  s3Get: { usd: 0.0004 / 1000, unit: 'S3 GET request', source: 'https://aws.amazon.com/s3/pricing/' },
  cloudFrontGb: {
    usd: 0.085,
    unit: 'CloudFront data transfer out, GB (first 10 TB, US)',
    source: 'https://aws.amazon.com/cloudfront/pricing/',
  },
  cloudFrontHttpsRequest: {
    usd: 0.01 / 10_000,
    unit: 'CloudFront HTTPS request (US)',
    source: 'https://aws.amazon.com/cloudfront/pricing/',
  },
  apiGatewayHttpRequest: {
    usd: 1.0 / 1e6,
    unit: 'HTTP API request (first 300 million a month)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  cloudWatchLogsIngestedGb: {
    usd: 0.5,
    unit: 'CloudWatch Logs ingestion, GB (standard log class)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  dataTransferOutGb: {
    usd: 0.09,
    unit: 'Data transfer out to the internet, GB (first 10 TB a month)',
    source: 'https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer',
  },
  xRayTraceRecorded: {
    usd: 5.0 / 1e6,
    unit: 'X-Ray trace recorded (after the free 100,000 a month)',
    source: 'https://aws.amazon.com/xray/pricing/',
  },
} as const;

/**
 * Quantities the run cannot measure locally, each with where it comes from. Sizes are estimates of
 * what AWS writes; everything else in the model is counted in the run.
 */
export const assumed = {
  xRaySampledShare: {
    value: 0.05,
    unit: 'share of Lambda invocations traced',
    source:
      "infra/constructs/lambda-function.ts sets Tracing.ACTIVE on every handler and the stack defines no sampling rule, so X-Ray's default rule applies: the first request each second and 5% of the rest (https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html); at millions of messages a day the reservoir is negligible. The WebSocket API has no X-Ray support, so every invocation is a trace of its own.",
  },
  cloudWatchLogEventOverheadBytes: {
    value: 26,
    unit: 'bytes billed per log event besides its message',
    source: 'https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html',
  },
  lambdaPlatformLogBytesPerInvocation: {
    value: lambdaSystemLogLevel === 'WARN' ? 0 : 330,
    unit: `bytes of Lambda's own lines per successful invocation at the stack's system log level (${lambdaSystemLogLevel}): none at WARN; at INFO its START, END and REPORT lines (REPORT with its XRAY line when traced), estimated`,
    source:
      'shared/config/monitoring.ts; https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html ("System log level event mapping": platform.start and platform.report INFO, platform.runtimeDone DEBUG, a failed or timed-out invocation\'s WARN); https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html (line formats; sizes estimated)',
  },
  lambdaPlatformLogEventsPerInvocation: {
    value: lambdaSystemLogLevel === 'WARN' ? 0 : 3,
    unit: `log events Lambda writes per successful invocation at the stack's system log level (${lambdaSystemLogLevel}; 3 at INFO: START, END, REPORT)`,
    source:
      'shared/config/monitoring.ts; https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html',
  },
  apiGatewayAccessLogBytesPerRequest: {
    value: accessLogLineBytes(),
    unit: "bytes of the WebSocket stage's access log line per route request (connect, disconnect, each client frame)",
    source: 'infra/constructs/realtime-api.ts access log format, rendered with typical values',
  },
} as const;

/**
 * One Web Push as built (docs/performance.md "Cost per push"): what fan-out and the push sender do for
 * it, from the code, and the sender's duration and request size as measured locally or estimated.
 */
export const pushWork = {
  /** Fan-out's conditional UpdateItem of the push window; suppressed claims in a burst cost one each too. */
  windowWriteUnits: 1,
  /**
   * The sender's BatchGetItem, eventually consistent, of three small items: two profiles (sender's name,
   * recipient's preview setting) and the device row (is the job's subscription still the device's?).
   */
  profileReadUnits: 1.5,
  /** pushSend's mean duration in test/e2e/push.e2e.test.ts on the local stack (encrypt, sign, one POST to the stand-in). */
  senderMeanMs: 60,
  /** A request to a push service: the aes128gcm body (~230 bytes for a 100-character preview) and headers with the VAPID JWT (~750). */
  requestBytes: 1_000,
  /** The sender's one log line ('push sent' with ids and status). */
  senderLogBytes: 250,
} as const;

/**
 * Dollars per million pushes: the push sender's Lambda request and compute, the window write, the
 * profile read, the bytes out to the push service, log lines and X-Ray's share. `suppressedPerPush`
 * prices the window writes of a burst's later messages (each parked message of a subscribed device
 * and conversation after the first, per stream batch); `retriesPerPush` the share resent after a 429 or 5xx.
 */
export function pushCostPerMillion(options: { suppressedPerPush?: number; retriesPerPush?: number } = {}) {
  const attempts = 1 + (options.retriesPerPush ?? 0);
  const sender: FunctionSpec = functions.pushSend;
  const memoryGb = memoryMbOf(sender) / 1024;
  const overhead = assumed.cloudWatchLogEventOverheadBytes.value;
  const logBytesPerAttempt =
    pushWork.senderLogBytes +
    overhead +
    assumed.lambdaPlatformLogBytesPerInvocation.value +
    assumed.lambdaPlatformLogEventsPerInvocation.value * overhead;
  const million = 1e6;
  const lines = [
    { item: 'Lambda requests (pushSend, retries included)', quantity: attempts, usdEach: prices.lambdaRequest.usd },
    {
      item: 'Lambda compute (GB-s, arm64; local mean duration)',
      quantity: attempts * (pushWork.senderMeanMs / 1000) * memoryGb,
      usdEach: prices.lambdaGbSecondArm64.usd,
    },
    {
      item: 'DynamoDB write units (push window, suppressed claims included)',
      quantity: pushWork.windowWriteUnits * (1 + (options.suppressedPerPush ?? 0)),
      usdEach: prices.dynamoDbWriteUnit.usd,
    },
    {
      item: 'DynamoDB read units (two profiles and the device row)',
      quantity: attempts * pushWork.profileReadUnits,
      usdEach: prices.dynamoDbReadUnit.usd,
    },
    {
      item: 'Data transfer out (request to the push service)',
      quantity: (attempts * pushWork.requestBytes) / 1e9,
      usdEach: prices.dataTransferOutGb.usd,
    },
    {
      item: 'CloudWatch Logs (sender line and platform lines)',
      quantity: (attempts * logBytesPerAttempt) / 1e9,
      usdEach: prices.cloudWatchLogsIngestedGb.usd,
    },
    {
      item: 'X-Ray traces (default sampling)',
      quantity: attempts * assumed.xRaySampledShare.value,
      usdEach: prices.xRayTraceRecorded.usd,
    },
  ].map(({ item, quantity, usdEach }) => ({
    item,
    quantityPerPush: round(quantity, 9),
    usdPerMillionPushes: round(quantity * usdEach * million, 3),
  }));
  return {
    lines,
    usdPerMillionPushes: round(
      lines.reduce((sum, each) => sum + each.usdPerMillionPushes, 0),
      2,
    ),
  };
}

/** The SDK's timers that cost money while a device is connected (client/parley-client.ts `defaults`). */
export const sdkConnection = {
  /** A ping after this long with no frame sent keeps API Gateway's 10-minute idle timeout away (priced as a device that sends nothing). */
  keepAliveMs: 8 * 60_000,
  /** The SDK reconnects on its own terms before API Gateway's 2-hour cut. */
  maxConnectionMs: 110 * 60_000,
} as const;

/** The stage's access log line (its JSON format) with values of typical length. */
export function accessLogLineBytes(): number {
  const line = JSON.stringify({
    requestId: 'Ab1CdEfGhIjKlMn=',
    time: '1764931200000',
    sourceIp: '203.0.113.45',
    connectionId: 'Ab1CdEfGhIjKlMn=',
    eventType: 'MESSAGE',
    routeKey: 'sendMessage',
    status: '200',
    authorizerError: '-',
    integrationError: '-',
  });
  return Buffer.byteLength(line);
}

/** What the cost model needs of a phase's per-message cost (bench/meters.ts `costBetween`). */
export interface MeasuredPerMessage {
  readonly dynamoDb: {
    readonly readUnits: number;
    readonly writeUnits: number;
    /** Write units of failed calls, which AWS bills and no one reports (bench/capacity-tally.ts). */
    readonly failedWriteUnits?: number;
  };
  readonly postToConnection: number;
  readonly lambdaInvocations: {
    readonly byFunction: Readonly<
      Record<string, { readonly perMessage: number; readonly meanMs: number; readonly billedMs?: number }>
    >;
  };
  /** Log lines the handlers wrote (JSON lines and EMF metrics), when the run captured them. */
  readonly handlerLogs?: { readonly bytes: number; readonly events: number };
}

/** What API Gateway bills besides the posts, per unit priced. */
export interface Billing {
  /** Client frames that run a route; each is billed twice, the frame and its route response. */
  readonly routeRequests: number;
  /** Connect upgrades: billed as one message each here (conservative) and one access log line. */
  readonly connects?: number;
  /** Disconnects: no message billed, one access log line. */
  readonly disconnects?: number;
  /** Client frames that run a route and get no route response (`typing`): billed once, one access log line. */
  readonly unansweredFrames?: number;
  readonly httpRequests?: number;
}

export interface CostLine {
  readonly item: string;
  readonly quantityPerMessage: number;
  readonly usdPerMillionMessages: number;
}

/**
 * Dollars per million units (messages, reactions, pings, reconnects) of what was measured per unit.
 * Every line a unit causes: API Gateway, Lambda, DynamoDB (failed calls' units included), CloudWatch
 * Logs ingestion and X-Ray traces.
 */
export function dollarsPerMillion(measured: MeasuredPerMessage, billing: Billing) {
  const million = 1e6;
  const lines: CostLine[] = [];
  const line = (item: string, quantity: number, usdEach: number, digits = 3) =>
    lines.push({
      item,
      quantityPerMessage: round(quantity, digits),
      usdPerMillionMessages: quantity * usdEach * million,
    });
  const connects = billing.connects ?? 0;
  line(
    'API Gateway WebSocket messages (frames in, route responses, postToConnection)',
    2 * billing.routeRequests + (billing.unansweredFrames ?? 0) + connects + measured.postToConnection,
    prices.apiGatewayMessage.usd,
  );
  if ((billing.httpRequests ?? 0) > 0) {
    line('API Gateway HTTP API requests', billing.httpRequests ?? 0, prices.apiGatewayHttpRequest.usd);
  }
  const functionsUsed = Object.entries(measured.lambdaInvocations.byFunction);
  const invocations = functionsUsed.reduce((sum, [, f]) => sum + f.perMessage, 0);
  line('Lambda requests', invocations, prices.lambdaRequest.usd);
  const gbSeconds = functionsUsed.reduce((sum, [name, f]) => {
    const spec: FunctionSpec | undefined = functions[name as FunctionName];
    const memoryGb = memoryMbOf(spec ?? {}) / 1024;
    // Lambda bills duration in 1 ms steps; the local mean, its work stretched to the memory's CPU, stands in.
    return sum + f.perMessage * (Math.ceil(f.billedMs ?? f.meanMs) / 1000) * memoryGb;
  }, 0);
  line(
    'Lambda compute (GB-s, arm64; local durations, CPU sized by memory)',
    gbSeconds,
    prices.lambdaGbSecondArm64.usd,
    5,
  );
  line('DynamoDB write request units', measured.dynamoDb.writeUnits, prices.dynamoDbWriteUnit.usd);
  line(
    'DynamoDB write units of failed calls (estimated: billed, never reported)',
    measured.dynamoDb.failedWriteUnits ?? 0,
    prices.dynamoDbWriteUnit.usd,
  );
  line('DynamoDB read request units', measured.dynamoDb.readUnits, prices.dynamoDbReadUnit.usd);
  const logs = logBytes(measured, billing, invocations);
  line('CloudWatch Logs: handler lines (measured bytes)', logs.handler, prices.cloudWatchLogsIngestedGb.usd / 1e9, 1);
  line(
    'CloudWatch Logs: Lambda platform and API Gateway access lines (estimated bytes)',
    logs.platform,
    prices.cloudWatchLogsIngestedGb.usd / 1e9,
    1,
  );
  line(
    'X-Ray traces (default sampling)',
    invocations * assumed.xRaySampledShare.value,
    prices.xRayTraceRecorded.usd,
    4,
  );
  const total = lines.reduce((sum, each) => sum + each.usdPerMillionMessages, 0);
  return {
    lines: lines.map((each) => ({ ...each, usdPerMillionMessages: round(each.usdPerMillionMessages, 3) })),
    usdPerMillionMessages: round(total, 2),
  };
}

export type PricedUnit = ReturnType<typeof dollarsPerMillion>;

/** Bytes CloudWatch Logs ingests per unit: the handlers' lines as measured, the platform's as estimated. */
export function logBytes(measured: MeasuredPerMessage, billing: Billing, invocations: number) {
  const overhead = assumed.cloudWatchLogEventOverheadBytes.value;
  const handler = measured.handlerLogs ? measured.handlerLogs.bytes + measured.handlerLogs.events * overhead : 0;
  const accessLines =
    billing.routeRequests + (billing.unansweredFrames ?? 0) + (billing.connects ?? 0) + (billing.disconnects ?? 0);
  const platform =
    invocations *
      (assumed.lambdaPlatformLogBytesPerInvocation.value +
        assumed.lambdaPlatformLogEventsPerInvocation.value * overhead) +
    accessLines * (assumed.apiGatewayAccessLogBytesPerRequest.value + overhead);
  return { handler, platform };
}

/** Sums per-unit costs: a message plus its share of the receipts it causes, and the like. */
export function sumMeasured(parts: readonly { part: MeasuredPerMessage; times: number }[]): MeasuredPerMessage {
  const byFunction: Record<string, { perMessage: number; meanMs: number; billedMs: number }> = {};
  for (const { part, times } of parts) {
    for (const [name, f] of Object.entries(part.lambdaInvocations.byFunction)) {
      const into = byFunction[name];
      const added = f.perMessage * times;
      const billedMs = f.billedMs ?? f.meanMs;
      // Durations combine weighted by invocations, so GB-seconds add up.
      const weighted = (was: number, now: number) =>
        (was * (into?.perMessage ?? 0) + now * added) / Math.max(1e-12, (into?.perMessage ?? 0) + added);
      byFunction[name] = into
        ? {
            perMessage: into.perMessage + added,
            meanMs: weighted(into.meanMs, f.meanMs),
            billedMs: weighted(into.billedMs, billedMs),
          }
        : { perMessage: added, meanMs: f.meanMs, billedMs };
    }
  }
  const total = (pick: (part: MeasuredPerMessage) => number) =>
    parts.reduce((sum, { part, times }) => sum + pick(part) * times, 0);
  return {
    dynamoDb: {
      readUnits: total((p) => p.dynamoDb.readUnits),
      writeUnits: total((p) => p.dynamoDb.writeUnits),
      failedWriteUnits: total((p) => p.dynamoDb.failedWriteUnits ?? 0),
    },
    postToConnection: total((p) => p.postToConnection),
    lambdaInvocations: { byFunction },
    handlerLogs: {
      bytes: total((p) => p.handlerLogs?.bytes ?? 0),
      events: total((p) => p.handlerLogs?.events ?? 0),
    },
  };
}

/**
 * What one connected device costs per hour whatever it sends: connection minutes, the SDK's pings and
 * its share of a reconnect (ticket, connect with its authorizer, sync, and the old connection's disconnect).
 */
export function deviceHourCost(ping: PricedUnit, reconnect: PricedUnit, sdk: typeof sdkConnection = sdkConnection) {
  const hourMs = 3_600_000;
  const pingsPerHour = hourMs / sdk.keepAliveMs;
  const reconnectsPerHour = hourMs / sdk.maxConnectionMs;
  const lines = [
    {
      item: 'connection minutes',
      quantityPerHour: 60,
      usdPerMillionDeviceHours: round(60 * prices.apiGatewayConnectionMinute.usd * 1e6, 3),
    },
    {
      item: `pings (one per ${sdk.keepAliveMs / 60_000} quiet min)`,
      quantityPerHour: round(pingsPerHour, 3),
      usdPerMillionDeviceHours: round(pingsPerHour * ping.usdPerMillionMessages, 3),
    },
    {
      item: `reconnects (one per ${sdk.maxConnectionMs / 60_000} min: ticket, connect, authorizer, sync, disconnect)`,
      quantityPerHour: round(reconnectsPerHour, 3),
      usdPerMillionDeviceHours: round(reconnectsPerHour * reconnect.usdPerMillionMessages, 3),
    },
  ];
  return {
    lines,
    usdPerMillionDeviceHours: round(
      lines.reduce((sum, each) => sum + each.usdPerMillionDeviceHours, 0),
      2,
    ),
  };
}

/**
 * Item sizes the presence and typing model assumes (bytes as DynamoDB sizes them: names and values), and
 * the Lambda durations it assumes. Estimates, checked against `npm run bench -- --phase-presence`.
 */
export const presenceAssumptions = {
  watcherItemBytes: {
    value: 150,
    source:
      'a PresenceWatchers item: attribute names (54 bytes), two user ids of ~36 characters, a connection id, expiresAt; the bench reads 100 in 2 RRU, so 123 to 164 bytes each',
  },
  memberItemBytes: { value: 260, source: 'a byMember index entry (ALL projection): a member row with marks' },
  watchListBytesPerUser: { value: 40, source: 'one user id in the watch list item' },
  subscribeMeanMs: { value: 40, source: 'assumed: 1 + N Queries (16 at a time) and a BatchGetItem, then the writes' },
  typingMeanMs: { value: 15, source: 'assumed: a Query, a PutItem and a BatchGetItem in a row, then the posts' },
} as const;

/** Read units of a Query that reads `bytes` in total (rounded up to 4 KB; half for an eventually consistent read). */
const queryReadUnits = (bytes: number, strong: boolean) => Math.max(1, Math.ceil(bytes / 4096)) * (strong ? 1 : 0.5);

/**
 * Presence and typing, modelled from their access patterns (docs/data-model.md, patterns 43 to 47). The
 * bench measures flips and subscriptions (bench/presence-runs.ts) and prints them beside this; typing is
 * modelled only. Each answers units of one event, for `dollarsPerMillion` to price.
 */
export const presenceModel = {
  /**
   * A user comes online (first device) or goes offline (last device) with `watchers` live watchers:
   * the `$connect`/`$disconnect` write returns the item (no extra unit); a Query of the watchers; with
   * any, the profile's switch (one eventually consistent item) and a post per watcher. The connect or
   * disconnect itself is priced with the reconnect. An empty Query is kept at 0.5 RRU, though DynamoDB
   * Local reports 0 for it.
   */
  flip(watchers: number): { measured: MeasuredPerMessage; billing: Billing } {
    const watcherBytes = watchers * presenceAssumptions.watcherItemBytes.value;
    return {
      measured: {
        dynamoDb: { readUnits: queryReadUnits(watcherBytes, false) + (watchers > 0 ? 0.5 : 0), writeUnits: 0 },
        postToConnection: watchers,
        lambdaInvocations: { byFunction: {} },
      },
      billing: { routeRequests: 0 },
    };
  },

  /**
   * One `subscribePresence` of `users` users by a viewer in `conversations` conversations (each watched
   * user in as many): the memberships (1 + N Queries of the index), profile and reach of each (2N
   * eventually consistent items), the watch list (UpdateItem) and one watcher item per user.
   */
  subscription(users: number, conversations: number): { measured: MeasuredPerMessage; billing: Billing } {
    const membershipRead = queryReadUnits(conversations * presenceAssumptions.memberItemBytes.value, false);
    const watchListUnits = Math.ceil((60 + users * presenceAssumptions.watchListBytesPerUser.value) / 1024);
    return {
      measured: {
        dynamoDb: { readUnits: (1 + users) * membershipRead + 2 * users * 0.5, writeUnits: watchListUnits + users },
        postToConnection: 0,
        lambdaInvocations: {
          byFunction: { wsSubscribePresence: { perMessage: 1, meanMs: presenceAssumptions.subscribeMeanMs.value } },
        },
      },
      billing: { routeRequests: 1 },
    };
  },

  /**
   * One forwarded `typing` frame in a conversation of `members` members whose others hold
   * `liveConnections` connections: the members (strong Query), the window's conditional PutItem, the
   * others' reach items (strong), a post per connection; the frame gets no answer.
   */
  typing(members: number, liveConnections: number): { measured: MeasuredPerMessage; billing: Billing } {
    const membersRead = queryReadUnits(members * presenceAssumptions.memberItemBytes.value, true);
    return {
      measured: {
        dynamoDb: { readUnits: membersRead + (members - 1), writeUnits: 1 },
        postToConnection: liveConnections,
        lambdaInvocations: {
          byFunction: { wsTyping: { perMessage: 1, meanMs: presenceAssumptions.typingMeanMs.value } },
        },
      },
      billing: { routeRequests: 0, unansweredFrames: 1 },
    };
  },
} as const;
