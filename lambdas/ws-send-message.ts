import { sendMessageFrameSchema } from '#shared/protocol/frames';
import { countSend, metrics } from './lib/observability';
import { createSendRateLimiter, parsedAfterCharge } from './lib/security-wiring';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createMessagingService } from './lib/wiring';

const messaging = createMessagingService();
const sendRate = createSendRateLimiter();

/** `sendMessage`: stores the message and delivers it directly to online devices; the stream's fan-out does the rest. */
export const handler = webSocketRoute(async (event) => {
  const { userId, deviceId } = connectionOf(event);
  // A flood is cut off at one write per frame, malformed frames included; it runs while the send reads.
  const admission = sendRate.consume(userId);
  const frame = await parsedAfterCharge(admission, () => parseFrame(sendMessageFrameSchema, event));
  const sent = await messaging.send(
    {
      senderId: userId,
      senderDeviceId: deviceId,
      conversationId: frame.conversationId,
      clientMessageId: frame.clientMessageId,
      text: frame.text ?? '',
      ...(frame.attachmentIds ? { attachmentIds: frame.attachmentIds } : {}),
    },
    admission,
  );
  countSend(sent);
  metrics.publishStoredMetrics();
  return { type: 'messageAccepted', clientMessageId: frame.clientMessageId, message: sent.message };
});
