import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { conversationKeys } from '#shared/keys';
import { DirectChatRepository } from '#shared/repositories/direct-chat-repository';
import { ConversationListService } from '#shared/services/conversation-list-service';
import { RecordingPoster, type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

let db: TestTables;
let list: ConversationListService;
const names = uniqueNames('ls');

beforeAll(async () => {
  db = await useTestTables('last-send');
  list = new ConversationListService(db.repositories.conversations, db.repositories.messages);
});

async function item(key: { pk: string; sk: string }) {
  const result = await db.documentClient.send(
    new GetCommand({ TableName: db.tableName('conversations'), Key: key, ConsistentRead: true }),
  );
  return result.Item ?? {};
}

const unreadFor = async (userId: string, conversationId: string) =>
  (await list.list(userId, userId, 20)).conversations.find((c) => c.id === conversationId)?.unreadCount;

describe("a sender's last send", () => {
  it('moves on the meta item of a direct chat sent to uncontended, and counts there as the member row would', async () => {
    const [ann, ben] = names('ann', 'ben');
    const { conversation } = await db.services.conversations.create({
      creatorId: ann,
      type: 'direct',
      memberIds: [ben],
    });
    const messaging = db.services.messagingWithDirectDelivery(new RecordingPoster());

    await messaging.send({ senderId: ann, conversationId: conversation.id, clientMessageId: 'a1', text: 'hi' });
    const { message } = await messaging.send({
      senderId: ben,
      conversationId: conversation.id,
      clientMessageId: 'b1',
      text: 'hello',
    });

    const benRow = await item(conversationKeys.member(conversation.id, ben));
    expect(benRow.lastSentSeq).toBeUndefined();
    expect((await item(conversationKeys.meta(conversation.id)))[`lastSentSeq#${ben}`]).toBe(message.seq);
    const { members } = await db.repositories.conversations.getWithMembers(conversation.id);
    expect(members.find((member) => member.userId === ben)?.lastSentSeq).toBe(message.seq);
    // Ben's reply leaves nothing unread for him; Ann has his reply to read.
    expect(await unreadFor(ben, conversation.id)).toBe(0);
    expect(await unreadFor(ann, conversation.id)).toBe(1);
    // Ben did not start the chat but wrote in it: he takes part (the consent signal).
    const directChats = new DirectChatRepository(db.documentClient, db.tableName('conversations'));
    expect([...(await directChats.takingPartWith(ann, [ben]))]).toEqual([ben]);
  });

  it('stays on the member row in a group, and when the membership read is not the seq before the commit', async () => {
    const [ann, ben, cat] = names('ann', 'ben', 'cat');
    const group = await db.services.conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });
    const { message: inGroup } = await db.services
      .messagingWithDirectDelivery(new RecordingPoster())
      .send({ senderId: ben, conversationId: group.conversation.id, clientMessageId: 'g1', text: 'hi all' });
    expect((await item(conversationKeys.member(group.conversation.id, ben))).lastSentSeq).toBe(inGroup.seq);
    expect((await item(conversationKeys.meta(group.conversation.id)))[`lastSentSeq#${ben}`]).toBeUndefined();

    // A direct chat whose membership was read before another entry landed: the commit cannot vouch for it.
    const { conversation } = await db.services.conversations.create({
      creatorId: ann,
      type: 'direct',
      memberIds: [cat],
    });
    const readAt = conversation.lastSeq;
    await db.services.messaging.send({
      senderId: ann,
      conversationId: conversation.id,
      clientMessageId: 'a1',
      text: 'x',
    });
    const seq = readAt + 2;
    const outcome = await db.repositories.messages.commit(
      {
        id: `${conversation.id}-${seq}`,
        conversationId: conversation.id,
        seq,
        senderId: cat,
        type: 'text',
        text: 'late',
        createdAt: new Date().toISOString(),
        clientMessageId: 'c1',
      },
      { sentBy: cat, lastSendOnMetaAt: readAt },
    );
    expect(outcome.kind).toBe('stored');
    expect((await item(conversationKeys.member(conversation.id, cat))).lastSentSeq).toBe(seq);
    expect((await item(conversationKeys.meta(conversation.id)))[`lastSentSeq#${cat}`]).toBeUndefined();
  });
});
