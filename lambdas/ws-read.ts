import { readFrameSchema } from '#shared/protocol/frames';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createReceiptService } from './lib/wiring';

const receipts = createReceiptService();

/** `read`: the user has read the conversation up to `upToSeq` (members only). */
export const handler = webSocketRoute(async (event) => {
  const { userId, connectionId } = connectionOf(event);
  const frame = parseFrame(readFrameSchema, event);
  await receipts.acknowledge({ userId, connectionId }, frame.conversationId, 'read', frame.upToSeq);
  return { type: 'readAcked', conversationId: frame.conversationId, upToSeq: frame.upToSeq };
});
