import { userPathSchema } from '#shared/protocol/users-http';
import { callerIdOf, httpRoute, json, parsePath, userIdFromPath } from './lib/http-route';
import { createPresenceService } from './lib/wiring';

const presence = createPresenceService(false);

/** `GET /users/{id}/presence`: online, or when last seen, for users who share a conversation with the caller. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const id = userIdFromPath(parsePath(userPathSchema, event).id, callerId);
  return json(200, await presence.probe(callerId, id));
});
