import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import { appMetrics, metricsNamespace, serviceName } from '#shared/config/monitoring';
import { correlationIdKey, correlationIdOf } from '#shared/correlation';
import { redactForLog } from '#shared/log-hygiene';
import type { Message } from '#shared/model';
import type { DirectChatViewOutcome } from '#shared/services/direct-chat-send';
import type { SendMessageResult } from '#shared/services/messaging-service';
import { LeanLogFormatter } from './log-formatter';

/** One logger, metrics emitter and tracer per container; POWERTOOLS_* env settings tune them. */
export const logger = new Logger({ serviceName, jsonReplacerFn: redactForLog, logFormatter: new LeanLogFormatter() });
// Pure: a bundle that adds no metrics (the authorizer) leaves Metrics out, and its init with it.
export const metrics = /* @__PURE__ */ new Metrics({ namespace: metricsNamespace, serviceName });

/** What handlers use of Powertools' tracer: SDK clients traced as subsegments, annotations on the handler's. */
export interface HandlerTracer {
  captureAWSv3Client<Client>(client: Client): Client;
  putAnnotation(key: string, value: string): void;
}

/**
 * Powertools' tracer is off outside Lambda (no AWS_EXECUTION_ENV) and with POWERTOOLS_TRACE_ENABLED=false;
 * it then records nothing, so the X-Ray SDK it wraps (about a tenth of the send's init) is not loaded at all.
 * On Lambda it is loaded here, during init, and decides the rest (SAM, Amplify) itself.
 */
function tracingMayBeOn(): boolean {
  const executionEnvironment = process.env.AWS_EXECUTION_ENV ?? '';
  return executionEnvironment !== '' && process.env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false';
}

async function loadTracing() {
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import('@aws-lambda-powertools/tracer'),
    import('@aws-lambda-powertools/tracer/middleware'),
  ]);
  const tracer = new Tracer({ serviceName });
  // Payloads stay out of traces: see observed().
  return { tracer, middleware: () => captureLambdaHandler(tracer, { captureResponse: false }) };
}

// The first test stays inline: where bundleDefines fixes it to "false", esbuild drops the tracer and the X-Ray SDK.
const tracing = process.env.POWERTOOLS_TRACE_ENABLED !== 'false' && tracingMayBeOn() ? await loadTracing() : undefined;

/** Where tracing is off, SDK clients pass through untouched and annotations go nowhere, as Powertools' own no-ops do. */
export const tracer: HandlerTracer = tracing?.tracer ?? {
  captureAWSv3Client: (client) => client,
  putAnnotation: () => undefined,
};

/**
 * What every handler wears, outermost first: the trace segment spans everything else, then the
 * logger's context. Neither records payloads: events carry tokens and message text, responses
 * carry message text, so `logEvent` and the tracer's response capture stay off whatever the env says.
 */
export function observed<Event, Result>(): MiddlewareObj<Event, Result>[] {
  return [
    ...(tracing ? [tracing.middleware()] : []),
    injectLambdaContext(logger, { resetKeys: true, logEvent: false }),
  ];
}

/** Publishes metrics a handler added, after it returns or fails; handlers that added none print nothing. */
export function publishAddedMetrics<Event, Result>(): MiddlewareObj<Event, Result> {
  const publish = async (): Promise<void> => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: publish, onError: publish };
}

/**
 * Names the message this invocation is about on every later log line (and on the trace, where
 * annotations are searchable); `resetKeys` clears it before the next invocation.
 */
export function correlateWith(correlationId: string): void {
  logger.setCorrelationId(correlationId);
  tracer.putAnnotation(correlationIdKey, correlationId);
}

/**
 * A send stored (or recognised as a retry of) `message`: from here on the invocation's lines carry
 * its correlation id. webSocketRoute calls it for every `messageAccepted` frame; HTTP sends call it.
 */
export function noteMessageAccepted(message: Pick<Message, 'id' | 'conversationId' | 'seq' | 'clientMessageId'>): void {
  correlateWith(correlationIdOf(message));
  logger.info('message accepted', {
    conversationId: message.conversationId,
    seq: message.seq,
    ...(message.clientMessageId === undefined ? {} : { clientMessageId: message.clientMessageId }),
  });
}

/** A burst stored: one line for all of it (its first message's correlation id), never a line per message. */
export function noteMessagesAccepted(messages: readonly Pick<Message, 'id' | 'conversationId' | 'seq'>[]): void {
  const [first] = messages;
  if (!first) return;
  correlateWith(correlationIdOf(first));
  logger.info('messages accepted', {
    conversationId: first.conversationId,
    count: messages.length,
    seqs: messages.map((message) => message.seq),
  });
}

/**
 * The metrics of one send, WebSocket or HTTP alike: stored or a retry, what its direct delivery
 * reached, and whether the device's view of its direct chat held (`view`, when the send came with one).
 */
export function countSend(sent: Pick<SendMessageResult, 'duplicate' | 'direct'>, view?: DirectChatViewOutcome): void {
  metrics.addMetric(sent.duplicate ? appMetrics.duplicateSends : appMetrics.messagesSent, MetricUnit.Count, 1);
  if (view !== undefined) {
    metrics.addMetric(
      view === 'held' ? appMetrics.directChatViewsHeld : appMetrics.directChatViewsRefused,
      MetricUnit.Count,
      1,
    );
  }
  if (!sent.direct) return;
  metrics.addMetric(appMetrics.devicesReachedDirectly, MetricUnit.Count, sent.direct.reached);
  metrics.addMetric(appMetrics.directPostsMissed, MetricUnit.Count, sent.direct.missed);
}
