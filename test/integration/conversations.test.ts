import { beforeAll, describe, expect, it } from 'vitest';
import { limits } from '#shared/config/limits';
import { BadRequestError, NotFoundError } from '#shared/errors';
import type { ConversationService } from '#shared/services/conversation-service';
import { type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;

beforeAll(async () => {
  db = await useTestTables('conversations');
  ({ conversations } = db.services);
});

describe('ConversationService', () => {
  it('creates a group with the creator as admin and reads it back for members', async () => {
    const { conversation: created } = await conversations.create({
      creatorId: 'ann',
      type: 'group',
      name: 'Crew',
      memberIds: ['ben', 'cat', 'ben'],
    });

    const read = await conversations.get(created.id, 'cat');

    expect(read).toEqual(created);
    expect(read).toMatchObject({ type: 'group', name: 'Crew', createdBy: 'ann', lastSeq: 1, memberCount: 3 });
    expect(read.members.map((m) => [m.userId, m.role]).sort()).toEqual([
      ['ann', 'admin'],
      ['ben', 'member'],
      ['cat', 'member'],
    ]);
  });

  it('answers not_found to a non-member, as for an unknown id', async () => {
    const { conversation: created } = await conversations.create({
      creatorId: 'ann',
      type: 'direct',
      memberIds: ['ben'],
    });

    await expect(conversations.get(created.id, 'eve')).rejects.toBeInstanceOf(NotFoundError);
    await expect(conversations.get('01UNKNOWN', 'eve')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('requires exactly one other member for a direct conversation', async () => {
    await expect(conversations.create({ creatorId: 'ann', type: 'direct', memberIds: [] })).rejects.toBeInstanceOf(
      BadRequestError,
    );
    await expect(conversations.create({ creatorId: 'ann', type: 'direct', memberIds: ['ann'] })).rejects.toBeInstanceOf(
      BadRequestError,
    );
    await expect(
      conversations.create({ creatorId: 'ann', type: 'direct', memberIds: ['b', 'c'] }),
    ).rejects.toBeInstanceOf(BadRequestError);
  });

  it('holds a group to the member limit, creator included, and stores a full group', async () => {
    const others = (n: number) => Array.from({ length: n }, (_, i) => `user-${i}`);

    await expect(
      conversations.create({ creatorId: 'ann', type: 'group', memberIds: others(limits.maxGroupMembers) }),
    ).rejects.toThrow(`at most ${limits.maxGroupMembers} members`);
    const { conversation: full } = await conversations.create({
      creatorId: 'ann',
      type: 'group',
      memberIds: others(limits.maxGroupMembers - 1),
    });

    expect((await conversations.get(full.id, 'user-42')).members).toHaveLength(limits.maxGroupMembers);
  });
});
