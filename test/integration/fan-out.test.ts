import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { StoredMessage } from '#shared/model';
import type { ConnectionService } from '#shared/services/connection-service';
import type { ConversationService } from '#shared/services/conversation-service';
import type { MessagingService } from '#shared/services/messaging-service';
import { RecordingPoster, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;
let messaging: MessagingService;
let connections: ConnectionService;

beforeAll(async () => {
  db = await useTestTables('fanout');
  ({ conversations, messaging, connections } = db.services);
});

const fanOutWith = (poster: RecordingPoster) => db.services.fanOut(poster);

/** Sends through the real service and returns what the stream would carry. */
async function sendStored(senderId: string, senderDeviceId: string, conversationId: string, text: string) {
  const { message } = await messaging.send({ senderId, senderDeviceId, conversationId, clientMessageId: text, text });
  return (await db.repositories.messages.get(conversationId, message.seq)) as StoredMessage;
}

/** Two users, four devices: alice on laptop+phone (both online), bob on laptop (online) and tablet (offline, known). */
async function scene(tag: string) {
  const alice = `alice-${tag}`;
  const bob = `bob-${tag}`;
  const { conversation } = await conversations.create({ creatorId: alice, type: 'direct', memberIds: [bob] });
  await connections.connect({ userId: alice, deviceId: 'laptop', connectionId: `${tag}-a-laptop` });
  await connections.connect({ userId: alice, deviceId: 'phone', connectionId: `${tag}-a-phone` });
  await connections.connect({ userId: bob, deviceId: 'laptop', connectionId: `${tag}-b-laptop` });
  await connections.connect({ userId: bob, deviceId: 'tablet', connectionId: `${tag}-b-tablet` });
  await connections.disconnect(`${tag}-b-tablet`, bob);
  return { alice, bob, conversation };
}

describe('FanOutService.deliver', () => {
  it('posts to every online device but the sending one and parks for the offline device', async () => {
    const { alice, bob, conversation } = await scene('live');
    const message = await sendStored(alice, 'laptop', conversation.id, 'hello');
    const poster = new RecordingPoster();

    const result = await fanOutWith(poster).deliver([message]);

    expect(result.firstFailedIndex).toBeUndefined();
    expect(poster.postedTo().sort()).toEqual(['live-a-phone', 'live-b-laptop']);
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
    expect(parked.messages.map((m) => m.id)).toEqual([message.id]);
    expect(parked.messages[0]).not.toHaveProperty('senderDeviceId');
  });

  it('forgets a gone connection and parks the message for its device', async () => {
    const { alice, bob, conversation } = await scene('gone');
    const message = await sendStored(alice, 'laptop', conversation.id, 'are you there');
    const poster = new RecordingPoster({ gone: ['gone-b-laptop'] });

    const result = await fanOutWith(poster).deliver([message]);

    expect(result.staleConnections).toBe(1);
    const bobConnections = await db.repositories.connections.listForUser(bob);
    expect(bobConnections.map((c) => c.connectionId)).toEqual([]);
    const aliceConnections = await db.repositories.connections.listForUser(alice);
    expect(aliceConnections.map((c) => c.connectionId).sort()).toEqual(['gone-a-laptop', 'gone-a-phone']);
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'laptop' }, 10);
    expect(parked.messages.map((m) => m.id)).toEqual([message.id]);
  });

  it('creates no duplicate inbox items when a batch is processed again', async () => {
    const { alice, bob, conversation } = await scene('again');
    const messages = [
      await sendStored(alice, 'laptop', conversation.id, 'one'),
      await sendStored(alice, 'laptop', conversation.id, 'two'),
    ];
    const fanOut = fanOutWith(new RecordingPoster());

    await fanOut.deliver(messages);
    await fanOut.deliver(messages);

    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
    expect(parked.messages.map((m) => m.seq)).toEqual([2, 3]);
  });

  it('delivers a conversation in seq order and stops it at the first failure, leaving others untouched', async () => {
    const first = await scene('order1');
    const second = await scene('order2');
    const batch = [
      await sendStored(first.alice, 'laptop', first.conversation.id, 'f1'),
      await sendStored(second.alice, 'laptop', second.conversation.id, 's1'),
      await sendStored(first.alice, 'laptop', first.conversation.id, 'f2'),
      await sendStored(first.alice, 'laptop', first.conversation.id, 'f3'),
      await sendStored(second.alice, 'laptop', second.conversation.id, 's2'),
    ];
    const poster = new RecordingPoster({ failOnText: 'f2' });

    const result = await fanOutWith(poster).deliver(batch);

    expect(result.firstFailedIndex).toBe(2);
    expect(poster.textsPostedTo('order1-b-laptop')).toEqual(['f1']);
    expect(poster.textsPostedTo('order2-b-laptop')).toEqual(['s1', 's2']);
  });

  it('reads the member list once per conversation per batch', async () => {
    const { alice, conversation } = await scene('members');
    const batch = [
      await sendStored(alice, 'laptop', conversation.id, 'm1'),
      await sendStored(alice, 'laptop', conversation.id, 'm2'),
      await sendStored(alice, 'laptop', conversation.id, 'm3'),
    ];
    const listMembers = vi.spyOn(db.repositories.conversations, 'listMembers');

    await fanOutWith(new RecordingPoster()).deliver(batch);

    expect(listMembers).toHaveBeenCalledTimes(1);
    listMembers.mockRestore();
  });
});
