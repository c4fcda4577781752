import middy from '@middy/core';
import { observed } from './lib/observability';
import type { WebSocketEvent, WebSocketResult } from './lib/websocket';
import { createConnectionService } from './lib/wiring';

const connections = createConnectionService();

/** `$disconnect`: best effort on AWS, so nothing may depend on it beyond tidying the row. */
export const handler = middy<WebSocketEvent, WebSocketResult>()
  .use(observed())
  .handler(async (event) => {
    const { userId, deviceId } = event.requestContext.authorizer ?? {};
    await connections.disconnect(event.requestContext.connectionId, userId, deviceId);
    return { statusCode: 200 };
  });
