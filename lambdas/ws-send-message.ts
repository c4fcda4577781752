import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { appMetrics } from '#shared/config/monitoring';
import { sendMessageFrameSchema } from '#shared/protocol/frames';
import { metrics } from './lib/observability';
import { createSendRateLimiter } from './lib/security-wiring';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createMessagingService } from './lib/wiring';

const messaging = createMessagingService();
const sendRate = createSendRateLimiter();

/** `sendMessage`: stores the message; fan-out happens from the stream, not here. */
export const handler = webSocketRoute(async (event) => {
  const { userId, deviceId } = connectionOf(event);
  // First: a flood is cut off at one write per frame, malformed frames included.
  await sendRate.consume(userId);
  const frame = parseFrame(sendMessageFrameSchema, event);
  const { message, duplicate } = await messaging.send({
    senderId: userId,
    senderDeviceId: deviceId,
    conversationId: frame.conversationId,
    clientMessageId: frame.clientMessageId,
    text: frame.text ?? '',
    ...(frame.attachmentIds ? { attachmentIds: frame.attachmentIds } : {}),
  });
  metrics.addMetric(duplicate ? appMetrics.duplicateSends : appMetrics.messagesSent, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  return { type: 'messageAccepted', clientMessageId: frame.clientMessageId, message };
});
