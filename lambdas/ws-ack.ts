import { correlationIdAt } from '#shared/correlation';
import { NotFoundError } from '#shared/errors';
import { ackFrameSchema } from '#shared/protocol/frames';
import { correlateWith } from './lib/observability';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createInboxService, createReceiptService } from './lib/wiring';

const inbox = createInboxService();
const receipts = createReceiptService();

/**
 * `ack`: the device has everything up to `upToSeq` in that conversation. Its inbox items go, and
 * the user's delivered mark moves (any one device having a message makes it delivered). Answered
 * only when refused: an answer is a billed message and the device needs none (a lost ack costs a
 * redelivery, which it drops, and its next ack moves the mark).
 */
export const handler = webSocketRoute(async (event) => {
  const { connectionId, ...device } = connectionOf(event);
  const frame = parseFrame(ackFrameSchema, event);
  // The last message acknowledged names the ack; the inbox line also says how many went.
  correlateWith(correlationIdAt(frame.conversationId, frame.upToSeq));
  await inbox.ack(device, frame.conversationId, frame.upToSeq);
  await receipts
    .acknowledge({ userId: device.userId, connectionId }, frame.conversationId, 'delivered', frame.upToSeq)
    .catch((error) => {
      // A device may still clear what it holds of a conversation its user has left.
      if (!(error instanceof NotFoundError)) throw error;
    });
  return undefined;
});
