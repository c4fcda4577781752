import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { S3Event } from 'aws-lambda';
import { uploadOutcomeMetric } from '#shared/config/monitoring';
import { createMediaProcessingService } from './lib/media-processing-wiring';
import { logger, metrics, observed } from './lib/observability';

const processing = createMediaProcessingService();

/** S3 notification keys are URL-encoded, with spaces as '+'. */
const decodeKey = (key: string) => decodeURIComponent(key.replace(/\+/g, ' '));

/**
 * S3 ObjectCreated under the upload prefix (an asynchronous invocation: a thrown error is retried
 * by Lambda). Each upload is checked, cleaned and recorded; see MediaProcessingService.
 */
export const handler = middy<S3Event, void>()
  .use(observed())
  .use(logMetrics(metrics))
  .handler(async (event) => {
    for (const record of event.Records) {
      const key = decodeKey(record.s3.object.key);
      const outcome = await processing.process({ key, size: record.s3.object.size });
      logger.info('upload processed', { key, outcome });
      metrics.addMetric(uploadOutcomeMetric(outcome.kind), MetricUnit.Count, 1);
    }
  });
