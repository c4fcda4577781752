/**
 * The authorization matrix end to end on the local stack: every conversation- and message-scoped
 * HTTP route of the catalog and every WebSocket action, called by a non-member, a removed member and
 * a caller without a valid token. Refusals must look exactly like an unknown id, store nothing and
 * deliver nothing (two marker messages from a member prove it). Every other route of the catalog
 * (users, attachments by id, connect tickets) refuses a missing or tampered token too.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FunctionName, httpRoutes, webSocketRoutes } from '#shared/config/functions';
import {
  api,
  ChatClient,
  type Frame,
  HandshakeRefused,
  handshakeStatus,
  issueToken,
  type MessageFrame,
} from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

interface User {
  token: string;
  userId: string;
}

type WireMessage = MessageFrame['message'] & { type?: string; event?: { kind: string; userId?: string } };
type HttpRoute = (typeof httpRoutes)[number];

/** What a route's path parameters are filled with. */
interface Target {
  readonly conversationId: string;
  readonly messageId: string;
  /** `{userId}`: a member other than the caller, the most tempting one to act on. */
  readonly memberId: string;
}

/** How to call a route once its path is filled: a minimal valid body for routes that take one. */
interface RequestRecipe {
  readonly body?: (caller: User) => unknown;
}

const UNKNOWN_CONVERSATION_ID = '01JZZZNOSUCHCONVERSATION00';

/** Every route whose path starts at a conversation or a message; a new one lands here by itself. */
const scopedRoutes = httpRoutes.filter((route) => /^\/(conversations|messages)\/\{id\}/.test(route.path));
const scopedRouteCases = scopedRoutes.map((route) => [`${route.method} ${route.path}`, route] as const);
/** The rest of the catalog (users, attachments by id, connect tickets): every one needs a valid token too. */
const otherRouteCases = httpRoutes
  .filter((route) => !scopedRoutes.includes(route))
  .map((route) => [`${route.method} ${route.path}`, route] as const);

/** Keyed by catalog function, so a new scoped route fails the matrix until it has a recipe here. */
const requestRecipes: Partial<Record<FunctionName, RequestRecipe>> = {
  httpGetConversation: {},
  httpUpdateConversation: { body: () => ({ name: 'Taken over' }) },
  // The intruder tries to add themselves back in.
  httpAddParticipants: { body: (caller) => ({ userIds: [caller.userId] }) },
  httpRemoveParticipant: {},
  httpSendMessage: { body: () => ({ clientMessageId: 'intrusion-http', text: 'let me in' }) },
  httpListMessages: {},
  httpGetMessage: {},
  httpEditMessage: { body: () => ({ text: 'taken over' }) },
  httpDeleteMessage: {},
  httpReactToMessage: { body: () => ({ emoji: '👍' }) },
  httpMarkRead: { body: () => ({}) },
  httpListReadReceipts: {},
  httpCreateAttachment: { body: () => ({ fileName: 'intrusion.png', contentType: 'image/png', size: 10 }) },
};

/**
 * docs/protocol.md: sendMessage, sendMessages, read and typing need membership; sync and ack only ever touch
 * the calling device's inbox; subscribePresence answers only users who share a conversation with the caller
 * (test/e2e/presence-typing.e2e.test.ts holds it to that).
 */
type ActionScope =
  | { readonly scope: 'conversation'; readonly answer: string; readonly frame: (conversationId: string) => Frame }
  | { readonly scope: 'device inbox' }
  | { readonly scope: 'users sharing a conversation' };

const webSocketActionScopes: Record<string, ActionScope> = {
  sendMessage: {
    scope: 'conversation',
    answer: 'messageAccepted',
    frame: (conversationId) => ({
      action: 'sendMessage',
      conversationId,
      clientMessageId: 'intrusion-ws',
      text: 'let me in',
    }),
  },
  sendMessages: {
    scope: 'conversation',
    answer: 'messagesAccepted',
    frame: (conversationId) => ({
      action: 'sendMessages',
      conversationId,
      messages: [
        { clientMessageId: 'intrusion-burst-1', text: 'let me in' },
        { clientMessageId: 'intrusion-burst-2', text: 'and again' },
      ],
    }),
  },
  editMessage: {
    scope: 'conversation',
    answer: 'messageAccepted',
    frame: (conversationId) => ({
      action: 'editMessage',
      conversationId,
      seq: 2,
      text: 'taken over',
      clientMessageId: 'intrusion-edit',
    }),
  },
  deleteMessage: {
    scope: 'conversation',
    answer: 'messageAccepted',
    frame: (conversationId) => ({ action: 'deleteMessage', conversationId, seq: 2, clientMessageId: 'intrusion-del' }),
  },
  react: {
    scope: 'conversation',
    answer: 'messageAccepted',
    frame: (conversationId) => ({
      action: 'react',
      conversationId,
      seq: 2,
      emoji: '👍',
      clientMessageId: 'intrusion-react',
    }),
  },
  read: {
    scope: 'conversation',
    // A read answers nothing unless refused.
    answer: 'error',
    frame: (conversationId) => ({ action: 'read', conversationId, upToSeq: 1 }),
  },
  typing: {
    scope: 'conversation',
    // A forwarded typing frame answers nothing; only a refusal is answered.
    answer: 'error',
    frame: (conversationId) => ({ action: 'typing', conversationId }),
  },
  sync: { scope: 'device inbox' },
  ack: { scope: 'device inbox' },
  subscribePresence: { scope: 'users sharing a conversation' },
};

const webSocketActions = webSocketRoutes.map((route) => route.routeKey).filter((key) => !key.startsWith('$'));
const conversationActions = webSocketActions.filter((action) => {
  const scope = webSocketActionScopes[action]?.scope;
  return scope !== 'device inbox' && scope !== 'users sharing a conversation';
});

let stack: TestStack;
let admin: User;
let member: User;
let removed: User;
let outsider: User;
let conversationId: string;
let target: Target;
let unknownTarget: Target;
let removalSeq: number;
let adminPhone: ChatClient;
let adminLaptop: ChatClient;
let memberLaptop: ChatClient;
let removedLaptop: ChatClient;
let outsiderLaptop: ChatClient;
const conversationIds: string[] = [];
const clients: ChatClient[] = [];
let markerCount = 0;

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

/** Connects once and leaves, so the device is known (and gets an inbox) but is offline. */
async function registerOfflineDevice(user: User, deviceId: string): Promise<void> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  await client.close();
}

function recipeFor(route: HttpRoute): RequestRecipe {
  const recipe = requestRecipes[route.function];
  if (recipe === undefined) throw new Error(`No request recipe for ${route.method} ${route.path} (${route.function})`);
  return recipe;
}

function pathFor(route: HttpRoute, on: Target): string {
  const resource = route.path.startsWith('/messages/') ? on.messageId : on.conversationId;
  return route.path.replace(/\{(\w+)\}/g, (_placeholder, name: string) => {
    if (name === 'id') return resource;
    if (name === 'userId') return on.memberId;
    throw new Error(`${route.method} ${route.path}: no value for path parameter {${name}}`);
  });
}

/** Calls a route as `caller` with `token` (a caller's own, a forged one, or none) on `on`. */
function callRoute(route: HttpRoute, caller: User, token: string | undefined, on: Target) {
  const body = recipeFor(route).body?.(caller);
  return api(stack.httpUrl, token, route.method, pathFor(route, on), body);
}

/** A token whose claims were edited to name someone else: the signature no longer matches. */
function forgedToken(token: string, sub: string): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  return [header, Buffer.from(JSON.stringify({ ...claims, sub })).toString('base64url'), signature].join('.');
}

async function lastSeqOf(conversation: string): Promise<number> {
  const answer = await api(stack.httpUrl, admin.token, 'GET', `/conversations/${conversation}`);
  expect(answer.status).toBe(200);
  return Number(answer.body.lastSeq);
}

function messagesOf(client: ChatClient, from = 0): WireMessage[] {
  return client.frames
    .slice(from)
    .filter((frame): frame is Frame & MessageFrame => frame.type === 'message')
    .map((frame) => frame.message as WireMessage)
    .filter((message) => message.conversationId === conversationId);
}

/** Where the conversation and every live device stood before the act. */
interface Watch {
  readonly lastSeq: number;
  readonly frameCounts: ReadonlyMap<ChatClient, number>;
}

async function watch(): Promise<Watch> {
  const frameCounts = new Map(clients.map((client) => [client, client.frames.length] as const));
  return { lastSeq: await lastSeqOf(conversationId), frameCounts };
}

/**
 * Two markers from the admin's phone. Fan-out handles one conversation's messages one after
 * another, so once the second has reached every member device the first one's fan-out (every post
 * it made) has finished; a ping on each observer then flushes its socket.
 */
async function sendMarkers(): Promise<WireMessage[]> {
  const markers: WireMessage[] = [];
  for (let i = 0; i < 2; i++) {
    const label = `marker-${++markerCount}`;
    const accepted = await adminPhone.sendMessage(conversationId, label, label);
    expect(accepted.type).toBe('messageAccepted');
    const marker = accepted.message as WireMessage;
    await Promise.all(
      [adminLaptop, memberLaptop].map((client) => client.waitForMessage((m) => m.id === marker.id, label)),
    );
    markers.push(marker);
  }
  await Promise.all([removedLaptop, outsiderLaptop].map((client) => client.request({ action: 'ping' }, 'pong')));
  return markers;
}

/** Nothing was stored (the markers took the next two seqs) and nothing but the markers was delivered. */
async function expectNothingStoredOrDelivered(since: Watch): Promise<void> {
  const markers = await sendMarkers();

  expect(markers.map((marker) => marker.seq)).toEqual([since.lastSeq + 1, since.lastSeq + 2]);
  const markerIds = markers.map((marker) => marker.id);
  for (const client of [adminLaptop, memberLaptop]) {
    expect(messagesOf(client, since.frameCounts.get(client)).map((m) => m.id)).toEqual(markerIds);
  }
  for (const client of [adminPhone, removedLaptop, outsiderLaptop]) {
    expect(messagesOf(client, since.frameCounts.get(client))).toEqual([]);
  }
}

/** Polls until the stream poller has completed a record for every message stored so far. */
async function fanOutDrained(): Promise<void> {
  const stored = (await Promise.all(conversationIds.map(lastSeqOf))).reduce((sum, seq) => sum + seq, 0);
  await expect.poll(() => stack.streamStats.records, { timeout: 15_000 }).toBeGreaterThanOrEqual(stored);
}

beforeAll(async () => {
  stack = await startTestStack('e2e-authz');
  [admin, member, removed, outsider] = (await Promise.all(
    ['admin', 'member', 'removed', 'outsider'].map((name) => issueToken(stack.httpUrl, name)),
  )) as [User, User, User, User];
  // Seen before the group exists, offline since: everything they are owed waits in their inboxes.
  await Promise.all([registerOfflineDevice(member, 'tablet'), registerOfflineDevice(removed, 'tablet')]);
  [adminPhone, adminLaptop, memberLaptop, removedLaptop, outsiderLaptop] = await Promise.all([
    connect(admin, 'phone'),
    connect(admin, 'laptop'),
    connect(member, 'laptop'),
    connect(removed, 'laptop'),
    connect(outsider, 'laptop'),
  ]);

  const created = await api(stack.httpUrl, admin.token, 'POST', '/conversations', {
    type: 'group',
    name: 'Matrix',
    memberIds: [member.userId, removed.userId],
  });
  expect(created.status).toBe(201);
  conversationId = String(created.body.id);
  conversationIds.push(conversationId);
  // A message the removed member could read while they belonged.
  const hello = await memberLaptop.sendMessage(conversationId, 'hello', 'hello group');
  expect(hello.type).toBe('messageAccepted');
  const messageId = (hello.message as WireMessage).id;
  await removedLaptop.waitForMessage((m) => m.id === messageId);

  const removal = await api(
    stack.httpUrl,
    admin.token,
    'DELETE',
    `/conversations/${conversationId}/participants/${removed.userId}`,
  );
  expect(removal.status).toBe(204);
  const removalEvent = await removedLaptop.waitForMessage(
    (m: WireMessage) => m.event?.kind === 'memberRemoved' && m.event.userId === removed.userId,
    'removal event',
  );
  removalSeq = (removalEvent.message as WireMessage).seq;
  // The creation event goes by the stream while the hello went directly, so it may still be on its
  // way: every test starts once fan-out is done and each socket has taken what it was sent.
  await stack.streamsSettled();
  await Promise.all(clients.map((client) => client.request({ action: 'ping' }, 'pong')));

  target = { conversationId, messageId, memberId: member.userId };
  unknownTarget = {
    conversationId: UNKNOWN_CONVERSATION_ID,
    messageId: `${UNKNOWN_CONVERSATION_ID}-${(hello.message as WireMessage).seq}`,
    memberId: member.userId,
  };
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack?.stop();
});

describe('the catalog', () => {
  it('has a request recipe, with a body where the method takes one, for every conversation- and message-scoped route', () => {
    const missing = scopedRoutes
      .filter((route) => {
        const recipe = requestRecipes[route.function];
        return recipe === undefined || (['POST', 'PUT', 'PATCH'].includes(route.method) && !recipe.body);
      })
      .map((route) => `${route.method} ${route.path}`);

    expect(scopedRoutes.length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it('declares what every WebSocket action is scoped to', () => {
    const unclassified = webSocketActions.filter((action) => webSocketActionScopes[action] === undefined);

    expect(unclassified).toEqual([]);
    expect(conversationActions).toContain('sendMessage');
  });
});

const refusedCallers = [
  { who: 'a non-member', caller: () => outsider, device: () => outsiderLaptop },
  { who: 'a removed member', caller: () => removed, device: () => removedLaptop },
] as const;

describe.each(refusedCallers)('$who', ({ caller, device }) => {
  it.each(scopedRouteCases)(
    'gets on %s exactly the answer for an unknown id, and nothing is stored or delivered',
    async (_route, route) => {
      const since = await watch();

      const onTarget = await callRoute(route, caller(), caller().token, target);
      const onUnknown = await callRoute(route, caller(), caller().token, unknownTarget);

      expect(onTarget.status).toBe(404);
      expect(onTarget.body).toMatchObject({ error: { code: 'not_found' } });
      expect(onTarget).toEqual(onUnknown);
      await expectNothingStoredOrDelivered(since);
    },
  );

  it.each(conversationActions)(
    'gets on the %s action exactly the answer for an unknown conversation, and nothing is stored or delivered',
    async (action) => {
      const spec = webSocketActionScopes[action];
      if (spec?.scope !== 'conversation') throw new Error(`No frame recipe for the ${action} action`);
      const since = await watch();

      const onTarget = await device().request(spec.frame(conversationId), spec.answer);
      const onUnknown = await device().request(spec.frame(UNKNOWN_CONVERSATION_ID), spec.answer);

      // A refusal echoes the conversation the frame named, and differs in nothing else.
      expect(onTarget).toMatchObject({ type: 'error', code: 'not_found', action, conversationId });
      expect({ ...onTarget, conversationId: 'echoed' }).toEqual({ ...onUnknown, conversationId: 'echoed' });
      await expectNothingStoredOrDelivered(since);
    },
  );
});

describe('a caller without a valid token', () => {
  it.each(scopedRouteCases)(
    'gets 401 on %s, with or without a forged token, as for an unknown id',
    async (_route, route) => {
      const since = await watch();

      const withoutToken = await callRoute(route, outsider, undefined, target);
      const forged = await callRoute(route, outsider, forgedToken(outsider.token, admin.userId), target);
      const onUnknown = await callRoute(route, outsider, undefined, unknownTarget);

      expect(withoutToken.status).toBe(401);
      expect(forged).toEqual(withoutToken);
      expect(onUnknown).toEqual(withoutToken);
      await expectNothingStoredOrDelivered(since);
    },
  );

  it.each(otherRouteCases)('gets 401 on %s, with or without a forged token', async (_route, route) => {
    const path = route.path.replace(/\{(\w+)\}/g, () => encodeURIComponent(admin.userId));
    const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;

    const withoutToken = await api(stack.httpUrl, undefined, route.method, path, body);
    const forged = await api(stack.httpUrl, forgedToken(outsider.token, admin.userId), route.method, path, body);

    expect(withoutToken).toEqual({ status: 401, body: { message: 'Unauthorized' } });
    expect(forged).toEqual(withoutToken);
  });

  it('cannot open a WebSocket: the handshake is refused with 401', async () => {
    const forged = forgedToken(outsider.token, admin.userId);

    const attempts = await Promise.allSettled([
      ChatClient.connect(stack.wsUrl, '', 'laptop'),
      ChatClient.connect(stack.wsUrl, forged, 'laptop'),
    ]);
    const withoutTokenParameter = await handshakeStatus(`${stack.wsUrl}?deviceId=laptop`);
    const withForgedTicket = await handshakeStatus(`${stack.wsUrl}?ticket=${'A'.repeat(43)}&deviceId=laptop`);

    for (const attempt of attempts) {
      expect(attempt.status).toBe('rejected');
      expect(attempt.status === 'rejected' && attempt.reason).toBeInstanceOf(HandshakeRefused);
      expect(attempt.status === 'rejected' && attempt.reason).toMatchObject({ statusCode: 401 });
    }
    expect(withoutTokenParameter).toBe(401);
    expect(withForgedTicket).toBe(401);
  });
});

describe('the device-inbox actions (sync, ack)', () => {
  it("touch only the calling device's own inbox, whatever conversation or device id they name", async () => {
    const other = await api(stack.httpUrl, admin.token, 'POST', '/conversations', {
      type: 'direct',
      memberIds: [member.userId],
    });
    expect(other.status).toBe(201);
    const otherId = String(other.body.id);
    conversationIds.push(otherId);
    expect(
      (
        await api(stack.httpUrl, admin.token, 'POST', `/conversations/${otherId}/messages`, {
          clientMessageId: 'elsewhere',
          text: 'elsewhere',
        })
      ).status,
    ).toBe(201);
    await fanOutDrained();
    const lastSeq = await lastSeqOf(conversationId);
    const beyond = lastSeq + 1000;
    // Same device id as the member's offline tablet: inboxes belong to (user, device), not device ids.
    const intruderTablet = await connect(outsider, 'tablet');

    const intruderSync = await intruderTablet.request({ action: 'sync' }, 'syncComplete');
    // Acks are answered only when refused: each is waited for by its handler, one at a time.
    const ack = (client: ChatClient, ackedConversationId: string) =>
      stack.handled('wsAck', 1, () =>
        client.send({ action: 'ack', conversationId: ackedConversationId, upToSeq: beyond }),
      );
    await ack(intruderTablet, conversationId);
    await ack(removedLaptop, conversationId);
    await ack(memberLaptop, conversationId);
    const memberTablet = await connect(member, 'tablet');
    await ack(memberTablet, otherId);
    const tabletSync = await memberTablet.request({ action: 'sync' }, 'syncComplete');

    expect(intruderSync).toEqual({ type: 'syncComplete', delivered: 0 });
    expect(intruderTablet.frames.filter((frame) => frame.type === 'message')).toEqual([]);
    // Nobody else's ack took the tablet's items of this conversation; its own ack of the direct one
    // took that conversation's creation event and message, and only those.
    expect(tabletSync).toEqual({ type: 'syncComplete', delivered: lastSeq });
    expect(messagesOf(memberTablet).map((m) => m.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
  });
});

describe('a removed member', () => {
  it('gets the removal event on every device, then nothing more', async () => {
    await sendMarkers();

    const removedTablet = await connect(removed, 'tablet');
    const replay = await removedTablet.request({ action: 'sync' }, 'syncComplete');

    const upToRemoval = Array.from({ length: removalSeq }, (_, i) => i + 1);
    expect(await lastSeqOf(conversationId)).toBeGreaterThan(removalSeq);
    expect(replay).toEqual({ type: 'syncComplete', delivered: removalSeq });
    for (const client of [removedLaptop, removedTablet]) {
      const received = messagesOf(client);
      // Each seq once; the wire may interleave the direct path and the stream (the SDK orders them).
      expect(received.map((m) => m.seq).sort((a, b) => a - b)).toEqual(upToRemoval);
      expect(received.find((m) => m.seq === removalSeq)?.event).toMatchObject({
        kind: 'memberRemoved',
        userId: removed.userId,
      });
    }
  });

  it('cannot land sends that were still queued for a seq when the removal committed', async () => {
    const evicted = await issueToken(stack.httpUrl, 'evicted');
    const created = await api(stack.httpUrl, admin.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Burst',
      memberIds: [member.userId, evicted.userId],
    });
    expect(created.status).toBe(201);
    const group = String(created.body.id);
    conversationIds.push(group);

    // A burst queues on seq tickets, one commit at a time; the removal lands while most of it waits.
    const sends = Array.from({ length: 30 }, (_, i) =>
      api(stack.httpUrl, evicted.token, 'POST', `/conversations/${group}/messages`, {
        clientMessageId: `burst-${i}`,
        text: `burst ${i}`,
      }),
    );
    await Promise.race(sends);
    const removal = await api(
      stack.httpUrl,
      admin.token,
      'DELETE',
      `/conversations/${group}/participants/${evicted.userId}`,
    );
    const answers = await Promise.all(sends);
    const timeline = await api(stack.httpUrl, admin.token, 'GET', `/conversations/${group}/messages?after=0&limit=100`);

    expect(removal.status).toBe(204);
    expect(answers.map((answer) => answer.status).filter((status) => status !== 201 && status !== 404)).toEqual([]);
    const messages = timeline.body.messages as WireMessage[];
    const removalAt = messages.find((m) => m.event?.kind === 'memberRemoved')?.seq ?? Number.NaN;
    const landedAfterRemoval = messages.filter((m) => m.senderId === evicted.userId && m.seq > removalAt);
    expect(landedAfterRemoval.map((m) => `seq ${m.seq}: ${m.text}`)).toEqual([]);
  });
});
