import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import { AppError, UnauthorizedError } from '#shared/errors';
import { selfAlias } from '#shared/protocol/users-http';
import { logger, observed, publishAddedMetrics } from './observability';
import { parseJson, parseWith } from './validation';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number };

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export const json = (statusCode: number, body: unknown): HttpResult => ({
  statusCode,
  headers: JSON_HEADERS,
  body: JSON.stringify(body),
});

/** The caller is the verified token's `sub`, put there by API Gateway's JWT authorizer. */
export function callerIdOf(event: HttpEvent): string {
  const sub = event.requestContext.authorizer?.jwt?.claims?.sub;
  if (typeof sub !== 'string' || sub === '') throw new UnauthorizedError();
  return sub;
}

/** A user id from a path: `me` is the caller. */
export function userIdFromPath(pathId: string, callerId: string): string {
  return pathId === selfAlias ? callerId : pathId;
}

export function parseBody<Schema extends z.ZodType>(schema: Schema, event: HttpEvent): z.infer<Schema> {
  const raw = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  return parseWith(schema, parseJson(raw, 'request body'), 'request body');
}

export function parsePath<Schema extends z.ZodType>(schema: Schema, event: HttpEvent): z.infer<Schema> {
  return parseWith(schema, event.pathParameters ?? {}, 'path');
}

/** Query values arrive as strings (repeated names comma-joined, as payload v2.0 does); the schema converts them. */
export function parseQuery<Schema extends z.ZodType>(schema: Schema, event: HttpEvent): z.infer<Schema> {
  return parseWith(schema, event.queryStringParameters ?? {}, 'query');
}

/** A refused request's answer: `{"error":{"code","message"}}` with its status; never a stack trace. */
function errorResponse(error: AppError): HttpResult {
  return json(error.httpStatus, {
    error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) },
  });
}

/** Anything else is a fault: logged (error only, never the event) and answered 500. */
const faultResponses = (): MiddlewareObj<HttpEvent, HttpResult> => ({
  onError: async (request) => {
    const { error } = request;
    if (error instanceof AppError) {
      request.response = errorResponse(error);
      return;
    }
    logger.error('unhandled error', { error: error as Error, routeKey: request.event.routeKey });
    request.response = json(500, { error: { code: 'internal', message: 'Internal error' } });
  },
});

export function httpRoute(answer: (event: HttpEvent) => Promise<HttpResult>) {
  return middy<HttpEvent, HttpResult, Error, Context>()
    .use(observed<HttpEvent, HttpResult>())
    .use(publishAddedMetrics<HttpEvent, HttpResult>())
    .use(faultResponses())
    .handler(async (event) => {
      try {
        return await answer(event);
      } catch (error) {
        // Refusals are answers, not faults: answered here, they never mark the trace as failed.
        if (error instanceof AppError) return errorResponse(error);
        throw error;
      }
    });
}
