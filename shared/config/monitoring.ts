/**
 * Observability settings declared once: the names the handlers' Powertools logger and metrics
 * use (the dashboard reads the same metrics), and every alarm threshold of the CDK stack.
 */

export const serviceName = 'parley';

/**
 * What Lambda itself logs for every function (its JSON "system" log, set with the JSON log format).
 * At WARN a successful invocation writes nothing of its own (`platform.start` and `platform.report`
 * are INFO, `platform.runtimeDone` DEBUG), while a failed or timed-out one still writes its
 * `runtimeDone` and `report` (WARN). At the default, INFO, every invocation writes its start and
 * report lines. Durations, errors and throttles stay in Lambda's own CloudWatch metrics, which are free.
 */
export const lambdaSystemLogLevel: 'DEBUG' | 'INFO' | 'WARN' = 'WARN';

/** CloudWatch namespace of the handlers' EMF metrics; Powertools adds the `service` dimension. */
export const metricsNamespace = 'Parley';

/** Application metrics the dashboard graphs, as the handlers emit them. */
export const appMetrics = {
  messagesSent: 'MessagesSent',
  duplicateSends: 'DuplicateSends',
  /** Devices a send reached directly (the fast path), and posts it left to the stream. */
  devicesReachedDirectly: 'DevicesReachedDirectly',
  directPostsMissed: 'DirectPostsMissed',
  /**
   * Sends with a device's view of its direct chat that committed without a read, and those whose view
   * did not hold (each paid a cancelled transaction, then the usual send).
   */
  directChatViewsHeld: 'DirectChatViewsHeld',
  directChatViewsRefused: 'DirectChatViewsRefused',
  messagesFannedOut: 'MessagesFannedOut',
  postsToConnections: 'PostsToConnections',
  inboxItemsParked: 'InboxItemsParked',
  staleConnections: 'StaleConnections',
  /** Devices fan-out skipped because the send's record says they already have the message. */
  fanOutSkippedDirect: 'FanOutSkippedDirect',
  /** Pushes fan-out handed to the push sender, and their outcomes at the push service. */
  pushesScheduled: 'PushesScheduled',
  pushesSent: 'PushesSent',
  pushSubscriptionsGone: 'PushSubscriptionsGone',
  pushesRefused: 'PushesRefused',
  /** A push (usually a retry) whose device unsubscribed or subscribed anew since fan-out read it: not sent. */
  pushesUnsubscribed: 'PushesUnsubscribed',
  pushesRetried: 'PushesRetried',
  uploadsStarted: 'UploadsStarted',
  mediaKept: 'MediaKept',
  sentMediaMissing: 'SentMediaMissing',
} as const;

/** One metric per processing outcome of an upload (`Uploads_processed`, `Uploads_rejected` …). */
export const uploadOutcomeMetric = (kind: string) => `Uploads_${kind}`;

export interface AlarmThresholds {
  /** Age of the oldest stream record a trigger has not yet processed (Lambda `IteratorAge`, maximum). */
  readonly streamIteratorAgeSeconds: number;
  /** Consecutive one-minute periods the iterator age must stay above its threshold. */
  readonly streamIteratorAgeMinutes: number;
  /** Failed-record pointers waiting in a stream trigger's on-failure queue (any is a lost delivery until redriven). */
  readonly deadLetterMessages: number;
  /** Failed invocations of one function within `periodMinutes`. */
  readonly lambdaErrors: number;
  /** Throttled invocations of one function within `periodMinutes`. */
  readonly lambdaThrottles: number;
  /** S3 notifications a function dropped after Lambda's retries within `periodMinutes`. */
  readonly asyncEventsDropped: number;
  /** HTTP API 5xx answers, percent of requests within `periodMinutes`. */
  readonly httpServerErrorPercent: number;
  /** HTTP API 4xx answers (bad tokens, refused input, rate limits), percent of requests within `periodMinutes`. */
  readonly httpClientErrorPercent: number;
  /** Below this many HTTP requests in a period the error rates are not judged: three failures of five are noise. */
  readonly httpMinRequests: number;
  /** WebSocket integration and execution errors (a route's Lambda failed, timed out or was throttled) within `periodMinutes`. */
  readonly webSocketIntegrationErrors: number;
  /** Read and write throttle events of one table and its indexes within `periodMinutes`. */
  readonly dynamoDbThrottleEvents: number;
  /** Evaluation window of every alarm but the iterator age. */
  readonly periodMinutes: number;
}

export const alarmThresholds: AlarmThresholds = {
  streamIteratorAgeSeconds: 60,
  streamIteratorAgeMinutes: 3,
  deadLetterMessages: 1,
  lambdaErrors: 5,
  lambdaThrottles: 1,
  asyncEventsDropped: 1,
  httpServerErrorPercent: 1,
  httpClientErrorPercent: 10,
  httpMinRequests: 20,
  webSocketIntegrationErrors: 5,
  dynamoDbThrottleEvents: 5,
  periodMinutes: 5,
};
