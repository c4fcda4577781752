import { searchUsersQuerySchema } from '#shared/protocol/users-http';
import { callerIdOf, httpRoute, json, parseQuery } from './lib/http-route';
import { createUserSearchRateLimiter } from './lib/security-wiring';
import { createUserService } from './lib/wiring';

const users = createUserService();
const searchRate = createUserSearchRateLimiter();

/** `GET /users?username=<prefix>`: people to start a chat with, by username prefix, a page at a time. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const query = parseQuery(searchUsersQuerySchema, event);
  await searchRate.consume(callerId);
  return json(200, await users.search(callerId, query.username, query.cursor));
});
