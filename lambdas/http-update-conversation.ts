import { conversationPathSchema, updateConversationBodySchema } from '#shared/protocol/conversations-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http-route';
import { createSendRateLimiter } from './lib/security-wiring';
import { createConversationService } from './lib/wiring';

const conversations = createConversationService();
const timelineWrites = createSendRateLimiter();

/** `PATCH /conversations/{id}`: admins rename a group; the change is a timeline event. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id } = parsePath(conversationPathSchema, event);
  const { name } = parseBody(updateConversationBodySchema, event);
  // A timeline event with fan-out: it counts against the caller's limit as a send does.
  await timelineWrites.consume(callerId);
  return json(200, await conversations.rename(id, callerId, name));
});
