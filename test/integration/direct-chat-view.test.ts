import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError, NotFoundError } from '#shared/errors';
import { conversationKeys } from '#shared/keys';
import type { CounterClaim } from '#shared/repositories/rate-counter-repository';
import { sendWithDirectChatView } from '#shared/services/direct-chat-send';
import type { MessagingService, SendMessageInput } from '#shared/services/messaging-service';
import { SendRateLimiter, sendCounterKey } from '#shared/services/send-rate-limiter';
import { RecordingPoster, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;

beforeAll(async () => {
  db = await useTestTables('view');
});

let scenes = 0;

/** Ann (sending from her laptop, her phone online) and Ben (laptop online) in a direct chat; Eve in neither. */
async function scene() {
  const tag = `v${++scenes}-${Date.now()}`;
  const [ann, ben, eve] = ['ann', 'ben', 'eve'].map((name) => `${name}-${tag}`) as [string, string, string];
  const { conversation } = await db.services.conversations.create({ creatorId: ann, type: 'direct', memberIds: [ben] });
  const { connections } = db.services;
  await connections.connect({ userId: ann, deviceId: 'laptop', connectionId: `${tag}-ann-laptop` });
  await connections.connect({ userId: ann, deviceId: 'phone', connectionId: `${tag}-ann-phone` });
  await connections.connect({ userId: ben, deviceId: 'laptop', connectionId: `${tag}-ben-laptop` });
  const poster = new RecordingPoster();
  const messaging = db.services.messagingWithDirectDelivery(poster);
  const text = (senderId: string, clientMessageId: string): SendMessageInput => ({
    senderId,
    senderDeviceId: 'laptop',
    conversationId: conversation.id,
    clientMessageId,
    text: `text of ${clientMessageId}`,
  });
  return { tag, ann, ben, eve, conversation, poster, messaging, text };
}

const meta = async (conversationId: string) =>
  (
    await db.documentClient.send(
      new GetCommand({
        TableName: db.tableName('conversations'),
        Key: conversationKeys.meta(conversationId),
        ConsistentRead: true,
      }),
    )
  ).Item ?? {};

const lastSeqOf = async (conversationId: string) => Number((await meta(conversationId)).lastSeq);

/** Spies on every read of the conversation a send could make before or after its commit. */
function conversationReads() {
  const { conversations } = db.repositories;
  return [
    vi.spyOn(conversations, 'getWithMembers'),
    vi.spyOn(conversations, 'getMembership'),
    vi.spyOn(conversations, 'listMembers'),
  ];
}

async function counterSends(counterKey: string): Promise<number | undefined> {
  const item = (
    await db.documentClient.send(
      new GetCommand({ TableName: db.tableName('rateLimits'), Key: { counterKey }, ConsistentRead: true }),
    )
  ).Item;
  return item === undefined ? undefined : Number(item.sends);
}

function claimFor(userId: string, count: number, max = 300): CounterClaim {
  const now = Math.floor(Date.now() / 1000);
  const windowStart = now - (now % 10);
  return { counterKey: sendCounterKey(userId, windowStart), count, max, expiresAtEpochSeconds: windowStart + 10 };
}

/** What a refused view leaves: no message at the seq it aimed for, the conversation's seq unmoved. */
async function expectNothingWritten(messaging: MessagingService, conversationId: string, seqBefore: number) {
  expect(await lastSeqOf(conversationId)).toBe(seqBefore);
  expect(await db.repositories.messages.get(conversationId, seqBefore + 1, true)).toBeUndefined();
  void messaging;
}

describe("a send with the device's view of its direct chat (directChat)", () => {
  it('commits right after the seq the device knew without reading the conversation, and posts to both members', async () => {
    const { tag, ann, ben, conversation, poster, messaging, text } = await scene();
    const afterSeq = await lastSeqOf(conversation.id);
    const reads = conversationReads();

    const sent = await messaging.sendWithView(text(ann, 'm1'), { peerId: ben, afterSeq });

    for (const read of reads) {
      expect(read).not.toHaveBeenCalled();
      read.mockRestore();
    }
    expect(sent).toMatchObject({
      duplicate: false,
      directPeerId: ben,
      direct: { reached: 2, missed: 0, recorded: true },
      message: { seq: afterSeq + 1, senderId: ann, text: 'text of m1' },
    });
    expect(poster.postedTo().sort()).toEqual([`${tag}-ann-phone`, `${tag}-ben-laptop`]);
    const stored = await db.repositories.messages.get(conversation.id, afterSeq + 1, true);
    expect(stored).toMatchObject({ directDelivery: true, senderDeviceId: 'laptop' });
    // The last send moved on the meta item, as an uncontended read send's does; the member row kept none.
    expect((await meta(conversation.id))[`lastSentSeq#${ann}`]).toBe(afterSeq + 1);
    const { members } = await db.repositories.conversations.getWithMembers(conversation.id);
    expect(members.find((member) => member.userId === ann)?.lastSentSeq).toBe(afterSeq + 1);
  });

  it('writes nothing when the view is stale, names the wrong peer, or comes from a non-member', async () => {
    const { ann, ben, eve, conversation, messaging, text } = await scene();
    const seq = await lastSeqOf(conversation.id);

    expect(await messaging.sendWithView(text(ann, 'stale'), { peerId: ben, afterSeq: seq - 1 })).toBeUndefined();
    expect(await messaging.sendWithView(text(ann, 'ahead'), { peerId: ben, afterSeq: seq + 1 })).toBeUndefined();
    expect(await messaging.sendWithView(text(ann, 'wrong-peer'), { peerId: eve, afterSeq: seq })).toBeUndefined();
    expect(await messaging.sendWithView(text(ann, 'self'), { peerId: ann, afterSeq: seq })).toBeUndefined();
    // Eve guesses the seq and names a member: the meta item does not list her.
    expect(await messaging.sendWithView(text(eve, 'intruder'), { peerId: ben, afterSeq: seq })).toBeUndefined();
    expect(await messaging.sendWithView(text(eve, 'intruder2'), { peerId: ann, afterSeq: seq })).toBeUndefined();
    await expectNothingWritten(messaging, conversation.id, seq);

    // The usual send then answers as it always did: Ann's goes in, Eve's is not_found.
    expect((await messaging.send(text(ann, 'stale'))).message.seq).toBe(seq + 1);
    await expect(messaging.send(text(eve, 'intruder'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers a retried clientMessageId with its original, even from a stale view', async () => {
    const { ann, ben, conversation, messaging, text } = await scene();
    const seq = await lastSeqOf(conversation.id);
    const first = await messaging.sendWithView(text(ann, 'once'), { peerId: ben, afterSeq: seq });

    const retried = await messaging.sendWithView(text(ann, 'once'), { peerId: ben, afterSeq: seq });

    expect(retried).toMatchObject({ duplicate: true, message: { seq: first?.message.seq } });
    expect(await lastSeqOf(conversation.id)).toBe(seq + 1);
  });

  it('takes no view for a group, a reply or an attachment: nothing is written and the usual send serves them', async () => {
    const { ann, ben, conversation, messaging, text } = await scene();
    const group = await db.services.conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });
    const groupSeq = await lastSeqOf(group.conversation.id);

    const toGroup = await messaging.sendWithView(
      { ...text(ann, 'g1'), conversationId: group.conversation.id },
      { peerId: ben, afterSeq: groupSeq },
    );
    const seq = await lastSeqOf(conversation.id);
    const reply = await messaging.sendWithView({ ...text(ann, 'r1'), replyTo: 1 }, { peerId: ben, afterSeq: seq });
    const attached = await messaging.sendWithView(
      { ...text(ann, 'a1'), attachmentIds: ['att-1'] },
      { peerId: ben, afterSeq: seq },
    );

    expect([toGroup, reply, attached]).toEqual([undefined, undefined, undefined]);
    await expectNothingWritten(messaging, group.conversation.id, groupSeq);
    await expectNothingWritten(messaging, conversation.id, seq);
    // The usual send names the peer of a direct chat only.
    expect((await messaging.send({ ...text(ann, 'g1'), conversationId: group.conversation.id })).directPeerId).toBe(
      undefined,
    );
    expect((await messaging.send(text(ann, 'd1'))).directPeerId).toBe(ben);
  });

  it("claims the sender's rate-limit lease in the same commit, and writes nothing when the window has no room", async () => {
    const { ann, ben, conversation, messaging, text } = await scene();
    const seq = await lastSeqOf(conversation.id);
    const claim = claimFor(ann, 10);

    const sent = await messaging.sendWithView(text(ann, 'c1'), { peerId: ben, afterSeq: seq }, claim);
    expect(sent?.message.seq).toBe(seq + 1);
    expect(await counterSends(claim.counterKey)).toBe(10);

    // A window with 5 sends left cannot take a lease of 10: neither the claim nor the message is written.
    await db.documentClient.send(
      new UpdateCommand({
        TableName: db.tableName('rateLimits'),
        Key: { counterKey: claim.counterKey },
        UpdateExpression: 'SET sends = :sends',
        ExpressionAttributeValues: { ':sends': 295 },
      }),
    );
    expect(await messaging.sendWithView(text(ann, 'c2'), { peerId: ben, afterSeq: seq + 1 }, claim)).toBeUndefined();
    expect(await counterSends(claim.counterKey)).toBe(295);
    await expectNothingWritten(messaging, conversation.id, seq + 1);
  });

  it('stops taking a view once a member left the chat (account deletion), and for chats whose meta lists no members', async () => {
    const { ann, ben, conversation, messaging, text } = await scene();
    await db.services.conversations.leaveOnAccountDeletion(conversation.id, ben);
    const seq = await lastSeqOf(conversation.id);

    expect(await messaging.sendWithView(text(ann, 'after-leave'), { peerId: ben, afterSeq: seq })).toBeUndefined();
    await expectNothingWritten(messaging, conversation.id, seq);
    expect((await meta(conversation.id)).directMemberIds).toEqual(new Set([ann]));
    expect((await messaging.send(text(ann, 'after-leave'))).directPeerId).toBeUndefined();

    // A direct chat from before its meta item listed the members: never a view, the usual send names no peer.
    const older = await scene();
    await db.documentClient.send(
      new UpdateCommand({
        TableName: db.tableName('conversations'),
        Key: conversationKeys.meta(older.conversation.id),
        UpdateExpression: 'REMOVE directMemberIds',
      }),
    );
    const olderSeq = await lastSeqOf(older.conversation.id);
    expect(
      await older.messaging.sendWithView(older.text(older.ann, 'o1'), { peerId: older.ben, afterSeq: olderSeq }),
    ).toBeUndefined();
    expect((await older.messaging.send(older.text(older.ann, 'o1'))).directPeerId).toBeUndefined();
  });

  it("leaves a group's meta item without a member list when a member leaves", async () => {
    const { ann, ben } = await scene();
    const group = await db.services.conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });

    await db.services.conversations.leaveOnAccountDeletion(group.conversation.id, ben);

    const groupMeta = await meta(group.conversation.id);
    expect(groupMeta.directMemberIds).toBeUndefined();
    expect(groupMeta.memberCount).toBe(1);
  });
});

describe('sendWithDirectChatView: the view and the rate limit together', () => {
  it('charges each send exactly once, in the commit or the usual way, and stores no more than the window allows', async () => {
    const { ann, ben, conversation, messaging, text } = await scene();
    // One window for the whole test: the clock stands at an hour's start.
    const hour = 3600;
    const now = Math.floor(Date.now() / 1000);
    const windowStart = now - (now % hour);
    const limit = { windowSeconds: hour, maxSends: 12, leaseSends: 5 };
    const limiter = new SendRateLimiter(
      db.repositories.rateCounters,
      { now: () => new Date(windowStart * 1000) },
      limit,
    );
    const counterKey = sendCounterKey(ann, windowStart);
    const outcomes: string[] = [];
    const counts: (number | undefined)[] = [];

    for (let i = 1; i <= 13; i++) {
      const afterSeq = await lastSeqOf(conversation.id);
      const outcome = await sendWithDirectChatView(messaging, limiter, text(ann, `r${i}`), {
        peerId: ben,
        afterSeq,
      }).then(
        ({ sent, view }) => {
          expect(sent.message.seq).toBe(afterSeq + 1);
          return view;
        },
        (error: unknown) => (error instanceof AppError ? error.code : String(error)),
      );
      outcomes.push(outcome);
      counts.push(await counterSends(counterKey));
    }

    // Leases of 5 ride in the 1st and 6th commits; the 11th and 12th no longer fit a lease, so their
    // views are refused and the usual send claims one each; the 13th finds the window full.
    expect(outcomes).toEqual([...Array(10).fill('held'), 'refused', 'refused', 'rate_limited']);
    expect(counts).toEqual([5, 5, 5, 5, 5, 10, 10, 10, 10, 10, 11, 12, 12]);
    expect(await db.repositories.messages.get(conversation.id, (await lastSeqOf(conversation.id)) + 1, true)).toBe(
      undefined,
    );
  });

  it('charges a retry that finds its original like any send, also when the commit carried the claim', async () => {
    const { ann, ben, conversation, messaging, text } = await scene();
    const now = Math.floor(Date.now() / 1000);
    const windowStart = now - (now % 3600);
    const limit = { windowSeconds: 3600, maxSends: 2, leaseSends: 5 };
    // Each handler environment has its own limiter, holding no lease of its own.
    const handler = () =>
      new SendRateLimiter(db.repositories.rateCounters, { now: () => new Date(windowStart * 1000) }, limit);
    const afterSeq = await lastSeqOf(conversation.id);
    const view = { peerId: ben, afterSeq };

    const first = await sendWithDirectChatView(messaging, handler(), text(ann, 'once'), view);
    const retried = await sendWithDirectChatView(messaging, handler(), text(ann, 'once'), view).catch(
      (error: unknown) => (error instanceof AppError ? error.code : String(error)),
    );

    // The first commit claimed the whole window (2); the retry meets it full.
    expect(first.sent.message.seq).toBe(afterSeq + 1);
    expect(await counterSends(sendCounterKey(ann, windowStart))).toBe(2);
    expect(retried).toBe('rate_limited');
    expect(await lastSeqOf(conversation.id)).toBe(afterSeq + 1);
  });
});
