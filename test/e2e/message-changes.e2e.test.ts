/**
 * Reply, edit, delete and react end to end on the local stack: the WebSocket actions and their
 * HTTP routes, live delivery of each change, a device that was offline converging after sync, and
 * the refusals (edit window, unknown seq, too many emoji), a deleted message's attachment and the
 * conversation list left as it was. The refusals come last: their load would slow the sync above.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { limits } from '#shared/config/limits';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { api, ChatClient, type Frame, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';
import { pngImage } from '../support/media-fixtures';

interface User {
  token: string;
  userId: string;
}

interface WireMessage {
  id: string;
  seq: number;
  type: string;
  text: string;
  targetSeq?: number;
  [field: string]: unknown;
}

let stack: TestStack;
let documentClient: ReturnType<typeof createDocumentClient>;
let alice: User;
let bob: User;
let carol: User;
let mallory: User;
let groupId: string;
let alicePhone: ChatClient;
let bobLaptop: ChatClient;
const clients: ChatClient[] = [];

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

/** Sends a frame and waits for the answer echoing its clientMessageId. */
async function ask(client: ChatClient, frame: Record<string, unknown> & { clientMessageId: string }): Promise<Frame> {
  const answered = client.nextFrame(
    (f) => (f.type === 'messageAccepted' || f.type === 'error') && f.clientMessageId === frame.clientMessageId,
  );
  client.send(frame);
  return answered;
}

const messageOf = (frame: Frame) => frame.message as WireMessage;

beforeAll(async () => {
  stack = await startTestStack('e2e-message-changes');
  documentClient = createDocumentClient(createLocalDynamoDbClient(stack.dynamoEndpoint));
  [alice, bob, carol, mallory] = (await Promise.all(
    ['alice', 'bob', 'carol', 'mallory'].map((name) => issueToken(stack.httpUrl, name)),
  )) as [User, User, User, User];
  const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'group',
    name: 'Changes',
    memberIds: [bob.userId, carol.userId],
  });
  expect(created.status).toBe(201);
  groupId = String(created.body.id);
  alicePhone = await connect(alice, 'phone');
  bobLaptop = await connect(bob, 'laptop');
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  documentClient?.destroy();
  await stack?.stop();
});

describe('over the WebSocket', () => {
  it('answers each change like a send and delivers it live to the other members', async () => {
    const sent = messageOf(await alicePhone.sendMessage(groupId, 'ws-hello', 'helo'));

    const edited = await ask(alicePhone, {
      action: 'editMessage',
      conversationId: groupId,
      seq: sent.seq,
      text: 'hello',
      clientMessageId: 'ws-edit',
    });
    const reacted = await ask(bobLaptop, {
      action: 'react',
      conversationId: groupId,
      seq: sent.seq,
      emoji: '❤',
      clientMessageId: 'ws-react',
    });
    const reply = await ask(bobLaptop, {
      action: 'sendMessage',
      conversationId: groupId,
      text: 'hi!',
      replyTo: sent.seq,
      clientMessageId: 'ws-reply',
    });

    expect(edited).toMatchObject({
      type: 'messageAccepted',
      message: { type: 'edit', targetSeq: sent.seq, text: 'hello' },
    });
    // Stored in its emoji presentation, whichever way it was typed.
    expect(reacted).toMatchObject({ type: 'messageAccepted', message: { type: 'reaction', emoji: '❤️' } });
    expect(messageOf(reply).replyTo).toEqual({ seq: sent.seq, senderId: alice.userId, preview: 'hello' });
    await bobLaptop.waitForMessage((m) => m.id === messageOf(edited).id, 'bob gets the edit');
    await alicePhone.waitForMessage((m) => m.id === messageOf(reacted).id, 'alice gets the reaction');
  });

  it('refuses with stable codes: not the sender, not one emoji, not a member', async () => {
    const sent = messageOf(await alicePhone.sendMessage(groupId, 'ws-mine', 'mine'));
    const malloryPhone = await connect(mallory, 'phone');

    const notSender = await ask(bobLaptop, {
      action: 'editMessage',
      conversationId: groupId,
      seq: sent.seq,
      text: 'yours',
      clientMessageId: 'ws-not-sender',
    });
    const badEmoji = await ask(bobLaptop, {
      action: 'react',
      conversationId: groupId,
      seq: sent.seq,
      emoji: '👍👍',
      clientMessageId: 'ws-bad-emoji',
    });
    const outsider = await ask(malloryPhone, {
      action: 'deleteMessage',
      conversationId: groupId,
      seq: sent.seq,
      clientMessageId: 'ws-outsider',
    });

    expect(notSender).toMatchObject({ type: 'error', code: 'forbidden', details: { reason: 'not_sender' } });
    expect(badEmoji).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(outsider).toMatchObject({ type: 'error', code: 'not_found' });
  });
});

describe('over HTTP', () => {
  it('edits, reacts and deletes through the routes, and an admin deletes another member’s message', async () => {
    const sent = messageOf(await bobLaptop.sendMessage(groupId, 'http-target', 'draft'));
    const path = `/messages/${sent.id}`;

    const edit = await api(stack.httpUrl, bob.token, 'PATCH', path, { text: 'final' });
    const react = await api(stack.httpUrl, carol.token, 'POST', `${path}/reactions`, { emoji: '👍' });
    const unreact = await api(stack.httpUrl, carol.token, 'POST', `${path}/reactions`, { emoji: '👍', remove: true });
    const notMember = await api(stack.httpUrl, mallory.token, 'DELETE', path);
    const byAdmin = await api(stack.httpUrl, alice.token, 'DELETE', path);
    const again = await api(stack.httpUrl, alice.token, 'DELETE', path);

    expect([edit.status, react.status, unreact.status, notMember.status, byAdmin.status]).toEqual([
      201, 201, 201, 404, 201,
    ]);
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'conflict', details: { reason: 'deleted' } } } });
    const now = await api(stack.httpUrl, bob.token, 'GET', path);
    expect(now.body.message).toMatchObject({ text: '', deletedBy: alice.userId });
  });
});

describe('a device offline during an edit, a delete and a reaction', () => {
  it('gets every change after sync, in seq order, and history shows the final state', async () => {
    const carolPhone = await connect(carol, 'phone');
    const keep = messageOf(await alicePhone.sendMessage(groupId, 'off-keep', 'keep me'));
    const drop = messageOf(await alicePhone.sendMessage(groupId, 'off-drop', 'drop me'));
    await carolPhone.waitForMessage((m) => m.seq === drop.seq, 'carol has both');
    await carolPhone.close();

    const changes = [
      await ask(alicePhone, {
        action: 'editMessage',
        conversationId: groupId,
        seq: keep.seq,
        text: 'kept',
        clientMessageId: 'off-edit',
      }),
      await ask(alicePhone, {
        action: 'deleteMessage',
        conversationId: groupId,
        seq: drop.seq,
        clientMessageId: 'off-del',
      }),
      await ask(bobLaptop, {
        action: 'react',
        conversationId: groupId,
        seq: keep.seq,
        emoji: '🎉',
        clientMessageId: 'off-react',
      }),
    ].map(messageOf);
    const back = await connect(carol, 'phone');
    await back.request({ action: 'sync' }, 'syncComplete');
    // A change fan-out has not parked yet when the sync reads the inbox comes live afterwards (at least once).
    const lastChange = changes.at(-1) as WireMessage;
    await back.waitForMessage((m) => m.seq === lastChange.seq, 'carol has every change');

    // Live pushes may pass the replay on the wire, or repeat it; a device orders by seq and drops repeats (the SDK does).
    const replayed = [
      ...new Map(
        (back.messages(groupId) as unknown as WireMessage[])
          .filter((m) => m.targetSeq !== undefined)
          .map((m) => [m.seq, m] as const),
      ).values(),
    ].sort((a, b) => a.seq - b.seq);
    expect(replayed.map((m) => [m.seq, m.type])).toEqual(changes.map((m) => [m.seq, m.type]));
    expect(replayed.map((m) => m.type)).toEqual(['edit', 'delete', 'reaction']);
    const history = await api(
      stack.httpUrl,
      carol.token,
      'GET',
      `/conversations/${groupId}/messages?after=${keep.seq - 1}`,
    );
    const [kept, dropped] = history.body.messages as WireMessage[];
    expect(kept).toMatchObject({ text: 'kept', editedAt: expect.any(String), reactions: [{ emoji: '🎉', count: 1 }] });
    expect(dropped).toMatchObject({ text: '', deletedBy: alice.userId });
  });
});

/** Moves a message's send time back past the edit window, as if it had been sent that long ago. */
async function ageBeyondEditWindow(message: WireMessage): Promise<void> {
  await documentClient.send(
    new UpdateCommand({
      TableName: stack.tables.messages.tableName,
      Key: { conversationId: groupId, seq: message.seq },
      UpdateExpression: 'SET createdAt = :longAgo',
      ConditionExpression: 'attribute_exists(seq)',
      ExpressionAttributeValues: { ':longAgo': new Date(Date.now() - limits.editWindowMs - 60_000).toISOString() },
    }),
  );
}

describe(`edits after the ${limits.editWindowMs / 60_000}-minute window`, () => {
  it('are refused with 403 edit_window_passed over the WebSocket and HTTP PATCH, and the text stays', async () => {
    const sent = messageOf(await alicePhone.sendMessage(groupId, 'old-message', 'sent long ago'));
    await ageBeyondEditWindow(sent);

    const overWebSocket = await ask(alicePhone, {
      action: 'editMessage',
      conversationId: groupId,
      seq: sent.seq,
      text: 'too late',
      clientMessageId: 'late-edit',
    });
    const overHttp = await api(stack.httpUrl, alice.token, 'PATCH', `/messages/${sent.id}`, { text: 'too late' });

    expect(overWebSocket).toMatchObject({
      type: 'error',
      code: 'forbidden',
      action: 'editMessage',
      details: { reason: 'edit_window_passed' },
    });
    expect(overHttp).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden', details: { reason: 'edit_window_passed' } } },
    });
    const stored = (await api(stack.httpUrl, bob.token, 'GET', `/messages/${sent.id}`)).body.message;
    expect(stored).toMatchObject({ text: 'sent long ago' });
    expect(stored).not.toHaveProperty('editedAt');
  });

  it('still lets the sender delete the message: deleting has no window', async () => {
    const sent = messageOf(await alicePhone.sendMessage(groupId, 'old-deletable', 'regret'));
    await ageBeyondEditWindow(sent);

    const deleted = await ask(alicePhone, {
      action: 'deleteMessage',
      conversationId: groupId,
      seq: sent.seq,
      clientMessageId: 'late-delete',
    });

    expect(deleted).toMatchObject({ type: 'messageAccepted', message: { type: 'delete', targetSeq: sent.seq } });
  });
});

describe('changes to a seq that holds no message', () => {
  it('are refused with not_found over the WebSocket, and nothing is stored', async () => {
    const before = Number((await api(stack.httpUrl, alice.token, 'GET', `/conversations/${groupId}`)).body.lastSeq);
    const unknownSeq = before + 1_000;

    const answers = [
      await ask(alicePhone, {
        action: 'editMessage',
        conversationId: groupId,
        seq: unknownSeq,
        text: 'nothing there',
        clientMessageId: 'unknown-edit',
      }),
      await ask(alicePhone, {
        action: 'deleteMessage',
        conversationId: groupId,
        seq: unknownSeq,
        clientMessageId: 'unknown-delete',
      }),
      await ask(bobLaptop, {
        action: 'react',
        conversationId: groupId,
        seq: unknownSeq,
        emoji: '👍',
        clientMessageId: 'unknown-react',
      }),
    ];

    expect(answers.map((answer) => [answer.type, answer.code, answer.action])).toEqual([
      ['error', 'not_found', 'editMessage'],
      ['error', 'not_found', 'deleteMessage'],
      ['error', 'not_found', 'react'],
    ]);
    const after = Number((await api(stack.httpUrl, alice.token, 'GET', `/conversations/${groupId}`)).body.lastSeq);
    expect(after).toBe(before);
  });
});

describe(`reactions beyond ${limits.maxReactionKinds} distinct emoji`, () => {
  const emoji = [
    '😀',
    '😂',
    '😍',
    '😎',
    '😢',
    '😡',
    '👍',
    '👎',
    '👏',
    '🙏',
    '🔥',
    '🎉',
    '💯',
    '🚀',
    '🌟',
    '🍕',
    '🐶',
    '🐱',
    '🌈',
    '⚽',
    '🎸',
  ];

  it('refuse a new emoji with 409 too_many_reactions on both transports, while a kind already there still takes more', async () => {
    expect(emoji).toHaveLength(limits.maxReactionKinds + 1);
    const sent = messageOf(await alicePhone.sendMessage(groupId, 'popular', 'react to me'));
    const path = `/messages/${sent.id}/reactions`;
    for (const kind of emoji.slice(0, limits.maxReactionKinds)) {
      expect((await api(stack.httpUrl, carol.token, 'POST', path, { emoji: kind })).status).toBe(201);
    }
    const extra = emoji[limits.maxReactionKinds];

    const overHttp = await api(stack.httpUrl, carol.token, 'POST', path, { emoji: extra });
    const overWebSocket = await ask(bobLaptop, {
      action: 'react',
      conversationId: groupId,
      seq: sent.seq,
      emoji: extra,
      clientMessageId: 'one-kind-too-many',
    });
    const sameKind = await ask(bobLaptop, {
      action: 'react',
      conversationId: groupId,
      seq: sent.seq,
      emoji: emoji[0],
      clientMessageId: 'a-kind-already-there',
    });

    expect(overHttp).toMatchObject({
      status: 409,
      body: { error: { code: 'conflict', details: { reason: 'too_many_reactions' } } },
    });
    expect(overWebSocket).toMatchObject({ type: 'error', code: 'conflict', details: { reason: 'too_many_reactions' } });
    expect(sameKind).toMatchObject({ type: 'messageAccepted', message: { type: 'reaction', emoji: emoji[0] } });
    const stored = (await api(stack.httpUrl, alice.token, 'GET', `/messages/${sent.id}`)).body.message as {
      reactions: { emoji: string; count: number }[];
    };
    expect(stored.reactions.map((reaction) => reaction.emoji).sort()).toEqual(
      emoji.slice(0, limits.maxReactionKinds).sort(),
    );
    expect(stored.reactions.find((reaction) => reaction.emoji === emoji[0])?.count).toBe(2);
  });
});

describe('a deleted message’s attachment', () => {
  it('answers 404 to every member once the message is deleted; a link handed out before lasts until it expires', async () => {
    const png = await pngImage(64, 48);
    const ticket = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${groupId}/attachments`, {
      fileName: 'cat.png',
      contentType: 'image/png',
      size: png.byteLength,
    });
    expect(ticket.status).toBe(201);
    const { attachmentId, uploadUrl, uploadHeaders } = ticket.body as {
      attachmentId: string;
      uploadUrl: string;
      uploadHeaders: Record<string, string>;
    };
    expect((await fetch(uploadUrl, { method: 'PUT', headers: uploadHeaders, body: png })).status).toBe(200);
    await ready(alice, attachmentId);
    const sent = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${groupId}/messages`, {
      clientMessageId: 'with-photo',
      attachmentIds: [attachmentId],
    });
    expect(sent.status).toBe(201);
    const before = await api(stack.httpUrl, bob.token, 'GET', `/attachments/${attachmentId}`);
    expect(before.status).toBe(200);
    const handedOut = String(before.body.url);

    const deleted = await api(
      stack.httpUrl,
      alice.token,
      'DELETE',
      `/messages/${String((sent.body.message as WireMessage).id)}`,
    );

    expect(deleted.status).toBe(201);
    const after = await Promise.all(
      [alice, bob, carol].map((user) => api(stack.httpUrl, user.token, 'GET', `/attachments/${attachmentId}`)),
    );
    expect(after.map((answer) => [answer.status, (answer.body.error as { code?: string } | undefined)?.code])).toEqual([
      [404, 'not_found'],
      [404, 'not_found'],
      [404, 'not_found'],
    ]);
    // Signed URLs cannot be called back: one handed out before the delete serves until its expiresAt.
    expect((await fetch(handedOut)).status).toBe(200);
  });
});

describe('the conversation list after an edit, a delete and a reaction', () => {
  it('keeps each conversation where it was, with the same unread count', async () => {
    const dave = await issueToken(stack.httpUrl, 'dave');
    const group = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Quiet changes',
      memberIds: [dave.userId],
    });
    const direct = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
      type: 'direct',
      memberIds: [dave.userId],
    });
    const [groupOfDave, directOfDave] = [String(group.body.id), String(direct.body.id)];
    const send = (conversationId: string, clientMessageId: string, text: string) =>
      api(stack.httpUrl, alice.token, 'POST', `/conversations/${conversationId}/messages`, { clientMessageId, text });
    const first = (await send(groupOfDave, 'quiet-1', 'frist')).body.message as WireMessage;
    const second = (await send(groupOfDave, 'quiet-2', 'oops')).body.message as WireMessage;
    await send(directOfDave, 'quiet-3', 'newest');
    const listOf = async () =>
      (
        (await api(stack.httpUrl, dave.token, 'GET', '/users/me/conversations')).body.conversations as {
          id: string;
          unreadCount: number;
        }[]
      ).map((c) => [c.id, c.unreadCount]);
    const before = await listOf();
    expect(before).toEqual([
      [directOfDave, 1],
      [groupOfDave, 2],
    ]);

    const changes = [
      await api(stack.httpUrl, alice.token, 'PATCH', `/messages/${first.id}`, { text: 'first' }),
      await api(stack.httpUrl, alice.token, 'POST', `/messages/${first.id}/reactions`, { emoji: '👍' }),
      await api(stack.httpUrl, alice.token, 'DELETE', `/messages/${second.id}`),
    ];

    expect(changes.map((answer) => answer.status)).toEqual([201, 201, 201]);
    expect(await listOf()).toEqual(before);
  });
});

/** Processing runs on the object-created event, after the PUT has answered: poll until it settles. */
async function ready(user: User, attachmentId: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const view = await api(stack.httpUrl, user.token, 'GET', `/attachments/${attachmentId}`);
    expect(view.status).toBe(200);
    if (view.body.status === 'ready') return;
    expect(view.body.status).toBe('pending');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`attachment ${attachmentId} still pending`);
}
