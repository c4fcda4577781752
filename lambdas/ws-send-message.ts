import {
  deleteMessageFrameSchema,
  editMessageFrameSchema,
  reactFrameSchema,
  sendMessageFrameSchema,
  sendMessagesFrameSchema,
} from '#shared/protocol/frames';
import { sendWithDirectChatView } from '#shared/services/direct-chat-send';
import type { SendMessageInput, SendMessageResult } from '#shared/services/messaging-service';
import { countSend, metrics } from './lib/observability';
import { createSendRateLimiter, parsedAfterCharge } from './lib/security-wiring';
import { connectionOf, parseFrame, type WebSocketEvent, webSocketRoute } from './lib/websocket';
import { createMessageChangeService, createMessagingService } from './lib/wiring';

const messaging = createMessagingService();
const changes = createMessageChangeService();
const sendRate = createSendRateLimiter();

/**
 * `sendMessage`, `sendMessages` (a burst) and the changes `editMessage`, `deleteMessage` and `react`:
 * one function, so all stay warm together and any of them may commit the others' queued entries.
 * Stores the entries and delivers them directly to online devices; the stream's fan-out does the rest.
 */
export const handler = webSocketRoute(async (event) => {
  switch (event.requestContext.routeKey) {
    case 'sendMessages':
      return sendBurst(event);
    case 'editMessage':
    case 'deleteMessage':
    case 'react':
      return change(event);
  }
  const { userId, deviceId } = connectionOf(event);
  // Charged once the frame shows how: in the view's commit, or beside the usual send's read.
  const frame = await parsedAfterCharge(
    () => sendRate.consume(userId),
    () => parseFrame(sendMessageFrameSchema, event),
  );
  const input: SendMessageInput = {
    senderId: userId,
    senderDeviceId: deviceId,
    conversationId: frame.conversationId,
    clientMessageId: frame.clientMessageId,
    text: frame.text ?? '',
    ...(frame.attachmentIds ? { attachmentIds: frame.attachmentIds } : {}),
    ...(frame.replyTo !== undefined ? { replyTo: frame.replyTo } : {}),
  };
  const { sent, view } = frame.directChat
    ? await sendWithDirectChatView(messaging, sendRate, input, frame.directChat)
    : // The charge runs while the send reads.
      { sent: await messaging.send(input, sendRate.consume(userId)) };
  countSend(sent, view);
  metrics.publishStoredMetrics();
  return {
    type: 'messageAccepted',
    clientMessageId: frame.clientMessageId,
    message: sent.message,
    ...(sent.directPeerId !== undefined ? { directChat: { peerId: sent.directPeerId } } : {}),
  };
});

async function sendBurst(event: WebSocketEvent) {
  const { userId, deviceId } = connectionOf(event);
  // Charged per message, all or none; a malformed frame is charged as one send.
  const frame = await parsedAfterCharge(
    () => sendRate.consume(userId),
    () => parseFrame(sendMessagesFrameSchema, event),
  );
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

/** An edit, a delete or a reaction: charged like a send (it puts an event in the timeline), answered like one. */
async function change(event: WebSocketEvent) {
  const { userId, deviceId } = connectionOf(event);
  const admission = sendRate.consume(userId);
  const routeKey = event.requestContext.routeKey;
  let sent: SendMessageResult;
  let clientMessageId: string | undefined;
  if (routeKey === 'editMessage') {
    const frame = await parsedAfterCharge(admission, () => parseFrame(editMessageFrameSchema, event));
    clientMessageId = frame.clientMessageId;
    sent = await changes.edit({ ...changeOf(frame, userId, deviceId), text: frame.text }, admission);
  } else if (routeKey === 'deleteMessage') {
    const frame = await parsedAfterCharge(admission, () => parseFrame(deleteMessageFrameSchema, event));
    clientMessageId = frame.clientMessageId;
    sent = await changes.delete(changeOf(frame, userId, deviceId), admission);
  } else {
    const frame = await parsedAfterCharge(admission, () => parseFrame(reactFrameSchema, event));
    clientMessageId = frame.clientMessageId;
    sent = await changes.react(
      { ...changeOf(frame, userId, deviceId), emoji: frame.emoji, ...(frame.remove ? { remove: true } : {}) },
      admission,
    );
  }
  countSend(sent);
  metrics.publishStoredMetrics();
  return {
    type: 'messageAccepted' as const,
    ...(clientMessageId !== undefined ? { clientMessageId } : {}),
    message: sent.message,
  };
}

function changeOf(
  frame: { conversationId: string; seq: number; clientMessageId?: string | undefined },
  userId: string,
  deviceId: string,
) {
  return {
    actorId: userId,
    actorDeviceId: deviceId,
    conversationId: frame.conversationId,
    seq: frame.seq,
    ...(frame.clientMessageId !== undefined ? { clientMessageId: frame.clientMessageId } : {}),
  };
}
