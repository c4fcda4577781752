import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { appMetrics } from '#shared/config/monitoring';
import { conversationPathSchema } from '#shared/protocol/conversations-http';
import { sendMessageBodySchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http-route';
import { metrics, noteMessageAccepted } from './lib/observability';
import { createSendRateLimiter } from './lib/security-wiring';
import { createMessagingService } from './lib/wiring';

const messaging = createMessagingService();
const sendRate = createSendRateLimiter();

/**
 * `POST /conversations/{id}/messages`: the WebSocket send over HTTP. No sending device, so fan-out
 * reaches every device of the sender. 201 for a new message, 200 with the original for a retry.
 */
export const handler = httpRoute(async (event) => {
  const senderId = callerIdOf(event);
  // First: a flood is cut off at one write per request, malformed ones included.
  await sendRate.consume(senderId);
  const { id } = parsePath(conversationPathSchema, event);
  const body = parseBody(sendMessageBodySchema, event);
  const { message, duplicate } = await messaging.send({
    senderId,
    conversationId: id,
    clientMessageId: body.clientMessageId,
    text: body.text ?? '',
    ...(body.attachmentIds ? { attachmentIds: body.attachmentIds } : {}),
  });
  noteMessageAccepted(message);
  metrics.addMetric(duplicate ? appMetrics.duplicateSends : appMetrics.messagesSent, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  return json(duplicate ? 200 : 201, { message });
});
