import { userPathSchema } from '#shared/protocol/users-http';
import { callerIdOf, httpRoute, parsePath, userIdFromPath } from './lib/http-route';
import { createAccountService } from './lib/wiring';

const accounts = createAccountService();

/** `DELETE /users/{id}`: self only. Past messages stay, shown as from a deleted user. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const id = userIdFromPath(parsePath(userPathSchema, event).id, callerId);
  await accounts.deleteAccount(callerId, id);
  return { statusCode: 204 };
});
