import { participantPathSchema } from '#shared/protocol/conversations-http';
import { callerIdOf, httpRoute, parsePath } from './lib/http-route';
import { createSendRateLimiter } from './lib/security-wiring';
import { createConversationService } from './lib/wiring';

const conversations = createConversationService();
const timelineWrites = createSendRateLimiter();

/** `DELETE /conversations/{id}/participants/{userId}`: admins remove anyone; anyone may leave. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id, userId } = parsePath(participantPathSchema, event);
  // A timeline event with fan-out: it counts against the caller's limit as a send does.
  await timelineWrites.consume(callerId);
  await conversations.removeMember(id, callerId, userId);
  return { statusCode: 204 };
});
