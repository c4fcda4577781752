import { syncFrameSchema } from '#shared/protocol/frames';
import { connectionOf, parseFrame, webSocketRoute } from './lib/websocket';
import { createInboxService } from './lib/wiring';

const inbox = createInboxService();

/** `sync`: replays the device's inbox as `message` frames, then answers `syncComplete`. */
export const handler = webSocketRoute(async (event) => {
  const { connectionId, ...device } = connectionOf(event);
  const frame = parseFrame(syncFrameSchema, event);
  const result = await inbox.sync(device, connectionId, frame.cursor);
  return {
    type: 'syncComplete',
    delivered: result.delivered,
    ...(result.cursor !== undefined ? { cursor: result.cursor } : {}),
  };
});
