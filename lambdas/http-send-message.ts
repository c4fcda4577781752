import { conversationPathSchema } from '#shared/protocol/conversations-http';
import { sendMessageBodySchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http-route';
import { countSend, metrics, noteMessageAccepted } from './lib/observability';
import { createSendRateLimiter, parsedAfterCharge } from './lib/security-wiring';
import { createMessagingService } from './lib/wiring';

const messaging = createMessagingService();
const sendRate = createSendRateLimiter();

/**
 * `POST /conversations/{id}/messages`: the WebSocket send over HTTP. No sending device, so every
 * device of the sender gets it too. 201 for a new message, 200 with the original for a retry.
 */
export const handler = httpRoute(async (event) => {
  const senderId = callerIdOf(event);
  // A flood is cut off at one write per request, malformed ones included; it runs while the send reads.
  const admission = sendRate.consume(senderId);
  const { id, body } = await parsedAfterCharge(admission, () => ({
    ...parsePath(conversationPathSchema, event),
    body: parseBody(sendMessageBodySchema, event),
  }));
  const sent = await messaging.send(
    {
      senderId,
      conversationId: id,
      clientMessageId: body.clientMessageId,
      text: body.text ?? '',
      ...(body.attachmentIds ? { attachmentIds: body.attachmentIds } : {}),
    },
    admission,
  );
  noteMessageAccepted(sent.message);
  countSend(sent);
  metrics.publishStoredMetrics();
  return json(sent.duplicate ? 200 : 201, { message: sent.message });
});
