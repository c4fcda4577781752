import { DeleteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { epochSeconds } from '#shared/clock';
import { limits } from '#shared/config/limits';
import { userKeys } from '#shared/keys';
import { ConnectionService } from '#shared/services/connection-service';
import { UserService } from '#shared/services/user-service';
import { fixedClock, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let connections: ConnectionService;

beforeAll(async () => {
  db = await useTestTables('connections');
  connections = new ConnectionService(db.repositories.devices, db.repositories.connections, fixedClock);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ConnectionService', () => {
  it('registers the device once and records each connection with a TTL past the 2-hour cap', async () => {
    await connections.connect({ userId: 'u1', deviceId: 'phone', connectionId: 'c1' });
    await connections.connect({ userId: 'u1', deviceId: 'phone', connectionId: 'c2' });

    expect(await db.repositories.devices.listForUser('u1')).toEqual([{ userId: 'u1', deviceId: 'phone' }]);
    const rows = await db.raw.scanConnections('u1');
    expect(rows.map((row) => row.connectionId).sort()).toEqual(['c1', 'c2']);
    const expiresAt = epochSeconds(fixedClock.now()) + limits.connectionTtlSeconds;
    expect(rows.find((row) => row.connectionId === 'c1')).toEqual({
      ...userKeys.connection('u1', 'c1'),
      userId: 'u1',
      deviceId: 'phone',
      connectionId: 'c1',
      connectedAt: fixedClock.now().toISOString(),
      expiresAt,
    });
    expect(rows.every((row) => row.expiresAt === expiresAt)).toBe(true);
    expect(limits.connectionTtlSeconds).toBeGreaterThan(2 * 60 * 60);
  });

  it('removes the row on disconnect using the authorizer-provided user', async () => {
    await connections.connect({ userId: 'u2', deviceId: 'laptop', connectionId: 'c3' });

    await connections.disconnect('c3', 'u2');

    expect(await db.repositories.connections.listForUser('u2')).toEqual([]);
    expect(await db.repositories.devices.listForUser('u2')).toEqual([{ userId: 'u2', deviceId: 'laptop' }]);
  });

  it('finds the owner through the connection index when the user is not known', async () => {
    await connections.connect({ userId: 'u3', deviceId: 'laptop', connectionId: 'c4' });
    expect(await db.repositories.connections.findOwner('c4')).toBe('u3');

    await connections.disconnect('c4');

    expect(await db.repositories.connections.listForUser('u3')).toEqual([]);
  });

  it('ignores a disconnect for a connection it never saw', async () => {
    await expect(connections.disconnect('never-seen')).resolves.toBeUndefined();
    expect(await db.repositories.connections.findOwner('never-seen')).toBeUndefined();
  });
});

describe('ConnectionRepository.listDevicesAndConnections', () => {
  // When `$connect` recorded each connection (fan-out keeps a row that young on a 410).
  const connectedAt = fixedClock.now().toISOString();

  it("returns a user's devices and live connections from one strongly consistent Query, and nothing else", async () => {
    const users = new UserService(db.repositories.users, fixedClock);
    await users.create('u5', { name: 'Uma', username: 'uma5' });
    await users.create('u50', { name: 'Ulf', username: 'ulf50' });
    // A device known from an earlier connection, now offline; two devices online, one of them twice.
    await db.repositories.devices.register({ userId: 'u5', deviceId: 'tablet' }, fixedClock.now().toISOString());
    await connections.connect({ userId: 'u5', deviceId: 'phone', connectionId: 'c5-phone' });
    await connections.connect({ userId: 'u5', deviceId: 'laptop', connectionId: 'c5-laptop-1' });
    await connections.connect({ userId: 'u5', deviceId: 'laptop', connectionId: 'c5-laptop-2' });
    // Another user whose id shares a prefix: a partition of its own.
    await connections.connect({ userId: 'u50', deviceId: 'phone', connectionId: 'c50-phone' });

    const send = vi.spyOn(db.documentClient, 'send');
    const reach = await db.repositories.connections.listDevicesAndConnections('u5');

    expect(send).toHaveBeenCalledTimes(1);
    const query = send.mock.calls[0]?.[0];
    expect(query).toBeInstanceOf(QueryCommand);
    expect((query as QueryCommand).input).toMatchObject({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ConsistentRead: true,
    });
    // The raw page: the range itself holds only these six rows (the profile would not be dropped silently).
    const page = (await send.mock.results[0]?.value) as { Items?: { sk: string }[] };
    expect(page.Items?.map((item) => item.sk).sort()).toEqual([
      'CONNECTION#c5-laptop-1',
      'CONNECTION#c5-laptop-2',
      'CONNECTION#c5-phone',
      'DEVICE#laptop',
      'DEVICE#phone',
      'DEVICE#tablet',
    ]);
    expect(reach.devices.sort((a, b) => a.deviceId.localeCompare(b.deviceId))).toEqual([
      { userId: 'u5', deviceId: 'laptop' },
      { userId: 'u5', deviceId: 'phone' },
      { userId: 'u5', deviceId: 'tablet' },
    ]);
    expect(reach.connections.sort((a, b) => a.connectionId.localeCompare(b.connectionId))).toEqual([
      { userId: 'u5', deviceId: 'laptop', connectionId: 'c5-laptop-1', connectedAt },
      { userId: 'u5', deviceId: 'laptop', connectionId: 'c5-laptop-2', connectedAt },
      { userId: 'u5', deviceId: 'phone', connectionId: 'c5-phone', connectedAt },
    ]);
    // The profile and the username claim exist, and stay out of the range.
    expect(await db.raw.usersItem(userKeys.profile('u5'))).toMatchObject({ id: 'u5' });
    expect(await db.raw.usersItem(userKeys.usernameClaim('uma5'))).toMatchObject({ userId: 'u5' });
  });

  it('sees a connection as soon as it is recorded, and stops seeing it once dropped', async () => {
    await connections.connect({ userId: 'u6', deviceId: 'phone', connectionId: 'c6' });
    expect((await db.repositories.connections.listDevicesAndConnections('u6')).connections).toEqual([
      { userId: 'u6', deviceId: 'phone', connectionId: 'c6', connectedAt },
    ]);

    await connections.disconnect('c6', 'u6');

    expect(await db.repositories.connections.listDevicesAndConnections('u6')).toEqual({
      devices: [{ userId: 'u6', deviceId: 'phone' }],
      connections: [],
    });
  });

  it('returns nothing for a user with only a profile', async () => {
    await new UserService(db.repositories.users, fixedClock).create('u7', { name: 'Ugo', username: 'ugo7' });

    expect(await db.repositories.connections.listDevicesAndConnections('u7')).toEqual({ devices: [], connections: [] });
  });
});

describe('ConnectionRepository.readReach', () => {
  const connectedAt = fixedClock.now().toISOString();
  const now = epochSeconds(fixedClock.now());
  const reachOf = async (userId: string, at = now) =>
    (await db.repositories.connections.readReach([userId], at)).get(userId);

  it("reads many users' devices and newest connection per device in one strongly consistent BatchGetItem", async () => {
    await connections.connect({ userId: 'l1', deviceId: 'phone', connectionId: 'l1-phone' });
    await connections.connect({ userId: 'l1', deviceId: 'laptop', connectionId: 'l1-laptop-old' });
    // A reconnect of the same device replaces its entry.
    await connections.connect({ userId: 'l1', deviceId: 'laptop', connectionId: 'l1-laptop-new' });
    await connections.connect({ userId: 'l2', deviceId: 'phone', connectionId: 'l2-phone' });

    const send = vi.spyOn(db.documentClient, 'send');
    const reaches = await db.repositories.connections.readReach(['l1', 'l2', 'l3-never-connected', 'l1'], now);

    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0]?.[0]?.input).toMatchObject({
      RequestItems: { [db.tableName('users')]: { ConsistentRead: true } },
    });
    expect([...reaches.keys()]).toEqual(['l1', 'l2', 'l3-never-connected']);
    expect(
      reaches
        .get('l1')
        ?.devices.map((device) => device.deviceId)
        .sort(),
    ).toEqual(['laptop', 'phone']);
    expect(
      reaches
        .get('l1')
        ?.connections.map((connection) => connection.connectionId)
        .sort(),
    ).toEqual(['l1-laptop-new', 'l1-phone']);
    expect(reaches.get('l2')).toEqual({
      devices: [{ userId: 'l2', deviceId: 'phone' }],
      connections: [{ userId: 'l2', deviceId: 'phone', connectionId: 'l2-phone', connectedAt }],
    });
    // No reach item: the caller reads that user by Query.
    expect(reaches.get('l3-never-connected')).toBeUndefined();
  });

  it("keeps a device known but offline after its disconnect, and ignores an older connection's late disconnect", async () => {
    await connections.connect({ userId: 'l4', deviceId: 'phone', connectionId: 'l4-old' });
    await connections.connect({ userId: 'l4', deviceId: 'phone', connectionId: 'l4-new' });

    await connections.disconnect('l4-old', 'l4');
    expect(await reachOf('l4')).toEqual({
      devices: [{ userId: 'l4', deviceId: 'phone' }],
      connections: [{ userId: 'l4', deviceId: 'phone', connectionId: 'l4-new', connectedAt }],
    });

    await connections.disconnect('l4-new');
    expect(await reachOf('l4')).toEqual({ devices: [{ userId: 'l4', deviceId: 'phone' }], connections: [] });
  });

  it("keeps a device's newer connection named when an older connect's write lands after it", async () => {
    const earlier = new Date(fixedClock.now().getTime() - 5_000).toISOString();
    const expiresAt = now + limits.connectionTtlSeconds;
    await connections.connect({ userId: 'l9', deviceId: 'phone', connectionId: 'l9-new' });

    // The connect of the connection the device gave up on, retried after a throttle: it lands last.
    const late = await db.repositories.connections.put(
      { userId: 'l9', deviceId: 'phone', connectionId: 'l9-abandoned' },
      earlier,
      expiresAt,
    );

    expect(late).toEqual({ reachComplete: true, cameOnline: false });
    expect(await reachOf('l9')).toEqual({
      devices: [{ userId: 'l9', deviceId: 'phone' }],
      connections: [{ userId: 'l9', deviceId: 'phone', connectionId: 'l9-new', connectedAt }],
    });
  });

  it('clears the reach entry on a retried delete whose row an earlier attempt already removed', async () => {
    await connections.connect({ userId: 'l8', deviceId: 'phone', connectionId: 'l8-phone' });
    // The first attempt deleted the row, then failed (a throttle, a timeout) before the entry.
    await db.documentClient.send(
      new DeleteCommand({ TableName: db.tableName('users'), Key: userKeys.connection('l8', 'l8-phone') }),
    );

    await db.repositories.connections.delete('l8', 'l8-phone', 'phone');

    expect(await reachOf('l8')).toEqual({ devices: [{ userId: 'l8', deviceId: 'phone' }], connections: [] });
  });

  it('treats a connection past its TTL (a missed $disconnect) as offline', async () => {
    await connections.connect({ userId: 'l5', deviceId: 'phone', connectionId: 'l5-phone' });
    const expiry = now + limits.connectionTtlSeconds;

    expect((await reachOf('l5', expiry - 1))?.connections).toHaveLength(1);
    expect(await reachOf('l5', expiry)).toEqual({ devices: [{ userId: 'l5', deviceId: 'phone' }], connections: [] });
  });

  it('copies devices registered before the reach item existed into it on the next connect', async () => {
    // Devices known from rows alone, as a deployment from before reach items has them.
    await db.repositories.devices.register({ userId: 'l6', deviceId: 'tablet' }, connectedAt);
    await db.repositories.devices.register({ userId: 'l6', deviceId: 'phone' }, connectedAt);
    expect(await reachOf('l6')).toBeUndefined();

    await connections.connect({ userId: 'l6', deviceId: 'phone', connectionId: 'l6-phone' });

    const reach = await reachOf('l6');
    expect(reach?.devices.map((device) => device.deviceId).sort()).toEqual(['phone', 'tablet']);
    expect(reach?.connections).toEqual([{ userId: 'l6', deviceId: 'phone', connectionId: 'l6-phone', connectedAt }]);
  });

  it('answers the live connections of an incomplete reach item when only they are asked for', async () => {
    await db.repositories.connections.put(
      { userId: 'l7', deviceId: 'phone', connectionId: 'l7-phone' },
      connectedAt,
      now + 60,
    );

    expect(await reachOf('l7')).toBeUndefined();
    expect((await db.repositories.connections.readLiveReach(['l7'], now)).get('l7')?.connections).toEqual([
      { userId: 'l7', deviceId: 'phone', connectionId: 'l7-phone', connectedAt },
    ]);
  });
});

describe('presence flips', () => {
  it('announces online at the first live device and offline at the last, with nothing for the devices between', async () => {
    const at = fixedClock.now().toISOString();
    const announced: { userId: string; online: boolean; at: string }[] = [];
    const withPresence = new ConnectionService(db.repositories.devices, db.repositories.connections, fixedClock, {
      announce: async (userId, online, at) => {
        announced.push({ userId, online, at: at.toISOString() });
      },
    });

    await withPresence.connect({ userId: 'p1', deviceId: 'phone', connectionId: 'p1-phone' });
    await withPresence.connect({ userId: 'p1', deviceId: 'laptop', connectionId: 'p1-laptop' });
    // The phone reconnects before its old connection's $disconnect: still online, and the late disconnect changes nothing.
    await withPresence.connect({ userId: 'p1', deviceId: 'phone', connectionId: 'p1-phone-2' });
    await withPresence.disconnect('p1-phone', 'p1', 'phone');
    await withPresence.disconnect('p1-laptop', 'p1', 'laptop');
    const onlineBeforeLast = announced.length;
    await withPresence.disconnect('p1-phone-2', 'p1', 'phone');
    const presence = await db.repositories.connections.readPresence(['p1'], epochSeconds(fixedClock.now()));

    expect(onlineBeforeLast).toBe(1);
    expect(announced).toEqual([
      { userId: 'p1', online: true, at },
      { userId: 'p1', online: false, at },
    ]);
    expect(presence.get('p1')).toEqual({ online: false, lastSeenAt: at });
  });
});
