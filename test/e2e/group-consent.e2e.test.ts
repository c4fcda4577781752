/**
 * Issue 20, consent to be added: each user's `groupAdds` setting (everyone, people they have a direct
 * chat with that they started or wrote in, nobody) holds when a group is created with them and when
 * they are added to one. A refused add is an error to the adder (`add_not_allowed`, 403, naming who
 * refused) and nothing to the target: no event on their devices, no conversation in their list.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ChatClient, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

interface User {
  readonly token: string;
  readonly userId: string;
}

let stack: TestStack;
/** The adder: creates groups and adds people. */
let ann: User;
/** groupAdds: nobody. */
let ben: User;
/** groupAdds: directChats, and ann writes to them first. */
let cat: User;
/** groupAdds: everyone (the default). */
let dan: User;
/** groupAdds: directChats, and started a direct chat with ann. */
let fay: User;
/** groupAdds: everyone, never added. */
let gus: User;
let benDevice: ChatClient;
let catDevice: ChatClient;
const clients: ChatClient[] = [];

const call = (user: User, method: string, path: string, body?: unknown) =>
  api(stack.httpUrl, user.token, method, path, body);

async function withProfile(name: string, groupAdds?: string): Promise<User> {
  const user = await issueToken(stack.httpUrl, `${name}-consent`);
  const created = await call(user, 'POST', '/users', {
    name,
    username: `${name}.consent`,
    ...(groupAdds === undefined ? {} : { groupAdds }),
  });
  expect(created.status).toBe(201);
  return user;
}

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

const createGroup = (memberIds: string[]) =>
  call(ann, 'POST', '/conversations', { type: 'group', name: 'Weekend plans', memberIds });

async function conversationIdsOf(user: User): Promise<string[]> {
  const page = await call(user, 'GET', '/users/me/conversations');
  expect(page.status).toBe(200);
  return (page.body.conversations as { id: string }[]).map((conversation) => conversation.id);
}

/** Nothing reached the device: no message, no event, no frame of any kind past the connection's own. */
async function expectNothingDelivered(device: ChatClient, before: number): Promise<void> {
  // Delivery is asynchronous (fast path, then the stream): give it the time a delivery takes here.
  await sleep(1_500);
  expect(device.frames.slice(before)).toEqual([]);
}

beforeAll(async () => {
  stack = await startTestStack('consent');
  ann = await withProfile('ann');
  ben = await withProfile('ben', 'nobody');
  cat = await withProfile('cat', 'directChats');
  dan = await withProfile('dan');
  fay = await withProfile('fay', 'directChats');
  gus = await withProfile('gus');
  [benDevice, catDevice] = await Promise.all([connect(ben, 'phone'), connect(cat, 'phone')]);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack?.stop();
});

describe('the setting', () => {
  it('is part of the owner’s profile (default everyone), changed with PUT, and private to the owner', async () => {
    expect((await call(dan, 'GET', '/users/me')).body.groupAdds).toBe('everyone');
    expect((await call(ben, 'GET', '/users/me')).body.groupAdds).toBe('nobody');

    const changed = await call(dan, 'PUT', '/users/me', { groupAdds: 'directChats' });
    expect(changed.status).toBe(200);
    expect(changed.body.groupAdds).toBe('directChats');
    expect((await call(dan, 'PUT', '/users/me', { groupAdds: 'everyone' })).body.groupAdds).toBe('everyone');

    expect((await call(ann, 'GET', `/users/${ben.userId}`)).body).not.toHaveProperty('groupAdds');
    expect((await call(dan, 'PUT', '/users/me', { groupAdds: 'contacts' })).status).toBe(400);
  });
});

describe('creating a group', () => {
  it('refuses a group with someone who lets nobody add them: 403 add_not_allowed to the adder, nothing to them', async () => {
    const before = benDevice.frames.length;

    const answer = await createGroup([dan.userId, ben.userId]);

    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({
      error: { code: 'add_not_allowed', message: expect.any(String), details: { userIds: [ben.userId] } },
    });
    expect(await conversationIdsOf(ben)).toEqual([]);
    expect(await conversationIdsOf(dan)).toEqual([]);
    await expectNothingDelivered(benDevice, before);
  });

  it('creates it with those who let everyone add them', async () => {
    const answer = await createGroup([dan.userId]);

    expect(answer.status).toBe(201);
    expect(await conversationIdsOf(dan)).toContain(answer.body.id);
  });

  it('still lets anyone start a direct chat with them: the setting is about groups', async () => {
    const direct = await call(ann, 'POST', '/conversations', { type: 'direct', memberIds: [ben.userId] });

    expect(direct.status).toBe(201);
    // Ben's device is live: what it did not get above was never sent.
    await benDevice.waitForMessage((message) => message.conversationId === direct.body.id);
  });
});

describe('adding to a group', () => {
  let groupId: string;

  beforeAll(async () => {
    const created = await createGroup([dan.userId]);
    expect(created.status).toBe(201);
    groupId = String(created.body.id);
  });

  const add = (userIds: string[]) => call(ann, 'POST', `/conversations/${groupId}/participants`, { userIds });
  const group = async () => (await call(ann, 'GET', `/conversations/${groupId}`)).body;
  const memberIdsOf = (view: Record<string, unknown>) => (view.members as { userId: string }[]).map((m) => m.userId);

  it('refuses someone who lets nobody add them, and writes nothing: same seq, same members, nothing to them', async () => {
    const before = await group();
    const framesBefore = benDevice.frames.length;

    const answer = await add([ben.userId]);

    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: { code: 'add_not_allowed', details: { userIds: [ben.userId] } } });
    const after = await group();
    expect(after.lastSeq).toBe(before.lastSeq);
    expect(memberIdsOf(after)).toEqual(memberIdsOf(before));
    expect(await conversationIdsOf(ben)).not.toContain(groupId);
    await expectNothingDelivered(benDevice, framesBefore);
  });

  it('refuses the whole add when any of those named refuses, naming only those who refused', async () => {
    const answer = await add([gus.userId, fay.userId, ben.userId]);

    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: { details: { userIds: [fay.userId, ben.userId] } } });
    const members = memberIdsOf(await group());
    expect(members).not.toContain(gus.userId);
    expect(members).not.toContain(fay.userId);
    expect(await conversationIdsOf(gus)).not.toContain(groupId);
  });

  it('lets in someone with directChats only once they wrote in a direct chat with the adder; being written to is not enough', async () => {
    expect((await add([cat.userId])).status).toBe(403);

    // Anyone may start a direct chat with anyone: a spammer's first message does not make them a contact.
    const direct = await call(ann, 'POST', '/conversations', { type: 'direct', memberIds: [cat.userId] });
    expect(direct.status).toBe(201);
    const directId = String(direct.body.id);
    const sent = await call(ann, 'POST', `/conversations/${directId}/messages`, {
      clientMessageId: 'hi',
      text: 'hi cat',
    });
    expect(sent.status).toBe(201);
    expect((await add([cat.userId])).status).toBe(403);
    expect(await conversationIdsOf(cat)).not.toContain(groupId);

    // Cat answers: now ann is someone cat chats with.
    const answered = await call(cat, 'POST', `/conversations/${directId}/messages`, {
      clientMessageId: 'hey',
      text: 'hey ann',
    });
    expect(answered.status).toBe(201);
    const framesBefore = catDevice.frames.length;
    const added = await add([cat.userId]);
    expect(added.status).toBe(200);
    expect(memberIdsOf(added.body)).toContain(cat.userId);
    await catDevice.waitFor((frame) => catDevice.frames.indexOf(frame) >= framesBefore && frame.type === 'message');
  });

  it('lets in someone with directChats who started a direct chat with the adder', async () => {
    expect((await call(fay, 'POST', '/conversations', { type: 'direct', memberIds: [ann.userId] })).status).toBe(201);

    const added = await add([fay.userId]);

    expect(added.status).toBe(200);
    expect(memberIdsOf(added.body)).toContain(fay.userId);
  });

  it('does not ask members already in the group again', async () => {
    expect((await call(dan, 'PUT', '/users/me', { groupAdds: 'nobody' })).status).toBe(200);

    const again = await add([dan.userId]);

    expect(again.status).toBe(200);
    expect(memberIdsOf(again.body)).toContain(dan.userId);
  });
});
