import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { conversationPathSchema, createAttachmentBodySchema } from '#shared/protocol/http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http';
import { createAttachmentUploads } from './lib/media-wiring';
import { metrics } from './lib/observability';

const uploads = createAttachmentUploads();

/** `POST /conversations/{id}/attachments`: members get presigned PUTs bound to the declared type and size. */
export const handler = httpRoute(async (event) => {
  const uploaderId = callerIdOf(event);
  const { id } = parsePath(conversationPathSchema, event);
  const body = parseBody(createAttachmentBodySchema, event);
  const ticket = await uploads.createUpload({ uploaderId, conversationId: id, ...body });
  metrics.addMetric('UploadsStarted', MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  return json(201, ticket);
});
