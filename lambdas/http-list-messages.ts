import { conversationPathSchema } from '#shared/protocol/conversations-http';
import { listMessagesQuerySchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parsePath, parseQuery } from './lib/http-route';
import { createHistoryService } from './lib/wiring';

const history = createHistoryService();

/** `GET /conversations/{id}/messages`: one page of history by seq; members only, from their visible floor. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id } = parsePath(conversationPathSchema, event);
  const { start, limit } = parseQuery(listMessagesQuerySchema, event);
  return json(200, await history.list({ conversationId: id, callerId, start, limit }));
});
