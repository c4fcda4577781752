import { createConversationBodySchema } from '#shared/protocol/conversations-http';
import { callerIdOf, httpRoute, json, parseBody } from './lib/http-route';
import {
  createAccountStanding,
  createConversationBurstLimiter,
  createConversationCreationLimiter,
  createGroupAddConsent,
  createSendRateLimiter,
} from './lib/security-wiring';
import { createConversationService } from './lib/wiring';

const conversations = createConversationService();
const standing = createAccountStanding();
const timelineWrites = createSendRateLimiter();
const creations = createConversationCreationLimiter();
const creationBursts = createConversationBurstLimiter();
const consent = createGroupAddConsent();

/** `POST /conversations`: the caller becomes a member (and a group's admin). */
export const handler = httpRoute(async (event) => {
  const creatorId = callerIdOf(event);
  const body = parseBody(createConversationBodySchema, event);
  // Its creation event counts as a timeline write, and creations have budgets of their own: a day's and 10 minutes'.
  await Promise.all([
    timelineWrites.consume(creatorId),
    creations.consume(creatorId),
    creationBursts.consume(creatorId),
  ]);
  // A deleted account's unexpired token starts nothing, and nobody starts one with a deleted account.
  const standings = await standing.participants(creatorId, body.memberIds);
  const { conversation, created } = await conversations.create(
    {
      creatorId,
      type: body.type,
      memberIds: body.memberIds,
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.historyVisibility !== undefined ? { historyVisibility: body.historyVisibility } : {}),
    },
    // A group's members must let the creator add them (their groupAdds setting); direct chats are open.
    (joining) => consent.refuseUnwelcome(creatorId, joining, standings),
  );
  // A direct conversation is unique per pair: asking again answers the existing one.
  return json(created ? 201 : 200, conversation);
});
