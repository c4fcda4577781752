/**
 * Replies, edits, deletes and reactions through the client SDK on the local stack: each method
 * answers like `send`, each change reaches the other side's cache live, a device that was offline
 * converges after its sync, and a new device's history shows the current state.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Message, type ParleyClient, ParleyServerError } from '../../client/index';
import { issueToken } from '../support/chat-client';
import { localSdkClient } from '../support/client-sdk';
import { startTestStack, type TestStack } from '../support/local-stack';

interface User {
  token: string;
  userId: string;
}

interface Device {
  client: ParleyClient;
  changed: Message[];
  /** While `closed` holds a pending promise the device gets no token, so it cannot reconnect: it stays offline. */
  gate: { closed?: Promise<void> };
}

let stack: TestStack;
let alice: User;
let bob: User;
let alicePhone: Device;
let bobPhone: Device;
let bobLaptop: Device;
let conversationId: string;
const devices: Device[] = [];
/** Lets a device kept offline reconnect. */
let reopen = () => {};

async function device(user: User, deviceId: string): Promise<Device> {
  const gate: Device['gate'] = {};
  const client = localSdkClient(stack, {
    tokenProvider: async () => {
      await gate.closed;
      return user.token;
    },
    deviceId,
    backoff: { initialMs: 50, maxMs: 500 },
    gapFillDelayMs: 300,
  });
  const entry: Device = { client, changed: [], gate };
  client.on('messageChanged', (message) => entry.changed.push(message));
  devices.push(entry);
  await client.connect();
  return entry;
}

/** The device's cached message at `seq`, as it shows now. */
const cachedAt = (entry: Device, seq: number) =>
  entry.client.messages(conversationId).find((message) => message.seq === seq);

function shows(entry: Device, seq: number, expected: Partial<Message> | ((message: Message) => boolean)) {
  return expect
    .poll(
      () => {
        const message = cachedAt(entry, seq);
        if (message === undefined) return false;
        if (typeof expected === 'function') return expected(message);
        return Object.entries(expected).every(
          ([key, value]) => JSON.stringify(message[key as keyof Message]) === JSON.stringify(value),
        );
      },
      { timeout: 15_000 },
    )
    .toBe(true);
}

beforeAll(async () => {
  stack = await startTestStack('e2e-client-changes');
  [alice, bob] = (await Promise.all(['alice', 'bob'].map((name) => issueToken(stack.httpUrl, name)))) as [User, User];
  [alicePhone, bobPhone, bobLaptop] = await Promise.all([
    device(alice, 'phone'),
    device(bob, 'phone'),
    device(bob, 'laptop'),
  ]);
  conversationId = (await alicePhone.client.api.createConversation({ type: 'direct', memberIds: [bob.userId] })).id;
  // Every device holds the creation event before anything is sent, so each has its baseline.
  for (const entry of [alicePhone, bobPhone, bobLaptop]) {
    await vi.waitFor(() => expect(cachedAt(entry, 1)?.type).toBe('system'), { timeout: 15_000 });
  }
});

afterAll(async () => {
  reopen();
  await Promise.all(devices.map((entry) => entry.client.close()));
  await stack?.stop();
});

describe('ParleyClient reply, edit, delete and react on the local stack', () => {
  it('answers each like a send, and the other side’s cache shows each change live', async () => {
    const question = await alicePhone.client.send(conversationId, { text: 'dinner at 8?' }).accepted;
    await shows(bobPhone, question.seq, { text: 'dinner at 8?' });

    const reply = await bobPhone.client.reply(conversationId, question.seq, { text: 'yes!' }).accepted;
    const edit = await alicePhone.client.editMessage(conversationId, question.seq, 'dinner at 9?').accepted;
    const reaction = await bobPhone.client.react(conversationId, question.seq, '👍').accepted;

    expect(reply.replyTo).toEqual({ seq: question.seq, senderId: alice.userId, preview: 'dinner at 8?' });
    expect(edit).toMatchObject({ type: 'edit', targetSeq: question.seq, text: 'dinner at 9?' });
    expect(reaction).toMatchObject({ type: 'reaction', targetSeq: question.seq, emoji: '👍', senderId: bob.userId });
    await shows(bobPhone, question.seq, { text: 'dinner at 9?', editedAt: edit.createdAt });
    // The reply's quote follows the edit in the cache, as history would show it.
    await shows(bobPhone, reply.seq, (m) => m.replyTo?.preview === 'dinner at 9?');
    await shows(alicePhone, question.seq, { reactions: [{ emoji: '👍', count: 1, userIds: [bob.userId] }] });
    expect(alicePhone.changed.filter((m) => m.seq === question.seq).at(-1)?.reactions).toHaveLength(1);

    await bobPhone.client.unreact(conversationId, question.seq, '👍').accepted;
    const deleted = await alicePhone.client.deleteMessage(conversationId, question.seq).accepted;

    expect(deleted).toMatchObject({ type: 'delete', targetSeq: question.seq });
    await shows(bobPhone, question.seq, { text: '', deletedBy: alice.userId, reactions: undefined });
    await shows(bobPhone, reply.seq, (m) => m.replyTo?.deleted === true && m.replyTo.preview === '');
    await shows(alicePhone, question.seq, { deletedAt: deleted.createdAt });
  });

  it('rejects a change the server refuses with ParleyServerError and its reason', async () => {
    const mine = await alicePhone.client.send(conversationId, { text: 'mine' }).accepted;

    const notSender = bobPhone.client.editMessage(conversationId, mine.seq, 'yours').accepted;
    const twice = bobPhone.client.react(conversationId, mine.seq, '🎉');
    await twice.accepted;
    const again = bobPhone.client.react(conversationId, mine.seq, '🎉').accepted;

    await expect(notSender).rejects.toBeInstanceOf(ParleyServerError);
    await expect(notSender).rejects.toMatchObject({ code: 'forbidden', details: { reason: 'not_sender' } });
    await expect(again).rejects.toMatchObject({ code: 'conflict', details: { reason: 'already_reacted' } });
  });

  it('brings a device that was offline during an edit, a delete and a reaction to the final state after sync', async () => {
    const keep = await alicePhone.client.send(conversationId, { text: 'keep me' }).accepted;
    const drop = await alicePhone.client.send(conversationId, { text: 'drop me' }).accepted;
    await shows(bobLaptop, drop.seq, { text: 'drop me' });
    bobLaptop.gate.closed = new Promise<void>((resolve) => {
      reopen = resolve;
    });
    stack.dropConnection(await stack.connectionIdOf(bob.userId, 'laptop'), { notify: true });
    await expect.poll(() => bobLaptop.client.state, { timeout: 15_000 }).not.toBe('connected');

    await alicePhone.client.editMessage(conversationId, keep.seq, 'kept').accepted;
    await alicePhone.client.deleteMessage(conversationId, drop.seq).accepted;
    const reacted = await bobPhone.client.react(conversationId, keep.seq, '❤️').accepted;
    expect(cachedAt(bobLaptop, keep.seq)?.text).toBe('keep me');
    reopen();

    await shows(bobLaptop, keep.seq, {
      text: 'kept',
      reactions: [{ emoji: '❤️', count: 1, userIds: [bob.userId] }],
      changedSeq: reacted.seq,
    });
    await shows(bobLaptop, drop.seq, { text: '', deletedBy: alice.userId });
  });

  it('gives a new device the current state from history, without listing the change entries', async () => {
    const original = await bobPhone.client.send(conversationId, { text: 'first try' }).accepted;
    await bobPhone.client.editMessage(conversationId, original.seq, 'second try').accepted;
    await alicePhone.client.react(conversationId, original.seq, '😂').accepted;
    const tablet = await device(alice, 'tablet');

    const page = await tablet.client.loadOlder(conversationId, 100);

    expect(page.messages.every((m) => !['edit', 'delete', 'reaction'].includes(m.type))).toBe(true);
    expect(page.messages.find((m) => m.seq === original.seq)).toMatchObject({
      text: 'second try',
      editedAt: expect.any(String),
      reactions: [{ emoji: '😂', count: 1, userIds: [alice.userId] }],
    });
  });
});
