import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import {
  type FunctionName,
  type WebSocketRouteSpec,
  webSocketAuthorizer,
  webSocketRouteSelection,
  webSocketRoutes,
} from '#shared/config/functions';
import type { TimingModel } from './aws-timing';
import type { LatencyName } from './aws-timing-profile';
import { apiGatewayStyleId, multiValueHeaders, multiValueQuery, singleValueHeaders, sourceIpOf } from './http-helpers';
import type { LambdaRuntime } from './lambda-runtime';
import type { LocalLogger } from './log';
import type { ConnectionDescription, ManagedConnections } from './management-api';
import {
  type AuthorizerContext,
  buildAuthorizerEvent,
  buildConnectEvent,
  buildDisconnectEvent,
  buildMessageEvent,
  type HandshakeInfo,
} from './websocket-events';
import { FrameSizeMonitor } from './websocket-frame-monitor';

export interface WebSocketLimits {
  readonly maxFrameBytes: number;
  readonly maxMessageBytes: number;
  readonly idleTimeoutMs: number;
  readonly maxConnectionMs: number;
  /** API Gateway stops waiting for a route's integration after this long (the function runs on). */
  readonly integrationTimeoutMs: number;
}

/** API Gateway WebSocket quotas; tests shorten the timeouts. */
export const apiGatewayWebSocketLimits: WebSocketLimits = {
  maxFrameBytes: 32 * 1024,
  maxMessageBytes: 128 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnectionMs: 2 * 60 * 60 * 1000,
  integrationTimeoutMs: 29_000,
};

export interface WebSocketGatewayOptions {
  readonly runtime: LambdaRuntime;
  readonly logger: LocalLogger;
  readonly limits?: Partial<WebSocketLimits>;
  /** AWS timing: API Gateway's hops, frame in -> invocation and answer or post -> frame out. */
  readonly timing?: TimingModel;
}

export interface DropConnectionOptions {
  /** False emulates a missed `$disconnect` (API Gateway only promises it best effort). */
  readonly notify: boolean;
}

export interface WebSocketGateway extends ManagedConnections {
  /** For the HTTP server's `upgrade` event: authorizer, `$connect`, then the handshake. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  connectionIds(): string[];
  /** Cuts a connection like a network failure; false when the id is not live. */
  dropConnection(connectionId: string, options: DropConnectionOptions): boolean;
  /** Closes every connection (1001) and waits for their `$disconnect` handlers. */
  close(): Promise<void>;
}

interface LiveConnection {
  readonly handshake: HandshakeInfo;
  readonly authorizer: AuthorizerContext;
  readonly socket: WebSocket;
  lastActiveAt: number;
  /** Set once the client broke a size limit: frames still in flight are not routed. */
  refused: boolean;
  notifyDisconnect: boolean;
  /** Under AWS timing: the frames on their way to the client, in the order they were sent. */
  outbound: Promise<void>;
}

type AuthorizerVerdict =
  | { readonly allowed: true; readonly authorizer: AuthorizerContext }
  | { readonly allowed: false; readonly status: number };

const routesByKey = new Map<string, WebSocketRouteSpec>(webSocketRoutes.map((route) => [route.routeKey, route]));
const selectionField = routeSelectionField(webSocketRouteSelection);
const identitySources = webSocketAuthorizer.identitySource.map(parseIdentitySource);

export function createWebSocketGateway(options: WebSocketGatewayOptions): WebSocketGateway {
  const { runtime, logger, timing } = options;
  const limits = { ...apiGatewayWebSocketLimits, ...options.limits };
  const connections = new Map<string, LiveConnection>();
  const pendingDisconnects = new Set<Promise<unknown>>();
  /** Subprotocol each pending handshake's `$connect` chose (API Gateway only echoes one it returns). */
  const chosenProtocols = new WeakMap<IncomingMessage, string>();
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxMessageBytes,
    // API Gateway does not compress, and frame sizes are only checkable uncompressed.
    perMessageDeflate: false,
    handleProtocols: (_protocols, request) => chosenProtocols.get(request) ?? false,
  });

  /** API Gateway's hop from a frame (or handshake) in to the invocation, then the invocation. */
  const invoke = (functionName: FunctionName, event: unknown): Promise<unknown> =>
    timing === undefined
      ? runtime.invoke(functionName, event)
      : sleep(timing.draw('webSocketFrameIn')).then(() => runtime.invoke(functionName, event));

  const invokeRoute = (routeKey: string, event: unknown): Promise<unknown> => {
    const route = routesByKey.get(routeKey);
    if (route === undefined) return Promise.reject(new Error(`No WebSocket route ${routeKey}`));
    return invoke(route.function, event);
  };

  /** A frame to the client: at once, or under AWS timing after API Gateway's hop out, behind the frames before it. */
  const sendFrame = (connection: LiveConnection, data: string | Buffer, hop: LatencyName): void => {
    if (timing === undefined) {
      sendIfOpen(connection.socket, data);
      return;
    }
    const dueAt = performance.now() + timing.draw(hop);
    connection.outbound = connection.outbound
      .then(() => sleep(Math.max(0, dueAt - performance.now())))
      .then(() => sendIfOpen(connection.socket, data))
      .catch((error: unknown) =>
        logger.debug('WebSocket send failed', { connectionId: connection.handshake.connectionId, error }),
      );
  };

  const notifyDisconnect = (handshake: HandshakeInfo, authorizer: AuthorizerContext, code: number, reason: string) => {
    const event = buildDisconnectEvent(handshake, authorizer, code, reason);
    // Failures are logged by the runtime; nobody is left to tell.
    const invocation = invokeRoute('$disconnect', event).catch(() => undefined);
    pendingDisconnects.add(invocation);
    void invocation.finally(() => pendingDisconnects.delete(invocation));
  };

  const authorize = async (handshake: HandshakeInfo): Promise<AuthorizerVerdict> => {
    const startedAt = performance.now();
    try {
      const result = await invoke(webSocketAuthorizer.function, buildAuthorizerEvent(handshake));
      return interpretAuthorizerResult(result, Math.round(performance.now() - startedAt));
    } catch (error) {
      // The authorizer contract: throw "Unauthorized" for 401; anything else is API Gateway's 500.
      return { allowed: false, status: error instanceof Error && error.message === 'Unauthorized' ? 401 : 500 };
    }
  };

  const connect = async (request: IncomingMessage, handshake: HandshakeInfo, authorizer: AuthorizerContext) => {
    try {
      const result = await invokeRoute('$connect', buildConnectEvent(handshake, authorizer));
      const protocol = headerOf(result, 'sec-websocket-protocol');
      if (protocol !== undefined) chosenProtocols.set(request, protocol);
      return statusCodeOf(result);
    } catch {
      return 500;
    }
  };

  const upgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    if (request.headers.upgrade?.toLowerCase() !== 'websocket' || request.headers['sec-websocket-key'] === undefined) {
      return refuseHandshake(socket, 400);
    }
    const handshake = readHandshake(request);
    if (!hasIdentitySources(handshake)) return refuseHandshake(socket, 401);

    const verdict = await authorize(handshake);
    if (!verdict.allowed) return refuseHandshake(socket, verdict.status);

    const connectStatus = await connect(request, handshake, verdict.authorizer);
    if (connectStatus < 200 || connectStatus > 299) return refuseHandshake(socket, connectStatus);

    if (socket.destroyed) {
      // The client gave up during $connect; API Gateway still reports the disconnect.
      notifyDisconnect(handshake, verdict.authorizer, 1006, 'Client left during $connect');
      return;
    }
    server.handleUpgrade(request, socket, head, (webSocket) => {
      attach(handshake, verdict.authorizer, webSocket, socket);
    });
  };

  const attach = (handshake: HandshakeInfo, authorizer: AuthorizerContext, webSocket: WebSocket, raw: Duplex) => {
    const goAway = (): void => webSocket.close(1001, 'Going away');
    const idleTimer = setTimeout(goAway, limits.idleTimeoutMs).unref();
    const lifetimeTimer = setTimeout(goAway, limits.maxConnectionMs).unref();
    const connection: LiveConnection = {
      handshake,
      authorizer,
      socket: webSocket,
      lastActiveAt: handshake.connectedAt,
      refused: false,
      notifyDisconnect: true,
      outbound: Promise.resolve(),
    };
    const { connectionId } = handshake;
    connections.set(connectionId, connection);

    const frameMonitor = new FrameSizeMonitor(limits.maxFrameBytes, () => {
      connection.refused = true;
      webSocket.close(1009, 'Message too big');
    });
    // Prepended, so an oversized frame is caught before `ws` parses the same bytes.
    raw.prependListener('data', (chunk: Buffer) => frameMonitor.push(chunk));

    webSocket.on('message', (data, isBinary) => {
      if (connection.refused) return;
      connection.lastActiveAt = Date.now();
      idleTimer.refresh();
      // Not awaited: API Gateway invokes each frame's route independently, in parallel.
      void routeMessage(connection, toBuffer(data), isBinary);
    });
    webSocket.on('ping', () => idleTimer.refresh());
    webSocket.on('error', (error) => logger.debug('WebSocket error', { connectionId, error }));
    webSocket.once('close', (code, reason) => {
      clearTimeout(idleTimer);
      clearTimeout(lifetimeTimer);
      if (connections.get(connectionId) === connection) connections.delete(connectionId);
      if (connection.notifyDisconnect) notifyDisconnect(handshake, authorizer, code, reason.toString('utf8'));
    });
  };

  const routeMessage = async (connection: LiveConnection, data: Buffer, isBinary: boolean): Promise<void> => {
    const body = isBinary ? data.toString('base64') : data.toString('utf8');
    const routeKey = isBinary ? '$default' : selectRouteKey(body);
    const route = routesByKey.get(routeKey);
    const event = buildMessageEvent(connection.handshake, connection.authorizer, routeKey, body, isBinary);
    const { connectionId, requestId } = event.requestContext;
    const hop = 'webSocketRouteResponseOut';
    if (route === undefined) {
      sendFrame(connection, JSON.stringify({ message: 'Forbidden', connectionId, requestId }), hop);
      return;
    }
    try {
      const result = await withinIntegrationTimeout(invoke(route.function, event), limits.integrationTimeoutMs);
      if (result === integrationTimedOut) {
        sendFrame(connection, JSON.stringify({ message: 'Endpoint request timed out', connectionId, requestId }), hop);
        return;
      }
      const responseBody = bodyOf(result);
      if (route.returnResponse && responseBody !== undefined) sendFrame(connection, responseBody, hop);
    } catch {
      sendFrame(connection, JSON.stringify({ message: 'Internal server error', connectionId, requestId }), hop);
    }
  };

  const describe = (connectionId: string): ConnectionDescription | undefined => {
    const connection = connections.get(connectionId);
    if (connection === undefined) return undefined;
    const { connectedAt, sourceIp, userAgent } = connection.handshake;
    return { connectedAt, lastActiveAt: connection.lastActiveAt, sourceIp, userAgent };
  };

  return {
    handleUpgrade(request, socket, head) {
      // A client resetting mid-handshake must not crash the process; `ws` handles errors after the upgrade.
      socket.on('error', (error) => logger.debug('WebSocket handshake socket error', { error }));
      upgrade(request, socket, head).catch((error: unknown) => {
        logger.error('WebSocket handshake failure', { error });
        refuseHandshake(socket, 500);
      });
    },
    connectionIds: () => [...connections.keys()],
    post(connectionId, data) {
      const connection = connections.get(connectionId);
      if (connection === undefined || connection.socket.readyState !== connection.socket.OPEN) return false;
      sendFrame(connection, data, 'postToConnectionFrameOut');
      return true;
    },
    describe,
    disconnect(connectionId) {
      const connection = connections.get(connectionId);
      if (connection === undefined) return false;
      connections.delete(connectionId);
      connection.socket.close(1000, 'Connection deleted');
      return true;
    },
    dropConnection(connectionId, { notify }) {
      const connection = connections.get(connectionId);
      if (connection === undefined) return false;
      connections.delete(connectionId);
      connection.notifyDisconnect = notify;
      connection.socket.terminate();
      return true;
    },
    async close() {
      await Promise.all([...connections.values()].map((connection) => closeGracefully(connection.socket)));
      await Promise.allSettled([...pendingDisconnects]);
      server.close();
    },
  };
}

/** What an integration answers once API Gateway stopped waiting for it. */
export const integrationTimedOut = Symbol('integration timed out');

/**
 * API Gateway's integration timeout (29 s for WebSocket routes, 30 s for HTTP APIs): it answers the
 * client without the result, and the function runs on, its late result discarded.
 */
export function withinIntegrationTimeout<T>(
  work: Promise<T>,
  timeoutMs: number,
): Promise<T | typeof integrationTimedOut> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<typeof integrationTimedOut>((resolve) => {
    timer = setTimeout(() => resolve(integrationTimedOut), timeoutMs);
  });
  // A failure after the answer went out is the function's own (the runtime logs it).
  work.catch(() => undefined);
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
}

function readHandshake(request: IncomingMessage): HandshakeInfo {
  const url = new URL(request.url ?? '/', 'http://local');
  const multiValueQueryStringParameters = multiValueQuery(url.searchParams);
  return {
    connectionId: apiGatewayStyleId(),
    connectedAt: Date.now(),
    domainName: request.headers.host ?? 'localhost',
    sourceIp: sourceIpOf(request),
    userAgent: request.headers['user-agent'] ?? '',
    headers: singleValueHeaders(request),
    multiValueHeaders: multiValueHeaders(request),
    queryStringParameters: Object.fromEntries(url.searchParams),
    multiValueQueryStringParameters,
  };
}

interface IdentitySource {
  readonly from: 'querystring' | 'header';
  readonly name: string;
}

/** `route.request.querystring.token` -> where to look; anything else is a catalog mistake. */
function parseIdentitySource(expression: string): IdentitySource {
  const match = /^route\.request\.(querystring|header)\.(.+)$/.exec(expression);
  if (match?.[1] === undefined || match[2] === undefined) throw new Error(`Unsupported identity source ${expression}`);
  const from = match[1] === 'header' ? 'header' : 'querystring';
  return { from, name: from === 'header' ? match[2].toLowerCase() : match[2] };
}

/** API Gateway refuses with 401, without calling the authorizer, when an identity source is missing. */
function hasIdentitySources(handshake: HandshakeInfo): boolean {
  return identitySources.every(({ from, name }) => {
    const value = from === 'header' ? handshake.headers[name] : handshake.queryStringParameters[name];
    return value !== undefined && value !== '';
  });
}

function routeSelectionField(expression: string): string {
  const field = /^\$request\.body\.(\w+)$/.exec(expression)?.[1];
  if (field === undefined) throw new Error(`Unsupported route selection expression ${expression}`);
  return field;
}

/** A frame whose JSON `action` names a route goes there; everything else goes to `$default`. */
export function selectRouteKey(body: string): string {
  let action: unknown;
  try {
    const parsed: unknown = JSON.parse(body);
    action =
      typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[selectionField] : undefined;
  } catch {
    return '$default';
  }
  return typeof action === 'string' && !action.startsWith('$') && routesByKey.has(action) ? action : '$default';
}

function interpretAuthorizerResult(result: unknown, integrationLatency: number): AuthorizerVerdict {
  if (!isRecord(result) || typeof result.principalId !== 'string' || !isRecord(result.policyDocument)) {
    return { allowed: false, status: 500 };
  }
  const statements = result.policyDocument.Statement;
  if (!Array.isArray(statements)) return { allowed: false, status: 500 };
  const effects = statements.map((statement: unknown) => (isRecord(statement) ? statement.Effect : undefined));
  if (effects.includes('Deny') || !effects.includes('Allow')) return { allowed: false, status: 403 };

  const context = result.context ?? {};
  if (!isRecord(context)) return { allowed: false, status: 500 };
  const authorizer: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(context)) {
    // API Gateway rejects authorizer contexts with objects or arrays in them.
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return { allowed: false, status: 500 };
    }
    authorizer[key] = value;
  }
  return { allowed: true, authorizer: { ...authorizer, principalId: result.principalId, integrationLatency } };
}

const apiGatewayRefusalMessages: Readonly<Record<number, string>> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  500: 'Internal server error',
};

function refuseHandshake(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ message: apiGatewayRefusalMessages[status] ?? STATUS_CODES[status] ?? 'Error' });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function closeGracefully(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === socket.CLOSED) return resolve();
    socket.once('close', () => resolve());
    socket.close(1001, 'Going away');
    setTimeout(() => socket.terminate(), 1_000).unref();
  });
}

/** A text frame (a post's bytes go out as text too, as API Gateway sends them). */
function sendIfOpen(socket: WebSocket, data: string | Buffer): void {
  if (socket.readyState === socket.OPEN) socket.send(data, { binary: false });
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function statusCodeOf(result: unknown): number {
  // A Lambda proxy result without a statusCode counts as 200.
  return isRecord(result) && typeof result.statusCode === 'number' ? result.statusCode : 200;
}

function bodyOf(result: unknown): string | undefined {
  return isRecord(result) && typeof result.body === 'string' && result.body !== '' ? result.body : undefined;
}

function headerOf(result: unknown, name: string): string | undefined {
  if (!isRecord(result) || !isRecord(result.headers)) return undefined;
  const entry = Object.entries(result.headers).find(([key]) => key.toLowerCase() === name);
  return typeof entry?.[1] === 'string' ? entry[1] : undefined;
}
