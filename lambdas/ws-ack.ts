import { ackFrameSchema } from '#shared/protocol/frames';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createInboxService } from './lib/wiring';

const inbox = createInboxService();

/** `ack`: the device has everything up to `upToSeq` in that conversation; drop its inbox items. */
export const handler = webSocketRoute(async (event) => {
  const { connectionId: _unused, ...device } = connectionOf(event);
  const frame = parseFrame(ackFrameSchema, event);
  const removed = await inbox.ack(device, frame.conversationId, frame.upToSeq);
  return { type: 'acked', conversationId: frame.conversationId, upToSeq: frame.upToSeq, removed };
});
