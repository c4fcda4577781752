/**
 * Forged, tampered and stale JWTs against the local stack, on the WebSocket handshake and on HTTP
 * routes: every one is refused (401, API Gateway's own body) before a handler runs. A token
 * correctly signed by the local issuer's key with correct claims is accepted, so each refusal is
 * down to the one thing its case changes. Then a token that outlives its user: after
 * `DELETE /users/{id}` it opens no connection, gets no ticket and changes nothing, on any route.
 */
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { httpRoutes } from '#shared/config/functions';
import type { HttpFunctionName } from '#shared/protocol/http-contract';
import { localTokenAudience } from '../../local/token-issuer';
import { api, ChatClient, handshakeStatus, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

/**
 * The local issuer's key pair lives only inside the stack; keeping a copy of every RS256 pair jose
 * generates in this process lets the test sign with it (the JWKS kid picks the right one).
 */
const generatedKeyPairs = vi.hoisted(() => [] as { publicKey: unknown; privateKey: unknown }[]);
vi.mock('jose', async (importOriginal) => {
  const original = await importOriginal<typeof import('jose')>();
  return {
    ...original,
    generateKeyPair: async (...args: Parameters<typeof original.generateKeyPair>) => {
      const pair = await original.generateKeyPair(...args);
      generatedKeyPairs.push(pair);
      return pair;
    },
  };
});

interface User {
  readonly token: string;
  readonly userId: string;
}

type Claims = Record<string, unknown>;

let stack: TestStack;
let issuerKey: jose.CryptoKey;
let issuerPublicPem: string;
let kid: string;
let victim: User;

const nowSeconds = () => Math.floor(Date.now() / 1000);
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The claims the local issuer puts in an ID token for `user`, valid for an hour. */
function validClaims(user: User): Claims {
  const now = nowSeconds();
  return {
    'cognito:username': 'victim',
    token_use: 'id',
    auth_time: now,
    iss: stack.httpUrl,
    aud: localTokenAudience,
    sub: user.userId,
    jti: randomUUID(),
    iat: now,
    exp: now + 3600,
  };
}

async function sign(
  claims: Claims,
  key: jose.CryptoKey | Uint8Array = issuerKey,
  header: jose.JWTHeaderParameters = { alg: 'RS256', kid, typ: 'JWT' },
) {
  return new jose.SignJWT(claims).setProtectedHeader(header).sign(key);
}

/** HTTP status of a call with this bearer token; the route's handler never sees a refused one. */
async function httpStatus(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return api(stack.httpUrl, token, 'POST', '/connect-ticket');
}

/** The handshake's HTTP status for `?<query>` (101 when the connection opened). */
const queryStatus = (query: string) => handshakeStatus(`${stack.wsUrl}?${query}`);

const tokenQuery = (token: string, deviceId = 'attack-device') =>
  `token=${encodeURIComponent(token)}&deviceId=${encodeURIComponent(deviceId)}`;

beforeAll(async () => {
  stack = await startTestStack('e2e-jwt-attacks');
  victim = await issueToken(stack.httpUrl, 'victim');
  const jwks = (await (await fetch(`${stack.httpUrl}/.well-known/jwks.json`)).json()) as jose.JSONWebKeySet;
  const [published] = jwks.keys;
  if (published?.kid === undefined) throw new Error('The local issuer publishes no key id');
  kid = published.kid;
  for (const pair of generatedKeyPairs) {
    const publicJwk = await jose.exportJWK(pair.publicKey as jose.CryptoKey);
    if ((await jose.calculateJwkThumbprint(publicJwk)) === kid) {
      issuerKey = pair.privateKey as jose.CryptoKey;
      issuerPublicPem = await jose.exportSPKI(pair.publicKey as jose.CryptoKey);
    }
  }
  if (issuerKey === undefined) throw new Error('The local issuer key pair was not captured');
});

afterAll(async () => {
  await stack?.stop();
});

describe('the forging harness', () => {
  it('signs tokens the stack accepts when nothing is wrong with them', async () => {
    const token = await sign(validClaims(victim));

    expect((await httpStatus(token)).status).toBe(201);
    expect(await queryStatus(tokenQuery(token))).toBe(101);
  });
});

/** Each case changes one thing of a valid token. */
const forgeries: readonly (readonly [string, () => Promise<string>])[] = [
  [
    'no signature (header.payload.)',
    async () => {
      const [header, payload] = (await sign(validClaims(victim))).split('.');
      return `${header}.${payload}.`;
    },
  ],
  ['alg "none"', async () => `${base64url({ alg: 'none', kid, typ: 'JWT' })}.${base64url(validClaims(victim))}.`],
  [
    'alg "none" keeping the original signature',
    async () => {
      const [, payload, signature] = (await sign(validClaims(victim))).split('.');
      return `${base64url({ alg: 'none', kid, typ: 'JWT' })}.${payload}.${signature}`;
    },
  ],
  [
    'signed with a different key under the same kid',
    async () => {
      const { privateKey } = await jose.generateKeyPair('RS256');
      return sign(validClaims(victim), privateKey);
    },
  ],
  [
    'signed with a different key under an unknown kid',
    async () => {
      const { privateKey } = await jose.generateKeyPair('RS256');
      return sign(validClaims(victim), privateKey, { alg: 'RS256', kid: 'attacker-key', typ: 'JWT' });
    },
  ],
  [
    'HS256 keyed with the public key (algorithm confusion)',
    async () => sign(validClaims(victim), new TextEncoder().encode(issuerPublicPem), { alg: 'HS256', kid, typ: 'JWT' }),
  ],
  [
    'claims edited after signing (sub of another user)',
    async () => {
      const [header, , signature] = (await sign(validClaims(victim))).split('.');
      return `${header}.${base64url({ ...validClaims(victim), sub: randomUUID() })}.${signature}`;
    },
  ],
  ['expired', async () => sign({ ...validClaims(victim), iat: nowSeconds() - 7200, exp: nowSeconds() - 60 })],
  ['not yet valid (nbf in an hour)', async () => sign({ ...validClaims(victim), nbf: nowSeconds() + 3600 })],
  ['wrong issuer', async () => sign({ ...validClaims(victim), iss: 'https://cognito-idp.example.com/attacker' })],
  ['wrong audience', async () => sign({ ...validClaims(victim), aud: 'another-app-client' })],
  ['garbage', async () => 'not-a-jwt'],
  ['three garbage segments', async () => 'a.b.c'],
  ['base64url JSON that is not a JWT', async () => `${base64url({})}.${base64url({})}.${base64url({})}`],
];

describe.each(forgeries)('a token with %s', (_case, forge) => {
  it('is refused by the HTTP API with 401 before any handler runs', async () => {
    const token = await forge();
    const before = stack.invocationCounts().httpCreateConnectTicket?.invocations ?? 0;

    const answer = await httpStatus(token);

    expect(answer).toEqual({ status: 401, body: { message: 'Unauthorized' } });
    expect(stack.invocationCounts().httpCreateConnectTicket?.invocations ?? 0).toBe(before);
  });

  it('is refused at the WebSocket handshake with 401', async () => {
    expect(await queryStatus(tokenQuery(await forge()))).toBe(401);
  });
});

describe('a token shaped like a Cognito access token (no aud, client_id instead)', () => {
  /**
   * WebSocket only: on AWS the HTTP API's JWT authorizer takes a client_id that matches its
   * audience, so it would accept a real access token of the app client (the same user, nothing
   * more); the local gateway's verifier is stricter there, and a test of it would prove nothing.
   */
  it('is refused at the WebSocket handshake with 401 (the authorizer requires aud)', async () => {
    const { aud: _dropped, ...claims } = validClaims(victim);
    const accessShaped = await sign({ ...claims, token_use: 'access', client_id: localTokenAudience });

    expect(await queryStatus(tokenQuery(accessShaped))).toBe(401);
  });
});

describe('a correctly signed token without sub (only a faulty issuer mints one)', () => {
  it('is refused with 401 on HTTP (by the gateway locally; on AWS by the handler, as callerIdOf finds no sub) and on the handshake', async () => {
    const { sub: _dropped, ...claims } = validClaims(victim);
    const token = await sign(claims);

    expect((await httpStatus(token)).status).toBe(401);
    expect(await queryStatus(tokenQuery(token))).toBe(401);
  });
});

describe('a handshake without a usable credential', () => {
  it.each([
    ['no token and no ticket', 'deviceId=attack-device'],
    ['an empty token', 'token=&deviceId=attack-device'],
    ['a token and a ticket at once', `ticket=${'A'.repeat(43)}&deviceId=attack-device`],
  ])('is refused with 401: %s', async (_case, query) => {
    const valid = await sign(validClaims(victim));
    const withBoth = query.startsWith('ticket=') ? `${query}&token=${encodeURIComponent(valid)}` : query;

    expect(await queryStatus(withBoth)).toBe(401);
  });

  it('is refused with 401 without a device id, and with a malformed one, even with a valid token', async () => {
    const valid = await sign(validClaims(victim));

    expect(await queryStatus(`token=${encodeURIComponent(valid)}`)).toBe(401);
    expect(await queryStatus(tokenQuery(valid, '../../etc'))).toBe(401);
  });
});

describe('a token for a deleted user', () => {
  let dora: User;
  let ava: User;
  let groupId: string;
  let messageId: string;
  let attachmentId: string;
  let ticketBeforeDeletion: string;
  let doraPhone: ChatClient;
  let groupSeqAfterDeletion: number;

  /** Every HTTP route as the deleted user would try it: her own ids, her former conversation. */
  const attempts: Record<
    HttpFunctionName,
    {
      readonly path: Readonly<Record<string, () => string>>;
      readonly query?: string;
      readonly body?: () => unknown;
    }
  > = {
    httpCreateConversation: { path: {}, body: () => ({ type: 'direct', memberIds: [ava.userId] }) },
    httpGetConversation: { path: { id: () => groupId } },
    httpUpdateConversation: { path: { id: () => groupId }, body: () => ({ name: 'Mine now' }) },
    httpAddParticipants: { path: { id: () => groupId }, body: () => ({ userIds: [dora.userId] }) },
    httpRemoveParticipant: { path: { id: () => groupId, userId: () => ava.userId } },
    httpSendMessage: { path: { id: () => groupId }, body: () => ({ clientMessageId: 'ghost', text: 'still here' }) },
    httpListMessages: { path: { id: () => groupId } },
    httpGetMessage: { path: { id: () => messageId } },
    httpEditMessage: { path: { id: () => messageId }, body: () => ({ text: 'rewritten' }) },
    httpDeleteMessage: { path: { id: () => messageId } },
    httpReactToMessage: { path: { id: () => messageId }, body: () => ({ emoji: '👍' }) },
    httpMarkRead: { path: { id: () => messageId } },
    httpListReadReceipts: { path: { id: () => messageId } },
    httpCreateUser: { path: {}, body: () => ({ name: 'Dora again', username: 'dora_again' }) },
    httpSearchUsers: { path: {}, query: 'username=ava' },
    httpGetUser: { path: { id: () => ava.userId } },
    httpUpdateUser: { path: { id: () => dora.userId }, body: () => ({ name: 'Dora' }) },
    httpDeleteUser: { path: { id: () => dora.userId } },
    httpListUserConversations: { path: { id: () => dora.userId } },
    httpGetPresence: { path: { id: () => ava.userId } },
    httpCreateAttachment: {
      path: { id: () => groupId },
      body: () => ({ fileName: 'ghost.png', contentType: 'image/png', size: 10 }),
    },
    httpGetAttachment: { path: { id: () => attachmentId } },
    httpCreateConnectTicket: { path: {} },
    httpRegisterPushSubscription: {
      path: { deviceId: () => 'phone' },
      body: () => ({
        endpoint: 'https://fcm.googleapis.com/fcm/send/ghost',
        keys: { p256dh: `B${'A'.repeat(86)}`, auth: 'A'.repeat(22) },
      }),
    },
    httpDeletePushSubscription: { path: { deviceId: () => 'phone' } },
    httpGetVapidPublicKey: { path: {} },
  };

  /**
   * What a deleted user's token may still get, and why; every other route must refuse it. Nothing
   * here writes or shows anything of a conversation.
   */
  const stillAnswered: Partial<Record<HttpFunctionName, string>> = {
    httpGetUser: 'public profiles are a directory any signed-in token may read until it expires',
    httpSearchUsers: 'the same public directory, searched by username',
    httpListUserConversations: 'answers her own (now empty) list',
    httpDeleteUser: 'a retry of the deletion finishes a partial one; it changes nothing more',
    httpGetVapidPublicKey: "the server's public key, the same for every caller",
  };

  function call(route: (typeof httpRoutes)[number]) {
    const attempt = attempts[route.function];
    const path = route.path.replace(/\{(\w+)\}/g, (_template, name: string) => {
      const value = attempt.path[name];
      if (value === undefined) throw new Error(`${route.path}: no value for {${name}}`);
      return encodeURIComponent(value());
    });
    const query = attempt.query === undefined ? '' : `?${attempt.query}`;
    return api(stack.httpUrl, dora.token, route.method, `${path}${query}`, attempt.body?.());
  }

  beforeAll(async () => {
    [dora, ava] = await Promise.all([issueToken(stack.httpUrl, 'dora'), issueToken(stack.httpUrl, 'ava')]);
    for (const [user, name] of [
      [dora, 'dora'],
      [ava, 'ava'],
    ] as const) {
      expect((await api(stack.httpUrl, user.token, 'POST', '/users', { name, username: name })).status).toBe(201);
    }
    const group = await api(stack.httpUrl, ava.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Before',
      memberIds: [dora.userId],
    });
    groupId = String(group.body.id);
    const sent = await api(stack.httpUrl, dora.token, 'POST', `/conversations/${groupId}/messages`, {
      clientMessageId: 'before',
      text: 'hello before I go',
    });
    messageId = String((sent.body.message as Record<string, unknown>).id);
    const upload = await api(stack.httpUrl, dora.token, 'POST', `/conversations/${groupId}/attachments`, {
      fileName: 'mine.png',
      contentType: 'image/png',
      size: 10,
    });
    attachmentId = String(upload.body.attachmentId);
    ticketBeforeDeletion = String((await api(stack.httpUrl, dora.token, 'POST', '/connect-ticket')).body.ticket);
    doraPhone = await ChatClient.connect(stack.wsUrl, dora.token, 'phone');
    const closed = new Promise<number>((resolve) => doraPhone.socket.once('close', (code) => resolve(code)));

    expect((await api(stack.httpUrl, dora.token, 'DELETE', `/users/${dora.userId}`)).status).toBe(204);
    await closed;
    groupSeqAfterDeletion = Number(
      (await api(stack.httpUrl, ava.token, 'GET', `/conversations/${groupId}`)).body.lastSeq,
    );
  });

  it('still holds a token the JWT checks accept: only the account check can refuse it', async () => {
    const [, payload] = dora.token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Claims;

    expect(Number(claims.exp)).toBeGreaterThan(nowSeconds() + 60);
  });

  it('opens no WebSocket: the handshake is refused with 401, for a known device and a new one', async () => {
    expect(await queryStatus(tokenQuery(dora.token, 'phone'))).toBe(401);
    expect(await queryStatus(tokenQuery(dora.token, 'new-phone'))).toBe(401);
  });

  it('cannot use a connect ticket issued before the deletion, nor get a new one', async () => {
    const newTicket = await api(stack.httpUrl, dora.token, 'POST', '/connect-ticket');

    expect(await queryStatus(`ticket=${ticketBeforeDeletion}&deviceId=phone`)).toBe(401);
    expect(newTicket).toEqual({ status: 401, body: { error: { code: 'unauthorized', message: expect.any(String) } } });
  });

  it('cannot start a conversation (401), and nobody can add the deleted account back (400)', async () => {
    const started = await api(stack.httpUrl, dora.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Ghosts',
      memberIds: [ava.userId],
    });
    const addedBack = await api(stack.httpUrl, ava.token, 'POST', `/conversations/${groupId}/participants`, {
      userIds: [dora.userId],
    });
    const withDora = await api(stack.httpUrl, ava.token, 'POST', '/conversations', {
      type: 'direct',
      memberIds: [dora.userId],
    });

    expect(started.status).toBe(401);
    expect(started.body).toMatchObject({ error: { code: 'unauthorized' } });
    expect(addedBack.status).toBe(400);
    expect(addedBack.body).toMatchObject({ error: { code: 'bad_request', details: { userIds: [dora.userId] } } });
    expect(withDora.status).toBe(400);
  });

  it.each(httpRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    'gets no 2xx on %s unless the route is one that may still answer, and no 5xx',
    async (_routeKey, route) => {
      const answer = await call(route);

      expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(500);
      if (stillAnswered[route.function] === undefined) {
        expect(answer.status, JSON.stringify(answer.body)).toBeGreaterThanOrEqual(400);
      }
    },
  );

  it('changed nothing: the group has no new entries and she is in no conversation', async () => {
    const group = await api(stack.httpUrl, ava.token, 'GET', `/conversations/${groupId}`);
    const own = await api(stack.httpUrl, dora.token, 'GET', `/users/${dora.userId}/conversations`);

    expect(Number(group.body.lastSeq)).toBe(groupSeqAfterDeletion);
    expect((group.body.members as { userId: string }[]).map((m) => m.userId)).toEqual([ava.userId]);
    expect(own).toEqual({ status: 200, body: { conversations: [] } });
  });
});
