/**
 * Replies, edits, deletes and reactions in the client SDK against a scripted server (a fake
 * WebSocket and fetch, as in client-ordering.test.ts): the frames it sends and resends, how it
 * settles their answers, and how incoming change entries update the cached messages.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Message, ParleyClient, ParleyServerError } from '../../client/index';
import {
  at,
  conversationId,
  type FakeSocket,
  me,
  message,
  other,
  scriptedClientOptions,
} from '../support/client-scripted-server';

const third = 'u-third';

function edit(seq: number, targetSeq: number, text: string, senderId = other): Message {
  return message(seq, { type: 'edit', targetSeq, text, senderId });
}

function reaction(seq: number, targetSeq: number, emoji: string, senderId: string, removed = false): Message {
  return message(seq, {
    type: 'reaction',
    targetSeq,
    text: '',
    emoji,
    senderId,
    ...(removed ? { removed: true } : {}),
  });
}

function deletion(seq: number, targetSeq: number, senderId = other): Message {
  return message(seq, { type: 'delete', targetSeq, text: '', senderId });
}

type Route = (url: URL) => unknown;

const clients: ParleyClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function harness(routes: Record<string, Route> = {}) {
  const sockets: FakeSocket[] = [];
  let tickets = 0;
  const fetchStub: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const key = `${init?.method ?? 'GET'} ${url.pathname}`;
    if (key === 'POST /connect-ticket') {
      tickets++;
      return Response.json({ ticket: `t-${tickets}`, expiresAt: new Date(Date.now() + 30_000).toISOString() });
    }
    const route = routes[key];
    if (route === undefined)
      return Response.json({ error: { code: 'not_found', message: 'no route' } }, { status: 404 });
    return Response.json(route(url));
  };
  const client = new ParleyClient(scriptedClientOptions(sockets, fetchStub));
  clients.push(client);
  const emitted: Message[] = [];
  const changed: Message[] = [];
  const errors: Error[] = [];
  client.on('message', (m) => emitted.push(m));
  client.on('messageChanged', (m) => changed.push(m));
  client.on('error', (e) => errors.push(e));
  const socket = async (index: number): Promise<FakeSocket> => {
    await vi.waitFor(() => expect(sockets.length).toBeGreaterThan(index));
    return sockets[index] as FakeSocket;
  };
  /** Connects socket `index` with a sync replaying `replay`. */
  const connect = async (index: number, replay: Message[] = []): Promise<FakeSocket> => {
    const connected = client.connect();
    const opened = await socket(index);
    opened.open();
    for (const item of replay) opened.push({ type: 'message', message: item });
    opened.push({ type: 'syncComplete', delivered: replay.length });
    await connected;
    return opened;
  };
  return { client, emitted, changed, errors, socket, connect };
}

const cached = (client: ParleyClient) => client.messages(conversationId);

describe('ParleyClient changes: what it sends', () => {
  it('sends edit, delete, react and unreact frames with a clientMessageId and resolves each with its accepted entry', async () => {
    const h = harness();
    const socket = await h.connect(0, [message(1, { senderId: me, text: 'helo' })]);

    const edited = h.client.editMessage(conversationId, 1, 'hello');
    const frames = () => socket.requests();
    expect(frames()).toEqual([
      { action: 'editMessage', conversationId, seq: 1, text: 'hello', clientMessageId: edited.clientMessageId },
    ]);
    const editEntry = edit(2, 1, 'hello', me);
    socket.push({
      type: 'messageAccepted',
      clientMessageId: edited.clientMessageId,
      message: { ...editEntry, clientMessageId: edited.clientMessageId },
    });
    await expect(edited.accepted).resolves.toMatchObject({ type: 'edit', seq: 2, targetSeq: 1 });

    const reacted = h.client.react(conversationId, 1, '👍');
    expect(frames().at(-1)).toEqual({
      action: 'react',
      conversationId,
      seq: 1,
      emoji: '👍',
      clientMessageId: reacted.clientMessageId,
    });
    socket.push({
      type: 'messageAccepted',
      clientMessageId: reacted.clientMessageId,
      message: reaction(3, 1, '👍', me),
    });
    await reacted.accepted;
    const unreacted = h.client.unreact(conversationId, 1, '👍');
    expect(frames().at(-1)).toEqual({
      action: 'react',
      conversationId,
      seq: 1,
      emoji: '👍',
      remove: true,
      clientMessageId: unreacted.clientMessageId,
    });
    socket.push({
      type: 'messageAccepted',
      clientMessageId: unreacted.clientMessageId,
      message: reaction(4, 1, '👍', me, true),
    });
    await unreacted.accepted;
    const deleted = h.client.deleteMessage(conversationId, 1);
    expect(frames().at(-1)).toEqual({
      action: 'deleteMessage',
      conversationId,
      seq: 1,
      clientMessageId: deleted.clientMessageId,
    });
    socket.push({ type: 'messageAccepted', clientMessageId: deleted.clientMessageId, message: deletion(5, 1, me) });

    await expect(deleted.accepted).resolves.toMatchObject({ type: 'delete', seq: 5 });
    // Its own changes enter the timeline from their answers: the cached message shows each in turn.
    expect(cached(h.client)).toEqual([
      { ...message(1, { senderId: me, text: '' }), editedAt: at(2), deletedAt: at(5), deletedBy: me, changedSeq: 5 },
    ]);
    expect(h.changed.map((m) => [m.text, m.reactions?.map((r) => r.emoji) ?? [], m.deletedAt !== undefined])).toEqual([
      ['hello', [], false],
      ['hello', ['👍'], false],
      ['hello', [], false],
      ['', [], true],
    ]);
  });

  it('sends a reply alone as sendMessage with replyTo, never inside a burst', async () => {
    const h = harness();
    const socket = await h.connect(0, [message(1)]);
    const plain = h.client.send(conversationId, { text: 'first' });

    const reply = h.client.reply(conversationId, 1, { text: 'answer' });
    const after = h.client.send(conversationId, { text: 'after' });
    socket.push({
      type: 'messageAccepted',
      clientMessageId: plain.clientMessageId,
      message: message(2, { senderId: me, text: 'first' }),
    });
    await plain.accepted;

    expect(socket.requests().at(-1)).toEqual({
      action: 'sendMessage',
      conversationId,
      clientMessageId: reply.clientMessageId,
      text: 'answer',
      replyTo: 1,
    });
    const stored = message(3, { senderId: me, text: 'answer', replyTo: { seq: 1, senderId: other, preview: 'm1' } });
    socket.push({ type: 'messageAccepted', clientMessageId: reply.clientMessageId, message: stored });
    await expect(reply.accepted).resolves.toEqual(stored);
    expect(socket.requests().at(-1)).toMatchObject({ action: 'sendMessage', clientMessageId: after.clientMessageId });
    expect(() => h.client.reply(conversationId, 0, { text: 'x' })).toThrow(RangeError);
  });

  it('resends a change with the same clientMessageId after a reconnect until it is answered', async () => {
    const h = harness();
    const socket = await h.connect(0, [message(1)]);
    const reacted = h.client.react(conversationId, 1, '🎉');
    expect(socket.requests()).toHaveLength(1);

    socket.drop();
    const next = await h.socket(1);
    next.open();
    next.push({ type: 'syncComplete', delivered: 0 });

    expect(next.requests()).toEqual([
      { action: 'react', conversationId, seq: 1, emoji: '🎉', clientMessageId: reacted.clientMessageId },
    ]);
    next.push({ type: 'messageAccepted', clientMessageId: reacted.clientMessageId, message: reaction(2, 1, '🎉', me) });
    await expect(reacted.accepted).resolves.toMatchObject({ type: 'reaction', emoji: '🎉' });
    expect(cached(h.client)[0]?.reactions).toEqual([{ emoji: '🎉', count: 1, userIds: [me] }]);
  });

  it('rejects a change refused for a reason of its own, but retries a conflict that names none', async () => {
    const h = harness();
    const socket = await h.connect(0, [message(1)]);
    const busy = h.client.react(conversationId, 1, '👍');
    socket.push({
      type: 'error',
      code: 'conflict',
      message: 'The message is changing; retry',
      clientMessageId: busy.clientMessageId,
    });
    await vi.waitFor(() => expect(socket.requests()).toHaveLength(2));
    expect(socket.requests()[1]).toEqual(socket.requests()[0]);

    socket.push({
      type: 'error',
      code: 'conflict',
      message: 'You already reacted with this emoji',
      clientMessageId: busy.clientMessageId,
      action: 'react',
      details: { reason: 'already_reacted' },
    });

    await expect(busy.accepted).rejects.toBeInstanceOf(ParleyServerError);
    await expect(busy.accepted).rejects.toMatchObject({ code: 'conflict', details: { reason: 'already_reacted' } });
    expect(h.errors).toMatchObject([{ code: 'conflict', clientMessageId: busy.clientMessageId }]);
    expect(socket.requests()).toHaveLength(2);
  });
});

describe('ParleyClient changes: what it receives', () => {
  it('applies pushed edits, reactions and deletes to the cached message in seq order, and updates replies quoting it', async () => {
    const h = harness();
    const socket = await h.connect(0, [
      message(1, { text: 'helo' }),
      message(2, { senderId: third, text: 'hi', replyTo: { seq: 1, senderId: other, preview: 'helo' } }),
    ]);

    socket.push({ type: 'message', message: edit(3, 1, 'hello') });
    socket.push({ type: 'message', message: reaction(4, 1, '👍', third) });
    socket.push({ type: 'message', message: reaction(5, 1, '👍', me) });
    socket.push({ type: 'message', message: reaction(6, 1, '❤️', third) });

    expect(cached(h.client)).toEqual([
      message(1, {
        text: 'hello',
        editedAt: at(3),
        changedSeq: 6,
        reactions: [
          { emoji: '👍', count: 2, userIds: [me, third] },
          { emoji: '❤️', count: 1, userIds: [third] },
        ],
      }),
      message(2, { senderId: third, text: 'hi', replyTo: { seq: 1, senderId: other, preview: 'hello' } }),
    ]);
    // Each change entry is a message event (for ordering and acks), followed by what it changed.
    expect(h.emitted.map((m) => [m.seq, m.type])).toEqual([
      [1, 'text'],
      [2, 'text'],
      [3, 'edit'],
      [4, 'reaction'],
      [5, 'reaction'],
      [6, 'reaction'],
    ]);
    expect(h.changed.map((m) => m.seq)).toEqual([1, 2, 1, 1, 1]);
    await vi.waitFor(() =>
      expect(socket.sent.filter((f) => f.action === 'ack').at(-1)).toEqual({
        action: 'ack',
        conversationId,
        upToSeq: 6,
      }),
    );

    socket.push({ type: 'message', message: deletion(7, 1) });

    expect(cached(h.client)).toEqual([
      { ...message(1, { text: '' }), editedAt: at(3), deletedAt: at(7), deletedBy: other, changedSeq: 7 },
      message(2, { senderId: third, text: 'hi', replyTo: { seq: 1, senderId: other, preview: '', deleted: true } }),
    ]);
    expect(h.changed.slice(-2).map((m) => m.seq)).toEqual([1, 2]);
  });

  it('holds a change behind a missing seq, and skips changes a message from history already shows', async () => {
    // History has the message as it is now: edited by seq 3, which is also listed.
    const current = message(2, { text: 'fixed', editedAt: at(3), changedSeq: 3 });
    const h = harness({
      'GET /conversations/c1/messages': () => ({ messages: [current, edit(3, 2, 'fixed')] }),
    });
    const socket = await h.connect(0, [message(1)]);

    socket.push({ type: 'message', message: reaction(4, 2, '👍', third) });
    expect(h.emitted.map((m) => m.seq)).toEqual([1]);

    await vi.waitFor(() => expect(h.emitted.map((m) => m.seq)).toEqual([1, 2, 3, 4]));
    expect(cached(h.client)).toEqual([
      message(1),
      { ...current, changedSeq: 4, reactions: [{ emoji: '👍', count: 1, userIds: [third] }] },
    ]);
    // The edit was already shown: only the reaction changed the message.
    expect(h.changed.map((m) => [m.seq, m.changedSeq])).toEqual([[2, 4]]);
  });

  it('keeps change entries out of the cache and out of loadOlder pages', async () => {
    const older = [message(1, { text: 'now', editedAt: at(2), changedSeq: 2 }), edit(2, 1, 'now')];
    const h = harness({ 'GET /conversations/c1/messages': () => ({ messages: [...older].reverse() }) });
    await h.connect(0);
    const socket = await h.socket(0);
    socket.push({ type: 'message', message: message(3) });

    const page = await h.client.loadOlder(conversationId, 10);

    expect(page.messages.map((m) => m.seq)).toEqual([1]);
    expect(cached(h.client).map((m) => [m.seq, m.text])).toEqual([
      [1, 'now'],
      [3, 'm3'],
    ]);
    expect(h.changed).toEqual([]);
  });
});
