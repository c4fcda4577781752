import { conversationPathSchema } from '#shared/protocol/conversations-http';
import { callerIdOf, httpRoute, json, parsePath } from './lib/http-route';
import { createConversationReads } from './lib/wiring';

const conversations = createConversationReads();

/** `GET /conversations/{id}`: members only; others get not_found. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id } = parsePath(conversationPathSchema, event);
  return json(200, await conversations.get(id, callerId));
});
