import { beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, ForbiddenError } from '#shared/errors';
import { ConversationListService } from '#shared/services/conversation-list-service';
import { ConversationService } from '#shared/services/conversation-service';
import { MessagingService } from '#shared/services/messaging-service';
import { TimelineWriter } from '#shared/services/timeline-writer';
import { steppingClock, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;
let messaging: MessagingService;
let list: ConversationListService;

/** Each reading is a second later than the one before, so activity has a clear order. */
const clock = steppingClock(1000);

beforeAll(async () => {
  db = await useTestTables('conversation-list');
  const timeline = new TimelineWriter(db.repositories.messages, clock);
  conversations = new ConversationService(db.repositories.conversations, timeline, clock);
  messaging = new MessagingService(db.repositories.conversations, timeline, db.services.sendableAttachments);
  list = new ConversationListService(db.repositories.conversations, db.repositories.messages);
});

const say = (senderId: string, conversationId: string, text: string) =>
  messaging.send({ senderId, conversationId, clientMessageId: text, text });

describe('ConversationListService.list', () => {
  it('orders by latest activity, with the last message and the unread count since joining', async () => {
    const { conversation: quiet } = await conversations.create({ creatorId: 'zoe', type: 'group', memberIds: ['yan'] });
    const { conversation: busy } = await conversations.create({ creatorId: 'zoe', type: 'direct', memberIds: ['xia'] });
    const { conversation: middle } = await conversations.create({
      creatorId: 'wes',
      type: 'group',
      memberIds: ['zoe'],
    });
    await say('xia', busy.id, 'busy 1');
    await say('wes', middle.id, 'middle 1');
    await say('xia', busy.id, 'busy 2');

    const page = await list.list('zoe', 'zoe', 10);

    expect(page.cursor).toBeUndefined();
    expect(page.conversations.map((c) => c.id)).toEqual([busy.id, middle.id, quiet.id]);
    const [first, second, third] = page.conversations;
    expect(first).toMatchObject({ lastSeq: 3, unreadCount: 2, role: 'member', lastMessage: { text: 'busy 2' } });
    expect(second).toMatchObject({ lastSeq: 2, unreadCount: 1, lastMessage: { text: 'middle 1' } });
    expect(third).toMatchObject({ lastSeq: 1, unreadCount: 0, role: 'admin', lastMessage: { type: 'system' } });
    const [busyForSender] = (await list.list('xia', 'xia', 10)).conversations;
    expect(busyForSender).toMatchObject({ id: busy.id, unreadCount: 0 });
  });

  it('pages through every conversation exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { conversation } = await conversations.create({
        creatorId: 'pat',
        type: 'group',
        memberIds: [`friend-${i}`],
      });
      ids.push(conversation.id);
    }

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await list.list('pat', 'pat', 3, cursor);
      seen.push(...page.conversations.map((c) => c.id));
      cursor = page.cursor;
    } while (cursor);

    expect(seen).toEqual([...ids].reverse());
  });

  it('is for the user alone, and refuses a forged cursor', async () => {
    await expect(list.list('mallory', 'zoe', 10)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(list.list('zoe', 'zoe', 10, 'not-a-cursor')).rejects.toBeInstanceOf(BadRequestError);
  });
});
