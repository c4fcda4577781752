/**
 * The client SDK when the network misbehaves, on the local stack: connections cut mid-burst on the
 * receiving and the sending side, and live frames that never arrive. Every message must reach
 * every device exactly once and in seq order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Message, ParleyClient, WebSocketConstructor, WebSocketLike } from '../../client/index';
import { issueToken } from '../support/chat-client';
import { localSdkClient } from '../support/client-sdk';
import { startTestStack, type TestStack } from '../support/local-stack';

interface User {
  token: string;
  userId: string;
}

interface Device {
  client: ParleyClient;
  emitted: Message[];
  errors: Error[];
}

let stack: TestStack;
let alice: User;
let bob: User;
const devices: Device[] = [];

type IncomingFrame = { type?: string; message?: Message };

/** A `ws` WebSocket that loses the incoming frames `lose` picks (recording them in `lost`), as a flaky network would. */
function lossyWebSocket(lose: (frame: IncomingFrame) => boolean, lost: IncomingFrame[] = []): WebSocketConstructor {
  return class LossyWebSocket implements WebSocketLike {
    private readonly inner: WebSocket;
    onopen: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;

    constructor(url: string) {
      this.inner = new WebSocket(url);
      this.inner.onopen = (event) => this.onopen?.(event);
      this.inner.onmessage = (event) => {
        const frame = typeof event.data === 'string' ? (JSON.parse(event.data) as IncomingFrame) : {};
        if (lose(frame)) {
          lost.push(frame);
          return;
        }
        this.onmessage?.(event);
      };
      this.inner.onclose = (event) => this.onclose?.(event);
      this.inner.onerror = (event) => this.onerror?.(event);
    }

    get readyState(): number {
      return this.inner.readyState;
    }

    send(data: string): void {
      this.inner.send(data);
    }

    close(code?: number, reason?: string): void {
      this.inner.close(code, reason);
    }
  };
}

async function device(user: User, deviceId: string, socket: WebSocketConstructor = WebSocket): Promise<Device> {
  const client = localSdkClient(stack, {
    tokenProvider: async () => user.token,
    deviceId,
    WebSocket: socket,
    gapFillDelayMs: 300,
  });
  const entry: Device = { client, emitted: [], errors: [] };
  client.on('message', (message) => entry.emitted.push(message));
  client.on('error', (error) => entry.errors.push(error));
  devices.push(entry);
  await client.connect();
  return entry;
}

const seqs = (messages: readonly Message[]) => messages.map((m) => m.seq);
const textsIn = (messages: readonly Message[], conversationId: string) =>
  messages.filter((m) => m.conversationId === conversationId && m.type === 'text').map((m) => m.text);

/** A group each time: a direct conversation is unique per pair, so tests would share one. */
async function newConversation(from: Device, to: User, name: string): Promise<string> {
  return (await from.client.api.createConversation({ type: 'group', name, memberIds: [to.userId] })).id;
}

beforeAll(async () => {
  stack = await startTestStack('e2e-client-resilience');
  [alice, bob] = (await Promise.all(['alice', 'bob'].map((name) => issueToken(stack.httpUrl, name)))) as [User, User];
});

afterAll(async () => {
  await Promise.all(devices.map((entry) => entry.client.close()));
  await stack?.stop();
});

describe('ParleyClient under connection loss', () => {
  it('delivers a 50-message burst exactly once, in order, on every device when receiver and sender are cut mid-burst', async () => {
    const [sender, senderLaptop, receiver, receiverTablet] = await Promise.all([
      device(alice, 'burst-phone'),
      device(alice, 'burst-laptop'),
      device(bob, 'burst-phone'),
      device(bob, 'burst-tablet'),
    ]);
    const conversationId = await newConversation(sender, bob, 'Burst');
    const burst = Array.from({ length: 50 }, (_, i) => `burst ${i}`);

    const sends = burst.map((text) => sender.client.send(conversationId, { text }));
    // Cut the receiver after 10 are stored, the sender after 25, neither with a $disconnect.
    const cuts = [
      sends[9]?.accepted.then(async () =>
        stack.dropConnection(await stack.connectionIdOf(bob.userId, 'burst-phone'), { notify: false }),
      ),
      sends[24]?.accepted.then(async () =>
        stack.dropConnection(await stack.connectionIdOf(alice.userId, 'burst-phone'), { notify: false }),
      ),
    ];
    const accepted = await Promise.all(sends.map((s) => s.accepted));
    expect(await Promise.all(cuts)).toEqual([true, true]);

    // One send in flight per conversation: seq order is send order, and no retry took a second seq.
    expect(accepted.map((m) => m.text)).toEqual(burst);
    expect(new Set(seqs(accepted)).size).toBe(50);
    for (const entry of [sender, senderLaptop, receiver, receiverTablet]) {
      await expect.poll(() => textsIn(entry.emitted, conversationId).length, { timeout: 30_000 }).toBe(50);
    }
    // A marker behind the burst: once every device has it, a late duplicate would have shown.
    await sender.client.send(conversationId, { text: 'marker' }).accepted;
    for (const entry of [senderLaptop, receiver, receiverTablet]) {
      await expect.poll(() => textsIn(entry.emitted, conversationId).at(-1), { timeout: 15_000 }).toBe('marker');
    }

    for (const entry of [sender, senderLaptop, receiver, receiverTablet]) {
      expect(textsIn(entry.emitted, conversationId)).toEqual([...burst, 'marker']);
      expect(textsIn([...entry.client.messages(conversationId)], conversationId)).toEqual([...burst, 'marker']);
      const emittedSeqs = seqs(entry.emitted.filter((m) => m.conversationId === conversationId));
      expect(emittedSeqs).toEqual([...emittedSeqs].sort((a, b) => a - b));
      expect(new Set(emittedSeqs).size).toBe(emittedSeqs.length);
    }
    const history = await receiver.client.api.history(conversationId, { after: 0, limit: 100 });
    expect(textsIn(history.messages, conversationId)).toEqual([...burst, 'marker']);
    expect(sender.client.state).toBe('connected');
    expect(receiver.client.state).toBe('connected');
  }, 120_000); // 50 sends one after another take a while on a loaded machine.

  it('fills a live frame that never arrived from history, before emitting what came after it', async () => {
    const sender = await device(alice, 'gap-phone');
    const lossy = await device(
      bob,
      'gap-lossy',
      lossyWebSocket((frame) => frame.type === 'message' && frame.message?.text === 'lost in transit'),
    );
    const conversationId = await newConversation(sender, bob, 'Gap');

    for (const text of ['before', 'lost in transit', 'after'])
      await sender.client.send(conversationId, { text }).accepted;

    await expect
      .poll(() => textsIn(lossy.emitted, conversationId), { timeout: 15_000 })
      .toEqual(['before', 'lost in transit', 'after']);
    expect(seqs(lossy.client.messages(conversationId))).toEqual([1, 2, 3, 4]);
  });

  it('after a reconnect, fetches the last message whose push was lost (no later message reveals the gap)', async () => {
    const sender = await device(alice, 'tail-phone');
    const lost: IncomingFrame[] = [];
    const lossy = await device(
      bob,
      'tail-lossy',
      lossyWebSocket((frame) => frame.type === 'message' && frame.message?.text === 'the last word', lost),
    );
    const conversationId = await newConversation(sender, bob, 'Tail');
    await sender.client.send(conversationId, { text: 'first word' }).accepted;
    await expect.poll(() => textsIn(lossy.emitted, conversationId), { timeout: 15_000 }).toEqual(['first word']);

    await sender.client.send(conversationId, { text: 'the last word' }).accepted;
    await expect.poll(() => lost.length, { timeout: 15_000 }).toBe(1);
    stack.dropConnection(await stack.connectionIdOf(bob.userId, 'tail-lossy'), { notify: true });

    await expect
      .poll(() => textsIn(lossy.emitted, conversationId), { timeout: 15_000 })
      .toEqual(['first word', 'the last word']);
  });

  it('reported no errors on any device', () => {
    for (const entry of devices) expect(entry.errors).toEqual([]);
  });
});
