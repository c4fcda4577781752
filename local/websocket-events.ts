import { localAccountId, localRegion } from './aws-local';
import { apiGatewayRequestTime, apiGatewayStyleId } from './http-helpers';

export const webSocketApiId = 'local';
export const webSocketStage = 'prod';

/** What API Gateway learns about a client at the handshake and repeats in that connection's events. */
export interface HandshakeInfo {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly domainName: string;
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly multiValueHeaders: Readonly<Record<string, string[]>>;
  readonly queryStringParameters: Readonly<Record<string, string>>;
  readonly multiValueQueryStringParameters: Readonly<Record<string, string[]>>;
}

/** The authorizer's `context` plus `principalId`: `requestContext.authorizer` of every later event. */
export type AuthorizerContext = Readonly<Record<string, string | number | boolean>>;

type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

export interface WebSocketRequestContext {
  readonly routeKey: string;
  readonly eventType: EventType;
  readonly messageId?: string;
  readonly extendedRequestId: string;
  readonly requestTime: string;
  readonly messageDirection: 'IN';
  readonly stage: string;
  readonly connectedAt: number;
  readonly requestTimeEpoch: number;
  readonly identity: { readonly sourceIp: string; readonly userAgent: string };
  readonly requestId: string;
  readonly domainName: string;
  readonly connectionId: string;
  readonly apiId: string;
  readonly authorizer?: AuthorizerContext;
  readonly disconnectStatusCode?: number;
  readonly disconnectReason?: string;
}

/** A `REQUEST` authorizer event for `$connect`, as API Gateway WebSocket APIs send it. */
export interface WebSocketAuthorizerEvent {
  readonly type: 'REQUEST';
  readonly methodArn: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly multiValueHeaders: Readonly<Record<string, string[]>>;
  readonly queryStringParameters: Readonly<Record<string, string>>;
  readonly multiValueQueryStringParameters: Readonly<Record<string, string[]>>;
  readonly stageVariables: Readonly<Record<string, string>>;
  readonly requestContext: WebSocketRequestContext;
}

export interface WebSocketRouteEvent {
  readonly requestContext: WebSocketRequestContext;
  readonly headers?: Readonly<Record<string, string>>;
  readonly multiValueHeaders?: Readonly<Record<string, string[]>>;
  readonly queryStringParameters?: Readonly<Record<string, string>>;
  readonly multiValueQueryStringParameters?: Readonly<Record<string, string[]>>;
  readonly body?: string;
  readonly isBase64Encoded: boolean;
}

function requestContext(
  handshake: HandshakeInfo,
  routeKey: string,
  eventType: EventType,
  authorizer: AuthorizerContext | undefined,
): WebSocketRequestContext {
  const now = Date.now();
  const requestId = apiGatewayStyleId();
  return {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: apiGatewayRequestTime(now),
    messageDirection: 'IN',
    stage: webSocketStage,
    connectedAt: handshake.connectedAt,
    requestTimeEpoch: now,
    identity: { sourceIp: handshake.sourceIp, userAgent: handshake.userAgent },
    requestId,
    domainName: handshake.domainName,
    connectionId: handshake.connectionId,
    apiId: webSocketApiId,
    ...(authorizer === undefined ? {} : { authorizer }),
  };
}

export function buildAuthorizerEvent(handshake: HandshakeInfo): WebSocketAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:${localRegion}:${localAccountId}:${webSocketApiId}/${webSocketStage}/$connect`,
    headers: handshake.headers,
    multiValueHeaders: handshake.multiValueHeaders,
    queryStringParameters: handshake.queryStringParameters,
    multiValueQueryStringParameters: handshake.multiValueQueryStringParameters,
    stageVariables: {},
    requestContext: requestContext(handshake, '$connect', 'CONNECT', undefined),
  };
}

export function buildConnectEvent(handshake: HandshakeInfo, authorizer: AuthorizerContext): WebSocketRouteEvent {
  return {
    headers: handshake.headers,
    multiValueHeaders: handshake.multiValueHeaders,
    queryStringParameters: handshake.queryStringParameters,
    multiValueQueryStringParameters: handshake.multiValueQueryStringParameters,
    requestContext: requestContext(handshake, '$connect', 'CONNECT', authorizer),
    isBase64Encoded: false,
  };
}

export function buildMessageEvent(
  handshake: HandshakeInfo,
  authorizer: AuthorizerContext,
  routeKey: string,
  body: string,
  isBase64Encoded: boolean,
): WebSocketRouteEvent {
  return {
    requestContext: { ...requestContext(handshake, routeKey, 'MESSAGE', authorizer), messageId: apiGatewayStyleId() },
    body,
    isBase64Encoded,
  };
}

export function buildDisconnectEvent(
  handshake: HandshakeInfo,
  authorizer: AuthorizerContext,
  statusCode: number,
  reason: string,
): WebSocketRouteEvent {
  return {
    // API Gateway repeats only a few handshake headers on $disconnect.
    headers: pick(handshake.headers, ['host', 'user-agent', 'x-forwarded-for']),
    multiValueHeaders: pick(handshake.multiValueHeaders, ['host', 'user-agent', 'x-forwarded-for']),
    requestContext: {
      ...requestContext(handshake, '$disconnect', 'DISCONNECT', authorizer),
      disconnectStatusCode: statusCode,
      disconnectReason: reason,
    },
    isBase64Encoded: false,
  };
}

function pick<T>(record: Readonly<Record<string, T>>, names: readonly string[]): Record<string, T> {
  return Object.fromEntries(Object.entries(record).filter(([name]) => names.includes(name)));
}
