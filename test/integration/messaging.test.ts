import { beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '#shared/errors';
import type { MessageRepository } from '#shared/repositories/message-repository';
import { ConversationService } from '#shared/services/conversation-service';
import { MessagingService } from '#shared/services/messaging-service';
import { TimelineWriter } from '#shared/services/timeline-writer';
import { fixedClock, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;
let messaging: MessagingService;
let messageRepository: MessageRepository;

beforeAll(async () => {
  db = await useTestTables('messaging');
  conversations = new ConversationService(
    db.repositories.conversations,
    new TimelineWriter(db.repositories.messages, fixedClock),
    fixedClock,
  );
  messageRepository = db.repositories.messages;
  messaging = new MessagingService(
    db.repositories.conversations,
    new TimelineWriter(messageRepository, fixedClock),
    db.services.sendableAttachments,
  );
});

/** A fresh conversation of alice and bob; its creation event holds seq 1. */
async function aliceAndBob() {
  const { conversation } = await conversations.create({ creatorId: 'alice', type: 'group', memberIds: ['bob'] });
  return conversation;
}

describe('MessagingService.send', () => {
  it('stores the first message at seq 1 with server time and an id naming its key', async () => {
    const conversation = await aliceAndBob();

    const { message, duplicate } = await messaging.send({
      senderId: 'alice',
      senderDeviceId: 'phone',
      conversationId: conversation.id,
      clientMessageId: 'c1',
      text: 'hello',
    });

    expect(duplicate).toBe(false);
    expect(message).toEqual({
      id: `${conversation.id}-2`,
      conversationId: conversation.id,
      seq: 2,
      senderId: 'alice',
      type: 'text',
      text: 'hello',
      createdAt: fixedClock.now().toISOString(),
      clientMessageId: 'c1',
    });
    const stored = await messageRepository.get(conversation.id, 2);
    expect(stored).toMatchObject({ text: 'hello', senderDeviceId: 'phone' });
  });

  it('returns the original message when the same sender retries a clientMessageId, storing nothing new', async () => {
    const conversation = await aliceAndBob();
    const first = await messaging.send({
      senderId: 'alice',
      conversationId: conversation.id,
      clientMessageId: 'x',
      text: 'one',
    });
    await messaging.send({ senderId: 'bob', conversationId: conversation.id, clientMessageId: 'y', text: 'two' });

    const retry = await messaging.send({
      senderId: 'alice',
      conversationId: conversation.id,
      clientMessageId: 'x',
      text: 'one',
    });

    expect(retry.duplicate).toBe(true);
    expect(retry.message).toEqual(first.message);
    expect(await messageRepository.get(conversation.id, 4)).toBeUndefined();
  });

  it('treats the same clientMessageId from another sender as a different message', async () => {
    const conversation = await aliceAndBob();
    const fromAlice = await messaging.send({
      senderId: 'alice',
      conversationId: conversation.id,
      clientMessageId: 'same',
      text: 'a',
    });
    const fromBob = await messaging.send({
      senderId: 'bob',
      conversationId: conversation.id,
      clientMessageId: 'same',
      text: 'b',
    });

    expect(fromBob.duplicate).toBe(false);
    expect(fromBob.message.seq).toBe(fromAlice.message.seq + 1);
  });

  it('refuses a non-member exactly as it refuses a conversation that does not exist', async () => {
    const conversation = await aliceAndBob();

    const [asStranger, nowhere] = await Promise.allSettled([
      messaging.send({ senderId: 'mallory', conversationId: conversation.id, clientMessageId: 'm', text: 'hi' }),
      messaging.send({ senderId: 'mallory', conversationId: 'NO-SUCH-CONVERSATION', clientMessageId: 'm', text: 'hi' }),
    ]);

    expect(asStranger.status === 'rejected' && asStranger.reason).toBeInstanceOf(NotFoundError);
    expect(nowhere.status === 'rejected' && nowhere.reason).toBeInstanceOf(NotFoundError);
    expect(asStranger).toEqual(nowhere);
    expect(await messageRepository.get(conversation.id, 2)).toBeUndefined();
  });

  it('gives concurrent sends to one conversation every seq exactly once, with no gaps', async () => {
    const { conversation } = await conversations.create({
      creatorId: 'alice',
      type: 'group',
      memberIds: ['bob', 'carol'],
    });
    const senders = ['alice', 'bob', 'carol'];

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        messaging.send({
          senderId: senders[i % 3] as string,
          conversationId: conversation.id,
          clientMessageId: `burst-${i}`,
          text: `message ${i}`,
        }),
      ),
    );

    const seqs = results.map((result) => result.message.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    for (const { message } of results) {
      expect(await messageRepository.get(conversation.id, message.seq)).toMatchObject({
        type: 'text',
        text: message.text,
      });
    }
  });

  it('fills the seq of a send that took a ticket and died, so later sends are not blocked', async () => {
    const conversation = await aliceAndBob();
    const quickStall = new MessagingService(
      db.repositories.conversations,
      new TimelineWriter(messageRepository, fixedClock, { budgetMs: 10_000, stallTimeoutMs: 200 }),
      db.services.sendableAttachments,
    );
    // A sender queued for seq 2 and then crashed before committing.
    await messageRepository.takeTicket(conversation.id);

    const { message } = await quickStall.send({
      senderId: 'bob',
      conversationId: conversation.id,
      clientMessageId: 'after-crash',
      text: 'still here',
    });

    expect(message.seq).toBe(3);
    expect(await messageRepository.get(conversation.id, 2)).toMatchObject({ type: 'void', seq: 2 });
  });

  it('stores one message when the same retry races itself', async () => {
    const conversation = await aliceAndBob();

    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        messaging.send({ senderId: 'alice', conversationId: conversation.id, clientMessageId: 'racing', text: 'once' }),
      ),
    );

    expect(new Set(results.map((result) => result.message.id)).size).toBe(1);
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    // Racing duplicates that queued fill their tickets with voids; no second text message exists.
    for (let seq = 3; seq <= 7; seq++) {
      const extra = await messageRepository.get(conversation.id, seq);
      if (extra) expect(extra.type).toBe('void');
    }
  });
});
