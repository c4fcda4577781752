import { sendMessageFrameSchema } from '#shared/protocol/frames';
import { countSend, metrics } from './lib/observability';
import { createSendRateLimiter } from './lib/security-wiring';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createMessagingService } from './lib/wiring';

const messaging = createMessagingService();
const sendRate = createSendRateLimiter();

/** `sendMessage`: stores the message and delivers it directly to online devices; the stream's fan-out does the rest. */
export const handler = webSocketRoute(async (event) => {
  const { userId, deviceId } = connectionOf(event);
  // First: a flood is cut off at one write per frame, malformed frames included.
  await sendRate.consume(userId);
  const frame = parseFrame(sendMessageFrameSchema, event);
  const sent = await messaging.send({
    senderId: userId,
    senderDeviceId: deviceId,
    conversationId: frame.conversationId,
    clientMessageId: frame.clientMessageId,
    text: frame.text ?? '',
    ...(frame.attachmentIds ? { attachmentIds: frame.attachmentIds } : {}),
  });
  countSend(sent);
  metrics.publishStoredMetrics();
  return { type: 'messageAccepted', clientMessageId: frame.clientMessageId, message: sent.message };
});
