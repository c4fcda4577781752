/** Delivery and read receipts on the local stack, through real WebSocket clients. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ChatClient, type Frame, issueToken, receiptsIn } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

type User = { token: string; userId: string };

let stack: TestStack;
let alice: User;
let bob: User;
let conversationId: string;
let alicePhone: ChatClient;
let bobLaptop: ChatClient;
let bobPhone: ChatClient;

beforeAll(async () => {
  stack = await startTestStack('e2e-receipts');
  [alice, bob] = (await Promise.all(['alice', 'bob'].map((name) => issueToken(stack.httpUrl, name)))) as [User, User];
  alicePhone = await ChatClient.connect(stack.wsUrl, alice.token, 'phone');
  bobLaptop = await ChatClient.connect(stack.wsUrl, bob.token, 'laptop');
  bobPhone = await ChatClient.connect(stack.wsUrl, bob.token, 'phone');
  const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [bob.userId],
  });
  conversationId = String(created.body.id);
});

afterAll(async () => {
  await Promise.all([alicePhone, bobLaptop, bobPhone].map((client) => client?.close()));
  await stack?.stop();
});

const receipt = (kind: string, upToSeq: number) => (frame: Frame) =>
  receiptsIn(frame).some((each) => each.kind === kind && each.upToSeq === upToSeq);
/** Every receipt the device was sent so far, whether alone or in a sender's batch. */
const receiptsOf = (device: ChatClient) => device.frames.flatMap(receiptsIn);

describe('receipts', () => {
  it("tell the sender when the recipient's device has the message, then when it was read, and sync the read to the reader's other device", async () => {
    const accepted = await alicePhone.sendMessage(conversationId, 'r1', 'did you get this?');
    const seq = (accepted.message as { seq: number }).seq;
    await bobLaptop.waitForMessage((m) => m.seq === seq);

    const delivered = alicePhone.nextFrame(receipt('delivered', seq), 'delivered receipt');
    // An ack is answered only when refused: the receipt it causes is the answer that counts.
    bobLaptop.send({ action: 'ack', conversationId, upToSeq: seq });
    expect(receiptsIn(await delivered)).toContainEqual(
      expect.objectContaining({ conversationId, userId: bob.userId, kind: 'delivered' }),
    );

    const read = alicePhone.nextFrame(receipt('read', seq), 'read receipt');
    const onPhone = bobPhone.nextFrame(receipt('read', seq), 'read on the other device');
    const framesBefore = bobLaptop.frames.length;
    await stack.handled('wsRead', 1, () => bobLaptop.send({ action: 'read', conversationId, upToSeq: seq }));
    // The sender hears from the receipts stream (batched); the reader's other device at once.
    expect(receiptsIn(await read)).toContainEqual(expect.objectContaining({ userId: bob.userId, conversationId }));
    expect(await onPhone).toMatchObject({ type: 'receipt', userId: bob.userId });
    await bobLaptop.request({ action: 'ping' }, 'pong');
    // A read is answered only when refused: nothing but the pong came back to the reader.
    expect(bobLaptop.frames.slice(framesBefore).map((frame) => frame.type)).toEqual(['pong']);
  });

  it("clears the reader's unread count", async () => {
    await alicePhone.sendMessage(conversationId, 'r2', 'one more');
    const before = await api(stack.httpUrl, bob.token, 'GET', `/users/${bob.userId}/conversations`);
    const lastSeq = (before.body.conversations as { lastSeq: number; unreadCount: number }[])[0]?.lastSeq ?? 0;

    await stack.handled('wsRead', 1, () => bobPhone.send({ action: 'read', conversationId, upToSeq: lastSeq }));

    const after = await api(stack.httpUrl, bob.token, 'GET', `/users/${bob.userId}/conversations`);
    expect((before.body.conversations as { unreadCount: number }[])[0]?.unreadCount).toBeGreaterThan(0);
    expect((after.body.conversations as { unreadCount: number }[])[0]?.unreadCount).toBe(0);
  });

  it('never moves a mark backwards: a late read of an older seq announces nothing', async () => {
    await stack.streamsSettled();
    const receiptsBefore = receiptsOf(alicePhone).length;

    await stack.handled('wsRead', 1, () => bobLaptop.send({ action: 'read', conversationId, upToSeq: 1 }));
    // Whatever the read would have announced has gone through the receipts stream by then.
    await stack.streamsSettled();
    await alicePhone.request({ action: 'ping' }, 'pong');

    expect(receiptsOf(alicePhone)).toHaveLength(receiptsBefore);
  });
});
