import { beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, ForbiddenError, NotFoundError } from '#shared/errors';
import { userKeys } from '#shared/keys';
import { usernameSkeleton } from '#shared/protocol/username-skeleton';
import { UserService } from '#shared/services/user-service';
import { fixedClock, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let users: UserService;
let nextId = 0;

/** Every test gets its own users and usernames: the tables are shared by the whole file. */
const freshId = (label: string) => `${label}-${++nextId}`;
const freshUsername = (label: string) => `${label}.${nextId}_${Math.random().toString(36).slice(2, 8)}`;

const holderOf = async (username: string) => (await db.raw.usersItem(userKeys.usernameClaim(username)))?.userId;

beforeAll(async () => {
  db = await useTestTables('users');
  users = new UserService(db.repositories.users, fixedClock);
});

describe('UserService.create', () => {
  it('stores the profile under the caller id with server times and claims the username', async () => {
    const id = freshId('ann');
    const username = freshUsername('ann');
    const now = fixedClock.now().toISOString();

    const created = await users.create(id, { name: 'Ann', username, email: 'ann@example.com', phone: '+14155550123' });

    expect(created).toEqual({
      id,
      name: 'Ann',
      username,
      email: 'ann@example.com',
      phone: '+14155550123',
      readReceipts: true,
      showPresence: true,
      pushPreview: true,
      groupAdds: 'everyone',
      createdAt: now,
      updatedAt: now,
    });
    expect(await users.get(id, id)).toEqual(created);
    expect(await holderOf(username)).toBe(id);
  });

  it('refuses a second profile for the same caller', async () => {
    const id = freshId('ben');
    await users.create(id, { name: 'Ben', username: freshUsername('ben') });

    await expect(users.create(id, { name: 'Ben again', username: freshUsername('ben') })).rejects.toThrow(
      new ConflictError('Profile already exists'),
    );
  });

  it('refuses a username another user holds, whatever its case', async () => {
    const username = freshUsername('cat');
    await users.create(freshId('cat'), { name: 'Cat', username });
    const latecomer = freshId('copycat');

    await expect(users.create(latecomer, { name: 'Copy', username: username.toUpperCase() })).rejects.toThrow(
      new ConflictError('Username is taken'),
    );
    await expect(users.get(latecomer, latecomer)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lets exactly one of many concurrent creators take the same username', async () => {
    const username = freshUsername('race');
    const racers = Array.from({ length: 8 }, () => freshId('racer'));

    const results = await Promise.allSettled(racers.map((id) => users.create(id, { name: 'Racer', username })));

    const winners = racers.filter((_, i) => results[i]?.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toEqual(new ConflictError('Username is taken'));
    }
    expect(await holderOf(username)).toBe(winners[0]);
    const losers = racers.filter((id) => id !== winners[0]);
    for (const loser of losers) expect(await db.repositories.users.get(loser)).toBeUndefined();
  });
});

describe('UserService.get', () => {
  it('shows others only the public view: no email, no phone', async () => {
    const id = freshId('dan');
    const created = await users.create(id, { name: 'Dan', username: freshUsername('dan'), email: 'dan@example.com' });

    expect(await users.get(freshId('eve'), id)).toEqual({ id, name: 'Dan', username: created.username });
  });

  it('answers not_found for an unknown user', async () => {
    await expect(users.get('someone', freshId('nobody'))).rejects.toThrow(new NotFoundError('User not found'));
  });
});

describe('UserService.update', () => {
  it('changes the given fields, clears nulled ones, keeps the rest and moves updatedAt', async () => {
    const id = freshId('fay');
    const username = freshUsername('fay');
    await users.create(id, { name: 'Fay', username, email: 'fay@example.com', phone: '+442071838750' });
    const later = new Date(fixedClock.now().getTime() + 60_000);
    const laterUsers = new UserService(db.repositories.users, { now: () => later });

    const updated = await laterUsers.update(id, id, {
      name: 'Fay Ray',
      email: null,
      readReceipts: false,
      pushPreview: false,
    });

    const expected = {
      id,
      name: 'Fay Ray',
      username,
      phone: '+442071838750',
      readReceipts: false,
      showPresence: true,
      pushPreview: false,
      groupAdds: 'everyone',
      createdAt: fixedClock.now().toISOString(),
      updatedAt: later.toISOString(),
    };
    expect(updated).toEqual(expected);
    expect(await users.get(id, id)).toEqual(expected);
  });

  it('moves the username claim: the new one is held, the old one is free for anyone', async () => {
    const id = freshId('gus');
    const oldUsername = freshUsername('gus');
    const newUsername = freshUsername('gus');
    await users.create(id, { name: 'Gus', username: oldUsername });

    const updated = await users.update(id, id, { username: newUsername });

    expect(updated.username).toBe(newUsername);
    expect(await users.get(id, id)).toMatchObject({ username: newUsername });
    expect(await holderOf(newUsername)).toBe(id);
    expect(await holderOf(oldUsername)).toBeUndefined();
    const newcomer = freshId('hal');
    await expect(users.create(newcomer, { name: 'Hal', username: oldUsername })).resolves.toMatchObject({
      username: oldUsername,
    });
  });

  it('treats the same username in other case as no move', async () => {
    const id = freshId('ida');
    const username = freshUsername('ida');
    await users.create(id, { name: 'Ida', username });

    const updated = await users.update(id, id, { username: username.toUpperCase(), name: 'Ida B' });

    expect(updated).toMatchObject({ username, name: 'Ida B' });
    expect(await holderOf(username)).toBe(id);
  });

  it('refuses a username another user holds and changes nothing', async () => {
    const taken = freshUsername('jon');
    await users.create(freshId('jon'), { name: 'Jon', username: taken });
    const id = freshId('kim');
    const own = freshUsername('kim');
    await users.create(id, { name: 'Kim', username: own });

    await expect(users.update(id, id, { username: taken, name: 'Kim K' })).rejects.toThrow(
      new ConflictError('Username is taken'),
    );
    expect(await users.get(id, id)).toMatchObject({ name: 'Kim', username: own });
    expect(await holderOf(own)).toBe(id);
  });

  it('lets exactly one of two users racing to the same new username have it', async () => {
    const target = freshUsername('lee');
    const racers = [freshId('lee'), freshId('max')];
    await Promise.all(racers.map((id) => users.create(id, { name: 'Racer', username: freshUsername('racer') })));

    const results = await Promise.allSettled(racers.map((id) => users.update(id, id, { username: target })));

    const winners = racers.filter((_, i) => results[i]?.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    expect(results.find((result) => result.status === 'rejected')?.reason).toEqual(
      new ConflictError('Username is taken'),
    );
    expect(await holderOf(target)).toBe(winners[0]);
  });

  it("refuses to change someone else's profile", async () => {
    const id = freshId('ned');
    await users.create(id, { name: 'Ned', username: freshUsername('ned') });

    await expect(users.update(freshId('eve'), id, { name: 'Hacked' })).rejects.toBeInstanceOf(ForbiddenError);
    expect(await users.get(id, id)).toMatchObject({ name: 'Ned' });
  });

  it('answers not_found when the caller has no profile', async () => {
    const id = freshId('oli');

    await expect(users.update(id, id, { name: 'Oli' })).rejects.toThrow(new NotFoundError('User not found'));
  });
});

describe('UserRepository.update', () => {
  it('answers stale when the username read has moved since, and changes nothing', async () => {
    const id = freshId('tia');
    const read = await users.create(id, { name: 'Tia', username: freshUsername('tia') });
    const movedTo = freshUsername('tia');
    await users.update(id, id, { username: movedTo });
    const wanted = freshUsername('tia');

    const outcome = await db.repositories.users.update(read, { username: wanted, name: 'Stale' }, read.updatedAt);

    expect(outcome).toBe('stale');
    expect(await users.get(id, id)).toMatchObject({ name: 'Tia', username: movedTo });
    expect(await holderOf(movedTo)).toBe(id);
    expect(await holderOf(wanted)).toBeUndefined();
  });

  it('answers notFound for a username move on a deleted profile', async () => {
    const id = freshId('uma');
    const read = await users.create(id, { name: 'Uma', username: freshUsername('uma') });
    await db.repositories.users.markDeleted(id, read.createdAt);
    const wanted = freshUsername('uma');

    const outcome = await db.repositories.users.update(read, { username: wanted }, read.updatedAt);

    expect(outcome).toBe('notFound');
    expect(await holderOf(wanted)).toBeUndefined();
  });
});

describe('UserRepository.markDeleted', () => {
  it('leaves a tombstone that reads as "Deleted user" and frees the username', async () => {
    const id = freshId('pam');
    const username = freshUsername('pam');
    await users.create(id, { name: 'Pam', username, email: 'pam@example.com' });
    const deletedAt = fixedClock.now().toISOString();

    const outcome = await db.repositories.users.markDeleted(id, deletedAt);

    expect(outcome).toBe('deleted');
    expect(await db.raw.usersItem(userKeys.profile(id))).toEqual({
      ...userKeys.profile(id),
      id,
      deleted: true,
      deletedAt,
    });
    expect(await holderOf(username)).toBeUndefined();
    expect(await users.get(freshId('quin'), id)).toEqual({ id, deleted: true, name: 'Deleted user' });
    expect(await users.get(id, id)).toEqual({ id, deleted: true, name: 'Deleted user' });
  });

  it('is idempotent and tells a second call, or a user without a profile, apart', async () => {
    const id = freshId('rex');
    await users.create(id, { name: 'Rex', username: freshUsername('rex') });
    const at = fixedClock.now().toISOString();
    await db.repositories.users.markDeleted(id, at);

    expect(await db.repositories.users.markDeleted(id, at)).toBe('alreadyDeleted');
    expect(await db.repositories.users.markDeleted(freshId('nobody'), at)).toBe('noProfile');
  });

  it('keeps a deleted user from updating or recreating the profile', async () => {
    const id = freshId('sam');
    await users.create(id, { name: 'Sam', username: freshUsername('sam') });
    await db.repositories.users.markDeleted(id, fixedClock.now().toISOString());

    await expect(users.update(id, id, { name: 'Sam again' })).rejects.toThrow(new NotFoundError('User not found'));
    await expect(users.create(id, { name: 'Sam again', username: freshUsername('sam') })).rejects.toThrow(
      new ConflictError('Profile already exists'),
    );
  });
});

describe('UserService.search', () => {
  /** Users whose usernames share a fresh 3-letter-plus prefix, so the shared tables hold no others. */
  async function people(prefix: string, suffixes: readonly string[]) {
    const created = [];
    for (const suffix of suffixes) {
      const id = freshId(`s${suffix}`);
      created.push(await users.create(id, { name: `Person ${suffix}`, username: `${prefix}${suffix}` }));
    }
    return created;
  }

  const freshPrefix = () => `q${Math.random().toString(36).slice(2, 7)}`;

  it('finds live users by username prefix, any case, exact match first, the caller left out', async () => {
    const prefix = freshPrefix();
    const [exact, , , caller] = await people(prefix, ['', '_b', '.a', 'zz']);

    const page = await users.search(caller?.id ?? '', prefix.toUpperCase());

    expect(page.users.map((user) => user.username)).toEqual([prefix, `${prefix}.a`, `${prefix}_b`]);
    expect(page.users[0]).toEqual({ id: exact?.id, name: exact?.name, username: exact?.username });
    expect(page.users[0]).not.toHaveProperty('email');
    expect(page.cursor).toBeUndefined();
  });

  it('pages with a cursor, every match once, in order', async () => {
    const prefix = freshPrefix();
    const suffixes = Array.from({ length: 45 }, (_, i) => String(i).padStart(2, '0'));
    await people(prefix, suffixes);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await users.search('someone-else', prefix, cursor);
      seen.push(...page.users.map((user) => user.username));
      cursor = page.cursor;
    } while (cursor !== undefined);

    expect(seen).toEqual(suffixes.map((suffix) => `${prefix}${suffix}`));
  });

  it('never shows a deleted account, and shows a renamed one under its new name only', async () => {
    const prefix = freshPrefix();
    const [gone, renamed] = await people(prefix, ['gone', 'old']);
    await db.repositories.users.markDeleted(gone?.id ?? '', fixedClock.now().toISOString());
    await users.update(renamed?.id ?? '', renamed?.id ?? '', { username: `${prefix}new` });

    const page = await users.search('someone-else', prefix);

    expect(page.users.map((user) => user.username)).toEqual([`${prefix}new`]);
  });

  it('refuses a cursor that is not one it gave for this prefix', async () => {
    await expect(users.search('x', 'abc', 'not-a-cursor')).rejects.toMatchObject({ code: 'bad_request' });
    const other = Buffer.from(JSON.stringify({ after: 'zzz' })).toString('base64url');
    await expect(users.search('x', 'abc', other)).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('look-alike usernames', () => {
  const letters = () =>
    Math.random()
      .toString(36)
      .replace(/[^a-z]/g, '')
      .slice(0, 6)
      .padEnd(3, 'q');
  const lookOf = async (username: string) =>
    (await db.raw.usersItem(userKeys.usernameSkeletonClaim(usernameSkeleton(username))))?.userId;

  it('claims the look with the username, refuses a look-alike naming whose it is, and frees the look on deletion', async () => {
    const [owner, copycat] = [freshId('bill'), freshId('copycat')];
    const suffix = letters();
    await users.create(owner, { name: 'Bill', username: `bill.${suffix}` });

    const refused = users.create(copycat, { name: 'Bill', username: `bi1l.${suffix}` });

    await expect(refused).rejects.toMatchObject({
      code: 'username_confusable',
      details: { lookAlikeOf: `bill.${suffix}` },
    });
    expect(await lookOf(`bill.${suffix}`)).toBe(owner);
    await expect(db.repositories.users.markDeleted(owner, fixedClock.now().toISOString())).resolves.toBe('deleted');
    expect(await lookOf(`bill.${suffix}`)).toBeUndefined();
    await expect(users.create(copycat, { name: 'Bill', username: `bi1l.${suffix}` })).resolves.toBeDefined();
  });

  it('lets a user whose username predates look claims rename and leave, even when a look-alike took their look since', async () => {
    const [legacy, newcomer] = [freshId('legacy'), freshId('newcomer')];
    const suffix = letters();
    await users.create(legacy, { name: 'Old', username: `bi1l.${suffix}` });
    // As stored before look claims existed: the exact claim only.
    await db.raw.deleteUsersItem(userKeys.usernameSkeletonClaim(usernameSkeleton(`bi1l.${suffix}`)));
    await users.create(newcomer, { name: 'New', username: `bill.${suffix}` });

    await expect(users.update(legacy, legacy, { username: `bi1l.${suffix}.x` })).resolves.toMatchObject({
      username: `bi1l.${suffix}.x`,
    });
    expect(await lookOf(`bill.${suffix}`)).toBe(newcomer);
    expect(await lookOf(`bi1l.${suffix}.x`)).toBe(legacy);
    await expect(db.repositories.users.markDeleted(legacy, fixedClock.now().toISOString())).resolves.toBe('deleted');
    // Leaving without a rename first: the look-alike's claim is not theirs to free.
    const stillLegacy = freshId('legacy2');
    await users.create(stillLegacy, { name: 'Old', username: `bill.${suffix}.old` });
    await db.raw.deleteUsersItem(userKeys.usernameSkeletonClaim(usernameSkeleton(`bill.${suffix}.old`)));
    const taker = freshId('taker');
    await users.create(taker, { name: 'Taker', username: `bi1l.${suffix}.old` });

    await expect(db.repositories.users.markDeleted(stillLegacy, fixedClock.now().toISOString())).resolves.toBe(
      'deleted',
    );
    expect(await lookOf(`bi1l.${suffix}.old`)).toBe(taker);
  });
});
