import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, AttributeValue as StreamAttributeValue } from 'aws-lambda';
import { toAttachment } from '#shared/repositories/attachment-repository';
import { createMediaRetentionService } from './lib/media-wiring';
import { logger, metrics, observed } from './lib/observability';

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
      const image = record.dynamodb?.NewImage;
      if (!image) continue;
      try {
        // aws-lambda's stream AttributeValue and the SDK's are the same JSON shape, typed apart.
        const attachment = toAttachment(
          unmarshall(image as Record<string, StreamAttributeValue> as Record<string, AttributeValue>),
        );
        const missing = await retention.keep(attachment);
        if (missing.length > 0) {
          // Expired before it could be kept: the message shows it, the bytes are gone.
          logger.error('sent attachment objects already gone', { attachmentId: attachment.id, missing });
          metrics.addMetric('SentMediaMissing', MetricUnit.Count, missing.length);
        }
        metrics.addMetric('MediaKept', MetricUnit.Count, 1);
      } catch (error) {
        logger.error('keeping sent media failed', { error: error as Error });
        const failed = record.dynamodb?.SequenceNumber;
        return { batchItemFailures: failed ? [{ itemIdentifier: failed }] : [] };
      }
    }
    return { batchItemFailures: [] };
  });
