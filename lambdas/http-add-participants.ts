import { addParticipantsBodySchema, conversationPathSchema } from '#shared/protocol/conversations-http';
import { callerIdOf, httpRoute, json, parseBody, parsePath } from './lib/http-route';
import { createAccountStanding, createGroupAddConsent, createSendRateLimiter } from './lib/security-wiring';
import { createConversationService } from './lib/wiring';

const conversations = createConversationService();
const timelineWrites = createSendRateLimiter();
const standing = createAccountStanding();
const consent = createGroupAddConsent();

/** `POST /conversations/{id}/participants`: admins add members (already-present ones are ignored). */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id } = parsePath(conversationPathSchema, event);
  const { userIds } = parseBody(addParticipantsBodySchema, event);
  // A timeline event with fan-out: it counts against the caller's limit as a send does.
  await timelineWrites.consume(callerId);
  // A deleted account left every conversation; it cannot be added back.
  const standings = await standing.participants(callerId, userIds);
  // Nobody joins a group against their groupAdds setting; those already in it are not asked.
  const admit = (joining: readonly string[]) => consent.refuseUnwelcome(callerId, joining, standings);
  return json(200, await conversations.addMembers(id, callerId, userIds, admit));
});
