import { createConversationBodySchema } from '#shared/protocol/http';
import { callerIdOf, httpRoute, json, parseBody } from './lib/http';
import { createConversationService } from './lib/wiring';

const conversations = createConversationService();

/** `POST /conversations`: the caller becomes a member (and a group's admin). */
export const handler = httpRoute(async (event) => {
  const creatorId = callerIdOf(event);
  const body = parseBody(createConversationBodySchema, event);
  const conversation = await conversations.create({
    creatorId,
    type: body.type,
    memberIds: body.memberIds,
    ...(body.name !== undefined ? { name: body.name } : {}),
  });
  return json(201, conversation);
});
