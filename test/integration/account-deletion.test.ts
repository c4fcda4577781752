import { beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenError } from '#shared/errors';
import { AccountService } from '#shared/services/account-service';
import type { ConnectionService } from '#shared/services/connection-service';
import type { ConversationService } from '#shared/services/conversation-service';
import { UserService } from '#shared/services/user-service';
import { fixedClock, RecordingPoster, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let conversations: ConversationService;
let users: UserService;
let connections: ConnectionService;

beforeAll(async () => {
  db = await useTestTables('account-deletion');
  ({ conversations, connections } = db.services);
  users = new UserService(db.repositories.users, fixedClock);
});

function accountsWith(poster: RecordingPoster) {
  const {
    users: userRepository,
    conversations: conversationRepository,
    devices,
    connections: connectionRepository,
  } = db.repositories;
  return new AccountService(
    userRepository,
    conversationRepository,
    conversations,
    devices,
    connectionRepository,
    poster,
    fixedClock,
  );
}

describe('AccountService.deleteAccount', () => {
  it('leaves a tombstone, leaves every conversation through the timeline, closes connections and forgets devices', async () => {
    await users.create('dora', { name: 'Dora', username: 'dora' });
    const { conversation: group } = await conversations.create({
      creatorId: 'dora',
      type: 'group',
      memberIds: ['emil'],
    });
    const { conversation: direct } = await conversations.create({
      creatorId: 'emil',
      type: 'direct',
      memberIds: ['dora'],
    });
    await connections.connect({ userId: 'dora', deviceId: 'phone', connectionId: 'dora-phone' });
    await connections.connect({ userId: 'dora', deviceId: 'laptop', connectionId: 'dora-laptop' });
    const poster = new RecordingPoster();

    await accountsWith(poster).deleteAccount('dora', 'dora');

    expect(await users.get('emil', 'dora')).toMatchObject({ id: 'dora', deleted: true, name: 'Deleted user' });
    for (const conversation of [group, direct]) {
      const after = await conversations.get(conversation.id, 'emil');
      expect(after.members.map((m) => m.userId)).toEqual(['emil']);
      const event = await db.repositories.messages.get(conversation.id, after.lastSeq);
      expect(event?.event).toEqual({ kind: 'memberLeft', actorId: 'dora', userId: 'dora' });
    }
    // The group's last admin left: the remaining member now runs it.
    expect((await conversations.get(group.id, 'emil')).members[0]?.role).toBe('admin');
    expect(poster.disconnected.sort()).toEqual(['dora-laptop', 'dora-phone']);
    expect(await db.repositories.connections.listForUser('dora')).toEqual([]);
    expect(await db.repositories.devices.listForUser('dora')).toEqual([]);
    expect(await db.repositories.conversations.listConversationIdsOf('dora')).toEqual([]);
  });

  it('can be repeated safely, and is for the user alone', async () => {
    await users.create('finn', { name: 'Finn', username: 'finn' });
    await conversations.create({ creatorId: 'finn', type: 'group', memberIds: ['gus'] });
    const accounts = accountsWith(new RecordingPoster());

    await expect(accounts.deleteAccount('gus', 'finn')).rejects.toBeInstanceOf(ForbiddenError);
    await accounts.deleteAccount('finn', 'finn');
    await expect(accounts.deleteAccount('finn', 'finn')).resolves.toBeUndefined();
  });
});
