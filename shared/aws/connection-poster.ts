import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { limits } from '../config/limits';
import type { ServerFrame } from '../protocol/frames';
import { addAwsCallGate } from './call-gate';

export type PostOutcome = 'sent' | 'gone';

export interface PostOptions {
  /** Abandons the call after this long (it throws); the frame may still have been delivered. */
  readonly timeoutMs?: number;
}

/** Pushes frames to WebSocket connections (the API Gateway management API). */
export interface ConnectionPoster {
  /** 'gone' when the connection no longer exists (HTTP 410); other failures throw. */
  post(connectionId: string, frame: ServerFrame, options?: PostOptions): Promise<PostOutcome>;
  disconnect(connectionId: string): Promise<void>;
}

/** Wraps the SDK client once made: handlers pass the tracer's `captureAWSv3Client`. */
export type ClientInstrumentation = (client: ApiGatewayManagementApiClient) => ApiGatewayManagementApiClient;

export function createConnectionPoster(
  callbackUrl: string,
  instrument: ClientInstrumentation = (client) => client,
): ConnectionPoster {
  const agentOptions = { keepAlive: true, maxSockets: limits.managementApiMaxSockets };
  const sdkClient = new ApiGatewayManagementApiClient({
    endpoint: callbackUrl,
    // The SDK's default of 50 sockets would queue a group's fan-out behind itself.
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    }),
  });
  // A no-op on Lambda; locally, a post after the invocation's timeout is never made (shared/aws/call-gate.ts).
  addAwsCallGate(sdkClient);
  const client = instrument(sdkClient);
  const encoder = new TextEncoder();
  return {
    async post(connectionId, frame, options = {}) {
      try {
        await client.send(
          new PostToConnectionCommand({ ConnectionId: connectionId, Data: encoder.encode(JSON.stringify(frame)) }),
          options.timeoutMs === undefined ? {} : { abortSignal: AbortSignal.timeout(options.timeoutMs) },
        );
        return 'sent';
      } catch (error) {
        if (error instanceof GoneException) return 'gone';
        throw error;
      }
    },
    async disconnect(connectionId) {
      try {
        await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      } catch (error) {
        if (!(error instanceof GoneException)) throw error;
      }
    },
  };
}
