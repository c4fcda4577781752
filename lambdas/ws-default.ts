import { BadRequestError } from '#shared/errors';
import { pingFrameSchema } from '#shared/protocol/frames';
import { parseJson } from './lib/validation';
import { webSocketRoute } from './lib/websocket';

/** `$default`: `ping` (cheaper than a route of its own) and every frame no route claims. */
export const handler = webSocketRoute(async (event) => {
  const frame = parseJson(event.body, 'frame');
  if (pingFrameSchema.safeParse(frame).success) return { type: 'pong' };
  throw new BadRequestError('Unknown action: expected sendMessage, sync, ack, read or ping');
});
