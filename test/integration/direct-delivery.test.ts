import { beforeAll, describe, expect, it, vi } from 'vitest';
import { directRecordWaitMs } from '#shared/config/functions';
import { limits } from '#shared/config/limits';
import type { StoredMessage } from '#shared/model';
import { ConversationRepository } from '#shared/repositories/conversation-repository';
import { DirectDeliveryRepository } from '#shared/repositories/direct-delivery-repository';
import type { ConnectionService } from '#shared/services/connection-service';
import type { ConversationService } from '#shared/services/conversation-service';
import { DirectDelivery } from '#shared/services/direct-delivery-service';
import { MessagingService } from '#shared/services/messaging-service';
import { fixedClock, RecordingPoster, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;
let connections: ConnectionService;

beforeAll(async () => {
  db = await useTestTables('direct');
  ({ conversations, connections } = db.services);
});

/** Alice on laptop (sending) and phone, bob on laptop; bob's tablet is known and offline. */
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

/** What alice's laptop sends in most of these scenes. */
const hiFromLaptop = (senderId: string, conversationId: string) => ({
  senderId,
  senderDeviceId: 'laptop',
  conversationId,
  clientMessageId: 'm1',
  text: 'hi',
});

const stored = async (conversationId: string, seq: number) =>
  (await db.repositories.messages.get(conversationId, seq, true)) as StoredMessage;

const fanOutReading = (poster: RecordingPoster, recordWaitMs: number = directRecordWaitMs) =>
  db.services.fanOut(poster, fixedClock, { records: db.repositories.directDeliveries, recordWaitMs });

/** A records store whose writes wait for `release` (or fail), to stage the record arriving late or never. */
class StagedRecords extends DirectDeliveryRepository {
  private open: () => void = () => undefined;
  private readonly gate = new Promise<void>((resolve) => {
    this.open = resolve;
  });

  constructor(private readonly failing = false) {
    super(db.documentClient, db.tableName('directDeliveries'));
  }

  release(): void {
    this.open();
  }

  override async record(messageId: string, deviceKeys: readonly string[], expiresAt: number): Promise<void> {
    if (this.failing) throw new Error('injected record-write failure');
    await this.gate;
    await super.record(messageId, deviceKeys, expiresAt);
  }
}

describe('direct delivery (the fast path)', () => {
  it("posts to the recipient's and the sender's other online devices, never the sending one, and records them", async () => {
    const { alice, bob, conversation } = await scene('live');
    const poster = new RecordingPoster();

    const { message, direct } = await db.services
      .messagingWithDirectDelivery(poster)
      .send(hiFromLaptop(alice, conversation.id));

    expect(poster.postedTo().sort()).toEqual(['live-a-phone', 'live-b-laptop']);
    expect(direct).toEqual({ reached: 2, missed: 0, recorded: true });
    const records = await db.repositories.directDeliveries.reached([message.id]);
    expect([...(records.get(message.id) ?? [])].sort()).toEqual([`${alice}#phone`, `${bob}#laptop`]);
    expect((await stored(conversation.id, message.seq)).directDelivery).toBe(true);
    expect(poster.framesTo('live-b-laptop')).toEqual([{ type: 'message', message }]);
  });

  it("posts each of a burst's messages to every other device and records them all in one batch write", async () => {
    const { alice, bob, conversation } = await scene('burst');
    const poster = new RecordingPoster();
    const records = new DirectDeliveryRepository(db.documentClient, db.tableName('directDeliveries'));
    const batches = vi.spyOn(records, 'recordMany');
    const singles = vi.spyOn(records, 'record');

    const sent = await db.services.messagingWithDirectDelivery(poster, {}, records).sendMany({
      senderId: alice,
      senderDeviceId: 'laptop',
      conversationId: conversation.id,
      messages: ['one', 'two', 'three'].map((text) => ({ clientMessageId: text, text })),
    });

    expect(sent.map((one) => one.direct)).toEqual(Array(3).fill({ reached: 2, missed: 0, recorded: true }));
    expect([batches.mock.calls.length, singles.mock.calls.length]).toEqual([1, 0]);
    const reached = await db.repositories.directDeliveries.reached(sent.map((one) => one.message.id));
    for (const { message } of sent) {
      expect([...(reached.get(message.id) ?? [])].sort()).toEqual([`${alice}#phone`, `${bob}#laptop`]);
    }
    const seqsTo = (connectionId: string) =>
      poster.framesTo(connectionId).map((frame) => (frame.type === 'message' ? frame.message.seq : -1));
    expect(seqsTo('burst-b-laptop').sort((a, b) => a - b)).toEqual(sent.map((one) => one.message.seq));
    const fanOutPoster = new RecordingPoster();
    await fanOutReading(fanOutPoster).deliver(
      await Promise.all(sent.map((one) => stored(conversation.id, one.message.seq))),
    );
    expect(fanOutPoster.postedTo()).toEqual([]);
  });

  it('leaves fan-out exactly the devices it did not reach: the offline one is parked, nothing is posted twice', async () => {
    const { alice, bob, conversation } = await scene('skip');
    const { message } = await db.services
      .messagingWithDirectDelivery(new RecordingPoster())
      .send(hiFromLaptop(alice, conversation.id));
    const fanOutPoster = new RecordingPoster();

    const result = await fanOutReading(fanOutPoster).deliver([await stored(conversation.id, message.seq)]);

    expect(fanOutPoster.postedTo()).toEqual([]);
    expect(result).toMatchObject({ posted: 0, directlyReached: 2, parked: 1 });
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
    expect(parked.messages.map((m) => m.id)).toEqual([message.id]);
  });

  it("asks for the conversation's members before the direct records' read answers: one round trip, not two", async () => {
    const { alice, bob, conversation } = await scene('overlap');
    const { message } = await db.services
      .messagingWithDirectDelivery(new RecordingPoster())
      .send(hiFromLaptop(alice, conversation.id));
    const steps: string[] = [];
    const listMembers = vi.spyOn(db.repositories.conversations, 'listMembers');
    listMembers.mockImplementation(async (conversationId) => {
      steps.push('members asked');
      return ConversationRepository.prototype.listMembers.call(db.repositories.conversations, conversationId);
    });
    const records = new (class extends DirectDeliveryRepository {
      override async reached(messageIds: readonly string[]) {
        const answer = await super.reached(messageIds);
        steps.push('records answered');
        return answer;
      }
    })(db.documentClient, db.tableName('directDeliveries'));
    const fanOutPoster = new RecordingPoster();

    const delivering = db.services
      .fanOut(fanOutPoster, fixedClock, { records, recordWaitMs: directRecordWaitMs })
      .deliver([await stored(conversation.id, message.seq)]);
    const result = await delivering.finally(() => listMembers.mockRestore());

    expect(steps).toEqual(['members asked', 'records answered']);
    expect(fanOutPoster.postedTo()).toEqual([]);
    expect(result).toMatchObject({ posted: 0, directlyReached: 2, parked: 1 });
    const parked = await db.repositories.inbox.readPage({ userId: bob, deviceId: 'tablet' }, 10);
    expect(parked.messages.map((m) => m.id)).toEqual([message.id]);
  });

  it('leaves a failed or timed-out post and a gone connection to fan-out', async () => {
    const { alice, conversation } = await scene('miss');
    await connections.connect({ userId: alice, deviceId: 'watch', connectionId: 'miss-a-watch' });
    const poster = new RecordingPoster({ failFor: ['miss-b-laptop'], gone: ['miss-a-watch'] });

    const { message, direct } = await db.services
      .messagingWithDirectDelivery(poster)
      .send(hiFromLaptop(alice, conversation.id));
    const fanOutPoster = new RecordingPoster();
    await fanOutReading(fanOutPoster).deliver([await stored(conversation.id, message.seq)]);

    expect(direct).toEqual({ reached: 1, missed: 2, recorded: true });
    expect(fanOutPoster.postedTo().sort()).toEqual(['miss-a-watch', 'miss-b-laptop']);
  });

  it('answers a send whose record write failed, and fan-out then serves every device itself', async () => {
    const { alice, conversation } = await scene('norecord');
    const poster = new RecordingPoster();
    const messaging = db.services.messagingWithDirectDelivery(poster, {}, new StagedRecords(true));

    const { message, direct } = await messaging.send(hiFromLaptop(alice, conversation.id));
    const fanOutPoster = new RecordingPoster();
    const result = await fanOutReading(fanOutPoster, 50).deliver([await stored(conversation.id, message.seq)]);

    expect(direct).toEqual({ reached: 2, missed: 0, recorded: false });
    // Each online device gets it twice, once from each path; the client drops the repeat by id.
    expect(fanOutPoster.postedTo().sort()).toEqual(['norecord-a-phone', 'norecord-b-laptop']);
    expect(result.directlyReached).toBe(0);
  });

  it('waits for a record that lands after fan-out first looks, then skips the devices it lists', async () => {
    const { alice, conversation } = await scene('late');
    const records = new StagedRecords();
    const poster = new RecordingPoster();
    const sending = db.services
      .messagingWithDirectDelivery(poster, {}, records)
      .send(hiFromLaptop(alice, conversation.id));
    await expect.poll(() => poster.posts.length).toBe(2);
    const seq = (await db.repositories.messages.committedSeq(conversation.id)) ?? 0;
    const fanOutPoster = new RecordingPoster();

    const fanningOut = fanOutReading(fanOutPoster, 10_000).deliver([await stored(conversation.id, seq)]);
    records.release();
    const [result] = await Promise.all([fanningOut, sending]);

    expect(fanOutPoster.postedTo()).toEqual([]);
    expect(result.directlyReached).toBe(2);
  });

  it('never posts to a member removed after the send read the members and before it committed', async () => {
    const ann = 'ann-removed';
    const ben = 'ben-removed';
    const cat = 'cat-removed';
    const { conversation } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [ben, cat] });
    for (const userId of [ben, cat]) {
      await connections.connect({ userId, deviceId: 'phone', connectionId: `removed-${userId}` });
    }
    let readDone: () => void = () => undefined;
    const membersRead = new Promise<void>((resolve) => {
      readDone = resolve;
    });
    let proceed: () => void = () => undefined;
    const mayProceed = new Promise<void>((resolve) => {
      proceed = resolve;
    });
    class StaleMembers extends ConversationRepository {
      override async getWithMembers(conversationId: string) {
        const result = await super.getWithMembers(conversationId);
        readDone();
        await mayProceed;
        return result;
      }
    }
    const poster = new RecordingPoster();
    const messaging = new MessagingService(
      new StaleMembers(db.documentClient, db.tableName('conversations')),
      db.services.timeline,
      db.services.sendableAttachments,
      new DirectDelivery(
        db.repositories.conversations,
        db.repositories.connections,
        db.repositories.directDeliveries,
        poster,
        fixedClock,
        { warn: () => undefined },
        limits.directDelivery,
      ),
    );

    const sending = messaging.send({ senderId: ann, conversationId: conversation.id, clientMessageId: 'm', text: 'x' });
    await membersRead;
    await conversations.removeMember(conversation.id, ann, cat);
    proceed();
    await sending;

    expect(poster.postedTo()).toEqual([`removed-${ben}`]);
  });

  it('sends past the size limit and retried clientMessageIds through the stream alone', async () => {
    const { alice, conversation } = await scene('off');
    const poster = new RecordingPoster();
    const small = db.services.messagingWithDirectDelivery(poster, { maxMembers: 1 });
    const send = { senderId: alice, senderDeviceId: 'laptop', conversationId: conversation.id, text: 'hi' };

    const tooBig = await small.send({ ...send, clientMessageId: 'big' });
    const first = await db.services.messagingWithDirectDelivery(poster).send({ ...send, clientMessageId: 'retry' });
    const postsAfterFirst = poster.posts.length;
    const retry = await db.services.messagingWithDirectDelivery(poster).send({ ...send, clientMessageId: 'retry' });

    expect(tooBig.direct).toBeUndefined();
    expect((await stored(conversation.id, tooBig.message.seq)).directDelivery).toBeUndefined();
    expect(retry).toMatchObject({ duplicate: true, message: first.message });
    expect(retry.direct).toBeUndefined();
    expect(poster.posts.length).toBe(postsAfterFirst);
    expect(postsAfterFirst).toBe(2);
  });
});
