import { createConversationBodySchema } from '#shared/protocol/http';
import { callerIdOf, httpRoute, json, parseBody } from './lib/http';
import { createConversationService } from './lib/wiring';

const conversations = createConversationService();

/** `POST /conversations`: the caller becomes a member (and a group's admin). */
export const handler = httpRoute(async (event) => {
  const creatorId = callerIdOf(event);
  const body = parseBody(createConversationBodySchema, event);
  const { conversation, created } = await conversations.create({
    creatorId,
    type: body.type,
    memberIds: body.memberIds,
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(body.historyVisibility !== undefined ? { historyVisibility: body.historyVisibility } : {}),
  });
  // A direct conversation is unique per pair: asking again answers the existing one.
  return json(created ? 201 : 200, conversation);
});
