/** Direct delivery on (the default): the send reaches online devices itself; fan-out only parks for the offline one. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ChatClient, type Frame, issueToken } from '../support/chat-client';
import { deliverOneMessage } from '../support/delivery-scenario';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('e2e-direct');
});

afterAll(async () => {
  await stack?.stop();
});

describe('direct delivery', () => {
  it("reaches the recipient's and the sender's other online devices once, records them, and parks for the offline one", async () => {
    const { seen, recordedDevices, flagged, alice, bob } = await deliverOneMessage(stack);

    expect(seen).toEqual({ bobLaptop: 1, aliceLaptop: 1, alicePhone: 0, bobTabletAfterSync: 1 });
    expect(flagged).toBe(true);
    expect(recordedDevices).toEqual([`${alice.userId}#laptop`, `${bob.userId}#laptop`].sort());
  });
});

describe("a send with the device's view of its direct chat", () => {
  it('names the peer on the answer, then takes a held, stale or wrong view alike, each message once and in order, and refuses a non-member', async () => {
    const [alice, bob, eve] = await Promise.all(
      ['alice-view', 'bob-view', 'eve-view'].map((name) => issueToken(stack.httpUrl, name)),
    );
    if (!alice || !bob || !eve) throw new Error('no tokens');
    const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
      type: 'direct',
      memberIds: [bob.userId],
    });
    expect(created.status).toBe(201);
    const conversationId = String(created.body.id);
    const [alicePhone, bobLaptop, evePhone] = await Promise.all([
      ChatClient.connect(stack.wsUrl, alice.token, 'phone'),
      ChatClient.connect(stack.wsUrl, bob.token, 'laptop'),
      ChatClient.connect(stack.wsUrl, eve.token, 'phone'),
    ]);
    const seqOf = (answer: Frame) => (answer.message as { seq: number }).seq;

    const first = await alicePhone.sendMessage(conversationId, 'first', 'hello');
    expect(first).toMatchObject({ type: 'messageAccepted', directChat: { peerId: bob.userId } });
    const held = await alicePhone.sendMessage(conversationId, 'held', 'with a view', {
      directChat: { peerId: bob.userId, afterSeq: seqOf(first) },
    });
    // A view one message behind, and one that names someone else: sent the usual way.
    const stale = await alicePhone.sendMessage(conversationId, 'stale', 'an old view', {
      directChat: { peerId: bob.userId, afterSeq: seqOf(first) },
    });
    const wrongPeer = await alicePhone.sendMessage(conversationId, 'wrong-peer', 'a wrong view', {
      directChat: { peerId: eve.userId, afterSeq: seqOf(stale) },
    });
    const answers = [first, held, stale, wrongPeer];
    for (const answer of answers)
      expect(answer).toMatchObject({ type: 'messageAccepted', directChat: { peerId: bob.userId } });
    expect(answers.map(seqOf)).toEqual([1, 2, 3, 4].map((offset) => seqOf(first) + offset - 1));

    // A right view from outside the chat proves nothing: eve is refused as on any send.
    const sneak = await evePhone.sendMessage(conversationId, 'sneak', 'let me in', {
      directChat: { peerId: bob.userId, afterSeq: seqOf(wrongPeer) },
    });
    expect(sneak).toMatchObject({ type: 'error', code: 'not_found', clientMessageId: 'sneak' });

    await bobLaptop.waitForMessage((message) => message.seq === seqOf(wrongPeer));
    await stack.streamsSettled();
    // The chat's creation entry (seq 1) may reach Bob too, as fan-out finds his laptop connected or not.
    const received = bobLaptop.messages(conversationId).filter((message) => message.seq >= seqOf(first));
    expect(received.map((message) => message.seq)).toEqual(answers.map(seqOf));
    expect(evePhone.messages(conversationId)).toEqual([]);
    await Promise.all([alicePhone, bobLaptop, evePhone].map((client) => client.close()));
  });
});
