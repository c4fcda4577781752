import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { appMetrics } from '#shared/config/monitoring';
import { createMediaRetentionService } from './lib/media-wiring';
import { logger, metrics, observed } from './lib/observability';
import { attachmentOf, sequenceNumberOf } from './lib/stream-images';

const retention = createMediaRetentionService();

/**
 * Attachments stream, filtered to the change that first marks an attachment sent: its objects
 * lose the `unsent` tag. Tagging is idempotent, so a retried batch is harmless; the first failure
 * is reported and Lambda retries from it.
 */
export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
  .use(observed())
  .use(logMetrics(metrics))
  .handler(async (event) => {
    for (const record of event.Records) {
      const attachment = attachmentOf(record);
      if (!attachment) continue;
      try {
        const missing = await retention.keep(attachment);
        if (missing.length > 0) {
          // Expired before it could be kept: the message shows it, the bytes are gone.
          logger.error('sent attachment objects already gone', { attachmentId: attachment.id, missing });
          metrics.addMetric(appMetrics.sentMediaMissing, MetricUnit.Count, missing.length);
        }
        metrics.addMetric(appMetrics.mediaKept, MetricUnit.Count, 1);
      } catch (error) {
        logger.error('keeping sent media failed', { error: error as Error });
        const failed = sequenceNumberOf(record);
        return { batchItemFailures: failed ? [{ itemIdentifier: failed }] : [] };
      }
    }
    return { batchItemFailures: [] };
  });
