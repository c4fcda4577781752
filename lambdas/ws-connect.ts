import middy from '@middy/core';
import { observed } from './lib/observability';
import { connectionOf, type WebSocketEvent, type WebSocketResult } from './lib/websocket';
import { createConnectionService } from './lib/wiring';

const connections = createConnectionService();

/** `$connect`: the authorizer already verified the caller; register the device and the connection. */
export const handler = middy<WebSocketEvent, WebSocketResult>()
  .use(observed())
  .handler(async (event) => {
    await connections.connect(connectionOf(event));
    return { statusCode: 200 };
  });
