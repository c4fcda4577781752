import { editMessageBodySchema, messagePathSchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http-route';
import { changeTarget } from './lib/message-target';
import { countSend, metrics, noteMessageAccepted } from './lib/observability';
import { createSendRateLimiter, parsedAfterCharge } from './lib/security-wiring';
import { createMessageChangeService } from './lib/wiring';

const changes = createMessageChangeService();
const sendRate = createSendRateLimiter();

/** `PATCH /messages/{id}`: the WebSocket editMessage over HTTP. 201 with the edit entry, 200 for a retry. */
export const handler = httpRoute(async (event) => {
  const actorId = callerIdOf(event);
  // Charged like a send: the edit is an entry in the timeline.
  const admission = sendRate.consume(actorId);
  const { id, body } = await parsedAfterCharge(admission, () => ({
    ...parsePath(messagePathSchema, event),
    body: parseBody(editMessageBodySchema, event),
  }));
  const sent = await changes.edit(
    {
      actorId,
      ...(await changeTarget(id, admission)),
      text: body.text,
      ...(body.clientMessageId !== undefined ? { clientMessageId: body.clientMessageId } : {}),
    },
    admission,
  );
  noteMessageAccepted(sent.message);
  countSend(sent);
  metrics.publishStoredMetrics();
  return json(sent.duplicate ? 200 : 201, { message: sent.message });
});
