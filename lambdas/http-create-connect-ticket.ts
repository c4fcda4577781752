import { callerIdOf, httpRoute, json } from './lib/http-route';
import { createAccountStanding, createConnectTicketStore } from './lib/security-wiring';

const tickets = createConnectTicketStore();
const standing = createAccountStanding();

/**
 * `POST /connect-ticket`: a single-use ticket for `$connect?ticket=…&deviceId=…`, so the
 * long-lived JWT travels only in this request's Authorization header, never in a URL.
 */
export const handler = httpRoute(async (event) => {
  const userId = callerIdOf(event);
  await standing.refuseDeletedCaller(userId);
  return json(201, await tickets.issue(userId));
});
