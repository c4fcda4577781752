/**
 * Receipts in a 5-member group: Alice's message shows delivered by each member as their devices
 * ack, and read as each reads; Alice's second device sees the same receipts; times are kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ChatClient, type Frame, issueToken, receiptsIn } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

type User = { token: string; userId: string };

let stack: TestStack;
let alice: User;
let members: User[];
let conversationId: string;
let alicePhone: ChatClient;
let aliceLaptop: ChatClient;
let memberDevices: ChatClient[];
let messageSeq: number;
let messageId: string;

beforeAll(async () => {
  stack = await startTestStack('e2e-group-receipts');
  const users = (await Promise.all(
    ['alice', 'bob', 'cat', 'dan', 'eve'].map((name) => issueToken(stack.httpUrl, name)),
  )) as User[];
  [alice] = users as [User];
  members = users.slice(1);
  alicePhone = await ChatClient.connect(stack.wsUrl, alice.token, 'phone');
  aliceLaptop = await ChatClient.connect(stack.wsUrl, alice.token, 'laptop');
  memberDevices = await Promise.all(members.map((member) => ChatClient.connect(stack.wsUrl, member.token, 'phone')));
  const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'group',
    name: 'Receipts',
    memberIds: members.map((member) => member.userId),
  });
  conversationId = String(created.body.id);
  const accepted = await alicePhone.sendMessage(conversationId, 'hello-all', 'hello all');
  const message = accepted.message as { id: string; seq: number };
  messageSeq = message.seq;
  messageId = message.id;
  await Promise.all(memberDevices.map((device) => device.waitForMessage((m) => m.seq === messageSeq)));
});

afterAll(async () => {
  await Promise.all([alicePhone, aliceLaptop, ...memberDevices].map((client) => client?.close()));
  await stack?.stop();
});

const receiptFrom = (userId: string, kind: string) => (frame: Frame) =>
  receiptsIn(frame).some(
    (receipt) => receipt.userId === userId && receipt.kind === kind && Number(receipt.upToSeq) >= messageSeq,
  );

describe('a group message', () => {
  it('shows delivered by each member as their device acks, on both of the sender’s devices', async () => {
    for (const [i, member] of members.entries()) {
      const onPhone = alicePhone.nextFrame(receiptFrom(member.userId, 'delivered'), `delivered by ${i}`);
      const onLaptop = aliceLaptop.nextFrame(receiptFrom(member.userId, 'delivered'), `delivered by ${i} (laptop)`);
      memberDevices[i]?.send({ action: 'ack', conversationId, upToSeq: messageSeq });
      await Promise.all([onPhone, onLaptop]);
    }

    const receipts = await api(stack.httpUrl, alice.token, 'GET', `/messages/${messageId}/read_receipts`);
    const rows = receipts.body.receipts as { userId: string; deliveredAt: string | null; readAt: string | null }[];
    expect(rows.map((row) => row.userId).sort()).toEqual(members.map((member) => member.userId).sort());
    expect(rows.every((row) => row.deliveredAt !== null && row.readAt === null)).toBe(true);
    expect(receipts.body.state).toBe('delivered');
  });

  it('shows read as each member reads, and keeps the first times after later marks move on', async () => {
    const [bob, cat] = members as [User, User];
    const read = alicePhone.nextFrame(receiptFrom(bob.userId, 'read'), 'read by bob');
    await stack.handled('wsRead', 1, () =>
      memberDevices[0]?.send({ action: 'read', conversationId, upToSeq: messageSeq }),
    );
    await read;
    const first = await api(stack.httpUrl, cat.token, 'GET', `/messages/${messageId}/read_receipts`);
    const bobFirst = (first.body.receipts as { userId: string; readAt: string | null }[]).find(
      (r) => r.userId === bob.userId,
    );

    await alicePhone.sendMessage(conversationId, 'later', 'later');
    await stack.handled('wsRead', 1, () =>
      memberDevices[0]?.send({ action: 'read', conversationId, upToSeq: messageSeq + 1 }),
    );
    const later = await api(stack.httpUrl, cat.token, 'GET', `/messages/${messageId}/read_receipts`);
    const rows = later.body.receipts as { userId: string; readAt: string | null }[];

    expect(bobFirst?.readAt).not.toBeNull();
    expect(rows.find((row) => row.userId === bob.userId)?.readAt).toBe(bobFirst?.readAt);
    expect(rows.filter((row) => row.readAt !== null).map((row) => row.userId)).toEqual([bob.userId]);
  });
});

describe('a member with read receipts turned off', () => {
  it('never appears as a reader to others, though their own devices and unread count follow the read', async () => {
    const eve = members[3] as User;
    const eveDevice = memberDevices[3] as ChatClient;
    const profile = await api(stack.httpUrl, eve.token, 'POST', '/users', {
      name: 'Eve',
      username: 'eve',
      readReceipts: false,
    });
    expect(profile.status).toBe(201);
    const eveLaptop = await ChatClient.connect(stack.wsUrl, eve.token, 'laptop');
    const onOwnLaptop = eveLaptop.nextFrame(receiptFrom(eve.userId, 'read'), 'read on her own laptop');

    await stack.handled('wsRead', 1, () => eveDevice.send({ action: 'read', conversationId, upToSeq: messageSeq + 1 }));
    await onOwnLaptop;
    // What the read told the senders has gone through the receipts stream by then.
    await stack.streamsSettled();
    await alicePhone.request({ action: 'ping' }, 'pong');

    expect(alicePhone.frames.filter(receiptFrom(eve.userId, 'read'))).toEqual([]);
    const receipts = await api(stack.httpUrl, alice.token, 'GET', `/messages/${messageId}/read_receipts`);
    const row = (receipts.body.receipts as { userId: string; readAt: string | null }[]).find(
      (r) => r.userId === eve.userId,
    );
    expect(row?.readAt).toBeNull();
    const list = await api(stack.httpUrl, eve.token, 'GET', `/users/${eve.userId}/conversations`);
    expect((list.body.conversations as { unreadCount: number }[])[0]?.unreadCount).toBe(0);
    await eveLaptop.close();
  });

  it('leaves every other member shown as a reader once each has read, on both of the sender’s devices', async () => {
    const [, cat, dan] = members as [User, User, User];
    for (const [index, member] of [
      [1, cat],
      [2, dan],
    ] as const) {
      const onPhone = alicePhone.nextFrame(receiptFrom(member.userId, 'read'), `read by ${index}`);
      const onLaptop = aliceLaptop.nextFrame(receiptFrom(member.userId, 'read'), `read by ${index} (laptop)`);
      await stack.handled('wsRead', 1, () =>
        memberDevices[index]?.send({ action: 'read', conversationId, upToSeq: messageSeq }),
      );
      await Promise.all([onPhone, onLaptop]);
    }

    const receipts = await api(stack.httpUrl, alice.token, 'GET', `/messages/${messageId}/read_receipts`);
    const rows = receipts.body.receipts as { userId: string; readAt: string | null }[];
    const eve = members[3] as User;
    expect(
      rows
        .filter((row) => row.readAt !== null)
        .map((row) => row.userId)
        .sort(),
    ).toEqual(
      members
        .filter((member) => member !== eve)
        .map((member) => member.userId)
        .sort(),
    );
    // Eve keeps her reads private, so the message never shows as read by everyone.
    expect(receipts.body.state).toBe('delivered');
  });
});
