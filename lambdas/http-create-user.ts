import { createUserBodySchema } from '#shared/protocol/users-http';
import { callerIdOf, httpRoute, json, parseBody } from './lib/http-route';
import { createUserService } from './lib/wiring';

const users = createUserService();

/** `POST /users`: the caller's own profile, under the token's id (never one from the body). */
export const handler = httpRoute(async (event) => {
  const userId = callerIdOf(event);
  const body = parseBody(createUserBodySchema, event);
  return json(201, await users.create(userId, body));
});
