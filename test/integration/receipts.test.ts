import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { NotFoundError } from '#shared/errors';
import { receiptKeys } from '#shared/keys';
import { toRecordedAcknowledgement } from '#shared/repositories/receipt-repository';
import { ReceiptAnnouncer } from '#shared/services/receipt-announcer';
import { ReceiptService } from '#shared/services/receipt-service';
import { RecordingPoster, steppingClock, type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

let db: TestTables;
let receipts: ReceiptService;
const poster = new RecordingPoster();
const keepsReadsPrivate = new Set<string>();
const names = uniqueNames('rc');

/** Each reading a minute after the last, so "when was it first reached" has distinct answers. */
const clock = steppingClock(60_000);

beforeAll(async () => {
  db = await useTestTables('receipts');
  receipts = new ReceiptService(
    db.repositories.conversations,
    db.repositories.receipts,
    db.repositories.messages,
    db.repositories.connections,
    poster,
    // The real setting lives on the profile (UserRepository.sharesReads); here a set stands in for it.
    { sharesReads: async (userId) => !keepsReadsPrivate.has(userId) },
    clock,
  );
});

/** A group of ann and ben with `texts` messages from ann after the creation event (seq 1). */
async function groupWithMessages(texts: number) {
  const [ann, ben] = names('ann', 'ben');
  const { conversation } = await db.services.conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });
  for (let i = 0; i < texts; i++) {
    await db.services.messaging.send({
      senderId: ann,
      conversationId: conversation.id,
      clientMessageId: `m${i}`,
      text: `m${i}`,
    });
  }
  return { ann, ben, conversationId: conversation.id };
}

const marksOf = async (conversationId: string, userId: string) => {
  const { member } = await db.repositories.conversations.getMembership(conversationId, userId);
  return { delivered: member?.deliveredSeq, read: member?.readSeq };
};

describe('ReceiptService.acknowledge', () => {
  it('moves a mark only forward, whatever order acknowledgements arrive in', async () => {
    const { ben, conversationId } = await groupWithMessages(5);

    const first = await receipts.acknowledge({ userId: ben }, conversationId, 'delivered', 5);
    const late = await receipts.acknowledge({ userId: ben }, conversationId, 'delivered', 3);
    const repeated = await receipts.acknowledge({ userId: ben }, conversationId, 'delivered', 5);

    expect(first.map((a) => [a.kind, a.fromSeq, a.toSeq])).toEqual([['delivered', 0, 5]]);
    expect(late).toEqual([]);
    expect(repeated).toEqual([]);
    expect(await marksOf(conversationId, ben)).toEqual({ delivered: 5, read: undefined });
  });

  it('treats a read as a delivery too, and never moves past the last seq', async () => {
    const { ben, conversationId } = await groupWithMessages(3);

    const advances = await receipts.acknowledge({ userId: ben }, conversationId, 'read', 999);

    expect(advances.map((a) => [a.kind, a.toSeq])).toEqual([
      ['read', 4],
      ['delivered', 4],
    ]);
    expect(await marksOf(conversationId, ben)).toEqual({ delivered: 4, read: 4 });
  });

  it('keeps concurrent acknowledgements from moving a mark backwards', async () => {
    const { ben, conversationId } = await groupWithMessages(8);

    await Promise.all(
      [2, 9, 4, 7, 3, 9, 5].map((seq) => receipts.acknowledge({ userId: ben }, conversationId, 'delivered', seq)),
    );

    expect((await marksOf(conversationId, ben)).delivered).toBe(9);
  });

  it("lets a user's two devices acknowledge the same seq at once: one advance, no mark moved twice", async () => {
    const { ben, conversationId } = await groupWithMessages(4);

    const [laptop, phone] = await Promise.all([
      receipts.acknowledge({ userId: ben, connectionId: 'laptop' }, conversationId, 'read', 5),
      receipts.acknowledge({ userId: ben, connectionId: 'phone' }, conversationId, 'read', 5),
    ]);

    // Each mark moved exactly once, by one device or the other.
    const moved = [...laptop, ...phone].map((advance) => [advance.kind, advance.fromSeq, advance.toSeq]);
    expect(moved.sort()).toEqual([
      ['delivered', 0, 5],
      ['read', 0, 5],
    ]);
    expect(await marksOf(conversationId, ben)).toEqual({ delivered: 5, read: 5 });
  });

  it('keeps one history item per acknowledgement: a read stands for the delivery it implies', async () => {
    const { ben, conversationId } = await groupWithMessages(2);

    const [read] = await receipts.acknowledge({ userId: ben }, conversationId, 'read', 3);
    await receipts.acknowledge({ userId: ben }, conversationId, 'read', 3);

    const history = await db.documentClient.send(
      new QueryCommand({
        TableName: db.tableName('receipts'),
        KeyConditionExpression: 'memberKey = :member',
        ExpressionAttributeValues: { ':member': `${conversationId}#${ben}` },
      }),
    );
    expect(history.Items?.map((item) => [item.kind, item.toSeq, item.at])).toEqual([['read', 3, read?.at]]);
    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'delivered', 3)).toBe(read?.at);
  });

  it('dates a delivery by the earlier of its own acknowledgement and a read past it', async () => {
    const { ben, conversationId } = await groupWithMessages(4);
    const [readToThree] = await receipts.acknowledge({ userId: ben }, conversationId, 'read', 3);
    const [deliveredToFive] = await receipts.acknowledge({ userId: ben }, conversationId, 'delivered', 5);

    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'delivered', 2)).toBe(readToThree?.at);
    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'delivered', 4)).toBe(deliveredToFive?.at);
    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'read', 4)).toBeUndefined();
  });

  it('answers when a member first reached an old message, after later marks moved past it', async () => {
    const { ben, conversationId } = await groupWithMessages(6);
    const [toThree] = await receipts.acknowledge({ userId: ben }, conversationId, 'read', 3);
    await receipts.acknowledge({ userId: ben }, conversationId, 'read', 5);
    await receipts.acknowledge({ userId: ben }, conversationId, 'read', 7);

    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'read', 2)).toBe(toThree?.at);
    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'read', 3)).toBe(toThree?.at);
    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'read', 4)).not.toBe(toThree?.at);
    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'delivered', 6)).toBeDefined();
    expect(await db.repositories.receipts.firstReached(conversationId, ben, 'read', 8)).toBeUndefined();
  });

  it('refuses a non-member, and a member who left', async () => {
    const { ann, ben, conversationId } = await groupWithMessages(1);
    await db.services.conversations.removeMember(conversationId, ann, ben);

    await expect(receipts.acknowledge({ userId: 'stranger' }, conversationId, 'read', 1)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(receipts.acknowledge({ userId: ben }, conversationId, 'read', 1)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});

describe('ReceiptService.acknowledge reads', () => {
  /** Whether each BatchGetItem of the conversations table was strongly consistent, in call order. */
  function membershipReads(calls: readonly (readonly unknown[])[]) {
    const table = db.tableName('conversations');
    return calls.flatMap(([command]) => {
      const requests = (command as { input: { RequestItems?: Record<string, { ConsistentRead?: boolean }> } }).input
        .RequestItems;
      const request = requests?.[table];
      return request ? [request.ConsistentRead === true] : [];
    });
  }

  it('reads membership eventually consistent, and strongly again only when it falls short of the acknowledgement', async () => {
    const { ben, conversationId } = await groupWithMessages(2);
    const send = vi.spyOn(db.documentClient, 'send');
    try {
      await receipts.acknowledge({ userId: ben }, conversationId, 'delivered', 2);
      expect(membershipReads(send.mock.calls)).toEqual([false]);

      send.mockClear();
      // Past the last seq (3): the eventual read may be behind a commit, so it is read again strongly; the mark stops at 3.
      await receipts.acknowledge({ userId: ben }, conversationId, 'delivered', 99);
      expect(membershipReads(send.mock.calls)).toEqual([false, true]);
      expect(await marksOf(conversationId, ben)).toEqual({ delivered: 3, read: undefined });

      send.mockClear();
      await expect(receipts.acknowledge({ userId: 'stranger' }, conversationId, 'read', 1)).rejects.toBeInstanceOf(
        NotFoundError,
      );
      expect(membershipReads(send.mock.calls)).toEqual([false, true]);
    } finally {
      send.mockRestore();
    }
  });
});

describe('receipt frames', () => {
  /** ann and cat send; ben acknowledges from his laptop and also has a phone online. */
  async function scene() {
    const [ann, ben, cat, dot] = names('ann', 'ben', 'cat', 'dot');
    const { conversation } = await db.services.conversations.create({
      creatorId: ann,
      type: 'group',
      memberIds: [ben, cat, dot],
    });
    const send = (senderId: string, text: string) =>
      db.services.messaging.send({ senderId, conversationId: conversation.id, clientMessageId: text, text });
    await send(ann, 'a1');
    await send(cat, 'c1');
    for (const [userId, deviceId] of [
      [ann, 'phone'],
      [ben, 'laptop'],
      [ben, 'phone'],
      [cat, 'phone'],
      [dot, 'phone'],
    ] as const) {
      await db.services.connections.connect({ userId, deviceId, connectionId: `${userId}-${deviceId}` });
    }
    return { ann, ben, cat, dot, conversationId: conversation.id };
  }

  /** What a device was posted: `receipt` frames and every entry of `receipts` frames, as [conversation-less] pairs. */
  const receiptsTo = (connectionId: string) =>
    poster
      .framesTo(connectionId)
      .flatMap((frame) => (frame.type === 'receipt' ? [frame] : frame.type === 'receipts' ? frame.receipts : []))
      .map((receipt) => [receipt.kind, receipt.upToSeq]);
  const framesTo = (connectionId: string) => poster.framesTo(connectionId).map((frame) => frame.type);

  /** The acknowledgements the receipts stream would carry: the history items the members' acknowledgements wrote. */
  async function recorded(conversationId: string, userIds: readonly string[]) {
    const items = await Promise.all(
      userIds.map(async (userId) => {
        const result = await db.documentClient.send(
          new QueryCommand({
            TableName: db.tableName('receipts'),
            KeyConditionExpression: 'memberKey = :k',
            ExpressionAttributeValues: { ':k': receiptKeys.member(conversationId, userId) },
          }),
        );
        return result.Items ?? [];
      }),
    );
    return items.flat().flatMap((item) => {
      const acknowledgement = toRecordedAcknowledgement(item);
      return acknowledgement ? [acknowledgement] : [];
    });
  }

  const announcer = () =>
    new ReceiptAnnouncer(
      db.repositories.messages,
      db.repositories.connections,
      poster,
      { sharesReads: async (userId) => !keepsReadsPrivate.has(userId) },
      clock,
    );

  it("reach the reader's other devices at once, and the covered messages' senders from the stream, no one else", async () => {
    const { ann, ben, cat, dot, conversationId } = await scene();

    await receipts.acknowledge({ userId: ben, connectionId: `${ben}-laptop` }, conversationId, 'read', 3);
    expect(receiptsTo(`${ben}-phone`)).toEqual([['read', 3]]);
    expect(receiptsTo(`${ann}-phone`)).toEqual([]);

    await announcer().announce(await recorded(conversationId, [ben]));

    expect(receiptsTo(`${ann}-phone`)).toEqual([['read', 3]]);
    expect(receiptsTo(`${cat}-phone`)).toEqual([['read', 3]]);
    expect(receiptsTo(`${ben}-phone`)).toEqual([['read', 3]]);
    expect(receiptsTo(`${ben}-laptop`)).toEqual([]);
    expect(receiptsTo(`${dot}-phone`)).toEqual([]);
  });

  it("tell each sender device of a batch's acknowledgements in one frame, each member's furthest", async () => {
    const { ann, ben, cat, dot, conversationId } = await scene();

    await receipts.acknowledge({ userId: ben, connectionId: `${ben}-laptop` }, conversationId, 'delivered', 2);
    await receipts.acknowledge({ userId: ben, connectionId: `${ben}-laptop` }, conversationId, 'read', 3);
    await receipts.acknowledge({ userId: dot, connectionId: `${dot}-phone` }, conversationId, 'read', 3);
    await announcer().announce(await recorded(conversationId, [ben, dot]));

    // ann sent seq 2 and cat seq 3: ben's delivery up to 2 concerns ann alone.
    expect(framesTo(`${ann}-phone`)).toEqual(['receipts']);
    expect(receiptsTo(`${ann}-phone`).sort()).toEqual([
      ['delivered', 2],
      ['read', 3],
      ['read', 3],
    ]);
    expect(framesTo(`${cat}-phone`)).toEqual(['receipts']);
    expect(receiptsTo(`${cat}-phone`)).toEqual([
      ['read', 3],
      ['read', 3],
    ]);
  });

  it('tell senders only of the delivery when the reader does not share reads', async () => {
    const { ann, ben, conversationId } = await scene();

    keepsReadsPrivate.add(ben);
    await receipts.acknowledge({ userId: ben, connectionId: `${ben}-laptop` }, conversationId, 'read', 3);
    await announcer().announce(await recorded(conversationId, [ben]));

    expect(receiptsTo(`${ann}-phone`)).toEqual([['delivered', 3]]);
    expect(receiptsTo(`${ben}-phone`)).toEqual([['read', 3]]);
  });

  it('announce a delivery to the senders alone', async () => {
    const { ann, ben, conversationId } = await scene();

    await receipts.acknowledge({ userId: ben, connectionId: `${ben}-laptop` }, conversationId, 'delivered', 2);
    expect(receiptsTo(`${ben}-phone`)).toEqual([]);
    await announcer().announce(await recorded(conversationId, [ben]));

    expect(receiptsTo(`${ann}-phone`)).toEqual([['delivered', 2]]);
    expect(receiptsTo(`${ben}-phone`)).toEqual([]);
  });
});

describe('receipts of one message', () => {
  it('gives each other member the times they first had it delivered and read, after later marks moved past it', async () => {
    const [ann, ben, cat] = names('ann', 'ben', 'cat');
    const { conversation } = await db.services.conversations.create({
      creatorId: ann,
      type: 'group',
      memberIds: [ben, cat],
    });
    const sent = await db.services.messaging.send({
      senderId: ann,
      conversationId: conversation.id,
      clientMessageId: 'old',
      text: 'old',
    });
    const [benDelivered] = await receipts.acknowledge({ userId: ben }, conversation.id, 'delivered', sent.message.seq);
    const [benRead] = await receipts.acknowledge({ userId: ben }, conversation.id, 'read', sent.message.seq);
    await db.services.messaging.send({
      senderId: ann,
      conversationId: conversation.id,
      clientMessageId: 'new',
      text: 'new',
    });
    await receipts.acknowledge({ userId: ben }, conversation.id, 'read', sent.message.seq + 1);

    const answer = await receipts.receiptsFor(cat, sent.message.id);

    expect(answer.state).toBe('sent');
    expect(answer.receipts.sort((a, b) => a.userId.localeCompare(b.userId))).toEqual([
      { userId: ben, deliveredAt: benDelivered?.at, readAt: benRead?.at },
      { userId: cat, deliveredAt: null, readAt: null },
    ]);
  });

  it('answers not_found to a non-member and for an unknown message', async () => {
    const { conversationId } = await groupWithMessages(1);

    await expect(receipts.receiptsFor('stranger', `${conversationId}-2`)).rejects.toBeInstanceOf(NotFoundError);
    await expect(receipts.readUpToMessage('stranger', `${conversationId}-2`)).rejects.toBeInstanceOf(NotFoundError);
    await expect(receipts.receiptsFor('stranger', 'nonsense')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('marks the conversation read up to a message for its reader', async () => {
    const { ben, conversationId } = await groupWithMessages(3);

    await receipts.readUpToMessage(ben, `${conversationId}-3`);

    expect(await marksOf(conversationId, ben)).toEqual({ delivered: 3, read: 3 });
  });
});

describe('a reader who keeps reads private', () => {
  it('never appears as a reader of a message, though the delivery shows', async () => {
    const { ann, ben, conversationId } = await groupWithMessages(1);
    keepsReadsPrivate.add(ben);
    await receipts.acknowledge({ userId: ben }, conversationId, 'read', 2);

    const answer = await receipts.receiptsFor(ann, `${conversationId}-2`);

    expect(answer).toEqual({
      state: 'delivered',
      receipts: [{ userId: ben, deliveredAt: expect.any(String), readAt: null }],
    });
    expect(await marksOf(conversationId, ben)).toEqual({ delivered: 2, read: 2 });
  });
});
