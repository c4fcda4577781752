import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '#shared/clock';
import { limits } from '#shared/config/limits';
import { AppError } from '#shared/errors';
import { conversationKeys } from '#shared/keys';
import type { DownloadUrlSigner } from '#shared/media/url-signers';
import { AttachmentReads, AttachmentUploads } from '#shared/services/attachment-service';
import { ConversationListService } from '#shared/services/conversation-list-service';
import { ConversationService } from '#shared/services/conversation-service';
import { HistoryService } from '#shared/services/history-service';
import { MessageChangeService } from '#shared/services/message-change-service';
import { MessagingService } from '#shared/services/messaging-service';
import { TimelineWriter } from '#shared/services/timeline-writer';
import { type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

/** Server time the test moves by hand: the edit window is crossed by setting it, never by sleeping. */
let now = Date.now();
const clock: Clock = { now: () => new Date(now) };

let db: TestTables;
let conversations: ConversationService;
let messaging: MessagingService;
let changes: MessageChangeService;
let history: HistoryService;
let list: ConversationListService;
let uploads: AttachmentUploads;
let attachmentReads: AttachmentReads;
const names = uniqueNames('chg');

const downloadSigner: DownloadUrlSigner = { sign: async (key) => `https://cdn.test/${key}` };

beforeAll(async () => {
  db = await useTestTables('message-changes');
  const timeline = new TimelineWriter(db.repositories.messages, clock);
  conversations = new ConversationService(db.repositories.conversations, timeline, clock);
  messaging = new MessagingService(db.repositories.conversations, timeline, db.services.sendableAttachments);
  changes = new MessageChangeService(db.repositories.conversations, timeline, clock);
  history = new HistoryService(db.repositories.conversations, db.repositories.messages);
  list = new ConversationListService(db.repositories.conversations, db.repositories.messages);
  uploads = new AttachmentUploads(
    db.repositories.attachments,
    db.repositories.conversations,
    {
      presignPut: async (key, contentType) => ({
        url: `https://uploads.test/${key}`,
        headers: { 'content-type': contentType },
      }),
    },
    clock,
  );
  attachmentReads = new AttachmentReads(
    db.repositories.attachments,
    db.repositories.conversations,
    downloadSigner,
    clock,
  );
});

beforeEach(() => {
  now = Date.now();
});

/** A group of `admin` (its creator) and the others; seq 1 is its creation. */
async function group(admin: string, ...others: string[]) {
  const { conversation } = await conversations.create({ creatorId: admin, type: 'group', memberIds: others });
  return conversation.id;
}

let sends = 0;
async function say(senderId: string, conversationId: string, text: string, replyTo?: number) {
  const { message } = await messaging.send({
    senderId,
    conversationId,
    clientMessageId: `m${++sends}`,
    text,
    ...(replyTo !== undefined ? { replyTo } : {}),
  });
  return message;
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof AppError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
}

async function current(conversationId: string, seq: number) {
  const found = await db.repositories.messages.get(conversationId, seq, true);
  if (!found) throw new Error(`no message at ${seq}`);
  return found;
}

async function meta(conversationId: string) {
  const result = await db.documentClient.send(
    new GetCommand({
      TableName: db.tableName('conversations'),
      Key: conversationKeys.meta(conversationId),
      ConsistentRead: true,
    }),
  );
  return result.Item ?? {};
}

describe('editMessage', () => {
  it('is an entry at the next seq that changes the original: edited text, editedAt, changedSeq', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const original = await say(alice, id, 'helo');
    now += 60_000;

    const { message: edit } = await changes.edit({
      actorId: alice,
      conversationId: id,
      seq: original.seq,
      text: 'hello',
    });

    expect(edit).toMatchObject({
      seq: original.seq + 1,
      type: 'edit',
      senderId: alice,
      targetSeq: original.seq,
      text: 'hello',
      createdAt: new Date(now).toISOString(),
    });
    expect(await current(id, original.seq)).toMatchObject({
      text: 'hello',
      editedAt: new Date(now).toISOString(),
      changedSeq: edit.seq,
      createdAt: original.createdAt,
    });
  });

  it('refuses anyone but the sender (forbidden, not_sender)', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const original = await say(bob, id, 'mine');

    const error = await refusal(changes.edit({ actorId: alice, conversationId: id, seq: original.seq, text: 'yours' }));

    expect(error).toMatchObject({ code: 'forbidden', details: { reason: 'not_sender' } });
    expect((await current(id, original.seq)).text).toBe('mine');
  });

  it('refuses once the edit window has passed (forbidden, edit_window_passed), and allows it just before', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const early = await say(alice, id, 'first');
    const late = await say(alice, id, 'second');

    now += limits.editWindowMs;
    await changes.edit({ actorId: alice, conversationId: id, seq: late.seq, text: 'second, edited' });
    now += 1;
    const error = await refusal(changes.edit({ actorId: alice, conversationId: id, seq: early.seq, text: 'too late' }));

    expect(error).toMatchObject({ code: 'forbidden', details: { reason: 'edit_window_passed' } });
    expect((await current(id, early.seq)).text).toBe('first');
    expect((await current(id, late.seq)).text).toBe('second, edited');
  });

  it('answers not_found for a non-member, an unknown seq and a seq that holds no text message', async () => {
    const [alice, bob, eve] = names('alice', 'bob', 'eve');
    const id = await group(alice, bob);
    const original = await say(alice, id, 'hello');

    const outsider = await refusal(changes.edit({ actorId: eve, conversationId: id, seq: original.seq, text: 'x' }));
    const unknown = await refusal(changes.edit({ actorId: alice, conversationId: id, seq: 999, text: 'x' }));
    const creation = await refusal(changes.edit({ actorId: alice, conversationId: id, seq: 1, text: 'x' }));

    expect([outsider.code, unknown.code, creation.code]).toEqual(['not_found', 'not_found', 'not_found']);
  });

  it('refuses blank text for a message without attachments (bad_request)', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const original = await say(alice, id, 'hello');

    const error = await refusal(
      changes.edit({ actorId: alice, conversationId: id, seq: original.seq, text: ' \u200B ' }),
    );

    expect(error.code).toBe('bad_request');
  });

  it('answers a retry with the same clientMessageId with the edit it made, storing nothing new', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const original = await say(alice, id, 'hello');
    const input = { actorId: alice, conversationId: id, seq: original.seq, text: 'hello!', clientMessageId: 'e1' };

    const first = await changes.edit(input);
    const retry = await changes.edit(input);

    expect(retry).toMatchObject({ duplicate: true, message: first.message });
    expect((await meta(id)).lastSeq).toBe(first.message.seq);
  });
});

describe('deleteMessage', () => {
  it('turns the message into a tombstone for everyone, and refuses edits, reactions and a second delete', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const question = await say(alice, id, 'secret');
    await changes.react({ actorId: bob, conversationId: id, seq: question.seq, emoji: '👍' });

    const { message: deletion } = await changes.delete({ actorId: alice, conversationId: id, seq: question.seq });

    expect(deletion).toMatchObject({ type: 'delete', targetSeq: question.seq, text: '', senderId: alice });
    const tombstone = await current(id, question.seq);
    expect(tombstone).toMatchObject({ text: '', deletedBy: alice, deletedAt: new Date(now).toISOString() });
    expect(tombstone.reactions).toBeUndefined();
    for (const attempt of [
      () => changes.edit({ actorId: alice, conversationId: id, seq: question.seq, text: 'back' }),
      () => changes.react({ actorId: bob, conversationId: id, seq: question.seq, emoji: '❤️' }),
      () => changes.delete({ actorId: alice, conversationId: id, seq: question.seq }),
    ]) {
      expect(await refusal(attempt())).toMatchObject({ code: 'conflict', details: { reason: 'deleted' } });
    }
  });

  it('lets a group admin delete anyone’s message, but no other member', async () => {
    const [admin, bob, carol] = names('admin', 'bob', 'carol');
    const id = await group(admin, bob, carol);
    const rude = await say(bob, id, 'rude');

    const byMember = await refusal(changes.delete({ actorId: carol, conversationId: id, seq: rude.seq }));
    await changes.delete({ actorId: admin, conversationId: id, seq: rude.seq });

    expect(byMember).toMatchObject({ code: 'forbidden', details: { reason: 'not_sender' } });
    expect(await current(id, rude.seq)).toMatchObject({ text: '', deletedBy: admin });
  });

  it('keeps the other side of a direct conversation from deleting what it did not send', async () => {
    const [alice, bob] = names('alice', 'bob');
    const { conversation } = await conversations.create({ creatorId: alice, type: 'direct', memberIds: [bob] });
    const hello = await say(alice, conversation.id, 'hello');

    const error = await refusal(changes.delete({ actorId: bob, conversationId: conversation.id, seq: hello.seq }));

    expect(error.code).toBe('forbidden');
  });

  it('stops serving the deleted message’s attachments, to every member and its uploader', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const ticket = await uploads.createUpload({
      uploaderId: alice,
      conversationId: id,
      fileName: 'beach.jpg',
      contentType: 'image/jpeg',
      size: 1000,
    });
    await db.repositories.attachments.recordPart(ticket.attachmentId, {
      part: 'original',
      contentType: 'image/jpeg',
      size: 900,
    });
    await db.repositories.attachments.settle(ticket.attachmentId, 'ready');
    const { message: photo } = await messaging.send({
      senderId: alice,
      conversationId: id,
      clientMessageId: `photo-${ticket.attachmentId}`,
      text: '',
      attachmentIds: [ticket.attachmentId],
    });
    expect((await attachmentReads.get(bob, ticket.attachmentId)).url).toBeDefined();

    await changes.delete({ actorId: alice, conversationId: id, seq: photo.seq });

    expect((await current(id, photo.seq)).attachments).toBeUndefined();
    expect((await refusal(attachmentReads.get(bob, ticket.attachmentId))).code).toBe('not_found');
    expect((await refusal(attachmentReads.get(alice, ticket.attachmentId))).code).toBe('not_found');
  });
});

describe('react', () => {
  it('counts each emoji once per user, with who reacted, and takes reactions back', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const news = await say(alice, id, 'news');

    await changes.react({ actorId: alice, conversationId: id, seq: news.seq, emoji: '👍' });
    const { message: reaction } = await changes.react({ actorId: bob, conversationId: id, seq: news.seq, emoji: '👍' });
    await changes.react({ actorId: bob, conversationId: id, seq: news.seq, emoji: '🎉' });
    const twice = await refusal(changes.react({ actorId: bob, conversationId: id, seq: news.seq, emoji: '👍' }));

    expect(reaction).toMatchObject({ type: 'reaction', targetSeq: news.seq, emoji: '👍', senderId: bob });
    expect(twice).toMatchObject({ code: 'conflict', details: { reason: 'already_reacted' } });
    expect((await current(id, news.seq)).reactions).toEqual([
      { emoji: '👍', count: 2, userIds: [alice, bob].sort() },
      { emoji: '🎉', count: 1, userIds: [bob] },
    ]);

    const { message: removal } = await changes.react({
      actorId: bob,
      conversationId: id,
      seq: news.seq,
      emoji: '👍',
      remove: true,
    });
    await changes.react({ actorId: bob, conversationId: id, seq: news.seq, emoji: '🎉', remove: true });
    const again = await refusal(
      changes.react({ actorId: bob, conversationId: id, seq: news.seq, emoji: '🎉', remove: true }),
    );

    expect(removal).toMatchObject({ type: 'reaction', emoji: '👍', removed: true });
    expect(again).toMatchObject({ code: 'conflict', details: { reason: 'not_reacted' } });
    expect((await current(id, news.seq)).reactions).toEqual([{ emoji: '👍', count: 1, userIds: [alice] }]);
  });

  it('takes at most 20 different emoji a message; a 21st is refused, more of the same are not', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const popular = await say(alice, id, 'popular');
    const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙🥲😚🙂'];
    expect(emoji).toHaveLength(limits.maxReactionKinds);
    for (const one of emoji) await changes.react({ actorId: alice, conversationId: id, seq: popular.seq, emoji: one });

    const twentyFirst = await refusal(
      changes.react({ actorId: bob, conversationId: id, seq: popular.seq, emoji: '🤗' }),
    );
    await changes.react({ actorId: bob, conversationId: id, seq: popular.seq, emoji: '😀' });

    expect(twentyFirst).toMatchObject({ code: 'conflict', details: { reason: 'too_many_reactions' } });
    const reactions = (await current(id, popular.seq)).reactions ?? [];
    expect(reactions).toHaveLength(limits.maxReactionKinds);
    expect(reactions[0]).toEqual({ emoji: '😀', count: 2, userIds: [alice, bob].sort() });
  });

  it('frees a kind when its last reaction is taken back', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const popular = await say(alice, id, 'popular');
    const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙🥲😚🙂'];
    for (const one of emoji) await changes.react({ actorId: alice, conversationId: id, seq: popular.seq, emoji: one });

    await changes.react({ actorId: alice, conversationId: id, seq: popular.seq, emoji: '🙂', remove: true });
    await changes.react({ actorId: bob, conversationId: id, seq: popular.seq, emoji: '🤗' });

    expect((await current(id, popular.seq)).reactions?.map((reaction) => reaction.emoji)).toContain('🤗');
  });
});

describe('replyTo', () => {
  it('carries the replied-to message’s seq, sender and preview; history follows its edits and its deletion', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const question = await say(alice, id, `Lunch? ${'x'.repeat(200)}`);

    const answer = await say(bob, id, 'Yes!', question.seq);

    expect(answer.replyTo).toEqual({
      seq: question.seq,
      senderId: alice,
      preview: `Lunch? ${'x'.repeat(limits.replyPreviewLength - 'Lunch? '.length)}…`,
    });
    await changes.edit({ actorId: alice, conversationId: id, seq: question.seq, text: 'Dinner?' });
    expect((await history.get(answer.id, bob)).replyTo).toMatchObject({ preview: 'Dinner?' });
    await changes.delete({ actorId: alice, conversationId: id, seq: question.seq });
    const page = await history.list({
      conversationId: id,
      callerId: bob,
      start: { kind: 'after', seq: answer.seq - 1 },
      limit: 10,
    });
    expect(page.messages[0]?.replyTo).toEqual({ seq: question.seq, senderId: alice, preview: '', deleted: true });
    // The edit entry no longer shows the text of a message that is gone.
    expect(page.messages.find((message) => message.type === 'edit')?.text).toBe('');
  });

  it('refuses a reply to a seq that holds no message the sender may see (not_found)', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);

    const error = await refusal(say(bob, id, 'to nothing', 500));

    expect(error.code).toBe('not_found');
  });
});

describe('changes and the conversation list', () => {
  it('raise no unread count and do not move the conversation up; messages among them still count', async () => {
    const [alice, bob] = names('alice', 'bob');
    const busy = await group(alice, bob);
    const hello = await say(alice, busy, 'hello');
    await say(bob, busy, 'hi');
    now += 1000;
    const other = await group(bob, alice);
    now += 1000;

    await changes.edit({ actorId: alice, conversationId: busy, seq: hello.seq, text: 'hello!' });
    await changes.react({ actorId: alice, conversationId: busy, seq: hello.seq, emoji: '👋' });

    const before = await list.list(bob, bob, 10);
    expect(before.conversations.map((summary) => summary.id)).toEqual([other, busy]);
    const quiet = before.conversations.find((summary) => summary.id === busy);
    expect(quiet).toMatchObject({ unreadCount: 0, lastMessage: { text: 'hi' } });

    const news = await say(alice, busy, 'news');
    await changes.react({ actorId: alice, conversationId: busy, seq: news.seq, emoji: '🔥' });
    await say(alice, busy, 'more news');
    await changes.edit({ actorId: alice, conversationId: busy, seq: news.seq, text: 'big news' });

    const after = await list.list(bob, bob, 10);
    expect(after.conversations[0]).toMatchObject({ id: busy, unreadCount: 2, lastMessage: { text: 'more news' } });
  });

  it('costs the same transaction whatever the group size: the entry, the message, the author’s row, the meta', async () => {
    const [admin, ...others] = names('admin', ...Array.from({ length: 30 }, (_, i) => `m${i}`));
    const id = await group(admin, ...others);
    const hello = await say(admin, id, 'hello everyone');
    const before = await meta(id);

    await changes.react({ actorId: others[0] as string, conversationId: id, seq: hello.seq, emoji: '👍' });

    const after = await meta(id);
    expect(after).toMatchObject({
      lastSeq: before.lastSeq + 1,
      lastMessageSeq: hello.seq,
      lastMessageAt: before.lastMessageAt,
      lastChangeSeq: before.lastSeq + 1,
    });
  });
});

describe('a new device’s history', () => {
  it('shows each message as it is now, and every change as an entry in seq order', async () => {
    const [alice, bob] = names('alice', 'bob');
    const id = await group(alice, bob);
    const one = await say(alice, id, 'one');
    const two = await say(bob, id, 'two');
    await changes.edit({ actorId: alice, conversationId: id, seq: one.seq, text: 'one (edited)' });
    await changes.react({ actorId: alice, conversationId: id, seq: two.seq, emoji: '❤️' });
    await changes.delete({ actorId: bob, conversationId: id, seq: two.seq });
    await changes.react({ actorId: bob, conversationId: id, seq: one.seq, emoji: '👍' });

    const page = await history.list({ conversationId: id, callerId: bob, start: { kind: 'after', seq: 1 }, limit: 50 });

    expect(page.messages.map((message) => [message.seq, message.type])).toEqual([
      [one.seq, 'text'],
      [two.seq, 'text'],
      [two.seq + 1, 'edit'],
      [two.seq + 2, 'reaction'],
      [two.seq + 3, 'delete'],
      [two.seq + 4, 'reaction'],
    ]);
    expect(page.messages[0]).toMatchObject({
      text: 'one (edited)',
      editedAt: expect.any(String),
      reactions: [{ emoji: '👍', count: 1, userIds: [bob] }],
      changedSeq: two.seq + 4,
    });
    expect(page.messages[1]).toMatchObject({ text: '', deletedBy: bob, changedSeq: two.seq + 3 });
    expect(page.messages[1]?.reactions).toBeUndefined();
    expect(page.messages[3]).toMatchObject({ emoji: '❤️', targetSeq: two.seq, senderId: alice });
  });
});
