import { participantPathSchema } from '#shared/protocol/conversations-http';
import { callerIdOf, httpRoute, parsePath } from './lib/http-route';
import { createConversationService } from './lib/wiring';

const conversations = createConversationService();

/** `DELETE /conversations/{id}/participants/{userId}`: admins remove anyone; anyone may leave. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id, userId } = parsePath(participantPathSchema, event);
  await conversations.removeMember(id, callerId, userId);
  return { statusCode: 204 };
});
