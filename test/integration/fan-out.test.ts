import { BatchGetCommand, DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { limits } from '#shared/config/limits';
import { inboxKeys, userKeys } from '#shared/keys';
import type { StoredMessage } from '#shared/model';
import { voidMessage } from '#shared/repositories/message-repository';
import type { ConnectionService } from '#shared/services/connection-service';
import type { ConversationService } from '#shared/services/conversation-service';
import type { MessagingService } from '#shared/services/messaging-service';
import { fixedClock, RecordingPoster, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;
let messaging: MessagingService;
let connections: ConnectionService;

beforeAll(async () => {
  db = await useTestTables('fanout');
  ({ conversations, messaging, connections } = db.services);
});

const fanOutWith = (poster: RecordingPoster) => db.services.fanOut(poster);
/** Fan-out running once every connection row of the scene is past the handshake grace. */
const fanOutLaterWith = (poster: RecordingPoster) =>
  db.services.fanOut(poster, {
    now: () => new Date(fixedClock.now().getTime() + (limits.connectionHandshakeGraceSeconds + 1) * 1000),
  });

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

  it('delivers a void like a message (posted to every online device, parked for the offline one), so none meets a gap', async () => {
    const { bob, conversation } = await scene('void');
    const { conversation: meta } = await db.repositories.conversations.getWithMembers(conversation.id);
    const seq = (meta?.lastSeq ?? 0) + 1;
    // A seq a run filled with a void (an abandoned ticket), stored as the run stores it and as the stream carries it.
    const filled = voidMessage(conversation.id, seq, fixedClock.now().toISOString());
    await db.documentClient.send(new PutCommand({ TableName: db.tableName('messages'), Item: { ...filled } }));
    const poster = new RecordingPoster();

    const result = await fanOutWith(poster).deliver([filled]);

    expect(result.firstFailedIndex).toBeUndefined();
    expect(poster.postedTo().sort()).toEqual(['void-a-laptop', 'void-a-phone', 'void-b-laptop']);
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
    expect(parked.messages.map((m) => [m.seq, m.type])).toEqual([[seq, 'void']]);
  });

  it('forgets a gone connection and parks the message for its device', async () => {
    const { alice, bob, conversation } = await scene('gone');
    const message = await sendStored(alice, 'laptop', conversation.id, 'are you there');
    const poster = new RecordingPoster({ gone: ['gone-b-laptop'] });

    const result = await fanOutLaterWith(poster).deliver([message]);

    expect(result.staleConnections).toBe(1);
    const bobConnections = await db.repositories.connections.listForUser(bob);
    expect(bobConnections.map((c) => c.connectionId)).toEqual([]);
    const aliceConnections = await db.repositories.connections.listForUser(alice);
    expect(aliceConnections.map((c) => c.connectionId).sort()).toEqual(['gone-a-laptop', 'gone-a-phone']);
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'laptop' }, 10);
    expect(parked.messages.map((m) => m.id)).toEqual([message.id]);
  });

  it('keeps the row of a connection that answers 410 within the handshake grace, and parks the message', async () => {
    const { alice, bob, conversation } = await scene('young');
    const message = await sendStored(alice, 'laptop', conversation.id, 'still connecting');
    // Its $connect wrote the row; API Gateway has not opened the socket yet, so posts answer 410.
    const poster = new RecordingPoster({ gone: ['young-b-laptop'] });

    const result = await fanOutWith(poster).deliver([message]);

    expect(result.staleConnections).toBe(1);
    const bobConnections = await db.repositories.connections.listForUser(bob);
    expect(bobConnections.map((c) => c.connectionId)).toEqual(['young-b-laptop']);
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'laptop' }, 10);
    expect(parked.messages.map((m) => m.id)).toEqual([message.id]);
  });

  it('creates no duplicate inbox items when a batch is processed again, and parks a conversation once per device', async () => {
    const { alice, bob, conversation } = await scene('again');
    const messages = [
      await sendStored(alice, 'laptop', conversation.id, 'one'),
      await sendStored(alice, 'laptop', conversation.id, 'two'),
    ];
    const fanOut = fanOutWith(new RecordingPoster());

    await fanOut.deliver(messages);
    await fanOut.deliver(messages);
    await fanOut.deliver([await sendStored(alice, 'laptop', conversation.id, 'three')]);

    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
    expect(parked.messages.map((m) => m.seq)).toEqual([2, 3, 4]);
    // One item for the tablet: its pointer into the conversation, from the first seq it missed.
    expect(await db.inboxItems({ userId: bob, deviceId: 'tablet' })).toMatchObject([
      { position: inboxKeys.pointer(conversation.id), fromSeq: 2 },
    ]);
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

  it('delivers a run streamed out of seq order in seq order, and retries it whole from its first failure', async () => {
    const { conversation } = await scene('run');
    const [r1, r2, r3] = [
      await sendStored(`alice-run`, 'laptop', conversation.id, 'r1'),
      await sendStored(`alice-run`, 'laptop', conversation.id, 'r2'),
      await sendStored(`alice-run`, 'laptop', conversation.id, 'r3'),
    ] as [StoredMessage, StoredMessage, StoredMessage];
    // One transaction's records, which DynamoDB Streams orders per item only.
    const batch = [r3, r1, r2];

    const delivered = new RecordingPoster();
    await fanOutWith(delivered).deliver(batch);
    const failing = new RecordingPoster({ failOnText: 'r2' });
    const result = await fanOutWith(failing).deliver(batch);

    expect(delivered.textsPostedTo('run-b-laptop')).toEqual(['r1', 'r2', 'r3']);
    expect(failing.textsPostedTo('run-b-laptop')).toEqual(['r1']);
    // r3 comes first in the stream and was not delivered: the retry starts there.
    expect(result.firstFailedIndex).toBe(0);
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

  it("reads every recipient's reach in one BatchGetItem per batch, however many messages", async () => {
    const { alice, conversation } = await scene('reach');
    const batch = [
      await sendStored(alice, 'laptop', conversation.id, 'r1'),
      await sendStored(alice, 'laptop', conversation.id, 'r2'),
    ];
    const send = vi.spyOn(db.documentClient, 'send');
    const reach = vi.spyOn(db.repositories.connections, 'readReach');
    const poster = new RecordingPoster();

    await fanOutWith(poster).deliver(batch);

    // One Query, for the members: no recipient is read by Query.
    expect(send.mock.calls.filter(([command]) => command instanceof QueryCommand)).toHaveLength(1);
    // One read of alice (for her phone) and bob together, and one more of bob after the batch: his tablet
    // got parked messages (see the next test).
    expect(reach.mock.calls.map(([userIds]) => [...userIds].sort())).toEqual([
      [alice, 'bob-reach'].sort(),
      ['bob-reach'],
    ]);
    const usersTable = db.tableName('users');
    const reachReads = send.mock.calls.filter(
      ([command]) => command instanceof BatchGetCommand && usersTable in (command.input.RequestItems ?? {}),
    );
    expect(reachReads).toHaveLength(2);
    // Bob's tablet's inbox pointer is read once for the batch: the second message knows it from the first.
    const inboxTable = db.tableName('inbox');
    const pointerReads = send.mock.calls.filter(
      ([command]) => command instanceof BatchGetCommand && inboxTable in (command.input.RequestItems ?? {}),
    );
    expect(pointerReads).toHaveLength(1);
    expect(poster.textsPostedTo('reach-a-phone')).toEqual(['r1', 'r2']);
    expect(poster.textsPostedTo('reach-b-laptop')).toEqual(['r1', 'r2']);
    send.mockRestore();
    reach.mockRestore();
  });

  it('reads by Query a recipient whose reach item does not list every device yet', async () => {
    const { alice, bob, conversation } = await scene('legacy');
    // As a deployment from before reach items left it: device and connection rows, no reach item.
    await db.documentClient.send(new DeleteCommand({ TableName: db.tableName('users'), Key: userKeys.reach(bob) }));
    const query = vi.spyOn(db.repositories.connections, 'listDevicesAndConnections');
    const poster = new RecordingPoster();

    await fanOutWith(poster).deliver([await sendStored(alice, 'laptop', conversation.id, 'g1')]);

    expect(query.mock.calls.map(([userId]) => userId)).toEqual([bob, bob]);
    expect(poster.textsPostedTo('legacy-b-laptop')).toEqual(['g1']);
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
    expect(parked.messages.map((m) => m.text)).toEqual(['g1']);
    query.mockRestore();
  });

  it('queries a member who never connected once, then reads them in the batch read; their first connect is served', async () => {
    const alice = 'alice-never';
    const newcomer = 'newcomer-never';
    const { conversation } = await conversations.create({ creatorId: alice, type: 'direct', memberIds: [newcomer] });
    await connections.connect({ userId: alice, deviceId: 'laptop', connectionId: 'never-a-laptop' });
    const query = vi.spyOn(db.repositories.connections, 'listDevicesAndConnections');

    await fanOutWith(new RecordingPoster()).deliver([await sendStored(alice, 'laptop', conversation.id, 'n1')]);
    await fanOutWith(new RecordingPoster()).deliver([await sendStored(alice, 'laptop', conversation.id, 'n2')]);
    const queried = query.mock.calls.map(([userId]) => userId);
    query.mockRestore();
    await connections.connect({ userId: newcomer, deviceId: 'phone', connectionId: 'never-n-phone' });
    const poster = new RecordingPoster();
    await fanOutWith(poster).deliver([await sendStored(alice, 'laptop', conversation.id, 'n3')]);

    expect(queried).toEqual([newcomer]);
    expect(poster.textsPostedTo('never-n-phone')).toEqual(['n3']);
  });

  it('posts parked messages, in order, to a device that connected while the batch ran', async () => {
    const { alice, bob, conversation } = await scene('late');
    const batch = [
      await sendStored(alice, 'laptop', conversation.id, 'l1'),
      await sendStored(alice, 'laptop', conversation.id, 'l2'),
    ];
    // Bob's tablet connects (and its sync reads an empty inbox) right after the batch read bob's reach.
    const repository = db.repositories.connections;
    const read = repository.readReach.bind(repository);
    let reconnected = false;
    const reach = vi.spyOn(repository, 'readReach').mockImplementation(async (userIds, now) => {
      const result = await read(userIds, now);
      if (userIds.includes(bob) && !reconnected) {
        reconnected = true;
        await connections.connect({ userId: bob, deviceId: 'tablet', connectionId: 'late-b-tablet-again' });
      }
      return result;
    });
    const poster = new RecordingPoster();

    const result = await fanOutWith(poster).deliver(batch);

    expect(result.firstFailedIndex).toBeUndefined();
    expect(poster.textsPostedTo('late-b-tablet-again')).toEqual(['l1', 'l2']);
    expect(poster.textsPostedTo('late-b-laptop')).toEqual(['l1', 'l2']);
    // What was parked stays until the tablet acks what it was just sent.
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
    expect(parked.messages.map((m) => m.text)).toEqual(['l1', 'l2']);
    reach.mockRestore();
  });

  it('reads no connections again for a device whose pointer already existed: a sync after the commit replays the message', async () => {
    const { alice, bob, conversation } = await scene('owed');
    await fanOutWith(new RecordingPoster()).deliver([await sendStored(alice, 'laptop', conversation.id, 'o1')]);
    const second = await sendStored(alice, 'laptop', conversation.id, 'o2');
    const repository = db.repositories.connections;
    const read = repository.readReach.bind(repository);
    let readsOfBob = 0;
    let synced: (string | undefined)[] = [];
    const reach = vi.spyOn(repository, 'readReach').mockImplementation(async (userIds, now) => {
      const result = await read(userIds, now);
      if (userIds.includes(bob) && ++readsOfBob === 1) {
        // Bob's tablet connects right after the batch read his reach, and syncs before the park.
        await connections.connect({ userId: bob, deviceId: 'tablet', connectionId: 'owed-b-tablet-again' });
        const page = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
        synced = page.messages.map((m) => m.text);
      }
      return result;
    });
    const poster = new RecordingPoster();

    const result = await fanOutWith(poster).deliver([second]);
    reach.mockRestore();

    expect(result.firstFailedIndex).toBeUndefined();
    // The pointer o1 left was there after o2 committed: the sync followed it to o2, so no second read.
    expect(synced).toEqual(['o1', 'o2']);
    expect(readsOfBob).toBe(1);
    expect(poster.textsPostedTo('owed-b-tablet-again')).toEqual([]);
  });

  it('posts nothing more when no connection appeared while the batch ran', async () => {
    const { alice, conversation } = await scene('steady');
    const message = await sendStored(alice, 'laptop', conversation.id, 's1');
    const poster = new RecordingPoster();

    await fanOutWith(poster).deliver([message]);

    expect(poster.postedTo().sort()).toEqual(['steady-a-phone', 'steady-b-laptop']);
  });

  it('serves a live connection whose device row is missing', async () => {
    const { alice, bob, conversation } = await scene('orphan');
    // A connection row with no device row (the device row was removed, or its write was lost).
    await db.repositories.connections.put(
      { userId: bob, deviceId: 'watch', connectionId: 'orphan-b-watch' },
      new Date().toISOString(),
      Math.floor(Date.now() / 1000) + 3600,
    );
    const message = await sendStored(alice, 'laptop', conversation.id, 'o1');
    const poster = new RecordingPoster({ gone: ['orphan-b-watch'] });

    const result = await fanOutWith(poster).deliver([message]);

    // Posted to, found gone, and its device still gets the message in its inbox.
    expect(result.staleConnections).toBe(1);
    expect(poster.textsPostedTo('orphan-b-laptop')).toEqual(['o1']);
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'watch' }, 10);
    expect(parked.messages.map((m) => m.id)).toEqual([message.id]);
  });
});
