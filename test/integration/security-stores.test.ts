/**
 * The security stores against DynamoDB Local, on clocks the tests set: connect tickets (hashed at
 * rest, single use, expiring), account standing (tombstones, the device limit) and the per-user
 * send rate limit (fixed windows, a TTL on every counter).
 */
import { randomUUID } from 'node:crypto';
import { GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { AccountStanding } from '#shared/auth/account-standing';
import { ConnectTicketStore, connectTicketPattern, hashConnectTicket } from '#shared/auth/connect-tickets';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { type Clock, epochSeconds } from '#shared/clock';
import { limits } from '#shared/config/limits';
import type { TableKey } from '#shared/config/tables';
import { AppError, BadRequestError, UnauthorizedError } from '#shared/errors';
import { userKeys } from '#shared/keys';
import { AccountStandingRepository } from '#shared/repositories/account-standing-repository';
import { ConnectTicketRepository } from '#shared/repositories/connect-ticket-repository';
import { ConnectionRepository } from '#shared/repositories/connection-repository';
import { DeviceRepository } from '#shared/repositories/device-repository';
import { RateCounterRepository } from '#shared/repositories/rate-counter-repository';
import { UserRepository } from '#shared/repositories/user-repository';
import { SendRateLimiter, sendCounterKey } from '#shared/services/send-rate-limiter';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { createLocalTables, type LocalTables } from '../../local/tables';

/** A clock the test moves by hand; starts near real time so TTL rows do not look long expired. */
class ManualClock implements Clock {
  private at = Date.now();
  now = () => new Date(this.at);
  advance(ms: number): void {
    this.at += ms;
  }
  set(date: Date): void {
    this.at = date.getTime();
  }
}

let documentClient: ReturnType<typeof createDocumentClient>;
let localTables: LocalTables;
const name = (key: TableKey) => localTables[key].tableName;

beforeAll(async () => {
  const client = createLocalDynamoDbClient(inject('dynamoEndpoint'));
  localTables = await createLocalTables(client, `t-security-${randomUUID().slice(0, 8)}-`);
  documentClient = createDocumentClient(client);
});

describe('ConnectTicketStore', () => {
  it('issues 256-bit base64url tickets, stored only as their SHA-256, with the user and a TTL', async () => {
    const clock = new ManualClock();
    const store = new ConnectTicketStore(new ConnectTicketRepository(documentClient, name('connectTickets')), clock);

    const issued = await store.issue('ann');
    const stored = await documentClient.send(new ScanCommand({ TableName: name('connectTickets') }));

    expect(issued.ticket).toMatch(connectTicketPattern);
    expect(Buffer.from(issued.ticket, 'base64url')).toHaveLength(32);
    const expiresAtSeconds = epochSeconds(clock.now()) + limits.connectTicketTtlSeconds;
    expect(issued.expiresAt).toBe(new Date(expiresAtSeconds * 1000).toISOString());
    const item = stored.Items?.find((row) => row.ticketHash === hashConnectTicket(issued.ticket));
    expect(item).toEqual({ ticketHash: hashConnectTicket(issued.ticket), userId: 'ann', expiresAt: expiresAtSeconds });
    expect(JSON.stringify(stored.Items)).not.toContain(issued.ticket);
  });

  it('answers the user once; a second use, an unknown or a malformed ticket answer nothing', async () => {
    const store = new ConnectTicketStore(
      new ConnectTicketRepository(documentClient, name('connectTickets')),
      new ManualClock(),
    );
    const { ticket } = await store.issue('ben');

    const uses = await Promise.all([store.consume(ticket), store.consume(ticket), store.consume(ticket)]);
    const unknown = await store.consume(
      (await store.issue('ben')).ticket.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
    );

    expect(uses.filter((user) => user !== undefined)).toEqual(['ben']);
    expect(unknown).toBeUndefined();
    expect(await store.consume('not a ticket')).toBeUndefined();
    expect(await store.consume(`${ticket}x`)).toBeUndefined();
  });

  it('refuses a ticket past its expiry even while TTL has not deleted it, and leaves it to TTL', async () => {
    const clock = new ManualClock();
    const store = new ConnectTicketStore(new ConnectTicketRepository(documentClient, name('connectTickets')), clock);
    const { ticket } = await store.issue('cat');

    clock.advance((limits.connectTicketTtlSeconds + 1) * 1000);
    const late = await store.consume(ticket);
    const row = await documentClient.send(
      new GetCommand({ TableName: name('connectTickets'), Key: { ticketHash: hashConnectTicket(ticket) } }),
    );

    expect(late).toBeUndefined();
    expect(row.Item?.userId).toBe('cat');
  });
});

describe('AccountStanding', () => {
  const devicesTable = () => new DeviceRepository(documentClient, name('users'));

  async function registerDevices(userId: string, count: number, at: Date): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        devicesTable().register({ userId, deviceId: `device-${i}` }, at.toISOString()),
      ),
    );
  }

  it('allows a user with no profile and no devices', async () => {
    const standing = new AccountStanding(
      new AccountStandingRepository(documentClient, name('users')),
      new ManualClock(),
    );

    expect(await standing.forConnect(`fresh-${randomUUID()}`, 'phone')).toEqual({ kind: 'allowed' });
  });

  it(`refuses a new device once ${limits.maxDevicesPerUser} are active, but lets a known one reconnect`, async () => {
    const clock = new ManualClock();
    const standing = new AccountStanding(new AccountStandingRepository(documentClient, name('users')), clock);
    const userId = `busy-${randomUUID()}`;
    await registerDevices(userId, limits.maxDevicesPerUser - 1, clock.now());

    const lastAllowed = await standing.forConnect(userId, 'newcomer');
    await devicesTable().register({ userId, deviceId: 'newcomer' }, clock.now().toISOString());
    const oneTooMany = await standing.forConnect(userId, 'one-too-many');
    const known = await standing.forConnect(userId, 'device-0');

    expect(lastAllowed).toEqual({ kind: 'allowed' });
    expect(oneTooMany).toEqual({ kind: 'deviceLimit', activeDevices: limits.maxDevicesPerUser });
    expect(known).toEqual({ kind: 'allowed' });
  });

  it(`no longer counts devices unseen for ${limits.deviceActivityWindowDays} days`, async () => {
    const clock = new ManualClock();
    const standing = new AccountStanding(new AccountStandingRepository(documentClient, name('users')), clock);
    const userId = `stale-${randomUUID()}`;
    await registerDevices(userId, limits.maxDevicesPerUser, clock.now());

    clock.advance((limits.deviceActivityWindowDays * 24 + 1) * 60 * 60 * 1000);

    expect(await standing.forConnect(userId, 'new-laptop')).toEqual({ kind: 'allowed' });
  });

  it('reads a deleted account as deleted, for connections and as a caller or a member to add', async () => {
    const clock = new ManualClock();
    const users = new UserRepository(documentClient, name('users'));
    const standing = new AccountStanding(new AccountStandingRepository(documentClient, name('users')), clock);
    const [gone, alive] = [`gone-${randomUUID()}`, `alive-${randomUUID()}`];
    const now = clock.now().toISOString();
    for (const id of [gone, alive]) {
      await users.create({
        id,
        name: id,
        username: id.slice(0, 30),
        readReceipts: true,
        showPresence: true,
        pushPreview: true,
        groupAdds: 'everyone',
        createdAt: now,
        updatedAt: now,
      });
    }
    await users.markDeleted(gone, now);

    expect(await standing.forConnect(gone, 'phone')).toEqual({ kind: 'deleted' });
    expect(await standing.forConnect(alive, 'phone')).toEqual({ kind: 'allowed' });
    await expect(standing.refuseDeletedCaller(gone)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(standing.refuseDeletedCaller(alive)).resolves.toBeUndefined();
    await expect(standing.refuseDeletedCaller(`nobody-${randomUUID()}`)).resolves.toBeUndefined();
    await expect(standing.refuseDeletedParticipants(gone, [alive])).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(standing.refuseDeletedParticipants(alive, [gone, 'no-profile'])).rejects.toMatchObject(
      new BadRequestError('Deleted users cannot join a conversation', { userIds: [gone] }),
    );
    await expect(standing.refuseDeletedParticipants(alive, ['no-profile'])).resolves.toBeUndefined();
  });

  it('keeps the device rows and the profile apart by sort key, whatever the device id', async () => {
    const standing = new AccountStanding(
      new AccountStandingRepository(documentClient, name('users')),
      new ManualClock(),
    );
    const userId = `odd-${randomUUID()}`;
    // A device id spelled like the profile's sort key is still a device row (DEVICE#PROFILE).
    await documentClient.send(
      new PutCommand({
        TableName: name('users'),
        Item: { ...userKeys.device(userId, 'PROFILE'), userId, deviceId: 'PROFILE', deleted: true },
      }),
    );

    expect(await standing.forConnect(userId, 'phone')).toEqual({ kind: 'allowed' });
  });

  it('counts device rows only: live connection rows in the same partition are not devices', async () => {
    const clock = new ManualClock();
    const standing = new AccountStanding(new AccountStandingRepository(documentClient, name('users')), clock);
    const connections = new ConnectionRepository(documentClient, name('users'));
    const userId = `many-conns-${randomUUID()}`;
    await registerDevices(userId, limits.maxDevicesPerUser - 1, clock.now());
    // Each known device holds two live connections: twice as many connection rows as the limit.
    await Promise.all(
      Array.from({ length: limits.maxDevicesPerUser - 1 }, (_, i) =>
        [0, 1].map((k) =>
          connections.put(
            { userId, deviceId: `device-${i}`, connectionId: `conn-${i}-${k}` },
            clock.now().toISOString(),
            epochSeconds(clock.now()) + limits.connectionTtlSeconds,
          ),
        ),
      ).flat(),
    );

    expect(await standing.forConnect(userId, 'newcomer')).toEqual({ kind: 'allowed' });
  });
});

describe('SendRateLimiter', () => {
  // Leases of 2 out of 3: the window's third send is claimed on its own, after a lease no longer fits.
  const limit = { windowSeconds: 10, maxSends: 3, leaseSends: 2 };

  /** The start of a window, so a test's sends all fall in one. */
  function windowStartClock(): ManualClock {
    const clock = new ManualClock();
    const now = epochSeconds(clock.now());
    clock.set(new Date((now - (now % limit.windowSeconds) + limit.windowSeconds) * 1000));
    return clock;
  }

  it('lets maxSends through in a window, refuses the next with rate_limited, and opens again in the next window', async () => {
    const clock = windowStartClock();
    const limiter = new SendRateLimiter(new RateCounterRepository(documentClient, name('rateLimits')), clock, limit);
    const userId = `sender-${randomUUID()}`;

    for (let i = 0; i < limit.maxSends; i++) await limiter.consume(userId);
    clock.advance(4_000);
    const refused = await limiter.consume(userId).catch((error: unknown) => error);
    clock.advance(6_000);
    const nextWindow = await limiter.consume(userId).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'rate_limited', httpStatus: 429, details: { retryAfterSeconds: 6 } });
    expect(nextWindow).toBeUndefined();
  });

  it('counts concurrent sends exactly: never more than maxSends get through', async () => {
    const limiter = new SendRateLimiter(
      new RateCounterRepository(documentClient, name('rateLimits')),
      windowStartClock(),
      limit,
    );
    const userId = `burst-${randomUUID()}`;

    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => limiter.consume(userId)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(limit.maxSends);
  });

  it('keeps one counter per user and window, expiring when its window ends', async () => {
    const clock = windowStartClock();
    const limiter = new SendRateLimiter(new RateCounterRepository(documentClient, name('rateLimits')), clock, limit);
    const [ann, ben] = [`ann-${randomUUID()}`, `ben-${randomUUID()}`];

    await limiter.consume(ann);
    await limiter.consume(ann);
    await limiter.consume(ben);
    const windowStart = epochSeconds(clock.now());
    const read = (userId: string) =>
      documentClient.send(
        new GetCommand({ TableName: name('rateLimits'), Key: { counterKey: sendCounterKey(userId, windowStart) } }),
      );

    expect((await read(ann)).Item).toEqual({
      counterKey: sendCounterKey(ann, windowStart),
      sends: 2,
      expiresAt: windowStart + limit.windowSeconds,
    });
    expect((await read(ben)).Item?.sends).toBe(limit.leaseSends);
  });

  it('does not wait for ever on a claim that never answers (its invocation was stopped): the next send claims itself', async () => {
    const repository = new RateCounterRepository(documentClient, name('rateLimits'));
    const real = repository.incrementWithin.bind(repository);
    // The first claim's call is lost with its invocation, as Lambda's timeout leaves it: it never settles.
    vi.spyOn(repository, 'incrementWithin')
      .mockImplementationOnce(() => new Promise<boolean>(() => undefined))
      .mockImplementation(real);
    const limiter = new SendRateLimiter(repository, windowStartClock(), limit);
    const userId = `stopped-${randomUUID()}`;

    void limiter.consume(userId);
    const next = await limiter.consume(userId).then(
      () => 'sent',
      (error: unknown) => error,
    );

    expect(next).toBe('sent');
  });

  it('claims a lease with one write and spends it from memory; a full window refuses without writing', async () => {
    const clock = windowStartClock();
    const repository = new RateCounterRepository(documentClient, name('rateLimits'));
    const writes = vi.spyOn(repository, 'incrementWithin');
    const limiter = new SendRateLimiter(repository, clock, limit);
    const userId = `lease-${randomUUID()}`;

    await limiter.consume(userId);
    await limiter.consume(userId);
    expect(writes.mock.calls.map(([, count]) => count)).toEqual([2]);
    await limiter.consume(userId);
    expect(writes.mock.calls.map(([, count]) => count)).toEqual([2, 2, 1]);
    for (let i = 0; i < 3; i++) await expect(limiter.consume(userId)).rejects.toMatchObject({ code: 'rate_limited' });
    expect(writes.mock.calls.map(([, count]) => count)).toEqual([2, 2, 1, 2, 1]);
  });

  it('charges a burst all or none: it takes what it needs beyond the lease, and a burst that does not fit is refused whole', async () => {
    const clock = windowStartClock();
    const roomy = { windowSeconds: 10, maxSends: 12, leaseSends: 2 };
    const repository = new RateCounterRepository(documentClient, name('rateLimits'));
    const writes = vi.spyOn(repository, 'incrementWithin');
    const limiter = new SendRateLimiter(repository, clock, roomy);
    const userId = `burst-${randomUUID()}`;

    await limiter.consume(userId, 5);
    await limiter.consume(userId, 6);
    const tooMany = await limiter.consume(userId, 2).catch((error: unknown) => error);
    await limiter.consume(userId);

    expect(writes.mock.calls.map(([, count]) => count)).toEqual([5, 6, 2, 2, 1]);
    expect(tooMany).toMatchObject({ code: 'rate_limited' });
    await expect(limiter.consume(userId)).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('never lets more than maxSends through across handlers that each hold leases', async () => {
    const clock = windowStartClock();
    const handlers = Array.from(
      { length: 3 },
      () => new SendRateLimiter(new RateCounterRepository(documentClient, name('rateLimits')), clock, limit),
    );
    const userId = `spread-${randomUUID()}`;

    const outcomes = await Promise.allSettled(
      handlers.flatMap((handler) => Array.from({ length: 4 }, () => handler.consume(userId))),
    );
    const counted = await documentClient.send(
      new GetCommand({
        TableName: name('rateLimits'),
        Key: { counterKey: sendCounterKey(userId, epochSeconds(clock.now())) },
      }),
    );

    const through = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    expect(through).toBeGreaterThan(0);
    expect(through).toBeLessThanOrEqual(limit.maxSends);
    expect(counted.Item?.sends).toBeLessThanOrEqual(limit.maxSends);
  });
});
