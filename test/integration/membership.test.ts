import { beforeAll, describe, expect, it } from 'vitest';
import { limits } from '#shared/config/limits';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '#shared/errors';
import type { ConversationService } from '#shared/services/conversation-service';
import { RecordingPoster, type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;

beforeAll(async () => {
  db = await useTestTables('membership');
  ({ conversations } = db.services);
});

/** Distinct user names per test, so direct-pair claims never collide across tests. */
const names = uniqueNames('m');

const timeline = (conversationId: string, upTo: number) => db.timeline(conversationId, 1, upTo);

describe('creating conversations', () => {
  it('records the creation as the first timeline event', async () => {
    const [ann, ben] = names('ann', 'ben');
    const { conversation } = await conversations.create({
      creatorId: ann,
      type: 'group',
      name: 'Crew',
      memberIds: [ben],
    });

    const [first] = await timeline(conversation.id, 1);

    expect(conversation.lastSeq).toBe(1);
    expect(first).toMatchObject({
      seq: 1,
      type: 'system',
      senderId: ann,
      event: { kind: 'created', actorId: ann, memberIds: [ann, ben], name: 'Crew' },
    });
  });

  it('answers the existing direct conversation for the same pair, in either order', async () => {
    const [ann, ben] = names('ann', 'ben');
    const first = await conversations.create({ creatorId: ann, type: 'direct', memberIds: [ben] });

    const again = await conversations.create({ creatorId: ben, type: 'direct', memberIds: [ann] });

    expect(first.created).toBe(true);
    expect(again).toEqual({ created: false, conversation: first.conversation });
  });

  it('yields one direct conversation when both users create it at once', async () => {
    const [ann, ben] = names('ann', 'ben');

    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2 === 0
          ? conversations.create({ creatorId: ann, type: 'direct', memberIds: [ben] })
          : conversations.create({ creatorId: ben, type: 'direct', memberIds: [ann] }),
      ),
    );

    expect(new Set(results.map((r) => r.conversation.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });
});

describe('adding members', () => {
  it('lets an admin add members, recorded as an event whose seq the new rows keep as joinedSeq', async () => {
    const [ann, ben, cat] = names('ann', 'ben', 'cat');
    const { conversation } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });

    const updated = await conversations.addMembers(conversation.id, ann, [cat, ben]);

    const added = updated.members.find((m) => m.userId === cat);
    expect(updated.memberCount).toBe(3);
    expect(added).toMatchObject({ role: 'member', joinedSeq: 2 });
    const [, event] = await timeline(conversation.id, 2);
    expect(event?.event).toEqual({ kind: 'membersAdded', actorId: ann, userIds: [cat] });
  });

  it('refuses a non-admin, a direct conversation and a stranger', async () => {
    const [ann, ben, cat, eve] = names('ann', 'ben', 'cat', 'eve');
    const { conversation: group } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });
    const { conversation: direct } = await conversations.create({ creatorId: ann, type: 'direct', memberIds: [ben] });

    await expect(conversations.addMembers(group.id, ben, [cat])).rejects.toBeInstanceOf(ForbiddenError);
    await expect(conversations.addMembers(direct.id, ann, [cat])).rejects.toBeInstanceOf(BadRequestError);
    await expect(conversations.addMembers(group.id, eve, [cat])).rejects.toBeInstanceOf(NotFoundError);
  });

  it('holds the group limit under concurrent adds', async () => {
    const [ann] = names('ann');
    const founders = Array.from({ length: limits.maxGroupMembers - 5 }, (_, i) => `founder-${ann}-${i}`);
    const { conversation } = await conversations.create({
      creatorId: ann,
      type: 'group',
      memberIds: founders.slice(1),
    });
    expect(conversation.memberCount).toBe(limits.maxGroupMembers - 5);

    const attempts = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => conversations.addMembers(conversation.id, ann, [`late-${ann}-${i}`])),
    );

    const refused = attempts.filter((a) => a.status === 'rejected');
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(5);
    for (const attempt of refused) {
      expect(attempt.status === 'rejected' && attempt.reason).toBeInstanceOf(ConflictError);
    }
    const final = await conversations.get(conversation.id, ann);
    expect(final.memberCount).toBe(limits.maxGroupMembers);
    expect(final.members).toHaveLength(limits.maxGroupMembers);
  });
});

describe('removing members', () => {
  it('lets an admin remove a member and a member leave, each as an event', async () => {
    const [ann, ben, cat] = names('ann', 'ben', 'cat');
    const { conversation } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [ben, cat] });

    await conversations.removeMember(conversation.id, ann, ben);
    await conversations.removeMember(conversation.id, cat, cat);

    const after = await conversations.get(conversation.id, ann);
    expect(after.members.map((m) => m.userId)).toEqual([ann]);
    expect(after.memberCount).toBe(1);
    const events = (await timeline(conversation.id, 3)).map((entry) => entry.event?.kind);
    expect(events).toEqual(['created', 'memberRemoved', 'memberLeft']);
    await expect(conversations.get(conversation.id, ben)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a non-admin removing someone else', async () => {
    const [ann, ben, cat] = names('ann', 'ben', 'cat');
    const { conversation } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [ben, cat] });

    await expect(conversations.removeMember(conversation.id, ben, cat)).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('promotes the longest-standing member when the last admin leaves', async () => {
    const [ann, ben, cat] = names('ann', 'ben', 'cat');
    const { conversation } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });
    await conversations.addMembers(conversation.id, ann, [cat]);

    await conversations.removeMember(conversation.id, ann, ann);

    const after = await conversations.get(conversation.id, ben);
    expect(after.members.find((m) => m.userId === ben)?.role).toBe('admin');
    expect(after.members.find((m) => m.userId === cat)?.role).toBe('member');
  });
});

describe('renaming', () => {
  it('lets an admin rename a group, recorded as an event', async () => {
    const [ann, ben] = names('ann', 'ben');
    const { conversation } = await conversations.create({
      creatorId: ann,
      type: 'group',
      name: 'Old',
      memberIds: [ben],
    });

    const renamed = await conversations.rename(conversation.id, ann, 'New');

    expect(renamed.name).toBe('New');
    const [, event] = await timeline(conversation.id, 2);
    expect(event?.event).toEqual({ kind: 'renamed', actorId: ann, name: 'New' });
    await expect(conversations.rename(conversation.id, ben, 'Mine')).rejects.toBeInstanceOf(ForbiddenError);
  });
});

describe('fan-out and membership', () => {
  it('reaches each member for exactly the seqs of their membership, the removal event included, however late it runs', async () => {
    const [ann, ben, cat] = names('ann', 'ben', 'cat');
    const { connections } = db.services;
    for (const user of [ann, ben, cat]) {
      await connections.connect({ userId: user, deviceId: 'phone', connectionId: `${user}-phone` });
    }
    const { conversation } = await conversations.create({ creatorId: ann, type: 'group', memberIds: [ben] });
    await conversations.addMembers(conversation.id, ann, [cat]);
    await conversations.removeMember(conversation.id, ann, ben);
    const poster = new RecordingPoster();
    const fanOut = db.services.fanOut(poster);

    await fanOut.deliver(await timeline(conversation.id, 3));

    const kinds = (connectionId: string) =>
      poster.framesTo(connectionId).flatMap((f) => (f.type === 'message' ? [f.message.event?.kind] : []));
    expect(kinds(`${cat}-phone`)).toEqual(['membersAdded', 'memberRemoved']);
    expect(kinds(`${ben}-phone`)).toEqual(['created', 'membersAdded', 'memberRemoved']);
    expect(kinds(`${ann}-phone`)).toEqual(['created', 'membersAdded', 'memberRemoved']);
  });
});
