import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { appMetrics } from '#shared/config/monitoring';
import { createAttachmentBodySchema } from '#shared/protocol/attachments-http';
import { conversationPathSchema } from '#shared/protocol/conversations-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http-route';
import { createAttachmentUploads } from './lib/media-wiring';
import { metrics } from './lib/observability';

const uploads = createAttachmentUploads();

/** `POST /conversations/{id}/attachments`: members get presigned PUTs bound to the declared type and size. */
export const handler = httpRoute(async (event) => {
  const uploaderId = callerIdOf(event);
  const { id } = parsePath(conversationPathSchema, event);
  const body = parseBody(createAttachmentBodySchema, event);
  const ticket = await uploads.createUpload({ uploaderId, conversationId: id, ...body });
  metrics.addMetric(appMetrics.uploadsStarted, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  return json(201, ticket);
});
