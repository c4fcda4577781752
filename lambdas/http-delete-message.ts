import { messagePathSchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parsePath } from './lib/http-route';
import { changeTarget } from './lib/message-target';
import { countSend, metrics, noteMessageAccepted } from './lib/observability';
import { createSendRateLimiter, parsedAfterCharge } from './lib/security-wiring';
import { createMessageChangeService } from './lib/wiring';

const changes = createMessageChangeService();
const sendRate = createSendRateLimiter();

/** `DELETE /messages/{id}`: the WebSocket deleteMessage over HTTP. 201 with the delete entry. */
export const handler = httpRoute(async (event) => {
  const actorId = callerIdOf(event);
  const admission = sendRate.consume(actorId);
  const { id } = await parsedAfterCharge(admission, () => parsePath(messagePathSchema, event));
  const sent = await changes.delete({ actorId, ...(await changeTarget(id, admission)) }, admission);
  noteMessageAccepted(sent.message);
  countSend(sent);
  metrics.publishStoredMetrics();
  return json(sent.duplicate ? 200 : 201, { message: sent.message });
});
