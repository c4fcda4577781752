import { messagePathSchema, reactBodySchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http-route';
import { changeTarget } from './lib/message-target';
import { countSend, metrics, noteMessageAccepted } from './lib/observability';
import { createSendRateLimiter, parsedAfterCharge } from './lib/security-wiring';
import { createMessageChangeService } from './lib/wiring';

const changes = createMessageChangeService();
const sendRate = createSendRateLimiter();

/** `POST /messages/{id}/reactions`: the WebSocket react over HTTP. 201 with the reaction entry, 200 for a retry. */
export const handler = httpRoute(async (event) => {
  const actorId = callerIdOf(event);
  const admission = sendRate.consume(actorId);
  const { id, body } = await parsedAfterCharge(admission, () => ({
    ...parsePath(messagePathSchema, event),
    body: parseBody(reactBodySchema, event),
  }));
  const sent = await changes.react(
    {
      actorId,
      ...(await changeTarget(id, admission)),
      emoji: body.emoji,
      ...(body.remove ? { remove: true } : {}),
      ...(body.clientMessageId !== undefined ? { clientMessageId: body.clientMessageId } : {}),
    },
    admission,
  );
  noteMessageAccepted(sent.message);
  countSend(sent);
  metrics.publishStoredMetrics();
  return json(sent.duplicate ? 200 : 201, { message: sent.message });
});
