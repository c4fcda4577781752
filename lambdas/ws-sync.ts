import { limits } from '#shared/config/limits';
import { syncFrameSchema } from '#shared/protocol/frames';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createInboxService } from './lib/wiring';

const inbox = createInboxService({ replays: true });

/** `sync`: replays the device's inbox as `message` frames (or, asked, `messages` pages), then answers `syncComplete`. */
export const handler = webSocketRoute(async (event, context) => {
  const { connectionId, ...device } = connectionOf(event);
  const frame = parseFrame(syncFrameSchema, event);
  // API Gateway stops waiting at 29 s: answer with a cursor while there is time to, and the client syncs on.
  const outOfTime = () => context.getRemainingTimeInMillis() < limits.syncAnswerReserveMs;
  const result = await inbox.sync(device, connectionId, {
    cursor: frame.cursor,
    outOfTime,
    pages: frame.pages === true,
  });
  return {
    type: 'syncComplete',
    delivered: result.delivered,
    ...(result.cursor !== undefined ? { cursor: result.cursor } : {}),
  };
});
