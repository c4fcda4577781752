import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createTokenVerifier, type VerifiedIdentity } from '#shared/auth/jwt';
import { type FunctionName, type HttpRouteSpec, httpCors, httpRoutes } from '#shared/config/functions';
import { AppError } from '#shared/errors';
import { buildOpenApiDocument } from '#shared/protocol/openapi';
import { localAccountId } from './aws-local';
import type { TimingModel } from './aws-timing';
import {
  apiGatewayRequestTime,
  apiGatewayStyleId,
  PayloadTooLargeError,
  readBody,
  sendJson,
  singleValueHeaders,
  sourceIpOf,
} from './http-helpers';
import type { LambdaRuntime } from './lambda-runtime';
import type { LocalLogger } from './log';
import { jwksPath, type LocalTokenIssuer } from './token-issuer';
import { integrationTimedOut, withinIntegrationTimeout } from './websocket-gateway';

/** API Gateway's HTTP API payload limit. */
export const httpBodyLimitBytes = 10 * 1024 * 1024;
export const localApiId = 'local';
const stage = '$default';

const corsHeaders = {
  'access-control-allow-origin': httpCors.allowOrigins.join(','),
  'access-control-expose-headers': 'apigw-requestid',
} as const;
/** What API Gateway answers a preflight with: the catalog's methods and the shared CORS settings. */
const preflightHeaders = {
  ...corsHeaders,
  'access-control-allow-methods': [...new Set(httpRoutes.map((route) => route.method)), 'OPTIONS'].join(','),
  'access-control-allow-headers': httpCors.allowHeaders.join(','),
  'access-control-max-age': String(httpCors.maxAgeSeconds),
} as const;

export interface HttpGatewayOptions {
  readonly runtime: LambdaRuntime;
  readonly tokenIssuer: LocalTokenIssuer;
  readonly logger: LocalLogger;
  /** AWS timing: API Gateway's hops, request in -> invocation and answer -> response out. */
  readonly timing?: TimingModel;
  /** How long the HTTP API waits for an integration: 30 s on AWS (tests shorten it). */
  readonly integrationTimeoutMs?: number;
}

/** The HTTP API's maximum integration timeout. */
export const httpIntegrationTimeoutMs = 30_000;

interface CompiledRoute {
  readonly routeKey: string;
  readonly method: string;
  readonly pattern: RegExp;
  readonly parameterNames: readonly string[];
  readonly function: FunctionName;
}

interface RouteMatch {
  readonly route: CompiledRoute;
  readonly pathParameters: Record<string, string>;
}

/** The HTTP API as API Gateway runs it: routes from the catalog, a JWT authorizer, payload v2.0, CORS. */
export function createHttpGateway(options: HttpGatewayOptions): RequestListener {
  const { runtime, tokenIssuer, logger, timing } = options;
  const routes = httpRoutes.map(compileRoute);
  // The same verifier the handlers use, pointed at the local issuer: local and Lambda agree on validity.
  const verifier = createTokenVerifier(tokenIssuer.settings);

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://local');
    const method = request.method ?? 'GET';
    if (method === 'OPTIONS') return answerPreflight(response);

    const localRoute = localRoutes[`${method} ${url.pathname}`];
    if (localRoute !== undefined) return localRoute(request, response, tokenIssuer);

    const match = matchRoute(routes, method, url.pathname);
    if (match === undefined) return sendJson(response, 404, { message: 'Not Found' }, corsHeaders);

    const identity = await authorize(verifier, request.headers.authorization);
    if (identity === undefined) return sendJson(response, 401, { message: 'Unauthorized' }, corsHeaders);

    const body = await readBody(request, httpBodyLimitBytes);
    const event = buildHttpApiEvent(request, url, match, identity, body);
    if (timing !== undefined) await sleep(timing.draw('httpRequestIn'));
    let result: unknown;
    let failed = false;
    try {
      result = await withinIntegrationTimeout(
        runtime.invoke(match.route.function, event),
        options.integrationTimeoutMs ?? httpIntegrationTimeoutMs,
      );
    } catch {
      failed = true;
    }
    if (timing !== undefined) await sleep(timing.draw('httpResponseOut'));
    // The function runs on; the client is told the service did not answer in time.
    if (result === integrationTimedOut) {
      return sendJson(response, 503, { message: 'Service Unavailable' }, requestHeaders(event));
    }
    if (failed) return sendJson(response, 500, { message: 'Internal Server Error' }, requestHeaders(event));
    sendHandlerResult(response, result, requestHeaders(event));
  };

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (error instanceof PayloadTooLargeError) {
        sendJson(response, 413, { message: 'Request Entity Too Large' }, { ...corsHeaders, connection: 'close' });
        return;
      }
      logger.error('HTTP gateway failure', { url: request.url, error });
      if (!response.headersSent) sendJson(response, 500, { message: 'Internal Server Error' }, corsHeaders);
      else response.destroy();
    });
  };
}

type LocalRoute = (request: IncomingMessage, response: ServerResponse, issuer: LocalTokenIssuer) => Promise<void>;

/** Local-only routes: a Cognito stand-in, a health probe and the API's OpenAPI document. They do not exist on AWS. */
const localRoutes: Readonly<Record<string, LocalRoute>> = {
  'POST /local/token': async (request, response, issuer) => {
    const username = parseJson(await readBody(request, 4096))?.username;
    try {
      sendJson(response, 200, await issuer.issue(username), corsHeaders);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      sendJson(response, error.httpStatus, { error: { code: error.code, message: error.message } }, corsHeaders);
    }
  },
  [`GET ${jwksPath}`]: async (_request, response, issuer) => sendJson(response, 200, issuer.jwks, corsHeaders),
  'GET /health': async (_request, response) => sendJson(response, 200, { status: 'ok' }, corsHeaders),
  'GET /openapi.json': async (_request, response) => sendJson(response, 200, buildOpenApiDocument(), corsHeaders),
};

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function answerPreflight(response: ServerResponse): void {
  response.writeHead(204, preflightHeaders);
  response.end();
}

export function compileRoute(route: HttpRouteSpec): CompiledRoute {
  const parameterNames: string[] = [];
  const segments = route.path.split('/').map((segment) => {
    const parameter = /^\{(\w+)\}$/.exec(segment)?.[1];
    if (parameter === undefined) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    parameterNames.push(parameter);
    return '([^/]+)';
  });
  return {
    routeKey: `${route.method} ${route.path}`,
    method: route.method,
    pattern: new RegExp(`^${segments.join('/')}$`),
    parameterNames,
    function: route.function,
  };
}

export function matchRoute(routes: readonly CompiledRoute[], method: string, path: string): RouteMatch | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    const values = route.pattern.exec(path);
    if (values === null) continue;
    const pathParameters: Record<string, string> = {};
    route.parameterNames.forEach((name, index) => {
      pathParameters[name] = safeDecode(values[index + 1] ?? '');
    });
    return { route, pathParameters };
  }
  return undefined;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

async function authorize(
  verifier: ReturnType<typeof createTokenVerifier>,
  authorization: string | undefined,
): Promise<VerifiedIdentity | undefined> {
  const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
  if (token === undefined) return undefined;
  try {
    return await verifier.verify(token);
  } catch {
    return undefined;
  }
}

/** API Gateway hands JWT claims to the integration as strings; arrays become `[a b]`. */
function claimsAsApiGatewayPassesThem(claims: Readonly<Record<string, unknown>>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(claims)) {
    result[name] = Array.isArray(value) ? `[${value.join(' ')}]` : String(value);
  }
  return result;
}

function buildHttpApiEvent(
  request: IncomingMessage,
  url: URL,
  match: RouteMatch,
  identity: VerifiedIdentity,
  body: Buffer,
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const now = Date.now();
  const domainName = request.headers.host ?? 'localhost';
  const rawQueryString = url.search.slice(1);
  const cookies = request.headers.cookie
    ?.split(';')
    .map((cookie) => cookie.trim())
    .filter(Boolean);
  const hasPathParameters = Object.keys(match.pathParameters).length > 0;
  return {
    version: '2.0',
    routeKey: match.route.routeKey,
    rawPath: url.pathname,
    rawQueryString,
    ...(cookies === undefined ? {} : { cookies }),
    headers: singleValueHeaders(request, ['cookie']),
    ...(rawQueryString === '' ? {} : { queryStringParameters: commaJoinedQuery(url.searchParams) }),
    ...(hasPathParameters ? { pathParameters: match.pathParameters } : {}),
    requestContext: {
      accountId: localAccountId,
      apiId: localApiId,
      authorizer: { jwt: { claims: claimsAsApiGatewayPassesThem(identity.claims), scopes: null } },
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: sourceIpOf(request),
        userAgent: request.headers['user-agent'] ?? '',
      },
      requestId: apiGatewayStyleId(),
      routeKey: match.route.routeKey,
      stage,
      time: apiGatewayRequestTime(now),
      timeEpoch: now,
    },
    ...(body.length === 0 ? {} : { body: body.toString('utf8') }),
    isBase64Encoded: false,
  };
}

/** Payload v2.0 joins repeated query parameters with commas. */
function commaJoinedQuery(searchParams: URLSearchParams): Record<string, string> {
  // A Map, then own properties: names like `__proto__` or `toString` are plain keys, as in the JSON event API Gateway sends.
  const query = new Map<string, string>();
  for (const [name, value] of searchParams) {
    const earlier = query.get(name);
    query.set(name, earlier === undefined ? value : `${earlier},${value}`);
  }
  return Object.fromEntries(query);
}

function requestHeaders(event: APIGatewayProxyEventV2WithJWTAuthorizer): Record<string, string> {
  return { ...corsHeaders, 'apigw-requestid': event.requestContext.requestId };
}

function isStructuredResult(result: unknown): result is APIGatewayProxyStructuredResultV2 {
  return (
    typeof result === 'object' && result !== null && typeof (result as { statusCode?: unknown }).statusCode === 'number'
  );
}

/** Payload v2.0: a result without `statusCode` is taken as a 200 JSON body, as API Gateway does. */
function sendHandlerResult(response: ServerResponse, result: unknown, baseHeaders: Record<string, string>): void {
  if (!isStructuredResult(result)) {
    const text = typeof result === 'string' ? result : JSON.stringify(result);
    response.writeHead(200, { ...baseHeaders, 'content-type': 'application/json' });
    response.end(text);
    return;
  }
  const headers: Record<string, string | string[]> = { ...baseHeaders };
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
  if (result.cookies !== undefined && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
  const body = result.body ?? '';
  response.writeHead(result.statusCode ?? 200, headers);
  response.end(result.isBase64Encoded === true ? Buffer.from(body, 'base64') : body);
}
