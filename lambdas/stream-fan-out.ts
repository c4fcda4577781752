import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, AttributeValue as StreamAttributeValue } from 'aws-lambda';
import { appMetrics } from '#shared/config/monitoring';
import { toStoredMessage } from '#shared/repositories/message-repository';
import { metrics, observed } from './lib/observability';
import { createFanOutService } from './lib/wiring';

const fanOut = createFanOutService();

/**
 * Messages stream (INSERT only, by the trigger's filter). Powertools' BatchProcessor is not used:
 * it goes on after a failure, which would deliver seq n+1 before the retried seq n. Here the first
 * failure stops its conversation and is reported; Lambda retries from it, keeping order.
 */
export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
  .use(observed())
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const records = event.Records.filter((record) => record.dynamodb?.NewImage);
    const messages = records.map((record) =>
      // aws-lambda's stream AttributeValue and the SDK's are the same JSON shape, typed apart.
      toStoredMessage(
        unmarshall(record.dynamodb?.NewImage as Record<string, StreamAttributeValue> as Record<string, AttributeValue>),
      ),
    );
    const result = await fanOut.deliver(messages);
    metrics.addMetric(appMetrics.messagesFannedOut, MetricUnit.Count, messages.length);
    metrics.addMetric(appMetrics.postsToConnections, MetricUnit.Count, result.posted);
    metrics.addMetric(appMetrics.inboxItemsParked, MetricUnit.Count, result.parked);
    metrics.addMetric(appMetrics.staleConnections, MetricUnit.Count, result.staleConnections);
    if (result.firstFailedIndex === undefined) return { batchItemFailures: [] };
    const failed = records[result.firstFailedIndex]?.dynamodb?.SequenceNumber;
    return { batchItemFailures: failed ? [{ itemIdentifier: failed }] : [] };
  });
