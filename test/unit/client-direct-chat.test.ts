/**
 * The `directChat` view on the SDK's `sendMessage` frames, against a scripted server (a fake
 * WebSocket, as in client-ordering.test.ts): the peer comes from `messageAccepted.directChat` and
 * goes with an answer that names none; `afterSeq` is the highest seq the client knows when the
 * frame goes out, a resend included.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Message, ParleyClient } from '../../client/index';
import {
  conversationId,
  type FakeSocket,
  type Frame,
  me,
  message,
  other,
  scriptedClientOptions,
} from '../support/client-scripted-server';

const clients: ParleyClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function harness() {
  const sockets: FakeSocket[] = [];
  let tickets = 0;
  const fetchStub: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (`${init?.method ?? 'GET'} ${url.pathname}` === 'POST /connect-ticket') {
      tickets++;
      return Response.json({ ticket: `t-${tickets}`, expiresAt: new Date(Date.now() + 30_000).toISOString() });
    }
    // No conversation list or history here: the client's catch-up after a reconnect finds nothing.
    return Response.json({ error: { code: 'not_found', message: 'no route' } }, { status: 404 });
  };
  const client = new ParleyClient(scriptedClientOptions(sockets, fetchStub));
  clients.push(client);
  const emitted: Message[] = [];
  client.on('message', (m) => emitted.push(m));
  const socket = async (index: number): Promise<FakeSocket> => {
    await vi.waitFor(() => expect(sockets.length).toBeGreaterThan(index));
    return sockets[index] as FakeSocket;
  };
  /** Opens socket `index` and completes its sync with the given replay. */
  const connect = async (index: number, replay: Message[] = []): Promise<FakeSocket> => {
    const opened = await socket(index);
    opened.open();
    if (replay.length > 0) opened.push({ type: 'messages', messages: replay });
    opened.push({ type: 'syncComplete', delivered: replay.length });
    return opened;
  };
  return { client, emitted, socket, connect };
}

/** Sends one message, checks the frame it went out in, and answers it as the server would. */
async function sendAndAccept(
  h: ReturnType<typeof harness>,
  socket: FakeSocket,
  text: string,
  seq: number,
  answer: Frame,
): Promise<Frame> {
  const sent = h.client.send(conversationId, { text });
  const frame = socket.framesOf('sendMessage').at(-1);
  expect(frame).toMatchObject({ clientMessageId: sent.clientMessageId, text });
  const stored = message(seq, { senderId: me, text, clientMessageId: sent.clientMessageId });
  socket.push({ type: 'messageAccepted', clientMessageId: sent.clientMessageId, message: stored, ...answer });
  await expect(sent.accepted).resolves.toEqual(stored);
  return frame as Frame;
}

describe('ParleyClient direct chat view', () => {
  it('sends no view until an answer names the peer, then the highest seq known, and none again once an answer names none', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(1), message(2)]);
    await connected;

    // Nothing has named a peer yet.
    const first = await sendAndAccept(h, socket, 'first', 3, { directChat: { peerId: other } });
    expect(first).not.toHaveProperty('directChat');

    // Its own accepted send is the newest seq the client knows.
    const second = await sendAndAccept(h, socket, 'second', 4, { directChat: { peerId: other } });
    expect(second.directChat).toEqual({ peerId: other, afterSeq: 3 });

    // The peer writes; the next send's view is past the peer's message.
    for (const seq of [5, 6, 7]) socket.push({ type: 'message', message: message(seq) });
    await vi.waitFor(() => expect(h.emitted.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]));
    const third = await sendAndAccept(h, socket, 'third', 8, {});
    expect(third).toEqual({
      action: 'sendMessage',
      conversationId,
      clientMessageId: third.clientMessageId,
      text: 'third',
      directChat: { peerId: other, afterSeq: 7 },
    });

    // That answer named no peer (the peer left, say): later sends carry no view.
    const fourth = await sendAndAccept(h, socket, 'fourth', 9, {});
    expect(fourth).not.toHaveProperty('directChat');
    // A malformed view counts as none.
    await sendAndAccept(h, socket, 'fifth', 10, { directChat: { peerId: 42 } });
    const sixth = await sendAndAccept(h, socket, 'sixth', 11, {});
    expect(sixth).not.toHaveProperty('directChat');
  });

  it('takes the view afresh when a send goes again after a reconnect', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(1)]);
    await connected;
    await sendAndAccept(h, socket, 'hello', 2, { directChat: { peerId: other } });

    const sent = h.client.send(conversationId, { text: 'again' });
    expect(socket.framesOf('sendMessage').at(-1)).toMatchObject({
      clientMessageId: sent.clientMessageId,
      directChat: { peerId: other, afterSeq: 2 },
    });

    // The connection drops before the answer; the peer's message comes in the next sync's replay.
    socket.drop();
    const next = await h.connect(1, [message(3)]);
    expect(next.framesOf('sendMessage')).toEqual([
      {
        action: 'sendMessage',
        conversationId,
        clientMessageId: sent.clientMessageId,
        text: 'again',
        directChat: { peerId: other, afterSeq: 3 },
      },
    ]);
  });

  it('sends no view with a reply, which the server takes only for plain text', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(1)]);
    await connected;
    await sendAndAccept(h, socket, 'hello', 2, { directChat: { peerId: other } });

    h.client.reply(conversationId, 1, { text: 'yes' });

    expect(socket.framesOf('sendMessage').at(-1)).toEqual({
      action: 'sendMessage',
      conversationId,
      clientMessageId: expect.any(String),
      text: 'yes',
      replyTo: 1,
    });
  });

  it('counts a seq still waiting behind a gap as known, and sends no view in a burst', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(1)]);
    await connected;
    await sendAndAccept(h, socket, 'hello', 2, { directChat: { peerId: other } });

    // Seq 3 is missing; 4 waits for it but is known.
    socket.push({ type: 'message', message: message(4) });
    const lone = h.client.send(conversationId, { text: 'lone' });
    expect(socket.framesOf('sendMessage').at(-1)).toMatchObject({ directChat: { peerId: other, afterSeq: 4 } });

    // Texts queued behind it go out together, without a view.
    const queued = [h.client.send(conversationId, { text: 'a' }), h.client.send(conversationId, { text: 'b' })];
    socket.push({
      type: 'messageAccepted',
      clientMessageId: lone.clientMessageId,
      message: message(5, { senderId: me, text: 'lone', clientMessageId: lone.clientMessageId }),
      directChat: { peerId: other },
    });
    await lone.accepted;
    expect(socket.framesOf('sendMessages')).toEqual([
      {
        action: 'sendMessages',
        conversationId,
        messages: queued.map((sent, i) => ({ clientMessageId: sent.clientMessageId, text: i === 0 ? 'a' : 'b' })),
      },
    ]);
  });
});
