import { userPathSchema } from '#shared/protocol/users-http';
import { callerIdOf, httpRoute, json, parsePath, userIdFromPath } from './lib/http-route';
import { createUserService } from './lib/wiring';

const users = createUserService();

/** `GET /users/{id}`: the whole profile for its owner, the public view for anyone else. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const id = userIdFromPath(parsePath(userPathSchema, event).id, callerId);
  return json(200, await users.get(callerId, id));
});
