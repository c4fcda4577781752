/**
 * Reply, edit, delete and react end to end on the local stack: the WebSocket actions and their
 * HTTP routes, live delivery of each change, and a device that was offline converging after sync.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ChatClient, type Frame, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

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
