/**
 * A push service on a laptop (RFC 8030): accepts pushes at `POST /push/<id>` only with a valid VAPID
 * JWT for the stack's key (RFC 8292) and an aes128gcm body (RFC 8291), and keeps what it accepts, still
 * encrypted, for tests to decrypt with the subscriber keys they hold. Tests may script its answers
 * (410, 429, 500...) per endpoint; anything it refuses is kept too, with the reason.
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { PayloadTooLargeError, readBody } from './http-helpers';
import type { LocalLogger } from './log';
import { closeServer, listenOnLoopback } from './ports';

/** A push the stand-in accepted: headers as the push service saw them, the encrypted body, the VAPID claims. */
export interface ReceivedPush {
  readonly endpoint: string;
  readonly ttl: number;
  readonly urgency?: string;
  readonly topic?: string;
  readonly body: Buffer;
  readonly vapid: { readonly subject: string; readonly audience: string; readonly expiresAt: number };
  readonly at: string;
}

/** A request the stand-in answered with anything but 201: scripted, or refused for a reason. */
export interface RefusedPush {
  readonly endpoint: string;
  readonly status: number;
  readonly reason: string;
}

export interface PushServiceStandIn {
  /** `http://127.0.0.1:<port>`: what the handlers accept besides the known push services. */
  readonly origin: string;
  /** A fresh endpoint (a capability URL, as real push services hand out). */
  newEndpoint(): string;
  received(endpoint?: string): readonly ReceivedPush[];
  refused(endpoint?: string): readonly RefusedPush[];
  /** The next requests to `endpoint` are answered with these statuses, in order, without keeping them. */
  answerNext(endpoint: string, ...statuses: number[]): void;
  /** The next request to `endpoint` is answered only once `run` has finished: a test acts while a push is in flight. */
  beforeAnswering(endpoint: string, run: () => Promise<void>): void;
  stop(): Promise<void>;
}

export interface PushServiceOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** The VAPID public key (base64url, uncompressed P-256) every push must be signed with. */
  readonly vapidPublicKey: string;
  readonly logger: LocalLogger;
}

/** Every push service takes at least 4096 bytes of body (RFC 8030 section 7.2 asks for that much). */
const maxBodyBytes = 4096;
/** RFC 8292: a JWT may be valid for at most 24 hours. */
const maxJwtLifetimeSeconds = 24 * 60 * 60;

export async function startPushService(options: PushServiceOptions): Promise<PushServiceStandIn> {
  const received: ReceivedPush[] = [];
  const refused: RefusedPush[] = [];
  const scripted = new Map<string, number[]>();
  const holds = new Map<string, (() => Promise<void>)[]>();
  const server = createServer();
  const origin = await listenOnLoopback(server, options.port);

  const refuse = (response: ServerResponse, endpoint: string, status: number, reason: string): void => {
    refused.push({ endpoint, status, reason });
    options.logger.info('push stand-in refused a push', { status, reason });
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end(reason);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', origin).pathname;
    const endpoint = `${origin}${path}`;
    if (request.method !== 'POST' || !/^\/push\/[A-Za-z0-9-]+$/.test(path)) {
      refuse(response, endpoint, 404, 'no such subscription');
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(request, maxBodyBytes);
    } catch (error) {
      if (error instanceof PayloadTooLargeError) return refuse(response, endpoint, 413, 'body over 4096 bytes');
      throw error;
    }
    const vapid = checkVapid(String(request.headers.authorization ?? ''), options.vapidPublicKey, origin);
    if (typeof vapid === 'string') return refuse(response, endpoint, vapid.startsWith('missing') ? 401 : 403, vapid);
    if (request.headers['content-encoding'] !== 'aes128gcm') {
      return refuse(response, endpoint, 415, 'content-encoding must be aes128gcm');
    }
    const ttl = Number(request.headers.ttl);
    if (!Number.isInteger(ttl) || ttl < 0) return refuse(response, endpoint, 400, 'TTL header missing or invalid');
    await holds.get(endpoint)?.shift()?.();
    const next = scripted.get(endpoint)?.shift();
    if (next !== undefined) return refuse(response, endpoint, next, 'scripted answer');
    const urgency = request.headers.urgency;
    const topic = request.headers.topic;
    received.push({
      endpoint,
      ttl,
      ...(typeof urgency === 'string' ? { urgency } : {}),
      ...(typeof topic === 'string' ? { topic } : {}),
      body,
      vapid,
      at: new Date().toISOString(),
    });
    response.writeHead(201, { location: `${origin}/message/${randomUUID()}` });
    response.end();
  };

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch((error: unknown) => {
      options.logger.error('push stand-in failed', { error });
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });

  return {
    origin,
    newEndpoint: () => `${origin}/push/${randomUUID()}`,
    received: (endpoint) => received.filter((push) => endpoint === undefined || push.endpoint === endpoint),
    refused: (endpoint) => refused.filter((push) => endpoint === undefined || push.endpoint === endpoint),
    answerNext(endpoint, ...statuses) {
      scripted.set(endpoint, [...(scripted.get(endpoint) ?? []), ...statuses]);
    },
    beforeAnswering(endpoint, run) {
      holds.set(endpoint, [...(holds.get(endpoint) ?? []), run]);
    },
    stop: () => closeServer(server),
  };
}

/**
 * `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292 section 3): an ES256 JWT by the key `k`,
 * which must be the stack's, for this push service's origin, expiring within 24 hours, with a contact.
 * Answers the claims, or why it is refused.
 */
function checkVapid(
  authorization: string,
  expectedKey: string,
  audience: string,
): { subject: string; audience: string; expiresAt: number } | string {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization.trim());
  if (!match) return 'missing or malformed vapid authorization';
  const [, token = '', key = ''] = match;
  if (key !== expectedKey) return 'k is not the VAPID key of this sender';
  const [headerPart = '', claimsPart = '', signaturePart = ''] = token.split('.');
  const header = parseJson(headerPart);
  if (header?.alg !== 'ES256') return 'JWT alg must be ES256';
  const point = Buffer.from(key, 'base64url');
  const publicKey = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
  const signed = Buffer.from(`${headerPart}.${claimsPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  if (!verify('sha256', signed, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) {
    return 'JWT signature does not verify';
  }
  const claims = parseJson(claimsPart);
  if (claims?.aud !== audience) return 'JWT aud is not this push service';
  const now = Math.floor(Date.now() / 1000);
  const expiresAt = Number(claims.exp);
  if (!Number.isFinite(expiresAt) || expiresAt <= now || expiresAt > now + maxJwtLifetimeSeconds) {
    return 'JWT exp missing, past or more than 24 hours away';
  }
  const subject = claims.sub;
  if (typeof subject !== 'string' || !/^(mailto:|https:)/.test(subject)) return 'JWT sub must be mailto: or https:';
  return { subject, audience, expiresAt };
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
