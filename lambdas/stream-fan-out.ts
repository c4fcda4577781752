import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { envVars, requireEnv } from '#shared/config/env';
import { appMetrics } from '#shared/config/monitoring';
import { metrics, observed } from './lib/observability';
import { createLambdaPushDispatcher } from './lib/push-dispatch';
import { messageOf, sequenceNumberOf } from './lib/stream-images';
import { createFanOutService } from './lib/wiring';

const fanOut = createFanOutService(createLambdaPushDispatcher(requireEnv(envVars.pushSendFunction)));

/**
 * Messages stream (INSERT only, by the trigger's filter). Powertools' BatchProcessor is not used:
 * it goes on after a failure, which would deliver seq n+1 before the retried seq n. Here the first
 * failure stops its conversation and is reported; Lambda retries from it, keeping order.
 */
export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
  .use(observed())
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const decoded = event.Records.flatMap((record) => {
      const message = messageOf(record);
      return message ? [{ record, message }] : [];
    });
    const messages = decoded.map(({ message }) => message);
    const result = await fanOut.deliver(messages);
    metrics.addMetric(appMetrics.messagesFannedOut, MetricUnit.Count, messages.length);
    metrics.addMetric(appMetrics.postsToConnections, MetricUnit.Count, result.posted);
    metrics.addMetric(appMetrics.fanOutSkippedDirect, MetricUnit.Count, result.directlyReached);
    metrics.addMetric(appMetrics.inboxItemsParked, MetricUnit.Count, result.parked);
    metrics.addMetric(appMetrics.staleConnections, MetricUnit.Count, result.staleConnections);
    metrics.addMetric(appMetrics.pushesScheduled, MetricUnit.Count, result.pushes);
    if (result.firstFailedIndex === undefined) return { batchItemFailures: [] };
    const failed = sequenceNumberOf(decoded[result.firstFailedIndex]?.record);
    return { batchItemFailures: failed ? [{ itemIdentifier: failed }] : [] };
  });
