import type { IncomingMessage, ServerResponse } from 'node:http';
import { media } from '#shared/config/media';
import { headerValue } from './request-io';
import { sendS3Error } from './s3-errors';

interface CorsRule {
  readonly allowedOrigins: readonly string[];
  readonly allowedMethods: readonly string[];
  readonly allowedHeaders: readonly string[];
  readonly exposedHeaders: readonly string[];
  readonly maxAgeSeconds: number;
}

// The rule the CDK bucket gets, so the browser sees locally what it sees on AWS.
const corsRule: CorsRule = media.uploadCors;

function wildcardMatch(pattern: string, value: string): boolean {
  const escaped = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`, 'i').test(value);
}

function ruleHeaders(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': corsRule.allowedOrigins.includes('*') ? '*' : origin,
    'access-control-allow-methods': corsRule.allowedMethods.join(', '),
    'access-control-expose-headers': corsRule.exposedHeaders.join(', '),
    'access-control-max-age': String(corsRule.maxAgeSeconds),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
}

/** S3 adds CORS headers to a response only when the request's origin and method match a rule. */
export function corsHeaders(request: IncomingMessage, method: string): Record<string, string> {
  const origin = headerValue(request, 'origin');
  if (origin === undefined) return {};
  const allowed =
    corsRule.allowedOrigins.some((pattern) => wildcardMatch(pattern, origin)) &&
    corsRule.allowedMethods.includes(method);
  return allowed ? ruleHeaders(origin) : {};
}

export function answerPreflight(request: IncomingMessage, response: ServerResponse): void {
  const origin = headerValue(request, 'origin');
  const requestedMethod = headerValue(request, 'access-control-request-method');
  const badRequest = (message: string): void =>
    sendS3Error(response, 'OPTIONS', { status: 400, code: 'BadRequest', message });
  if (origin === undefined) {
    badRequest('Insufficient information. Origin request header needed.');
    return;
  }
  if (requestedMethod === undefined) {
    badRequest('Invalid Access-Control-Request-Method: null');
    return;
  }
  const requestedHeaders = (headerValue(request, 'access-control-request-headers') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  const allowed =
    corsRule.allowedOrigins.some((pattern) => wildcardMatch(pattern, origin)) &&
    corsRule.allowedMethods.includes(requestedMethod) &&
    requestedHeaders.every((name) => corsRule.allowedHeaders.some((pattern) => wildcardMatch(pattern, name)));
  if (!allowed) {
    sendS3Error(response, 'OPTIONS', {
      status: 403,
      code: 'AccessForbidden',
      message:
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      details: { Method: requestedMethod, ResourceType: 'OBJECT' },
    });
    return;
  }
  response.writeHead(200, {
    ...ruleHeaders(origin),
    ...(requestedHeaders.length > 0 ? { 'access-control-allow-headers': requestedHeaders.join(', ') } : {}),
    'content-length': '0',
  });
  response.end();
}
