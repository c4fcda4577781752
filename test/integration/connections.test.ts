import { beforeAll, describe, expect, it } from 'vitest';
import { limits } from '#shared/config/limits';
import { epochSeconds } from '#shared/services/clock';
import { ConnectionService } from '#shared/services/connection-service';
import { fixedClock, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let connections: ConnectionService;

beforeAll(async () => {
  db = await useTestTables('connections');
  connections = new ConnectionService(db.repositories.devices, db.repositories.connections, fixedClock);
});

describe('ConnectionService', () => {
  it('registers the device once and records each connection with a TTL past the 2-hour cap', async () => {
    await connections.connect({ userId: 'u1', deviceId: 'phone', connectionId: 'c1' });
    await connections.connect({ userId: 'u1', deviceId: 'phone', connectionId: 'c2' });

    expect(await db.repositories.devices.listForUser('u1')).toEqual([{ userId: 'u1', deviceId: 'phone' }]);
    const rows = await db.raw.scanConnections('u1');
    expect(rows.map((row) => row.connectionId).sort()).toEqual(['c1', 'c2']);
    expect(rows[0]?.expiresAt).toBe(epochSeconds(fixedClock.now()) + limits.connectionTtlSeconds);
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

    await connections.disconnect('c4');

    expect(await db.repositories.connections.listForUser('u3')).toEqual([]);
  });

  it('ignores a disconnect for a connection it never saw', async () => {
    await expect(connections.disconnect('never-seen')).resolves.toBeUndefined();
  });
});
