import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import * as z from 'zod';
import { limits } from '#shared/config/limits';
import { appMetrics } from '#shared/config/monitoring';
import { push } from '#shared/config/push';
import type { PushJob } from '#shared/services/push-job';
import { type PushOutcome, RetryablePushError } from '#shared/services/push-sender';
import { logger, metrics, observed } from './lib/observability';
import { createPushSender } from './lib/push-wiring';

const sender = createPushSender();

/** Fan-out's event, checked all the same: a malformed one is refused, never sent. */
const pushJobSchema = z.object({
  userId: z.string().min(1),
  deviceId: z.string().regex(limits.deviceIdPattern),
  subscription: z.object({
    endpoint: z.string().min(1).max(push.maxEndpointLength),
    p256dh: z.string().min(1),
    auth: z.string().min(1),
  }),
  conversationId: z.string().min(1),
  seq: z.number().int().positive(),
  senderId: z.string().min(1),
  text: z.string().max(push.previewLength * 2),
}) satisfies z.ZodType<PushJob>;

const outcomeMetrics: Readonly<Record<PushOutcome, string>> = {
  sent: appMetrics.pushesSent,
  gone: appMetrics.pushSubscriptionsGone,
  refused: appMetrics.pushesRefused,
  unsubscribed: appMetrics.pushesUnsubscribed,
};

/**
 * Invoked asynchronously by fan-out, one push per event. A 429 or 5xx (or no answer in time) throws:
 * Lambda retries the event with backoff (`push.retryAttempts`), then sends it to the on-failure queue.
 */
export const handler = middy<unknown, void>()
  .use(observed())
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const parsed = pushJobSchema.safeParse(event);
    if (!parsed.success) {
      // Retrying cannot fix it: logged (field names only) and dropped.
      logger.error('malformed push job', { fields: parsed.error.issues.map((issue) => issue.path.join('.')) });
      return;
    }
    const job = parsed.data;
    try {
      const outcome = await sender.send(job);
      metrics.addMetric(outcomeMetrics[outcome], MetricUnit.Count, 1);
    } catch (error) {
      if (error instanceof RetryablePushError) metrics.addMetric(appMetrics.pushesRetried, MetricUnit.Count, 1);
      throw error;
    }
  });
