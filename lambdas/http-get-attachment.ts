import { attachmentPathSchema } from '#shared/protocol/attachments-http';
import { callerIdOf, httpRoute, json, parsePath } from './lib/http-route';
import { createAttachmentReads } from './lib/media-wiring';

const reads = createAttachmentReads();

/** `GET /attachments/{id}`: status and, once ready, short-lived signed download URLs; members only. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id } = parsePath(attachmentPathSchema, event);
  return json(200, await reads.get(callerId, id));
});
