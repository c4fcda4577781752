import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TimingModel } from './aws-timing';
import type { PostFaultHook } from './faults';
import { PayloadTooLargeError, readBody, sendJson } from './http-helpers';
import type { LocalLogger } from './log';

/** API Gateway's limit for one postToConnection payload. */
export const postToConnectionLimitBytes = 128 * 1024;

export interface ConnectionDescription {
  readonly connectedAt: number;
  readonly lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent: string;
}

/** What the management API needs from the WebSocket gateway; every call is false/undefined for a gone id. */
export interface ManagedConnections {
  post(connectionId: string, data: Buffer): boolean;
  describe(connectionId: string): ConnectionDescription | undefined;
  disconnect(connectionId: string): boolean;
}

/** Calls the management API answered since start, by action (benchmarks take differences). */
export interface ManagementApiCounts {
  /** postToConnection calls, delivered or not. */
  posts: number;
  /** postToConnection calls answered 410 (the connection was gone). */
  postsGone: number;
  getConnections: number;
  deleteConnections: number;
}

export function createManagementApiCounts(): ManagementApiCounts {
  return { posts: 0, postsGone: 0, getConnections: 0, deleteConnections: 0 };
}

/** `/@connections/{id}`, with or without the stage prefix the real callback URL carries. */
const connectionPathPattern = /^(?:\/[^/@]+)?\/@connections\/([^/]+)$/;

/**
 * The `@connections` API (postToConnection, getConnection, deleteConnection) on the WebSocket port, so the
 * real ApiGatewayManagementApiClient works with only its endpoint changed. Signatures are not checked.
 */
export function createManagementApi(
  connections: ManagedConnections,
  logger: LocalLogger,
  counts: ManagementApiCounts = createManagementApiCounts(),
  /** Chaos runs only: may turn a post into a 500 or a 429 (see local/faults.ts). */
  postFault?: PostFaultHook,
  /** AWS timing: each call is answered API Gateway's round trip after it came in (a post's frame has its own hop). */
  timing?: TimingModel,
): RequestListener {
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const { pathname } = new URL(request.url ?? '/', 'http://local');
    const encodedId = connectionPathPattern.exec(pathname)?.[1];
    if (encodedId === undefined) return sendJson(response, 404, { message: 'Not Found' });
    // The SDK percent-encodes the id (`=` is `%3D`).
    const connectionId = decodeURIComponent(encodedId);
    // Started now, awaited before answering: the call's effect (a frame on its way) does not wait for it.
    const answerHop = timing === undefined ? undefined : sleep(timing.draw('postToConnectionAnswer'));

    switch (request.method) {
      case 'POST': {
        counts.posts += 1;
        const data = await readBody(request, postToConnectionLimitBytes);
        const fault = postFault?.(connectionId);
        if (fault !== undefined) {
          if (fault === 'errorAfterDelivery') connections.post(connectionId, data);
          if (answerHop !== undefined) await answerHop;
          // API Gateway's throttle (the account's or the stage's rate): the poster retries it with backoff.
          if (fault === 'throttled') return sendError(response, 429, 'LimitExceededException', 'Rate exceeded');
          return sendError(response, 500, 'InternalServerErrorException', 'Injected fault');
        }
        const delivered = connections.post(connectionId, data);
        if (!delivered) counts.postsGone += 1;
        if (answerHop !== undefined) await answerHop;
        if (!delivered) return sendGone(response, connectionId);
        response.writeHead(200, { 'content-length': 0 });
        response.end();
        return;
      }
      case 'GET': {
        counts.getConnections += 1;
        const description = connections.describe(connectionId);
        if (answerHop !== undefined) await answerHop;
        if (description === undefined) return sendGone(response, connectionId);
        // Wire names are camelCase (the SDK maps them to ConnectedAt, Identity.SourceIp, ...).
        return sendJson(response, 200, {
          connectedAt: new Date(description.connectedAt).toISOString(),
          identity: { sourceIp: description.sourceIp, userAgent: description.userAgent },
          lastActiveAt: new Date(description.lastActiveAt).toISOString(),
        });
      }
      case 'DELETE': {
        counts.deleteConnections += 1;
        const disconnected = connections.disconnect(connectionId);
        if (answerHop !== undefined) await answerHop;
        if (!disconnected) return sendGone(response, connectionId);
        response.writeHead(204);
        response.end();
        return;
      }
      default:
        return sendJson(response, 404, { message: 'Not Found' });
    }
  };

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (error instanceof PayloadTooLargeError) {
        // The unread rest of the body would poison a kept-alive connection.
        response.setHeader('connection', 'close');
        sendError(response, 413, 'PayloadTooLargeException', `Payload exceeds ${postToConnectionLimitBytes} bytes`);
        return;
      }
      logger.error('management API failure', { url: request.url, error });
      if (!response.headersSent) sendError(response, 500, 'InternalServerErrorException', 'Internal server error');
    });
  };
}

function sendGone(response: ServerResponse, connectionId: string): void {
  sendError(response, 410, 'GoneException', `Connection ${connectionId} is gone`);
}

/** Without `x-amzn-errortype` the SDK cannot tell which exception to raise (a bare 410 is "Unknown"). */
function sendError(response: ServerResponse, statusCode: number, errorType: string, message: string): void {
  sendJson(response, statusCode, { message }, { 'x-amzn-errortype': errorType });
}
