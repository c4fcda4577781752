import { listConversationsQuerySchema } from '#shared/protocol/conversations-http';
import { userPathSchema } from '#shared/protocol/users-http';
import { callerIdOf, httpRoute, json, parsePath, parseQuery, userIdFromPath } from './lib/http-route';
import { createConversationListService } from './lib/wiring';

const conversationList = createConversationListService();
const DEFAULT_PAGE_SIZE = 20;

/** `GET /users/{id}/conversations`: self only; newest activity first, with last message and unread count. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const id = userIdFromPath(parsePath(userPathSchema, event).id, callerId);
  const { limit, cursor } = parseQuery(listConversationsQuerySchema, event);
  return json(200, await conversationList.list(callerId, id, limit ?? DEFAULT_PAGE_SIZE, cursor));
});
