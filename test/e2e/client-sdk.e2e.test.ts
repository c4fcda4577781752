/**
 * The client SDK end to end on the local stack: Alice and Bob on two devices each, all through the
 * real gateways and handlers. Messages, receipts, offline sends, history paging and an upload.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ConnectionState, Message, ParleyClient, ReceiptEvent } from '../../client/index';
import { issueToken } from '../support/chat-client';
import { localSdkClient } from '../support/client-sdk';
import { startTestStack, type TestStack } from '../support/local-stack';

interface User {
  token: string;
  userId: string;
}

/** A client and everything it emitted. */
interface Device {
  client: ParleyClient;
  emitted: Message[];
  receipts: ReceiptEvent[];
  errors: Error[];
}

let stack: TestStack;
let alice: User;
let bob: User;
let alicePhone: Device;
let aliceLaptop: Device;
let bobPhone: Device;
let bobLaptop: Device;
let conversationId: string;
const devices: Device[] = [];

async function device(user: User, deviceId: string, connect = true): Promise<Device> {
  const client = localSdkClient(stack, { tokenProvider: async () => user.token, deviceId, gapFillDelayMs: 300 });
  const entry: Device = { client, emitted: [], receipts: [], errors: [] };
  client.on('message', (message) => entry.emitted.push(message));
  client.on('receipt', (receipt) => entry.receipts.push(receipt));
  client.on('error', (error) => entry.errors.push(error));
  devices.push(entry);
  if (connect) await client.connect();
  return entry;
}

const texts = (messages: readonly Message[]) => messages.filter((m) => m.type === 'text').map((m) => m.text);
const seqs = (messages: readonly Message[]) => messages.map((m) => m.seq);
const ascending = (values: number[]) => values.every((value, i) => i === 0 || value > (values[i - 1] ?? 0));

function received(entry: Device, text: string): Promise<void> {
  return expect
    .poll(() => entry.client.messages(conversationId).some((m) => m.text === text), { timeout: 15_000 })
    .toBe(true);
}

beforeAll(async () => {
  stack = await startTestStack('e2e-client-sdk');
  [alice, bob] = (await Promise.all(['alice', 'bob'].map((name) => issueToken(stack.httpUrl, name)))) as [User, User];
  [alicePhone, aliceLaptop, bobPhone, bobLaptop] = await Promise.all([
    device(alice, 'phone'),
    device(alice, 'laptop'),
    device(bob, 'phone'),
    device(bob, 'laptop'),
  ]);
  const conversation = await alicePhone.client.api.createConversation({ type: 'direct', memberIds: [bob.userId] });
  conversationId = conversation.id;
  // The creation event (seq 1) reaches every device by fan-out. Waiting for it keeps the creator's own
  // first send from becoming its baseline first, should fan-out lag behind the send's answer.
  for (const entry of [alicePhone, aliceLaptop, bobPhone, bobLaptop]) {
    await vi.waitFor(() => expect(entry.client.messages(conversationId)).toHaveLength(1), { timeout: 15_000 });
  }
});

afterAll(async () => {
  await Promise.all(devices.map((entry) => entry.client.close()));
  await stack?.stop();
});

describe('ParleyClient on the local stack', () => {
  it('connects, learns the user id, and delivers between two users on two devices each', async () => {
    expect(alicePhone.client.state).toBe('connected');
    expect(alicePhone.client.userId).toBe(alice.userId);

    const hello = alicePhone.client.send(conversationId, { text: 'hello bob' });
    const accepted = await hello.accepted;
    expect(accepted).toMatchObject({ conversationId, senderId: alice.userId, text: 'hello bob', seq: 2 });
    expect(accepted.clientMessageId).toBe(hello.clientMessageId);
    await Promise.all([bobPhone, bobLaptop, aliceLaptop].map((entry) => received(entry, 'hello bob')));

    await bobLaptop.client.send(conversationId, { text: 'hi alice' }).accepted;
    await Promise.all([alicePhone, aliceLaptop, bobPhone].map((entry) => received(entry, 'hi alice')));

    for (const entry of [alicePhone, aliceLaptop, bobPhone, bobLaptop]) {
      const cached = entry.client.messages(conversationId);
      // Seq 1 is the creation event, which every member device got live (the SDK emits it as membership too).
      expect(seqs(cached)).toEqual([1, 2, 3]);
      expect(cached[0]).toMatchObject({ type: 'system', event: { kind: 'created' } });
      expect(texts(cached)).toEqual(['hello bob', 'hi alice']);
      expect(seqs(entry.emitted.filter((m) => m.conversationId === conversationId))).toEqual([1, 2, 3]);
    }
  });

  it('emits delivered receipts from automatic acks and read receipts from markRead', async () => {
    const { seq, id } = await alicePhone.client.send(conversationId, { text: 'did you get this?' }).accepted;
    const receiptFor = (entry: Device, kind: ReceiptEvent['kind'], userId: string) =>
      expect
        .poll(() => entry.receipts.some((r) => r.kind === kind && r.userId === userId && r.upToSeq >= seq), {
          timeout: 15_000,
        })
        .toBe(true);

    await Promise.all([
      receiptFor(alicePhone, 'delivered', bob.userId),
      receiptFor(aliceLaptop, 'delivered', bob.userId),
    ]);

    await received(bobPhone, 'did you get this?');
    bobPhone.client.markRead(conversationId, seq);
    // Alice's devices learn Bob read it; Bob's other device learns he did (its own user id).
    await Promise.all([
      receiptFor(alicePhone, 'read', bob.userId),
      receiptFor(aliceLaptop, 'read', bob.userId),
      receiptFor(bobLaptop, 'read', bob.userId),
    ]);
    expect(alicePhone.receipts.find((r) => r.kind === 'read')).toMatchObject({ conversationId });

    const receipts = await alicePhone.client.api.readReceipts(id);
    expect(receipts).toMatchObject({ state: 'read', receipts: [{ userId: bob.userId }] });
  });

  it('queues a send made while offline and delivers it once after reconnecting', async () => {
    const states: ConnectionState[] = [];
    let sent: ReturnType<ParleyClient['send']> | undefined;
    const stop = alicePhone.client.on('connection', (state) => {
      states.push(state);
      // Sent the moment the connection is known lost, so it can only go after the reconnect.
      if (state === 'offline' && sent === undefined)
        sent = alicePhone.client.send(conversationId, { text: 'offline hello' });
    });
    stack.dropConnection(await stack.connectionIdOf(alice.userId, 'phone'), { notify: false });

    await expect.poll(() => sent !== undefined, { timeout: 15_000 }).toBe(true);
    const message = await sent?.accepted;
    stop();
    expect(states.slice(0, 4)).toEqual(['offline', 'connecting', 'syncing', 'connected']);
    expect(message).toMatchObject({ text: 'offline hello', clientMessageId: sent?.clientMessageId });

    // A client that was never connected queues too: its send goes once connect() has synced.
    const tablet = await device(alice, 'tablet', false);
    const early = tablet.client.send(conversationId, { text: 'sent before connect' });
    await tablet.client.connect();
    await early.accepted;

    await Promise.all([received(bobPhone, 'offline hello'), received(bobPhone, 'sent before connect')]);
    const history = await bobPhone.client.api.history(conversationId, { after: 0, limit: 100 });
    for (const text of ['offline hello', 'sent before connect']) {
      expect(history.messages.filter((m) => m.text === text)).toHaveLength(1);
      expect(bobPhone.emitted.filter((m) => m.text === text)).toHaveLength(1);
    }
    expect(texts(alicePhone.client.messages(conversationId)).filter((t) => t === 'offline hello')).toHaveLength(1);
  });

  it('sends 60 messages made at once as a few burst frames, received once each, in order, everywhere', async () => {
    const group = await alicePhone.client.api.createConversation({
      type: 'group',
      name: 'Burst',
      memberIds: [bob.userId],
    });
    const before = stack.invocationCounts().wsSendMessage?.invocations ?? 0;
    const texts = Array.from({ length: 60 }, (_, i) => `burst ${i}`);

    const sends = texts.map((text) => alicePhone.client.send(group.id, { text }));
    const accepted = await Promise.all(sends.map((sent) => sent.accepted));

    // The first goes alone (nothing queued behind it yet); the rest wait for it and go 25 to a frame.
    const frames = (stack.invocationCounts().wsSendMessage?.invocations ?? 0) - before;
    expect(frames).toBeLessThanOrEqual(4);
    expect(accepted.map((message) => message.text)).toEqual(texts);
    const seqs = accepted.map((message) => message.seq);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));
    for (const entry of [bobPhone, bobLaptop, aliceLaptop]) {
      await expect
        .poll(() => entry.client.messages(group.id).filter((m) => m.type === 'text').length, {
          timeout: 15_000,
        })
        .toBe(60);
      expect(
        entry.client
          .messages(group.id)
          .filter((m) => m.type === 'text')
          .map((m) => m.text),
      ).toEqual(texts);
      expect(
        entry.emitted.filter((m) => m.conversationId === group.id && m.type === 'text').map((m) => m.text),
      ).toEqual(texts);
    }
  });

  it('pages through older history with loadOlder on a device that joins later', async () => {
    const group = await alicePhone.client.api.createConversation({
      type: 'group',
      name: 'Paging',
      memberIds: [bob.userId],
    });
    const sends = Array.from({ length: 11 }, (_, i) => alicePhone.client.send(group.id, { text: `page ${i}` }));
    await Promise.all(sends.map((s) => s.accepted));
    await expect.poll(() => texts(bobPhone.client.messages(group.id)).at(-1), { timeout: 15_000 }).toBe('page 10');
    // The phone may have had it from the fast path while the stream fan-out (for Bob's other devices) is still
    // to run; that fan-out would rightly reach a device connected before it reads, so wait for it to finish.
    await stack.streamsSettled();
    // A brand-new device has no inbox for what came before it: history is how it reads the past.
    const reader = await device(bob, 'reader');
    expect(reader.client.messages(group.id)).toEqual([]);

    const pages: { messages: Message[]; hasMore: boolean }[] = [];
    for (let more = true; more; ) {
      const page = await reader.client.loadOlder(group.id, 5);
      pages.push(page);
      more = page.hasMore;
    }

    expect(pages.map((page) => seqs(page.messages))).toEqual([
      [8, 9, 10, 11, 12],
      [3, 4, 5, 6, 7],
      [1, 2],
    ]);
    const cached = reader.client.messages(group.id);
    expect(seqs(cached)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(texts(cached)).toEqual(Array.from({ length: 11 }, (_, i) => `page ${i}`));
    // History is not replayed as events; live messages continue the cache.
    expect(reader.emitted.filter((m) => m.conversationId === group.id)).toEqual([]);
    await alicePhone.client.send(group.id, { text: 'after paging' }).accepted;
    await expect.poll(() => texts(reader.client.messages(group.id)).at(-1), { timeout: 15_000 }).toBe('after paging');
    expect(seqs(reader.client.messages(group.id))).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
  });

  it('catches up a device that was away from its inbox, in order and once each, whatever the pages', async () => {
    const away = await device(bob, 'away');
    await away.client.close();
    await expect
      .poll(() => stack.connectionIdOf(bob.userId, 'away').catch(() => 'none'), { timeout: 15_000 })
      .toBe('none');
    // Long enough that the replay takes several frames: about 2 KB each, 16 to a 32 KB page.
    const sent = Array.from({ length: 40 }, (_, i) => `away ${i} ${'z'.repeat(2000)}`);
    await Promise.all(sent.map((text) => alicePhone.client.send(conversationId, { text }).accepted));
    await stack.streamsSettled();

    const back = await device(bob, 'away');

    await expect
      .poll(() => texts(back.emitted).filter((text) => text.startsWith('away ')).length, { timeout: 15_000 })
      .toBe(sent.length);
    expect(texts(back.emitted).filter((text) => text.startsWith('away '))).toEqual(sent);
  });

  it('uploads a PNG that ends ready and sends it as an attachment', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#3366ff' } })
      .png()
      .toBuffer();
    const progress: [number, number][] = [];

    const view = await alicePhone.client.upload(conversationId, png, {
      fileName: 'blue.png',
      contentType: 'image/png',
      onProgress: (sent, total) => progress.push([sent, total]),
    });

    expect(view).toMatchObject({ status: 'ready', kind: 'image', width: 40, height: 30, conversationId });
    expect(view.url).toBeDefined();
    expect(progress.at(-1)).toEqual([png.byteLength, png.byteLength]);
    const sent = await alicePhone.client.send(conversationId, { attachmentIds: [view.id] }).accepted;
    expect(sent.attachments?.map((a) => a.id)).toEqual([view.id]);
    await expect
      .poll(() => bobLaptop.client.messages(conversationId).find((m) => m.seq === sent.seq)?.attachments?.[0]?.id, {
        timeout: 15_000,
      })
      .toBe(view.id);
    const downloaded = await fetch(String((await bobLaptop.client.api.getAttachment(view.id)).url));
    expect(downloaded.status).toBe(200);
  });

  it('ordered every conversation on every device and emitted nothing twice', () => {
    for (const entry of devices) {
      for (const id of new Set(entry.emitted.map((m) => m.conversationId))) {
        expect(ascending(seqs(entry.emitted.filter((m) => m.conversationId === id)))).toBe(true);
        expect(ascending(seqs(entry.client.messages(id)))).toBe(true);
      }
      expect(entry.errors).toEqual([]);
    }
  });
});
