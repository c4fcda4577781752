/** User profiles over the local HTTP API: the real gateway (JWT authorizer), handlers and tables. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { limits } from '#shared/config/limits';
import { UserRepository } from '#shared/repositories/user-repository';
import { searchCounterKey } from '#shared/services/send-rate-limiter';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { api, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';
import { fillRateCounters } from '../support/rate-counters';

type User = { token: string; userId: string };

let stack: TestStack;
let ann: User;
let ben: User;

const call = (user: User | undefined, method: string, path: string, body?: unknown) =>
  api(stack.httpUrl, user?.token, method, path, body);

/** A user with a token and no profile yet. */
const newUser = (name: string) => issueToken(stack.httpUrl, name);

beforeAll(async () => {
  stack = await startTestStack('e2e-users');
  [ann, ben] = await Promise.all([newUser('ann'), newUser('ben')]);
  const created = await call(ann, 'POST', '/users', {
    name: '  Ann Smith ',
    username: 'Ann.Smith',
    email: 'ann@example.com',
    phone: '+14155550123',
  });
  expect(created.status).toBe(201);
  expect((await call(ben, 'POST', '/users', { name: 'Ben', username: 'ben' })).status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
});

describe('authentication', () => {
  it.each([
    ['POST', '/users', { name: 'X', username: 'xavier' }],
    ['GET', '/users/anyone', undefined],
    ['PUT', '/users/anyone', { name: 'X' }],
  ])('refuses %s %s without a token (401)', async (method, path, body) => {
    const answer = await call(undefined, method, path, body);

    expect(answer.status).toBe(401);
  });
});

describe('POST /users', () => {
  it("creates the caller's profile under the token's id: name trimmed, username lowercased", async () => {
    const answer = await call(ann, 'GET', `/users/${ann.userId}`);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: ann.userId,
      name: 'Ann Smith',
      username: 'ann.smith',
      email: 'ann@example.com',
      phone: '+14155550123',
      readReceipts: true,
      showPresence: true,
      pushPreview: true,
      groupAdds: 'everyone',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(answer.body.createdAt).toBe(answer.body.updatedAt);
  });

  it('answers 201 with the full profile, and 400 to a body that names a user id', async () => {
    const cat = await newUser('cat');

    const created = await call(cat, 'POST', '/users', { name: 'Cat', username: 'cat' });
    const spoof = await call(cat, 'POST', '/users', { id: ben.userId, name: 'Cat', username: 'cat2' });

    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: cat.userId,
      name: 'Cat',
      username: 'cat',
      readReceipts: true,
      showPresence: true,
      pushPreview: true,
      groupAdds: 'everyone',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(spoof.status).toBe(400);
  });

  it('accepts every field at its longest', async () => {
    const dan = await newUser('dan');
    const email = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;

    const answer = await call(dan, 'POST', '/users', {
      name: 'D'.repeat(80),
      username: 'd'.repeat(32),
      email,
      phone: '+123456789012345',
    });

    expect(email).toHaveLength(254);
    expect(answer.status).toBe(201);
  });

  it('answers 409 to a second profile for the same caller', async () => {
    const answer = await call(ann, 'POST', '/users', { name: 'Ann', username: 'ann.two' });

    expect(answer.status).toBe(409);
    expect(answer.body).toEqual({ error: { code: 'conflict', message: 'Profile already exists' } });
  });

  it('answers 409 to a username someone holds, in any case', async () => {
    const eve = await newUser('eve');

    const answer = await call(eve, 'POST', '/users', { name: 'Eve', username: 'ANN.smith' });

    expect(answer.status).toBe(409);
    expect(answer.body).toEqual({ error: { code: 'conflict', message: 'Username is taken' } });
  });

  it('lets exactly one of two callers racing for a username have it', async () => {
    const racers = await Promise.all([newUser('racer1'), newUser('racer2')]);

    const answers = await Promise.all(
      racers.map((racer) => call(racer, 'POST', '/users', { name: 'Racer', username: 'racer' })),
    );

    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409]);
  });

  const long = (n: number) => 'x'.repeat(n);
  it.each([
    ['name missing', { username: 'valid' }, 'name'],
    ['name blank', { name: '   ', username: 'valid' }, 'name'],
    ['name too long', { name: long(81), username: 'valid' }, 'name'],
    ['name not a string', { name: 42, username: 'valid' }, 'name'],
    ['username missing', { name: 'V' }, 'username'],
    ['username too short', { name: 'V', username: 'ab' }, 'username'],
    ['username too long', { name: 'V', username: long(33) }, 'username'],
    ['username with a space', { name: 'V', username: 'ann smith' }, 'username'],
    ['username with a dash', { name: 'V', username: 'ann-smith' }, 'username'],
    ['username with a non-ASCII letter', { name: 'V', username: 'jürgen' }, 'username'],
    ['email malformed', { name: 'V', username: 'valid', email: 'not-an-email' }, 'email'],
    ['email too long', { name: 'V', username: 'valid', email: `${long(64)}@${long(186)}.com` }, 'email'],
    ['email null', { name: 'V', username: 'valid', email: null }, 'email'],
    ['phone without +', { name: 'V', username: 'valid', phone: '14155550123' }, 'phone'],
    ['phone with a leading 0', { name: 'V', username: 'valid', phone: '+04155550123' }, 'phone'],
    ['phone too long', { name: 'V', username: 'valid', phone: '+1234567890123456' }, 'phone'],
    ['phone with spaces', { name: 'V', username: 'valid', phone: '+1 415 555 0123' }, 'phone'],
    ['an unknown field', { name: 'V', username: 'valid', userName: 'x' }, 'userName'],
  ])('answers 400 to %s', async (_case, body, field) => {
    const vic = await newUser('vic');

    const answer = await call(vic, 'POST', '/users', body);

    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_request', message: expect.stringContaining(field) });
    expect((await call(vic, 'GET', `/users/${vic.userId}`)).status).toBe(404);
  });

  it.each([
    ['no body', undefined],
    ['a JSON array', []],
  ])('answers 400 to %s', async (_case, body) => {
    const answer = await call(await newUser('vic'), 'POST', '/users', body);

    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_request' });
  });
});

describe('GET /users?username= (find people)', () => {
  it('answers public profiles by username prefix, exact match first, without the caller', async () => {
    const cal = await newUser('cal');
    for (const [user, username] of [
      [cal, 'annabel'],
      [await newUser('anne'), 'ann.sm'],
    ] as const) {
      expect((await call(user, 'POST', '/users', { name: username, username })).status).toBe(201);
    }

    const fromBen = await call(ben, 'GET', '/users?username=ANN');
    const fromAnn = await call(ann, 'GET', '/users?username=ann.sm');

    expect(fromBen.status).toBe(200);
    expect((fromBen.body.users as { username: string }[]).map((user) => user.username)).toEqual([
      'ann.sm',
      'ann.smith',
      'annabel',
    ]);
    expect(fromBen.body.users).toContainEqual({ id: ann.userId, name: 'Ann Smith', username: 'ann.smith' });
    expect(fromAnn.body).toEqual({ users: [expect.objectContaining({ username: 'ann.sm' })] });
  });

  it.each([
    ['a prefix under 3 characters', '/users?username=an'],
    ['no prefix', '/users'],
    ['a character no username has', '/users?username=an%25'],
    ['a forged cursor', '/users?username=ann&cursor=forged'],
  ])('refuses %s with 400 bad_request', async (_case, path) => {
    const answer = await call(ben, 'GET', path);

    expect(answer).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
  });

  it('answers 429 rate_limited once the caller’s searches for the window are used up', async () => {
    const searcher = await newUser('searcher');
    const { windowSeconds, maxSearches } = limits.userSearch;
    const documentClient = createDocumentClient(createLocalDynamoDbClient(stack.dynamoEndpoint));
    // The current window and the next are full, whichever one the request lands in.
    await fillRateCounters(documentClient, stack.tables.rateLimits.tableName, searcher.userId, {
      keyOf: searchCounterKey,
      windowSeconds,
      maxSends: maxSearches,
    });

    const answer = await call(searcher, 'GET', '/users?username=ann');

    expect(answer).toMatchObject({
      status: 429,
      body: { error: { code: 'rate_limited', details: { retryAfterSeconds: expect.any(Number) } } },
    });
  });
});

describe('`me` in a user path', () => {
  it('names the caller wherever a route takes their own user id', async () => {
    const own = await call(ann, 'GET', '/users/me');
    // Ben's name as the other tests expect it: the answer shows whose profile changed.
    const changed = await call(ben, 'PUT', '/users/me', { name: 'Ben' });
    const list = await call(ben, 'GET', '/users/me/conversations');

    expect(own).toMatchObject({ status: 200, body: { id: ann.userId, email: 'ann@example.com' } });
    expect(changed).toMatchObject({ status: 200, body: { id: ben.userId, name: 'Ben', username: 'ben' } });
    expect(list).toMatchObject({ status: 200, body: { conversations: expect.any(Array) } });
  });
});

describe('GET /users/{id}', () => {
  it('shows another caller only the public view: no email, no phone', async () => {
    const answer = await call(ben, 'GET', `/users/${ann.userId}`);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ id: ann.userId, name: 'Ann Smith', username: 'ann.smith' });
  });

  it('answers 404 for a user without a profile', async () => {
    const answer = await call(ann, 'GET', '/users/no-such-user');

    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: { code: 'not_found', message: 'User not found' } });
  });

  it('answers 400 for an id that cannot be a user id', async () => {
    const answer = await call(ann, 'GET', '/users/not%20an%20id');

    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_request' });
  });

  it('answers a deleted user as a placeholder that old messages can still show', async () => {
    const gil = await newUser('gil');
    await call(gil, 'POST', '/users', { name: 'Gil', username: 'gil', email: 'gil@example.com' });
    const dynamo = createLocalDynamoDbClient(stack.dynamoEndpoint);
    const users = new UserRepository(createDocumentClient(dynamo), stack.tables.users.tableName);
    await users.markDeleted(gil.userId, new Date().toISOString());
    dynamo.destroy();

    const answer = await call(ann, 'GET', `/users/${gil.userId}`);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ id: gil.userId, deleted: true, name: 'Deleted user' });
    const newcomer = await newUser('gil.successor');
    expect((await call(newcomer, 'POST', '/users', { name: 'New Gil', username: 'gil' })).status).toBe(201);
  });
});

describe('PUT /users/{id}', () => {
  it('changes the given fields, clears a nulled one and answers the full profile', async () => {
    const hal = await newUser('hal');
    const created = await call(hal, 'POST', '/users', { name: 'Hal', username: 'hal', email: 'hal@example.com' });

    const answer = await call(hal, 'PUT', `/users/${hal.userId}`, {
      name: 'Hal 9000',
      email: null,
      phone: '+4930123456',
      readReceipts: false,
      pushPreview: false,
    });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: hal.userId,
      name: 'Hal 9000',
      username: 'hal',
      phone: '+4930123456',
      readReceipts: false,
      showPresence: true,
      pushPreview: false,
      groupAdds: 'everyone',
      createdAt: created.body.createdAt,
      updatedAt: expect.any(String),
    });
    expect((await call(hal, 'GET', `/users/${hal.userId}`)).body).toEqual(answer.body);
  });

  it('moves the username: the new one is taken, the old one free for anyone', async () => {
    const ivy = await newUser('ivy');
    const jay = await newUser('jay');
    await call(ivy, 'POST', '/users', { name: 'Ivy', username: 'ivy' });

    const moved = await call(ivy, 'PUT', `/users/${ivy.userId}`, { username: 'Poison.Ivy' });
    const taken = await call(jay, 'POST', '/users', { name: 'Jay', username: 'poison.ivy' });
    const freed = await call(jay, 'POST', '/users', { name: 'Jay', username: 'ivy' });

    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ id: ivy.userId, username: 'poison.ivy' });
    expect(taken.status).toBe(409);
    expect(freed.status).toBe(201);
  });

  it("answers 403 to a change of someone else's profile and changes nothing", async () => {
    const answer = await call(ben, 'PUT', `/users/${ann.userId}`, { name: 'Hacked' });

    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ code: 'forbidden' });
    expect((await call(ann, 'GET', `/users/${ann.userId}`)).body).toMatchObject({ name: 'Ann Smith' });
  });

  it('answers 404 when the caller has no profile', async () => {
    const kit = await newUser('kit');

    const answer = await call(kit, 'PUT', `/users/${kit.userId}`, { name: 'Kit' });

    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: { code: 'not_found', message: 'User not found' } });
  });

  it('answers 409 to a username someone holds and changes nothing', async () => {
    const answer = await call(ben, 'PUT', `/users/${ben.userId}`, { name: 'Benjamin', username: 'Ann.Smith' });

    expect(answer.status).toBe(409);
    expect(answer.body).toEqual({ error: { code: 'conflict', message: 'Username is taken' } });
    expect((await call(ben, 'GET', `/users/${ben.userId}`)).body).toMatchObject({ name: 'Ben', username: 'ben' });
  });

  it.each([
    ['an empty body', {}, 'at least one field'],
    ['name null', { name: null }, 'name'],
    ['name blank', { name: ' ' }, 'name'],
    ['name too long', { name: 'x'.repeat(81) }, 'name'],
    ['username null', { username: null }, 'username'],
    ['username too short', { username: 'b' }, 'username'],
    ['username with a bad character', { username: 'ben!' }, 'username'],
    ['email malformed', { email: 'ben@' }, 'email'],
    ['phone malformed', { phone: '555-0123' }, 'phone'],
    ['an unknown field', { id: 'someone-else' }, 'id'],
  ])('answers 400 to %s', async (_case, body, hint) => {
    const answer = await call(ben, 'PUT', `/users/${ben.userId}`, body);

    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_request', message: expect.stringContaining(hint) });
  });
});

/** Issue 20: a username that looks like someone else's (the same UTS #39 skeleton) is refused with its own code. */
describe('look-alike usernames', () => {
  let alice: User;

  beforeAll(async () => {
    alice = await newUser('alice-lookalikes');
    expect((await call(alice, 'POST', '/users', { name: 'Alice', username: 'alice' })).status).toBe(201);
    const mallory = await newUser('mallory-lookalikes');
    expect((await call(mallory, 'POST', '/users', { name: 'Mallory', username: 'mallory' })).status).toBe(201);
  });

  it.each([
    ['a1ice', 'alice'],
    ['A1ICE', 'alice'],
    ['rnallory', 'mallory'],
  ])(
    'refuses %j beside %j: 409 username_confusable naming whose it looks like, no profile',
    async (username, taken) => {
      const copycat = await newUser(`copycat-${username}`);

      const answer = await call(copycat, 'POST', '/users', { name: 'Totally Legit', username });

      expect(answer.status).toBe(409);
      expect(answer.body).toEqual({
        error: { code: 'username_confusable', message: expect.any(String), details: { lookAlikeOf: taken } },
      });
      expect((await call(copycat, 'GET', `/users/${copycat.userId}`)).status).toBe(404);
    },
  );

  it('refuses a Cyrillic look-alike outright: a username is ASCII letters, digits, "_" and "."', async () => {
    const copycat = await newUser('copycat-cyrillic');

    const answer = await call(copycat, 'POST', '/users', { name: 'Alice', username: '\u0430lice' });

    expect(answer.status).toBe(400);
  });

  it('refuses a rename to a look-alike of someone else’s username', async () => {
    const answer = await call(ben, 'PUT', '/users/me', { username: 'a1ice' });

    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ error: { code: 'username_confusable', details: { lookAlikeOf: 'alice' } } });
    expect((await call(ben, 'GET', '/users/me')).body.username).toBe('ben');
  });

  it('lets the holder move between their own look-alikes, and keeps the look theirs', async () => {
    expect((await call(alice, 'PUT', '/users/me', { username: 'a1ice' })).status).toBe(200);
    const copycat = await newUser('copycat-after-move');

    const answer = await call(copycat, 'POST', '/users', { name: 'Alice', username: 'alice' });

    expect(answer.body).toMatchObject({ error: { code: 'username_confusable', details: { lookAlikeOf: 'a1ice' } } });
  });

  it('frees the look with the account', async () => {
    const mae = await newUser('mae-lookalikes');
    expect((await call(mae, 'POST', '/users', { name: 'Mae', username: 'rnae' })).status).toBe(201);
    expect((await call(mae, 'DELETE', '/users/me')).status).toBe(204);
    const newcomer = await newUser('newcomer-lookalikes');

    expect((await call(newcomer, 'POST', '/users', { name: 'Mae', username: 'mae' })).status).toBe(201);
  });
});
