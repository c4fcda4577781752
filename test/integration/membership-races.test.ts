import { beforeAll, describe, expect, it } from 'vitest';
import { ConversationRepository } from '#shared/repositories/conversation-repository';
import { ConversationService } from '#shared/services/conversation-service';
import { fixedClock, RecordingPoster, type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;

beforeAll(async () => {
  db = await useTestTables('review-membership');
  ({ conversations } = db.services);
});

const names = uniqueNames('r');

const timeline = (conversationId: string, from: number, upTo: number) => db.timeline(conversationId, from, upTo);

/**
 * A ConversationService whose reads of a conversation wait until `parties` callers have read it:
 * the interleaving two Lambdas handling requests at the same moment get (both read, then both write).
 */
function servicesReadingTogether(parties: number) {
  let arrived = 0;
  let release: () => void = () => undefined;
  const allRead = new Promise<void>((resolve) => {
    release = resolve;
  });
  class Gated extends ConversationRepository {
    override async getWithMembers(conversationId: string) {
      const result = await super.getWithMembers(conversationId);
      arrived++;
      if (arrived === parties) release();
      await allRead;
      return result;
    }
  }
  const repository = new Gated(db.documentClient, db.tableName('conversations'));
  return new ConversationService(repository, db.services.timeline, fixedClock);
}

describe('last admin leaving', () => {
  it('leaves a current member as admin when the last admin and their successor leave at the same moment', async () => {
    const [ben, cat, dan] = names('ben', 'cat', 'dan');
    const { conversation: group } = await conversations.create({
      creatorId: ben,
      type: 'group',
      memberIds: [cat, dan],
    });
    const gated = servicesReadingTogether(2);

    // ben (the only admin) leaves, which promotes cat (longest-standing); at the same moment cat leaves.
    await Promise.all([gated.removeMember(group.id, ben, ben), gated.removeMember(group.id, cat, cat)]);

    const after = await conversations.get(group.id, dan);
    expect(after.members.map((m) => m.userId)).toEqual([dan]);
    // The protocol: "When the last admin leaves, the longest-standing member becomes admin."
    expect(after.members.filter((m) => m.role === 'admin').map((m) => m.userId)).toEqual([dan]);
  });
});

describe('fan-out to a member removed and added back', () => {
  it('still delivers the messages of their first membership when fan-out runs behind', async () => {
    const [ann, ben] = names('ann', 'ben');
    // ben's device is known but offline: fan-out parks for it.
    await db.services.connections.connect({ userId: ben, deviceId: 'phone', connectionId: `${ben}-phone` });
    await db.services.connections.disconnect(`${ben}-phone`, ben);
    const { conversation } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });
    const sent = await db.services.messaging.send({
      senderId: ann,
      senderDeviceId: 'laptop',
      conversationId: conversation.id,
      clientMessageId: 'before-removal',
      text: 'for ben too',
    }); // seq 2, ben is a member
    await conversations.removeMember(conversation.id, ann, ben); // seq 3
    await conversations.addMembers(conversation.id, ann, [ben]); // seq 4

    // One stream batch carries seqs 1..4 (fan-out behind by a moment, or retrying).
    await db.services.fanOut(new RecordingPoster()).deliver(await timeline(conversation.id, 1, 4));

    const parked = await db.repositories.inbox.readPage({ userId: ben, deviceId: 'phone' }, 100);
    const seqs = parked.messages.map((m) => m.seq);
    expect(sent.message.seq).toBe(2);
    // ben belonged at seqs 1..3 (removal event included) and again from 4.
    expect(seqs).toEqual([1, 2, 3, 4]);
  });
});

describe('adding many members at once', () => {
  it('adds 99 members to a group of one (100 in all, within the limit)', async () => {
    const [ann] = names('ann');
    const { conversation } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [] });
    const joining = Array.from({ length: 99 }, (_, i) => `joiner-${ann}-${i}`);

    const updated = await conversations.addMembers(conversation.id, ann, joining);

    expect(updated.memberCount).toBe(100);
    expect(updated.members).toHaveLength(100);
  });
});
