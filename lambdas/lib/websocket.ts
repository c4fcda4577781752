import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type {
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyStructuredResultV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
  Context,
} from 'aws-lambda';
import type { z } from 'zod';
import { AppError, UnauthorizedError } from '#shared/errors';
import type { Connection } from '#shared/model';
import type { ServerFrame } from '#shared/protocol/frames';
import { logger } from './observability';
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

export function parseFrame<Schema extends z.ZodType>(schema: Schema, event: WebSocketEvent): z.infer<Schema> {
  return parseWith(schema, parseJson(event.body, 'frame'), 'frame');
}

export const frameResponse = (frame: ServerFrame): WebSocketResult => ({
  statusCode: 200,
  body: JSON.stringify(frame),
});

/** Echo fields a client needs to match an error to its request, read leniently from the raw frame. */
function echoFields(body: string | undefined): { clientMessageId?: string; action?: string } {
  try {
    const frame: unknown = JSON.parse(body ?? '');
    if (typeof frame !== 'object' || frame === null) return {};
    const { clientMessageId, action } = frame as Record<string, unknown>;
    return {
      ...(typeof clientMessageId === 'string' && clientMessageId.length <= 128 ? { clientMessageId } : {}),
      ...(typeof action === 'string' && action.length <= 64 ? { action } : {}),
    };
  } catch {
    return {};
  }
}

/** Turns any failure into an `error` frame on the same connection, which stays usable. */
const errorFrames = (): MiddlewareObj<WebSocketEvent, WebSocketResult> => ({
  onError: async (request) => {
    const { error } = request;
    const echo = echoFields(request.event.body);
    if (error instanceof AppError) {
      request.response = frameResponse({
        type: 'error',
        code: error.code,
        message: error.message,
        ...echo,
        ...(error.details ? { details: error.details } : {}),
      });
      return;
    }
    logger.error('unhandled error', { error: error as Error, routeKey: request.event.requestContext.routeKey });
    request.response = frameResponse({ type: 'error', code: 'internal', message: 'Internal error', ...echo });
  },
});

/** A WebSocket route handler: answers one frame on the calling connection (a route response). */
export function webSocketRoute(answer: (event: WebSocketEvent) => Promise<ServerFrame>) {
  return middy<WebSocketEvent, WebSocketResult, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(errorFrames())
    .handler(async (event) => frameResponse(await answer(event)));
}
