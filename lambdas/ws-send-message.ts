import { type SendMessagesFrame, sendMessageFrameSchema, sendMessagesFrameSchema } from '#shared/protocol/frames';
import { countSend, metrics } from './lib/observability';
import { createSendRateLimiter, parsedAfterCharge } from './lib/security-wiring';
import { connectionOf, parseFrame, type WebSocketEvent, webSocketRoute } from './lib/websocket';
import { createMessagingService } from './lib/wiring';

const messaging = createMessagingService();
const sendRate = createSendRateLimiter();

/**
 * `sendMessage` and `sendMessages` (a burst, one function so both stay warm together): stores the
 * messages and delivers them directly to online devices; the stream's fan-out does the rest.
 */
export const handler = webSocketRoute(async (event) => {
  if (event.requestContext.routeKey === 'sendMessages') return sendBurst(event);
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

async function sendBurst(event: WebSocketEvent) {
  const { userId, deviceId } = connectionOf(event);
  // Charged per message, all or none; a malformed frame is charged as one send.
  let frame: SendMessagesFrame;
  try {
    frame = parseFrame(sendMessagesFrameSchema, event);
  } catch (error) {
    await sendRate.consume(userId);
    throw error;
  }
  const sent = await messaging.sendMany(
    { senderId: userId, senderDeviceId: deviceId, conversationId: frame.conversationId, messages: frame.messages },
    sendRate.consume(userId, frame.messages.length),
  );
  for (const one of sent) countSend(one);
  metrics.publishStoredMetrics();
  return {
    type: 'messagesAccepted' as const,
    conversationId: frame.conversationId,
    messages: sent.map((one) => one.message),
  };
}
