import { subscribePresenceFrameSchema } from '#shared/protocol/frames';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createPresenceService } from './lib/wiring';

const presence = createPresenceService(true);

/** `subscribePresence`: watch these users' presence from now on (replacing the last list); answers it now. */
export const handler = webSocketRoute(async (event) => {
  const { userId, connectionId } = connectionOf(event);
  const frame = parseFrame(subscribePresenceFrameSchema, event);
  return { type: 'presenceSubscribed', presence: await presence.subscribe({ userId, connectionId }, frame.userIds) };
});
