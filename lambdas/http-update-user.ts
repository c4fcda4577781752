import { updateUserBodySchema, userPathSchema } from '#shared/protocol/users-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath, userIdFromPath } from './lib/http-route';
import { createProfileUpdates } from './lib/wiring';

const users = createProfileUpdates();

/** `PUT /users/{id}`: the owner changes any of their profile's fields. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const id = userIdFromPath(parsePath(userPathSchema, event).id, callerId);
  const changes = parseBody(updateUserBodySchema, event);
  return json(200, await users.update(callerId, id, changes));
});
