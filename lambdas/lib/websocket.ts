import middy, { type MiddlewareObj } from '@middy/core';
import type {
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyStructuredResultV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
  Context,
} from 'aws-lambda';
import type { core } from 'zod/mini';
import { AppError, UnauthorizedError } from '#shared/errors';
import type { Connection } from '#shared/model';
import type { ServerFrame } from '#shared/protocol/frames';
import { logger, noteMessageAccepted, noteMessagesAccepted, observed, publishAddedMetrics } from './observability';
import { parseJson, parseWith } from './validation';

/** What the $connect authorizer put in its context; API Gateway repeats it on every later event. */
export interface ConnectionAuthorizerContext {
  readonly principalId?: string;
  readonly userId?: string;
  readonly deviceId?: string;
}

export type WebSocketEvent = APIGatewayProxyWebsocketEventV2WithRequestContext<
  APIGatewayEventWebsocketRequestContextV2 & { authorizer?: ConnectionAuthorizerContext }
>;

export type WebSocketResult = APIGatewayProxyStructuredResultV2 & { statusCode: number };

/** The caller as the authorizer established it; never taken from the frame. */
export function connectionOf(event: WebSocketEvent): Connection {
  const { userId, deviceId } = event.requestContext.authorizer ?? {};
  if (!userId || !deviceId) throw new UnauthorizedError('Connection has no verified identity');
  return { userId, deviceId, connectionId: event.requestContext.connectionId };
}

export function parseFrame<Schema extends core.$ZodType>(schema: Schema, event: WebSocketEvent): core.output<Schema> {
  return parseWith(schema, parseJson(event.body, 'frame'), 'frame');
}

export const frameResponse = (frame: ServerFrame): WebSocketResult => ({
  statusCode: 200,
  body: JSON.stringify(frame),
});

/**
 * Ids a frame names, read leniently and bounded in length: never its text or anything else. An error
 * frame echoes them, so the client can match a refusal to its request (a read's by its conversation).
 */
function frameIds(body: string | undefined): { clientMessageId?: string; action?: string; conversationId?: string } {
  try {
    const frame: unknown = JSON.parse(body ?? '');
    if (typeof frame !== 'object' || frame === null) return {};
    const { action, conversationId, messages } = frame as Record<string, unknown>;
    // A burst (`sendMessages`) is named by its first message's id: the client finds the whole burst by it.
    const first: unknown = Array.isArray(messages) ? messages[0] : undefined;
    const clientMessageId =
      Reflect.get(frame, 'clientMessageId') ??
      (typeof first === 'object' && first !== null ? Reflect.get(first, 'clientMessageId') : undefined);
    return {
      ...(typeof clientMessageId === 'string' && clientMessageId.length <= 128 ? { clientMessageId } : {}),
      ...(typeof action === 'string' && action.length <= 64 ? { action } : {}),
      ...(typeof conversationId === 'string' && conversationId.length <= 128 ? { conversationId } : {}),
    };
  } catch {
    return {};
  }
}

function errorFrame(error: AppError, body: string | undefined): WebSocketResult {
  return frameResponse({
    type: 'error',
    code: error.code,
    message: error.message,
    ...frameIds(body),
    ...(error.details ? { details: error.details } : {}),
  });
}

/** A fault becomes an `internal` error frame on the same connection, which stays usable. */
const faultFrames = (): MiddlewareObj<WebSocketEvent, WebSocketResult> => ({
  onError: async (request) => {
    const { error } = request;
    if (error instanceof AppError) {
      request.response = errorFrame(error, request.event.body);
      return;
    }
    logger.error('unhandled error', { error: error as Error, routeKey: request.event.requestContext.routeKey });
    request.response = frameResponse({
      type: 'error',
      code: 'internal',
      message: 'Internal error',
      ...frameIds(request.event.body),
    });
  },
});

/**
 * A WebSocket route handler: answers one frame on the calling connection (a route response), or
 * nothing when `answer` gives undefined (an empty body sends no frame; refusals are still answered).
 * Every log line of the invocation names the frame's ids; an accepted send names its message's
 * correlation id (see shared/correlation.ts) from then on.
 */
export function webSocketRoute(answer: (event: WebSocketEvent, context: Context) => Promise<ServerFrame | undefined>) {
  return middy<WebSocketEvent, WebSocketResult, Error, Context>()
    .use(observed<WebSocketEvent, WebSocketResult>())
    .use(publishAddedMetrics<WebSocketEvent, WebSocketResult>())
    .use(faultFrames())
    .handler(async (event, context) => {
      logger.appendKeys(frameIds(event.body));
      let frame: ServerFrame | undefined;
      try {
        frame = await answer(event, context);
      } catch (error) {
        // Refusals are answers, not faults: answered here, they never mark the trace as failed.
        if (error instanceof AppError) return errorFrame(error, event.body);
        throw error;
      }
      if (frame === undefined) return { statusCode: 200 };
      if (frame.type === 'messageAccepted') noteMessageAccepted(frame.message);
      else if (frame.type === 'messagesAccepted') noteMessagesAccepted(frame.messages);
      return frameResponse(frame);
    });
}
