/**
 * The client SDK against a scripted server: a fake WebSocket whose frames the test writes by hand
 * and a fake fetch for history. Covers ordering, duplicates, gap filling (voids included), acks,
 * send retries and reconnects without a running stack.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ConnectionState,
  type Message,
  ParleyClient,
  type ParleyClientOptions,
  ParleyServerError,
  type ReceiptEvent,
} from '../../client/index';
import {
  conversationId,
  type FakeSocket,
  me,
  message,
  other,
  scriptedClientOptions,
  token,
} from '../support/client-scripted-server';

type Route = (url: URL, init: RequestInit | undefined) => unknown;

interface Harness {
  client: ParleyClient;
  sockets: FakeSocket[];
  requests: URL[];
  emitted: Message[];
  receipts: ReceiptEvent[];
  states: ConnectionState[];
  errors: Error[];
  /** The newest socket, once the client has made it. */
  socket(index: number): Promise<FakeSocket>;
  /** Opens socket `index` and completes its sync with the given replay. */
  connect(index: number, replay?: Message[]): Promise<FakeSocket>;
}

const clients: ParleyClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

/** Each POST /connect-ticket answers a new ticket, and only to the bearer of the token. */
function connectTicketRoute(): Record<string, Route> {
  let issued = 0;
  return {
    'POST /connect-ticket': (_url, init) => {
      expect(new Headers(init?.headers).get('authorization')).toBe(`Bearer ${token}`);
      issued++;
      return { ticket: `ticket-${issued}`, expiresAt: new Date(Date.now() + 30_000).toISOString() };
    },
  };
}

function harness(routes: Record<string, Route> = {}, options: Partial<ParleyClientOptions> = {}): Harness {
  const sockets: FakeSocket[] = [];
  const requests: URL[] = [];
  const fetchStub: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    // History and catch-up calls are what the tests inspect; every (re)connect also takes a ticket.
    if (url.pathname !== '/connect-ticket') requests.push(url);
    const route = { ...connectTicketRoute(), ...routes }[`${init?.method ?? 'GET'} ${url.pathname}`];
    if (route === undefined) {
      return new Response(JSON.stringify({ error: { code: 'not_found', message: 'no route' } }), { status: 404 });
    }
    return new Response(JSON.stringify(route(url, init)), { status: 200 });
  };
  const client = new ParleyClient({ ...scriptedClientOptions(sockets, fetchStub), ...options });
  clients.push(client);
  const h: Harness = {
    client,
    sockets,
    requests,
    emitted: [],
    receipts: [],
    states: [],
    errors: [],
    async socket(index) {
      await vi.waitFor(() => expect(sockets.length).toBeGreaterThan(index));
      return sockets[index] as FakeSocket;
    },
    async connect(index, replay = []) {
      const socket = await h.socket(index);
      socket.open();
      expect(socket.sent.at(-1)).toEqual({ action: 'sync', pages: true });
      // The SDK asks for pages: the server replays many messages to a frame.
      if (replay.length > 0) socket.push({ type: 'messages', messages: replay });
      socket.push({ type: 'syncComplete', delivered: replay.length });
      return socket;
    },
  };
  client.on('message', (m) => h.emitted.push(m));
  client.on('receipt', (r) => h.receipts.push(r));
  client.on('connection', (s) => h.states.push(s));
  client.on('error', (e) => h.errors.push(e));
  return h;
}

const seqs = (messages: readonly Message[]) => messages.map((m) => m.seq);
const lastAck = (socket: FakeSocket) => socket.framesOf('ack').at(-1);

describe('ParleyClient ordering', () => {
  it('connects with a fresh connect ticket (never the token) and device id, syncs, and emits the replay in order once synced', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(3), message(4)]);
    await connected;

    const url = new URL(socket.url);
    expect(url.pathname).toBe('/prod');
    expect(url.searchParams.get('ticket')).toBe('ticket-1');
    expect(url.searchParams.has('token')).toBe(false);
    expect(socket.url).not.toContain(token);
    expect(url.searchParams.get('deviceId')).toBe('device-1');
    expect(h.client.userId).toBe(me);
    expect(h.client.state).toBe('connected');
    expect(h.states).toEqual(['connecting', 'syncing', 'connected']);
    expect(seqs(h.emitted)).toEqual([3, 4]);
    await vi.waitFor(() => expect(lastAck(socket)).toEqual({ action: 'ack', conversationId, upToSeq: 4 }));
  });

  it('takes the lowest replayed seq as the baseline even when a live push overtakes the replay', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.socket(0);
    socket.open();
    socket.push({ type: 'message', message: message(10) });
    for (const seq of [7, 8, 9]) socket.push({ type: 'message', message: message(seq) });
    expect(h.emitted).toEqual([]);
    socket.push({ type: 'syncComplete', delivered: 3 });
    await connected;

    expect(seqs(h.emitted)).toEqual([7, 8, 9, 10]);
    expect(h.requests).toEqual([]);
  });

  it('drops duplicates, holds seqs after a gap and fills it from history, voids included but never emitted', async () => {
    const history = [message(5), message(6), message(7, { type: 'void', text: '' }), message(8), message(9)];
    const h = harness({
      'GET /conversations/c1/messages': (url) => {
        const after = Number(url.searchParams.get('after'));
        return { messages: history.filter((m) => m.seq > after) };
      },
    });
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(3), message(4)]);
    await connected;

    socket.push({ type: 'message', message: message(4) });
    socket.push({ type: 'message', message: message(6) });
    socket.push({ type: 'message', message: message(8) });
    socket.push({ type: 'message', message: message(6) });
    expect(seqs(h.emitted)).toEqual([3, 4]);

    await vi.waitFor(() => expect(seqs(h.emitted)).toEqual([3, 4, 5, 6, 8, 9]));
    expect(h.requests.map((url) => url.search)).toEqual(['?after=4&limit=100']);
    expect(seqs(h.client.messages(conversationId))).toEqual([3, 4, 5, 6, 8, 9]);
    await vi.waitFor(() => expect(lastAck(socket)).toEqual({ action: 'ack', conversationId, upToSeq: 9 }));

    socket.push({ type: 'message', message: message(9) });
    socket.push({ type: 'message', message: message(10) });
    expect(seqs(h.emitted)).toEqual([3, 4, 5, 6, 8, 9, 10]);
    expect(h.errors).toEqual([]);
  });

  it('takes a void pushed live as its seq filled: the next message is emitted at once, with no history read', async () => {
    const h = harness({
      'GET /conversations/c1/messages': () => {
        throw new Error('no gap to fill');
      },
    });
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(3)]);
    await connected;

    socket.push({ type: 'message', message: message(4, { type: 'void', text: '' }) });
    socket.push({ type: 'message', message: message(5) });

    expect(seqs(h.emitted)).toEqual([3, 5]);
    expect(seqs(h.client.messages(conversationId))).toEqual([3, 5]);
    await vi.waitFor(() => expect(lastAck(socket)).toEqual({ action: 'ack', conversationId, upToSeq: 5 }));
    expect(h.requests.filter((url) => url.pathname.endsWith('/messages'))).toEqual([]);
    expect(h.errors).toEqual([]);
  });

  it('treats seqs history omits below its first entry as invisible (a re-added member)', async () => {
    const h = harness({
      'GET /conversations/c1/messages': () => ({ messages: [message(20, { type: 'system' }), message(21)] }),
    });
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(10, { type: 'system' })]);
    await connected;

    socket.push({ type: 'message', message: message(21) });
    await vi.waitFor(() => expect(seqs(h.emitted)).toEqual([10, 20, 21]));
  });

  it('skips seqs history cannot supply (no longer a member) and reports gap_unfilled', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(3)]);
    await connected;

    socket.push({ type: 'message', message: message(5, { type: 'system' }) });

    await vi.waitFor(() => expect(seqs(h.emitted)).toEqual([3, 5]));
    expect(h.errors).toMatchObject([{ name: 'ParleyClientError', code: 'gap_unfilled' }]);
  });

  it('acks again when a message it already holds is delivered again (the server may have parked a copy)', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(3), message(4)]);
    await connected;
    await vi.waitFor(() => expect(socket.framesOf('ack')).toHaveLength(1));

    socket.push({ type: 'message', message: message(3) });

    await vi.waitFor(() => expect(socket.framesOf('ack')).toHaveLength(2));
    expect(lastAck(socket)).toEqual({ action: 'ack', conversationId, upToSeq: 4 });
    expect(seqs(h.emitted)).toEqual([3, 4]);
  });

  it('sends no ack that a read it has sent covers (the read acknowledges the delivery too)', async () => {
    // A long ack delay: the read goes out while the acks wait, as when the app reads what just arrived.
    const h = harness({}, { ackDelayMs: 60_000 });
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    socket.push({ type: 'message', message: message(1) });
    socket.push({ type: 'message', message: message(2) });
    h.client.markRead(conversationId, 2);
    expect(socket.framesOf('read')).toEqual([{ action: 'read', conversationId, upToSeq: 2 }]);

    // close() flushes the acks still waiting: the read covered seq 2, so none goes.
    await h.client.close();
    expect(socket.framesOf('ack')).toEqual([]);
  });

  it('still acks what arrived past the last read it sent', async () => {
    const h = harness({}, { ackDelayMs: 60_000 });
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    for (const seq of [1, 2, 3]) socket.push({ type: 'message', message: message(seq) });
    h.client.markRead(conversationId, 2);

    await h.client.close();
    expect(socket.framesOf('ack')).toEqual([{ action: 'ack', conversationId, upToSeq: 3 }]);
  });

  it('ignores frames it cannot read and frame types it does not know', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;

    socket.onmessage?.({ data: '{oops' });
    socket.push({ type: 'typing', conversationId });
    socket.push({ type: 'pong' });
    socket.push({ type: 'message', message: message(1) });

    expect(seqs(h.emitted)).toEqual([1]);
    expect(h.errors).toMatchObject([{ code: 'bad_frame' }]);
  });

  it('emits system messages as membership events too, and receipts as receipt events', async () => {
    const h = harness();
    const membership: Message[] = [];
    h.client.on('membership', (m) => membership.push(m));
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;

    const event = { kind: 'membersAdded' as const, actorId: other, userIds: [me] };
    socket.push({ type: 'message', message: message(2, { type: 'system', event }) });
    socket.push({
      type: 'receipt',
      conversationId,
      userId: other,
      kind: 'read',
      upToSeq: 2,
      at: '2026-01-01T00:00:00.000Z',
    });

    expect(membership.map((m) => m.event)).toEqual([event]);
    expect(seqs(h.emitted)).toEqual([2]);
    expect(h.receipts).toEqual([
      { conversationId, userId: other, kind: 'read', upToSeq: 2, at: '2026-01-01T00:00:00.000Z' },
    ]);
  });

  it("emits each receipt of a sender's batch (a `receipts` frame) as a receipt event, and skips a malformed one", async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    const at = '2026-01-01T00:00:00.000Z';

    socket.push({
      type: 'receipts',
      receipts: [
        { conversationId, userId: other, kind: 'delivered', upToSeq: 3, at },
        { conversationId, userId: 'u-third', kind: 'read', upToSeq: 2, at },
        { conversationId, userId: other, kind: 'seen', upToSeq: 3, at },
      ],
    });

    expect(h.receipts).toEqual([
      { conversationId, userId: other, kind: 'delivered', upToSeq: 3, at },
      { conversationId, userId: 'u-third', kind: 'read', upToSeq: 2, at },
    ]);
    expect(h.errors).toEqual([]);
  });

  it('pages older history below the oldest cached message and caches it without emitting it', async () => {
    const all = Array.from({ length: 12 }, (_, i) => message(i + 1));
    const h = harness({
      'GET /conversations/c1/messages': (url) => {
        const before = Number(url.searchParams.get('before') ?? Number.POSITIVE_INFINITY);
        const limit = Number(url.searchParams.get('limit'));
        const below = all.filter((m) => m.seq < before).reverse();
        return { messages: below.slice(0, limit), ...(below.length > limit ? { cursor: 'more' } : {}) };
      },
    });
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    socket.push({ type: 'message', message: message(13) });

    const first = await h.client.loadOlder(conversationId, 5);
    const second = await h.client.loadOlder(conversationId, 5);
    const third = await h.client.loadOlder(conversationId, 5);
    const fourth = await h.client.loadOlder(conversationId, 5);

    expect([first, second, third].map((page) => [seqs(page.messages), page.hasMore])).toEqual([
      [[8, 9, 10, 11, 12], true],
      [[3, 4, 5, 6, 7], true],
      [[1, 2], false],
    ]);
    expect(fourth).toEqual({ messages: [], hasMore: false });
    expect(seqs(h.client.messages(conversationId))).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(seqs(h.emitted)).toEqual([13]);
  });
});

describe('ParleyClient sends and reads', () => {
  it('queues sends offline, sends them as one burst, keeps one frame in flight, and retries with the same ids until accepted', async () => {
    const h = harness();
    const first = h.client.send(conversationId, { text: 'first' });
    const second = h.client.send(conversationId, { text: 'second' });
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    const burst = {
      action: 'sendMessages',
      conversationId,
      messages: [
        { clientMessageId: first.clientMessageId, text: 'first' },
        { clientMessageId: second.clientMessageId, text: 'second' },
      ],
    };

    expect(socket.framesOf('sendMessages')).toEqual([burst]);
    // Sent while the burst is in flight: it waits for the answer, so the order holds.
    const third = h.client.send(conversationId, { text: 'third' });
    expect(socket.framesOf('sendMessage')).toEqual([]);
    // A busy conversation (an error names a burst by its first id): retried whole after a backoff.
    socket.push({ type: 'error', code: 'conflict', message: 'busy', clientMessageId: first.clientMessageId });
    await vi.waitFor(() => expect(socket.framesOf('sendMessages')).toHaveLength(2));
    expect(socket.framesOf('sendMessages')[1]?.messages).toEqual([
      ...burst.messages,
      { clientMessageId: third.clientMessageId, text: 'third' },
    ]);

    // The connection dies before the answer: the next connection sends the same ids again, after its sync.
    socket.drop();
    const next = await h.socket(1);
    next.open();
    expect(next.sent).toEqual([{ action: 'sync', pages: true }]);
    next.push({ type: 'syncComplete', delivered: 0 });
    expect(next.framesOf('sendMessages').map((frame) => frame.messages)).toEqual([
      [...burst.messages, { clientMessageId: third.clientMessageId, text: 'third' }],
    ]);

    const stored = [first, second].map((sent, i) =>
      message(5 + i, { senderId: me, text: i === 0 ? 'first' : 'second', clientMessageId: sent.clientMessageId }),
    );
    // An answer that leaves one out (Parley's server answers a whole burst): the rest stay in flight.
    next.push({ type: 'messagesAccepted', conversationId, messages: stored });
    await expect(first.accepted).resolves.toEqual(stored[0]);
    await expect(second.accepted).resolves.toEqual(stored[1]);
    // The device's own messages join the ordered cache and the stream.
    await vi.waitFor(() => expect(h.client.messages(conversationId)).toEqual(stored));
    expect(h.emitted).toEqual(stored);
    // The third is still unanswered: it goes again only when its frame times out or the connection changes.
    expect(next.framesOf('sendMessage')).toEqual([]);

    next.drop();
    const last = await h.socket(2);
    last.open();
    last.push({ type: 'syncComplete', delivered: 0 });
    expect(last.framesOf('sendMessage').map((frame) => frame.clientMessageId)).toEqual([third.clientMessageId]);
    last.push({
      type: 'error',
      code: 'not_found',
      message: 'Conversation not found',
      clientMessageId: third.clientMessageId,
    });
    await expect(third.accepted).rejects.toBeInstanceOf(ParleyServerError);
    await expect(third.accepted).rejects.toMatchObject({ code: 'not_found', clientMessageId: third.clientMessageId });
  });

  it('splits a burst the server refuses outright, so each message gets its own answer', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    const good = h.client.send(conversationId, { text: 'fine' });
    expect(socket.framesOf('sendMessage').map((frame) => frame.clientMessageId)).toEqual([good.clientMessageId]);
    const tooLong = h.client.send(conversationId, { text: 'x'.repeat(5000) });
    const after = h.client.send(conversationId, { text: 'after' });
    socket.push({
      type: 'messageAccepted',
      clientMessageId: good.clientMessageId,
      message: message(2, { senderId: me, text: 'fine', clientMessageId: good.clientMessageId }),
    });
    await good.accepted;
    expect(socket.framesOf('sendMessages').map((frame) => frame.messages)).toEqual([
      [
        { clientMessageId: tooLong.clientMessageId, text: 'x'.repeat(5000) },
        { clientMessageId: after.clientMessageId, text: 'after' },
      ],
    ]);

    socket.push({ type: 'error', code: 'bad_request', message: 'too long', clientMessageId: tooLong.clientMessageId });
    await vi.waitFor(() =>
      expect(socket.framesOf('sendMessage').map((frame) => frame.clientMessageId)).toEqual([
        good.clientMessageId,
        tooLong.clientMessageId,
      ]),
    );
    socket.push({ type: 'error', code: 'bad_request', message: 'too long', clientMessageId: tooLong.clientMessageId });
    await expect(tooLong.accepted).rejects.toMatchObject({ code: 'bad_request' });
    await vi.waitFor(() =>
      expect(
        socket
          .framesOf('sendMessage')
          .map((frame) => frame.clientMessageId)
          .at(-1),
      ).toBe(after.clientMessageId),
    );
    const stored = message(3, { senderId: me, text: 'after', clientMessageId: after.clientMessageId });
    socket.push({ type: 'messageAccepted', clientMessageId: after.clientMessageId, message: stored });
    await expect(after.accepted).resolves.toEqual(stored);
  });

  it('answers a duplicate accept (a retry the server already had) without emitting twice', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    const sent = h.client.send(conversationId, { text: 'once' });
    const stored = message(2, { senderId: me, text: 'once', clientMessageId: sent.clientMessageId });

    socket.push({ type: 'messageAccepted', clientMessageId: sent.clientMessageId, message: stored });
    socket.push({ type: 'messageAccepted', clientMessageId: sent.clientMessageId, message: stored });

    await sent.accepted;
    await vi.waitFor(() => expect(h.emitted).toEqual([stored]));
    socket.push({ type: 'messageAccepted', clientMessageId: sent.clientMessageId, message: stored });
    expect(h.emitted).toEqual([stored]);
  });

  it('does not let its own first message hide an earlier seq whose push comes after the answer', async () => {
    const h = harness({}, { gapFillDelayMs: 60_000 });
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    const sent = h.client.send(conversationId, { text: 'right after creating' });
    const stored = message(2, { senderId: me, text: 'right after creating', clientMessageId: sent.clientMessageId });

    socket.push({ type: 'messageAccepted', clientMessageId: sent.clientMessageId, message: stored });
    await sent.accepted;
    expect(h.emitted).toEqual([]);
    socket.push({ type: 'message', message: message(1, { type: 'system', senderId: me }) });

    expect(seqs(h.emitted)).toEqual([1, 2]);
    expect(seqs(h.client.messages(conversationId))).toEqual([1, 2]);
  });

  it('queues reads offline, coalesces them, and writes them again on a new socket until a later answer shows they arrived', async () => {
    const h = harness();
    h.client.markRead(conversationId, 3);
    h.client.markRead(conversationId, 7);
    h.client.markRead(conversationId, 5);
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    expect(socket.framesOf('read')).toEqual([{ action: 'read', conversationId, upToSeq: 7 }]);

    // No answer came to anything written after it: the read may have died with the socket.
    socket.drop();
    const next = await h.connect(1);
    expect(next.framesOf('read')).toEqual([{ action: 'read', conversationId, upToSeq: 7 }]);
    // A send written after the read is answered: the read reached the server before it.
    const sent = h.client.send(conversationId, { text: 'after the read' });
    next.push({
      type: 'messageAccepted',
      clientMessageId: sent.clientMessageId,
      message: message(8, { senderId: me, text: 'after the read', clientMessageId: sent.clientMessageId }),
    });
    await sent.accepted;

    next.drop();
    const third = await h.connect(2);
    expect(third.framesOf('read')).toEqual([]);
    h.client.markRead(conversationId, 6);
    expect(third.framesOf('read')).toEqual([]);
    expect(h.errors).toEqual([]);
  });

  it('writes reads of several conversations at once; a pong settles only the reads written before its ping', async () => {
    vi.useFakeTimers();
    try {
      const h = harness({}, { keepAliveMs: 1_000, responseTimeoutMs: 60_000 });
      const connected = h.client.connect();
      const socket = await h.connect(0);
      await connected;
      h.client.markRead(conversationId, 2);
      h.client.markRead('c-other', 9);
      // Neither waits for the other: the server answers a read only to refuse it.
      expect(socket.framesOf('read')).toEqual([
        { action: 'read', conversationId, upToSeq: 2 },
        { action: 'read', conversationId: 'c-other', upToSeq: 9 },
      ]);

      await vi.advanceTimersByTimeAsync(1_000);
      expect(socket.framesOf('ping')).toHaveLength(1);
      h.client.markRead(conversationId, 3);
      socket.push({ type: 'pong' });

      socket.drop();
      await vi.advanceTimersByTimeAsync(0);
      const next = await h.connect(1);
      // The pong answered a ping written after the first two reads, not after the third.
      expect(next.framesOf('read')).toEqual([{ action: 'read', conversationId, upToSeq: 3 }]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends a read again when the server refuses it by name for a passing reason, and reports any other refusal', async () => {
    const h = harness({}, { backoff: { initialMs: 1, maxMs: 1 } });
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    h.client.markRead(conversationId, 4);
    h.client.markRead('c-other', 9);
    h.client.markRead('c-left', 2);

    socket.push({
      type: 'error',
      code: 'internal',
      message: 'Internal error',
      action: 'read',
      conversationId: 'c-other',
    });
    await vi.waitFor(() => expect(socket.framesOf('read')).toHaveLength(4));
    expect(socket.framesOf('read')[3]).toEqual({ action: 'read', conversationId: 'c-other', upToSeq: 9 });

    socket.push({
      type: 'error',
      code: 'not_found',
      message: 'Conversation not found',
      action: 'read',
      conversationId: 'c-left',
    });
    expect(h.errors).toMatchObject([{ code: 'not_found', action: 'read' }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(socket.framesOf('read')).toHaveLength(4);
  });

  it('sends no read that the user already made on another device (its read receipt), and reads past it', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    const at = new Date().toISOString();
    socket.push({ type: 'receipt', conversationId, userId: me, kind: 'read', upToSeq: 5, at });
    // Someone else's read says nothing about this user's.
    socket.push({ type: 'receipt', conversationId: 'c-other', userId: other, kind: 'read', upToSeq: 9, at });

    h.client.markRead(conversationId, 4);
    h.client.markRead(conversationId, 5);
    h.client.markRead('c-other', 9);
    expect(socket.framesOf('read')).toEqual([{ action: 'read', conversationId: 'c-other', upToSeq: 9 }]);

    h.client.markRead(conversationId, 6);
    expect(socket.framesOf('read').at(-1)).toEqual({ action: 'read', conversationId, upToSeq: 6 });
    expect(h.receipts.map((receipt) => receipt.userId)).toEqual([me, other]);
  });

  it('after a reconnect, fetches what a conversation gained unseen (a lost last push)', async () => {
    const h = harness({
      'GET /users/u-me/conversations': () => ({ conversations: [{ id: conversationId, lastSeq: 5 }] }),
      'GET /conversations/c1/messages': (url) => ({
        messages: [message(4), message(5)].filter((m) => m.seq > Number(url.searchParams.get('after'))),
      }),
    });
    const connected = h.client.connect();
    const socket = await h.connect(0, [message(3)]);
    await connected;

    socket.drop();
    await h.connect(1);

    await vi.waitFor(() => expect(seqs(h.emitted)).toEqual([3, 4, 5]));
    expect(h.requests.map((url) => url.pathname)).toEqual(['/users/u-me/conversations', '/conversations/c1/messages']);
  });

  it('pings, replaces a connection that stops answering, and reconnects before maxConnectionMs', async () => {
    const h = harness({}, { keepAliveMs: 10, responseTimeoutMs: 50, maxConnectionMs: 60_000 });
    const connected = h.client.connect();
    const silent = await h.connect(0);
    await connected;

    // Pings go unanswered: the socket is presumed dead and replaced.
    await vi.waitFor(() => expect(silent.framesOf('ping').length).toBeGreaterThan(0));
    const next = await h.socket(1);
    expect(silent.readyState).toBe(3);
    next.open();
    next.push({ type: 'syncComplete', delivered: 0 });
    expect(h.errors).toMatchObject([{ code: 'connection_failed' }]);

    const recycling = harness({}, { maxConnectionMs: 30 });
    const recycled = recycling.client.connect();
    const old = await recycling.connect(0);
    await recycled;
    const sent = recycling.client.send(conversationId, { text: 'across the recycle' });
    expect(old.framesOf('sendMessage')).toHaveLength(1);

    const fresh = await recycling.socket(1);
    expect(old.readyState).toBe(3);
    fresh.open();
    fresh.push({ type: 'syncComplete', delivered: 0 });
    expect(fresh.framesOf('sendMessage').map((frame) => frame.clientMessageId)).toEqual([sent.clientMessageId]);
    expect(recycling.errors).toEqual([]);
  });

  it('pings only after keepAliveMs with nothing sent: every frame it sends puts the ping off', async () => {
    vi.useFakeTimers();
    try {
      const h = harness({}, { keepAliveMs: 60_000, responseTimeoutMs: 30_000 });
      const connected = h.client.connect();
      const socket = await h.connect(0);
      await connected;

      // A frame every 40 s: the connection is never quiet for a minute.
      for (let seq = 1; seq <= 5; seq++) {
        await vi.advanceTimersByTimeAsync(40_000);
        h.client.markRead(conversationId, seq);
        await vi.advanceTimersByTimeAsync(0);
        expect(socket.framesOf('read').at(-1)).toMatchObject({ upToSeq: seq });
      }
      expect(socket.framesOf('ping')).toEqual([]);

      await vi.advanceTimersByTimeAsync(60_000);
      expect(socket.framesOf('ping')).toHaveLength(1);
      socket.push({ type: 'pong' });
      await vi.advanceTimersByTimeAsync(60_000);
      expect(socket.framesOf('ping')).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends again what was in flight when API Gateway answers with its own failure, not after the answer timeout', async () => {
    // The default 30 s answer timeout: a resend within this test can only come from the failure frame.
    const h = harness({}, { responseTimeoutMs: 30_000 });
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    const sent = h.client.send(conversationId, { text: 'hello' });
    h.client.markRead(conversationId, 4);
    expect(socket.framesOf('sendMessage')).toHaveLength(1);
    expect(socket.framesOf('read')).toHaveLength(1);

    // What API Gateway sends when the route's function fails or runs past 29 s: no type, no request of ours.
    socket.push({ message: 'Internal server error', connectionId: 'c-1', requestId: 'r-1' });

    await vi.waitFor(() => expect(socket.framesOf('sendMessage')).toHaveLength(2));
    await vi.waitFor(() => expect(socket.framesOf('read')).toHaveLength(2));
    const [first, second] = socket.framesOf('sendMessage');
    expect(second?.clientMessageId).toBe(first?.clientMessageId);
    expect(socket.framesOf('read')[1]).toEqual({ action: 'read', conversationId, upToSeq: 4 });
    socket.push({
      type: 'messageAccepted',
      clientMessageId: sent.clientMessageId,
      message: message(5, { senderId: me, text: 'hello', clientMessageId: sent.clientMessageId }),
    });
    await expect(sent.accepted).resolves.toMatchObject({ seq: 5 });
    expect(h.errors).toEqual([]);

    // "Forbidden" (no such route) is not a lost request: nothing goes again, and it is reported.
    socket.push({ message: 'Forbidden', connectionId: 'c-1', requestId: 'r-2' });
    expect(h.errors).toMatchObject([{ code: 'bad_frame' }]);
    expect(socket.framesOf('sendMessage')).toHaveLength(2);
  });

  it('rejects a refused send and reports it as an error event too', async () => {
    const h = harness();
    const connected = h.client.connect();
    const socket = await h.connect(0);
    await connected;
    const sent = h.client.send(conversationId, { text: '   ' });

    socket.push({
      type: 'error',
      code: 'bad_request',
      message: 'text must not be blank',
      clientMessageId: sent.clientMessageId,
    });

    await expect(sent.accepted).rejects.toMatchObject({ name: 'ParleyServerError', code: 'bad_request' });
    expect(h.errors).toMatchObject([{ code: 'bad_request', clientMessageId: sent.clientMessageId }]);
  });

  it('rejects pending sends on close and stops reconnecting', async () => {
    const h = harness();
    const connected = h.client.connect();
    await h.connect(0);
    await connected;
    const sent = h.client.send(conversationId, { text: 'never answered' });

    await h.client.close();

    await expect(sent.accepted).rejects.toMatchObject({ code: 'closed' });
    expect(h.client.state).toBe('closed');
    expect(h.sockets).toHaveLength(1);
    await expect(h.client.connect()).rejects.toMatchObject({ code: 'closed' });
  });
});
