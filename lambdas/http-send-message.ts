import { conversationPathSchema } from '#shared/protocol/conversations-http';
import { sendMessageBodySchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http-route';
import { countSend, metrics, noteMessageAccepted } from './lib/observability';
import { createSendRateLimiter } from './lib/security-wiring';
import { createMessagingService } from './lib/wiring';

const messaging = createMessagingService();
const sendRate = createSendRateLimiter();

/**
 * `POST /conversations/{id}/messages`: the WebSocket send over HTTP. No sending device, so every
 * device of the sender gets it too. 201 for a new message, 200 with the original for a retry.
 */
export const handler = httpRoute(async (event) => {
  const senderId = callerIdOf(event);
  // First: a flood is cut off at one write per request, malformed ones included.
  await sendRate.consume(senderId);
  const { id } = parsePath(conversationPathSchema, event);
  const body = parseBody(sendMessageBodySchema, event);
  const sent = await messaging.send({
    senderId,
    conversationId: id,
    clientMessageId: body.clientMessageId,
    text: body.text ?? '',
    ...(body.attachmentIds ? { attachmentIds: body.attachmentIds } : {}),
  });
  noteMessageAccepted(sent.message);
  countSend(sent);
  metrics.publishStoredMetrics();
  return json(sent.duplicate ? 200 : 201, { message: sent.message });
});
