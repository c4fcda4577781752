import { correlationIdAt } from '#shared/correlation';
import { readFrameSchema } from '#shared/protocol/frames';
import { correlateWith } from './lib/observability';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createInboxService, createReceiptService } from './lib/wiring';

const inbox = createInboxService();
const receipts = createReceiptService();

/**
 * `read`: the user has read the conversation up to `upToSeq` (members only). It acknowledges the
 * delivery to this device as well, as an `ack` would: reading implies having, so a device that reads
 * on arrival sends one frame, not two (each is a billed message and an invocation). Answered only
 * when refused, by an error frame naming the conversation: an answer is a billed message, and the
 * user's other devices and the senders learn of the read from its receipt.
 */
export const handler = webSocketRoute(async (event) => {
  const { connectionId, ...device } = connectionOf(event);
  const frame = parseFrame(readFrameSchema, event);
  correlateWith(correlationIdAt(frame.conversationId, frame.upToSeq));
  // First, as an ack's: a device may still clear what it holds of a conversation its user has left.
  await inbox.ack(device, frame.conversationId, frame.upToSeq);
  await receipts.acknowledge({ userId: device.userId, connectionId }, frame.conversationId, 'read', frame.upToSeq);
  return undefined;
});
