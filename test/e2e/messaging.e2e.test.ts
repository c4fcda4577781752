/**
 * End to end on the local stack with real WebSocket clients: Alice on two devices, Bob on two
 * devices with one offline. Everything goes through the gateways and the real handlers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits } from '#shared/config/limits';
import { api, ChatClient, type Frame, HandshakeRefused, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack, wireRepeatsAllowed } from '../support/local-stack';

let stack: TestStack;
let alice: { token: string; userId: string };
let bob: { token: string; userId: string };
let mallory: { token: string; userId: string };
let conversationId: string;
let alicePhone: ChatClient;
let aliceLaptop: ChatClient;
let bobLaptop: ChatClient;
const clients: ChatClient[] = [];

async function connect(user: { token: string }, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

/** A marker sent after the fact proves the frames before it were all delivered (per-conversation order). */
async function sendMarker(from: ChatClient, to: ChatClient[], label: string): Promise<void> {
  const accepted = await from.sendMessage(conversationId, `marker-${label}`, `marker ${label}`);
  expect(accepted.type).toBe('messageAccepted');
  await Promise.all(to.map((client) => client.waitForMessage((m) => m.text === `marker ${label}`, `marker ${label}`)));
}

beforeAll(async () => {
  stack = await startTestStack('e2e-messaging');
  [alice, bob, mallory] = (await Promise.all(
    ['alice', 'bob', 'mallory'].map((name) => issueToken(stack.httpUrl, name)),
  )) as [typeof alice, typeof alice, typeof alice];
  // Bob's tablet has been seen before the conversation began (a known device, owed every seq) and is offline now.
  const tablet = await connect(bob, 'tablet');
  await tablet.close();
  const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [bob.userId],
  });
  expect(created.status).toBe(201);
  conversationId = String(created.body.id);
  alicePhone = await connect(alice, 'phone');
  aliceLaptop = await connect(alice, 'laptop');
  bobLaptop = await connect(bob, 'laptop');
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack?.stop();
});

describe('live delivery', () => {
  it('reaches every online device except the sending one', async () => {
    const accepted = await alicePhone.sendMessage(conversationId, 'hello-1', 'hello bob');

    expect(accepted).toMatchObject({
      type: 'messageAccepted',
      clientMessageId: 'hello-1',
      // seq 1 is the conversation's creation event.
      message: { conversationId, seq: 2, senderId: alice.userId, text: 'hello bob' },
    });
    await bobLaptop.waitForMessage((m) => m.text === 'hello bob');
    await aliceLaptop.waitForMessage((m) => m.text === 'hello bob');
    await sendMarker(bobLaptop, [alicePhone], 'after-hello');
    expect(alicePhone.messages().filter((m) => m.text === 'hello bob')).toHaveLength(0);
  });

  it('delivers 200 rapid sends complete and in seq order', async () => {
    const texts = Array.from({ length: 200 }, (_, i) => `rapid ${i}`);
    // Pipelined as a busy client would: 20 sends in flight, the next one the moment one is accepted.
    const inFlight = 20;
    let next = 0;
    const sendNext = async (): Promise<void> => {
      while (next < texts.length) {
        const i = next++;
        const answer = await aliceLaptop.sendMessage(conversationId, `rapid-${i}`, texts[i] as string);
        expect(answer.type).toBe('messageAccepted');
      }
    };
    await Promise.all(Array.from({ length: inFlight }, sendNext));
    await sendMarker(alicePhone, [bobLaptop], 'after-rapid');

    const frames = bobLaptop.messages(conversationId).filter((m) => m.text.startsWith('rapid '));
    const repeatsAllowed = wireRepeatsAllowed(stack);
    if (repeatsAllowed !== undefined) console.warn(`[messaging] repeats of an id set aside: ${repeatsAllowed}`);
    const seen = new Set<string>();
    const received = repeatsAllowed === undefined ? frames : frames.filter((m) => !seen.has(m.id) && seen.add(m.id));
    expect(received.map((m) => m.text).sort()).toEqual([...texts].sort());
    const seqs = received.map((m) => m.seq);
    // Concurrent sends deliver directly and race on the wire: the order promise is the SDK's, which
    // orders by seq (client-resilience and client-sdk e2e tests hold it to that). Here: each once, no gap.
    expect(new Set(seqs).size).toBe(200);
    const first = Math.min(...seqs);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => first + i));
    // 200 sends through every real handler; generous so a loaded runner finishes rather than times out.
  }, 180_000);

  it('turns a retried clientMessageId into one message', async () => {
    const first = await alicePhone.sendMessage(conversationId, 'retry-me', 'only once');
    const retry = await alicePhone.sendMessage(conversationId, 'retry-me', 'only once');
    await sendMarker(alicePhone, [bobLaptop], 'after-retry');

    expect(retry).toEqual(first);
    expect(bobLaptop.messages().filter((m) => m.text === 'only once')).toHaveLength(1);
  });
});

describe('offline device', () => {
  it('gets every message it missed on sync, in order, and never again once acked', async () => {
    // Markers arrive by direct delivery, ahead of fan-out parking for the tablet; and a connection that
    // opened while fan-out still ran would get its late posts ahead of the replay.
    await stack.streamsSettled();
    const tablet = await connect(bob, 'tablet');
    const replayed: Frame[] = [];
    const replayDone = tablet.request({ action: 'sync' }, 'syncComplete');

    const complete = await replayDone;
    for (const frame of tablet.frames) if (frame.type === 'message') replayed.push(frame);

    const seqs = replayed.map((frame) => (frame.message as { seq: number }).seq);
    const lastSeq = Math.max(...bobLaptop.messages(conversationId).map((m) => m.seq));
    // Every seq, the creation event (seq 1) included.
    const owed = Array.from({ length: lastSeq }, (_, i) => i + 1);
    expect(complete).toMatchObject({ type: 'syncComplete', delivered: owed.length });
    expect(seqs).toEqual(owed);

    // An ack is answered only when refused: wait for its handler, then the inbox is empty.
    await stack.handled('wsAck', 1, () => tablet.send({ action: 'ack', conversationId, upToSeq: lastSeq }));
    expect(tablet.frames.filter((frame) => frame.type === 'error')).toEqual([]);
    const again = await tablet.request({ action: 'sync' }, 'syncComplete');
    expect(again).toMatchObject({ type: 'syncComplete', delivered: 0 });
    await tablet.close();
  });

  it('cleans up a stale connection and parks the message for its device', async () => {
    const bobPhone = await connect(bob, 'phone');
    const staleConnectionId = await stack.connectionIdOf(bob.userId, 'phone');
    // The socket dies without a $disconnect (as on AWS, where $disconnect is best effort), past the
    // handshake grace in which a 410 could still mean "not open yet".
    await stack.dropConnection(staleConnectionId, { notify: false });
    await sleep(limits.connectionHandshakeGraceSeconds * 1000);

    await alicePhone.sendMessage(conversationId, 'to-stale', 'while your phone was gone');
    await bobLaptop.waitForMessage((m) => m.text === 'while your phone was gone');
    await expect
      .poll(() => stack.connectionIdOf(bob.userId, 'phone').catch(() => 'none'), { timeout: 10_000 })
      .toBe('none');
    // Fan-out forgets the stale row before it parks: reconnecting in between would get the message by
    // fan-out's re-read of a new pointer's device, not from the inbox this test is about.
    await stack.streamsSettled();

    const phoneAgain = await connect(bob, 'phone');
    await phoneAgain.request({ action: 'sync' }, 'syncComplete');
    expect(phoneAgain.messages().map((m) => m.text)).toContain('while your phone was gone');
    expect(bobPhone.messages().map((m) => m.text)).not.toContain('while your phone was gone');
  });

  it('clears what it read from its inbox, as an ack would: a device that reads on arrival need not ack', async () => {
    await alicePhone.sendMessage(conversationId, 'read-not-acked', 'read on the tablet');
    await bobLaptop.waitForMessage((m) => m.text === 'read on the tablet');
    await stack.streamsSettled();
    const tablet = await connect(bob, 'tablet');
    const synced = await tablet.request({ action: 'sync' }, 'syncComplete');
    expect(synced.delivered).toBeGreaterThan(0);
    expect(tablet.messages().map((m) => m.text)).toContain('read on the tablet');

    const lastSeq = Math.max(...tablet.messages(conversationId).map((m) => m.seq));
    await stack.handled('wsRead', 1, () => tablet.send({ action: 'read', conversationId, upToSeq: lastSeq }));
    const again = await tablet.request({ action: 'sync' }, 'syncComplete');
    expect(again).toMatchObject({ type: 'syncComplete', delivered: 0 });
    expect(tablet.frames.filter((frame) => frame.type === 'error')).toEqual([]);
    await tablet.close();
  });
});

describe('authorization', () => {
  it("refuses a non-member's send and delivers nothing", async () => {
    const intruder = await connect(mallory, 'laptop');

    const answer = await intruder.sendMessage(conversationId, 'sneak', 'let me in');
    await sendMarker(alicePhone, [bobLaptop], 'after-sneak');

    expect(answer).toMatchObject({ type: 'error', code: 'not_found', clientMessageId: 'sneak' });
    expect(bobLaptop.messages().map((m) => m.text)).not.toContain('let me in');
  });

  it('refuses the handshake without a valid token or device id', async () => {
    const [noToken, badToken, badDevice] = await Promise.allSettled([
      ChatClient.connect(stack.wsUrl, '', 'laptop'),
      ChatClient.connect(stack.wsUrl, `${alice.token.slice(0, -4)}AAAA`, 'laptop'),
      ChatClient.connect(stack.wsUrl, alice.token, 'no spaces/allowed'),
    ]);

    for (const attempt of [noToken, badToken, badDevice]) {
      expect(attempt.status).toBe('rejected');
      expect(attempt.status === 'rejected' && attempt.reason).toMatchObject({ statusCode: 401 });
      expect(attempt.status === 'rejected' && attempt.reason).toBeInstanceOf(HandshakeRefused);
    }
  });

  it('answers HTTP without a token with 401 and a non-member with 404', async () => {
    expect((await api(stack.httpUrl, undefined, 'GET', `/conversations/${conversationId}`)).status).toBe(401);
    const asStranger = await api(stack.httpUrl, mallory.token, 'GET', `/conversations/${conversationId}`);
    const unknown = await api(stack.httpUrl, mallory.token, 'GET', '/conversations/01NOSUCHCONVERSATION');
    expect(asStranger).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: 'Conversation not found' } },
    });
    expect(unknown).toEqual(asStranger);
  });
});

describe('malformed frames', () => {
  it.each([
    ['not JSON', '{oops', 'bad_request'],
    ['an unknown action', { action: 'typing' }, 'bad_request'],
    ['a send without text', { action: 'sendMessage', conversationId: 'x', clientMessageId: 'c' }, 'bad_request'],
    ['an ack with a negative seq', { action: 'ack', conversationId: 'x', upToSeq: -1 }, 'bad_request'],
  ])('answers %s with an error and keeps the connection usable', async (_case, frame, code) => {
    const answer = await bobLaptop.request(frame, 'error-never');
    expect(answer).toMatchObject({ type: 'error', code });
    expect(await bobLaptop.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
  });

  it('echoes the clientMessageId of an invalid send', async () => {
    const answer = await bobLaptop.sendMessage(conversationId, 'too-long', 'x'.repeat(5000));
    expect(answer).toMatchObject({ type: 'error', code: 'bad_request', clientMessageId: 'too-long' });
  });
});
