import { messagePathSchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parsePath } from './lib/http-route';
import { createHistoryService } from './lib/wiring';

const history = createHistoryService();

/** `GET /messages/{id}`: members only, from their visible floor; anything else is not_found. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id } = parsePath(messagePathSchema, event);
  return json(200, { message: await history.get(id, callerId) });
});
