import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import { appMetrics, metricsNamespace, serviceName } from '#shared/config/monitoring';
import { correlationIdKey, correlationIdOf } from '#shared/correlation';
import { redactForLog } from '#shared/log-hygiene';
import type { Message } from '#shared/model';
import type { SendMessageResult } from '#shared/services/messaging-service';

/** One logger, metrics emitter and tracer per container; POWERTOOLS_* env settings tune them. */
export const logger = new Logger({ serviceName, jsonReplacerFn: redactForLog });
export const metrics = new Metrics({ namespace: metricsNamespace, serviceName });
/** Off outside Lambda (and with POWERTOOLS_TRACE_ENABLED=false): then every call below is a no-op. */
export const tracer = new Tracer({ serviceName });

/**
 * What every handler wears, outermost first: the trace segment spans everything else, then the
 * logger's context. Neither records payloads: events carry tokens and message text, responses
 * carry message text, so `logEvent` and the tracer's response capture stay off whatever the env says.
 */
export function observed<Event, Result>(): MiddlewareObj<Event, Result>[] {
  return [
    captureLambdaHandler(tracer, { captureResponse: false }),
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

/** The metrics of one send, WebSocket or HTTP alike: stored or a retry, and what its direct delivery reached. */
export function countSend(sent: Pick<SendMessageResult, 'duplicate' | 'direct'>): void {
  metrics.addMetric(sent.duplicate ? appMetrics.duplicateSends : appMetrics.messagesSent, MetricUnit.Count, 1);
  if (!sent.direct) return;
  metrics.addMetric(appMetrics.devicesReachedDirectly, MetricUnit.Count, sent.direct.reached);
  metrics.addMetric(appMetrics.directPostsMissed, MetricUnit.Count, sent.direct.missed);
}
