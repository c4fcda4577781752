import { typingFrameSchema } from '#shared/protocol/frames';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createTypingService } from './lib/wiring';

const typing = createTypingService();

/** `typing`: forwarded to the other members' online devices; no answer unless refused (an answer would cost a post). */
export const handler = webSocketRoute(async (event) => {
  const sender = connectionOf(event);
  const frame = parseFrame(typingFrameSchema, event);
  await typing.typing(sender, frame.conversationId);
  return undefined;
});
