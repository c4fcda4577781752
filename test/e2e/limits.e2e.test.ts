/**
 * Limits on the local stack with the real handlers: devices per user (refused at `$connect`), the
 * per-user send rate limit (`rate_limited` on WebSocket and HTTP, nothing stored) and the budgets on
 * new conversations, API Gateway's frame and message sizes, message text size, members per group,
 * attachments per message, and the text rules on names and messages.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { limits } from '#shared/config/limits';
import { media } from '#shared/config/media';
import { creationCounterKey, sendCounterKey } from '#shared/services/send-rate-limiter';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { apiGatewayWebSocketLimits } from '../../local/websocket-gateway';
import { api, ChatClient, HandshakeRefused, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';
import { fillRateCounters } from '../support/rate-counters';

interface User {
  readonly token: string;
  readonly userId: string;
}

let stack: TestStack;
let documentClient: ReturnType<typeof createDocumentClient>;
let ann: User;
let ben: User;
let conversationId: string;
const clients: ChatClient[] = [];

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

async function lastSeq(): Promise<number> {
  return Number((await api(stack.httpUrl, ann.token, 'GET', `/conversations/${conversationId}`)).body.lastSeq);
}

function closeCode(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.once('close', (code) => resolve(code)));
}

/** A sendMessage frame of exactly `bytes` bytes (its text pads it out). */
function frameOfBytes(bytes: number, clientMessageId: string): string {
  const empty = JSON.stringify({ action: 'sendMessage', conversationId, clientMessageId, text: '' });
  return JSON.stringify({
    action: 'sendMessage',
    conversationId,
    clientMessageId,
    text: 'x'.repeat(bytes - empty.length),
  });
}

/** Sends `payload` as one message split into frames of at most `frameBytes`. */
function sendFragmented(socket: WebSocket, payload: string, frameBytes: number): void {
  for (let start = 0; start < payload.length; start += frameBytes) {
    socket.send(payload.slice(start, start + frameBytes), { fin: start + frameBytes >= payload.length });
  }
}

beforeAll(async () => {
  stack = await startTestStack('e2e-limits');
  documentClient = createDocumentClient(createLocalDynamoDbClient(stack.dynamoEndpoint));
  [ann, ben] = await Promise.all([issueToken(stack.httpUrl, 'ann'), issueToken(stack.httpUrl, 'ben')]);
  const created = await api(stack.httpUrl, ann.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [ben.userId],
  });
  conversationId = String(created.body.id);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  documentClient?.destroy();
  await stack?.stop();
});

describe(`devices per user (${limits.maxDevicesPerUser})`, () => {
  let many: User;

  beforeAll(async () => {
    many = await issueToken(stack.httpUrl, 'many-devices');
    for (let i = 0; i < limits.maxDevicesPerUser; i++) await (await connect(many, `device-${i}`)).close();
  });

  it('refuses the handshake of one device more with 403, by token or by ticket', async () => {
    const byToken = await ChatClient.connect(stack.wsUrl, many.token, 'one-too-many').catch((error: unknown) => error);
    const { ticket } = (await api(stack.httpUrl, many.token, 'POST', '/connect-ticket')).body as { ticket: string };
    const byTicket = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${stack.wsUrl}?ticket=${ticket}&deviceId=one-too-many`);
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('open', () => resolve(101));
    });

    expect(byToken).toEqual(new HandshakeRefused(403));
    expect(byTicket).toBe(403);
  });

  it('still lets every known device reconnect', async () => {
    const known = await connect(many, 'device-3');

    expect(await known.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
  });

  it(`stops counting a device unseen for ${limits.deviceActivityWindowDays} days`, async () => {
    const longAgo = new Date(Date.now() - (limits.deviceActivityWindowDays + 1) * 24 * 60 * 60 * 1000);
    await documentClient.send(
      new PutCommand({
        TableName: stack.tables.users.tableName,
        Item: {
          pk: `USER#${many.userId}`,
          sk: 'DEVICE#device-0',
          userId: many.userId,
          deviceId: 'device-0',
          lastConnectedAt: longAgo.toISOString(),
        },
      }),
    );

    const replacement = await connect(many, 'replacement');

    expect(await replacement.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
  });
});

describe(`per-user send rate limit (${limits.sendRateLimit.maxSends} per ${limits.sendRateLimit.windowSeconds} s)`, () => {
  /** Fills the user's counter for the current window and the next two, so the test runs in a full one. */
  const fillWindows = (userId: string) =>
    fillRateCounters(
      documentClient,
      stack.tables.rateLimits.tableName,
      userId,
      { keyOf: sendCounterKey, ...limits.sendRateLimit },
      2,
    );

  it('charges WebSocket and HTTP sends and the conversation’s creation to the user’s one counter, a lease per handler', async () => {
    const counted = await issueToken(stack.httpUrl, 'counted');
    // All in one window when it can be: each handler claims one lease for the window and spends it.
    const { windowSeconds, leaseSends } = limits.sendRateLimit;
    const msIntoWindow = Date.now() % (windowSeconds * 1000);
    if (msIntoWindow > (windowSeconds - 8) * 1000) await sleep(windowSeconds * 1000 - msIntoWindow + 50);
    const group = await api(stack.httpUrl, counted.token, 'POST', '/conversations', {
      type: 'direct',
      memberIds: [ann.userId],
    });
    const phone = await connect(counted, 'phone');

    await phone.sendMessage(String(group.body.id), 'ws-1', 'one');
    await phone.sendMessage(String(group.body.id), 'ws-2', 'two');
    await api(stack.httpUrl, counted.token, 'POST', `/conversations/${String(group.body.id)}/messages`, {
      clientMessageId: 'http-1',
      text: 'three',
    });
    const counters = await documentClient.send(new ScanCommand({ TableName: stack.tables.rateLimits.tableName }));

    const mine = (counters.Items ?? []).filter((item) => String(item.counterKey).startsWith(`send#${counted.userId}#`));
    const claimed = mine.map((item) => Number(item.sends));
    expect(claimed.every((sends) => sends % leaseSends === 0)).toBe(true);
    const leases = claimed.reduce((sum, sends) => sum + sends, 0) / leaseSends;
    // One window: a lease each for the create, WebSocket send and HTTP send handlers. A window that
    // turned mid-test (a very slow machine) makes a handler claim again: four leases, still whole ones.
    expect(mine.length === 1 ? [3] : [3, 4]).toContain(leases);
  });

  it('answers a WebSocket send over the limit with a rate_limited error frame and stores nothing', async () => {
    const phone = await connect(ann, 'rate-phone');
    const before = await lastSeq();
    await fillWindows(ann.userId);

    const answer = await phone.sendMessage(conversationId, 'too-fast', 'one too many');

    expect(answer).toMatchObject({
      type: 'error',
      code: 'rate_limited',
      clientMessageId: 'too-fast',
      action: 'sendMessage',
      details: { retryAfterSeconds: expect.any(Number) },
    });
    expect(await phone.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
    expect(await lastSeq()).toBe(before);
  });

  it('charges a malformed send and a send with its direct chat view alike: over the limit, rate_limited and nothing stored', async () => {
    const phone = await connect(ann, 'rate-view-phone');
    const before = await lastSeq();
    await fillWindows(ann.userId);

    // No text: refused for the window first, as any frame the limit cuts off.
    const malformed = await phone.request(
      { action: 'sendMessage', conversationId, clientMessageId: 'malformed-over' },
      'error',
    );
    const viewed = await phone.sendMessage(conversationId, 'view-over', 'one too many', {
      directChat: { peerId: ben.userId, afterSeq: before },
    });

    expect(malformed).toMatchObject({ type: 'error', code: 'rate_limited', clientMessageId: 'malformed-over' });
    expect(viewed).toMatchObject({ type: 'error', code: 'rate_limited', clientMessageId: 'view-over' });
    expect(await lastSeq()).toBe(before);
  });

  it('answers an HTTP send over the limit with 429 rate_limited and stores nothing', async () => {
    const before = await lastSeq();
    await fillWindows(ann.userId);

    const answer = await api(stack.httpUrl, ann.token, 'POST', `/conversations/${conversationId}/messages`, {
      clientMessageId: 'too-fast-http',
      text: 'one too many',
    });

    expect(answer.status).toBe(429);
    expect(answer.body).toMatchObject({
      error: { code: 'rate_limited', details: { retryAfterSeconds: expect.any(Number) } },
    });
    expect(await lastSeq()).toBe(before);
  });

  it('counts a rename against the same limit: a flood of them answers 429 and adds no event', async () => {
    const renamer = await issueToken(stack.httpUrl, 'renamer');
    const group = await api(stack.httpUrl, renamer.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Quiet',
      memberIds: [ben.userId],
    });
    const groupId = String(group.body.id);
    const before = Number((await api(stack.httpUrl, ben.token, 'GET', `/conversations/${groupId}`)).body.lastSeq);
    await fillWindows(renamer.userId);

    const answer = await api(stack.httpUrl, renamer.token, 'PATCH', `/conversations/${groupId}`, { name: 'SPAM' });

    expect(answer).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    const after = (await api(stack.httpUrl, ben.token, 'GET', `/conversations/${groupId}`)).body;
    expect(after).toMatchObject({ name: 'Quiet', lastSeq: before });
  });

  it('counts adding and removing members against the same limit: over it, 429 and the group stays as it was', async () => {
    const [admin, member, outsider] = (await Promise.all(
      ['members-admin', 'members-kept', 'members-outsider'].map((name) => issueToken(stack.httpUrl, name)),
    )) as [User, User, User];
    const group = await api(stack.httpUrl, admin.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Members',
      memberIds: [member.userId],
    });
    const groupId = String(group.body.id);
    const before = (await api(stack.httpUrl, member.token, 'GET', `/conversations/${groupId}`)).body;
    await fillWindows(admin.userId);

    const added = await api(stack.httpUrl, admin.token, 'POST', `/conversations/${groupId}/participants`, {
      userIds: [outsider.userId],
    });
    const removed = await api(
      stack.httpUrl,
      admin.token,
      'DELETE',
      `/conversations/${groupId}/participants/${member.userId}`,
    );

    for (const answer of [added, removed]) {
      expect(answer).toMatchObject({
        status: 429,
        body: { error: { code: 'rate_limited', details: { retryAfterSeconds: expect.any(Number) } } },
      });
    }
    expect((await api(stack.httpUrl, member.token, 'GET', `/conversations/${groupId}`)).body).toEqual(before);
    const outsidersList = await api(stack.httpUrl, outsider.token, 'GET', '/users/me/conversations');
    expect(outsidersList.body.conversations).toEqual([]);
  });

  it('counts edits, deletes and reactions against the same limit, on both transports, and adds no event', async () => {
    const reactor = await issueToken(stack.httpUrl, 'reactor');
    const direct = await api(stack.httpUrl, reactor.token, 'POST', '/conversations', {
      type: 'direct',
      memberIds: [ben.userId],
    });
    const directId = String(direct.body.id);
    const sent = await api(stack.httpUrl, reactor.token, 'POST', `/conversations/${directId}/messages`, {
      clientMessageId: 'to-change',
      text: 'original',
    });
    const { seq, id } = sent.body.message as { seq: number; id: string };
    const phone = await connect(reactor, 'reactor-phone');
    await fillWindows(reactor.userId);

    const changes = [
      { action: 'editMessage', conversationId: directId, seq, text: 'edited', clientMessageId: 'flood-edit' },
      { action: 'deleteMessage', conversationId: directId, seq, clientMessageId: 'flood-delete' },
      { action: 'react', conversationId: directId, seq, emoji: '👍', clientMessageId: 'flood-react' },
    ];
    for (const change of changes) {
      const answered = phone.nextFrame((frame) => frame.clientMessageId === change.clientMessageId);
      phone.send(change);
      expect(await answered).toMatchObject({ type: 'error', code: 'rate_limited', action: change.action });
    }
    const overHttp = [
      await api(stack.httpUrl, reactor.token, 'PATCH', `/messages/${id}`, { text: 'edited' }),
      await api(stack.httpUrl, reactor.token, 'DELETE', `/messages/${id}`),
      await api(stack.httpUrl, reactor.token, 'POST', `/messages/${id}/reactions`, { emoji: '👍' }),
    ];

    expect(
      overHttp.map((answer) => [answer.status, (answer.body.error as { code?: string } | undefined)?.code]),
    ).toEqual([
      [429, 'rate_limited'],
      [429, 'rate_limited'],
      [429, 'rate_limited'],
    ]);
    const after = await api(stack.httpUrl, ben.token, 'GET', `/conversations/${directId}`);
    expect(after.body.lastSeq).toBe(seq);
    const message = await api(stack.httpUrl, ben.token, 'GET', `/messages/${id}`);
    expect(message.body.message).toMatchObject({ text: 'original' });
    expect(message.body.message).not.toHaveProperty('reactions');
    expect(message.body.message).not.toHaveProperty('editedAt');
  });

  it(`caps the conversations a user creates at ${limits.conversationCreationLimit.maxSends} a day`, async () => {
    const spammer = await issueToken(stack.httpUrl, 'spammer');
    // Today and tomorrow full, whichever day the request lands in.
    await fillRateCounters(documentClient, stack.tables.rateLimits.tableName, spammer.userId, {
      keyOf: creationCounterKey,
      ...limits.conversationCreationLimit,
    });

    const answer = await api(stack.httpUrl, spammer.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Spam',
      memberIds: [ann.userId, ben.userId],
    });

    expect(answer).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    const annsList = await api(stack.httpUrl, ann.token, 'GET', `/users/${ann.userId}/conversations`);
    expect((annsList.body.conversations as { name?: string }[]).some((c) => c.name === 'Spam')).toBe(false);
  });

  it(`refuses a burst of 30 new groups beyond ${limits.conversationCreationBurst.maxSends} per ${limits.conversationCreationBurst.windowSeconds / 60} minutes, and the victims' lists hold only those`, async () => {
    const { windowSeconds, maxSends } = limits.conversationCreationBurst;
    const [flooder, victim, otherVictim] = (await Promise.all(
      ['flooder', 'victim', 'other-victim'].map((name) => issueToken(stack.httpUrl, name)),
    )) as [User, User, User];
    // The whole burst in one fixed window: it takes seconds, so start afresh when less than 30 s remain.
    const msLeft = windowSeconds * 1000 - (Date.now() % (windowSeconds * 1000));
    if (msLeft < 30_000) await sleep(msLeft + 50);

    const answers = [];
    for (let i = 0; i < 30; i++) {
      answers.push(
        await api(stack.httpUrl, flooder.token, 'POST', '/conversations', {
          type: 'group',
          name: `Spam ${i}`,
          memberIds: [victim.userId, otherVictim.userId],
        }),
      );
    }

    expect(answers.map((answer) => answer.status)).toEqual([
      ...Array.from({ length: maxSends }, () => 201),
      ...Array.from({ length: 30 - maxSends }, () => 429),
    ]);
    for (const refused of answers.slice(maxSends)) {
      expect(refused.body).toMatchObject({
        error: { code: 'rate_limited', details: { retryAfterSeconds: expect.any(Number) } },
      });
    }
    const allowed = Array.from({ length: maxSends }, (_, i) => `Spam ${i}`).sort();
    for (const member of [victim, otherVictim]) {
      const list = await api(stack.httpUrl, member.token, 'GET', '/users/me/conversations?limit=100');
      const names = (list.body.conversations as { name?: string }[]).map((c) => c.name).sort();
      expect(names).toEqual(allowed);
    }
  }, 120_000);

  it('limits each user on their own: another user still sends', async () => {
    await fillWindows(ann.userId);

    const answer = await api(stack.httpUrl, ben.token, 'POST', `/conversations/${conversationId}/messages`, {
      clientMessageId: 'ben-unaffected',
      text: 'fine',
    });

    expect(answer.status).toBe(201);
  });
});

describe('API Gateway WebSocket sizes (32 KB frames, 128 KB messages)', () => {
  const { maxFrameBytes, maxMessageBytes } = apiGatewayWebSocketLimits;

  it('are the ones the local gateway enforces', () => {
    expect({ maxFrameBytes, maxMessageBytes }).toEqual({ maxFrameBytes: 32 * 1024, maxMessageBytes: 128 * 1024 });
  });

  it('route a frame of exactly 32 KB to the handler, which refuses its text; the connection stays', async () => {
    const client = await connect(ben, 'frame-edge');

    const answered = client.nextFrame((frame) => frame.clientMessageId === 'edge');
    client.send(frameOfBytes(maxFrameBytes, 'edge'));

    expect(await answered).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await client.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
  });

  it('close the connection with 1009 on a frame one byte over 32 KB, routing nothing', async () => {
    const client = await connect(ben, 'frame-over');
    const closing = closeCode(client.socket);

    client.send(frameOfBytes(maxFrameBytes + 1, 'over'));

    expect(await closing).toBe(1009);
    expect(client.frames).toEqual([]);
  });

  it('route a 128 KB message sent in 32 KB frames', async () => {
    const client = await connect(ben, 'message-edge');

    const answered = client.nextFrame((frame) => frame.clientMessageId === 'long');
    sendFragmented(client.socket, frameOfBytes(maxMessageBytes, 'long'), maxFrameBytes);

    expect(await answered).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('close the connection with 1009 on a message one byte over 128 KB, even in small frames', async () => {
    const client = await connect(ben, 'message-over');
    const closing = closeCode(client.socket);

    sendFragmented(client.socket, frameOfBytes(maxMessageBytes + 1, 'too-long'), maxFrameBytes);

    expect(await closing).toBe(1009);
    expect(client.frames).toEqual([]);
  });
});

describe('message, group and attachment limits', () => {
  it(`refuses text over ${limits.maxTextLength} characters on both transports, and takes it at the limit`, async () => {
    const client = await connect(ben, 'text-limit');

    const overWs = await client.sendMessage(conversationId, 'text-over-ws', 'x'.repeat(limits.maxTextLength + 1));
    const overHttp = await api(stack.httpUrl, ben.token, 'POST', `/conversations/${conversationId}/messages`, {
      clientMessageId: 'text-over-http',
      text: 'x'.repeat(limits.maxTextLength + 1),
    });
    const atLimit = await client.sendMessage(conversationId, 'text-at-limit', 'x'.repeat(limits.maxTextLength));

    expect(overWs).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(overHttp.status).toBe(400);
    expect(atLimit).toMatchObject({ type: 'messageAccepted' });
  });

  it(`refuses a group of more than ${limits.maxGroupMembers} members, creator included`, async () => {
    const others = Array.from({ length: limits.maxGroupMembers }, (_, i) => `member-${i}`);

    // Ben: Ann's timeline-write windows were filled by the rate-limit tests above.
    const tooBig = await api(stack.httpUrl, ben.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Too big',
      memberIds: others,
    });

    expect(tooBig.status).toBe(400);
    expect(tooBig.body).toMatchObject({ error: { code: 'bad_request' } });
  });

  it(`refuses more than ${media.maxAttachmentsPerMessage} attachments on a message`, async () => {
    const ids = Array.from({ length: media.maxAttachmentsPerMessage + 1 }, (_, i) => `attachment-${i}`);

    const answer = await api(stack.httpUrl, ben.token, 'POST', `/conversations/${conversationId}/messages`, {
      clientMessageId: 'too-many-attachments',
      text: 'look',
      attachmentIds: ids,
    });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      error: { code: 'bad_request', message: expect.stringContaining(`at most ${media.maxAttachmentsPerMessage}`) },
    });
  });
});

describe('text that would deceive its readers (shared/protocol/text-rules.ts)', () => {
  const deceptiveNames = [
    ['a bidi override', 'alice\u202E'],
    ['only a zero-width space', '\u200B'],
    ['a NUL', 'ali\u0000ce'],
    ['a C0 control (BEL)', 'ali\u0007ce'],
    ['an ANSI escape', '\u001b[31malice'],
    ['a C1 control (CSI)', 'ali\u009Bce'],
  ] as const;

  it.each(deceptiveNames.map(([what, name], i) => [what, name, i] as const))(
    'refuses a profile name with %s on POST /users with 400, creating no profile',
    async (_case, name, i) => {
      const someone = await issueToken(stack.httpUrl, `deceiver-${i}`);

      const answer = await api(stack.httpUrl, someone.token, 'POST', '/users', { name, username: `deceiver${i}` });

      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
      expect((await api(stack.httpUrl, someone.token, 'GET', `/users/${someone.userId}`)).status).toBe(404);
    },
  );

  describe('on PUT /users/me', () => {
    let owner: User;

    beforeAll(async () => {
      owner = await issueToken(stack.httpUrl, 'renamed-owner');
      const created = await api(stack.httpUrl, owner.token, 'POST', '/users', { name: 'Olive', username: 'olive' });
      expect(created.status).toBe(201);
    });

    it.each(deceptiveNames)(
      'refuses a profile name with %s with 400, leaving the name as it was',
      async (_case, name) => {
        const answer = await api(stack.httpUrl, owner.token, 'PUT', '/users/me', { name });

        expect(answer).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
        expect((await api(stack.httpUrl, ann.token, 'GET', `/users/${owner.userId}`)).body).toMatchObject({
          name: 'Olive',
        });
      },
    );
  });

  describe('in group names', () => {
    let groupId: string;

    beforeAll(async () => {
      // Ben: Ann's timeline-write windows are filled by the rate-limit tests above.
      const group = await api(stack.httpUrl, ben.token, 'POST', '/conversations', {
        type: 'group',
        name: 'Honest',
        memberIds: [ann.userId],
      });
      expect(group.status).toBe(201);
      groupId = String(group.body.id);
    });

    it.each([...deceptiveNames, ['a right-to-left override in a file name', 'pay \u202Eexe.txt'] as const])(
      'refuses %s on create and on rename with 400: no group made, the name as it was',
      async (_case, name) => {
        const listBefore = await api(stack.httpUrl, ann.token, 'GET', '/users/me/conversations?limit=100');

        const created = await api(stack.httpUrl, ben.token, 'POST', '/conversations', {
          type: 'group',
          name,
          memberIds: [ann.userId],
        });
        const renamed = await api(stack.httpUrl, ben.token, 'PATCH', `/conversations/${groupId}`, { name });

        expect(created).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
        expect(renamed).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
        expect((await api(stack.httpUrl, ben.token, 'GET', `/conversations/${groupId}`)).body.name).toBe('Honest');
        const listAfter = await api(stack.httpUrl, ann.token, 'GET', '/users/me/conversations?limit=100');
        expect(listAfter.body.conversations).toEqual(listBefore.body.conversations);
      },
    );
  });

  it.each([
    ['only a zero-width space', '\u200B'],
    ['an ANSI escape', '\u001b[31mred'],
    ['a NUL', 'a\u0000b'],
    ['a right-to-left override', 'pay \u202Eexe.txt'],
  ])('refuses a message of %s over WebSocket and HTTP, storing nothing', async (_case, text) => {
    const phone = await connect(ben, `text-${text.length}`);
    const before = await lastSeq();

    const overWebSocket = await phone.sendMessage(conversationId, `deceive-ws-${text.length}`, text);
    const overHttp = await api(stack.httpUrl, ben.token, 'POST', `/conversations/${conversationId}/messages`, {
      clientMessageId: `deceive-http-${text.length}`,
      text,
    });

    expect(overWebSocket).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(overHttp).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(await lastSeq()).toBe(before);
  });
});
