/** Presence (online, last seen, subscriptions, the privacy switch) and typing, on the local stack through real clients. */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionName } from '#shared/config/functions';
import { limits } from '#shared/config/limits';
import { api, ChatClient, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

type User = { token: string; userId: string };

let stack: TestStack;
let ann: User;
let ben: User;
let cat: User;
let dan: User;
let eve: User;
/** Ann and Ben. */
let directId: string;
/** Ann, Ben and Dan. */
let groupId: string;
const clients: ChatClient[] = [];

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

/** Invocations of `name` that have finished so far. */
function finished(name: FunctionName): number {
  const count = stack.invocationCounts()[name];
  return count === undefined ? 0 : count.invocations - count.running;
}

/** Resolves once `condition` holds (checked every 20 ms); usable in hooks, where expect.poll is not. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Closes the client and waits until its `$disconnect` has run through (presence posted, if it flipped). */
async function disconnect(client: ChatClient): Promise<void> {
  const before = finished('wsDisconnect');
  await client.close();
  await until(() => finished('wsDisconnect') > before, `${client.deviceId}'s $disconnect`);
}

const presenceOf = (user: User, viewer: User) =>
  api(stack.httpUrl, viewer.token, 'GET', `/users/${user.userId}/presence`);

const presenceFrames = (client: ChatClient, userId: string) =>
  client.frames.filter((frame) => frame.type === 'presence' && frame.userId === userId);

const typingFrames = (client: ChatClient) => client.frames.filter((frame) => frame.type === 'typing');

/** A ping's pong arrives after every frame already posted to the client: what it holds now is complete. */
const flushed = (client: ChatClient) => client.request({ action: 'ping' }, 'pong');

beforeAll(async () => {
  stack = await startTestStack('e2e-presence');
  [ann, ben, cat, dan, eve] = (await Promise.all(
    ['ann', 'ben', 'cat', 'dan', 'eve'].map((name) => issueToken(stack.httpUrl, name)),
  )) as [User, User, User, User, User];
  const profiles = await Promise.all(
    Object.entries({ ann, ben, cat, dan, eve }).map(([name, user]) =>
      api(stack.httpUrl, user.token, 'POST', '/users', { name, username: name }),
    ),
  );
  expect(profiles.map((created) => created.status)).toEqual([201, 201, 201, 201, 201]);
  // Known before the conversations exist and offline since: everything it is owed waits in its inbox.
  await disconnect(await connect(ben, 'tablet'));
  const direct = await api(stack.httpUrl, ann.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [ben.userId],
  });
  const group = await api(stack.httpUrl, ann.token, 'POST', '/conversations', {
    type: 'group',
    name: 'Typists',
    memberIds: [ben.userId, dan.userId],
  });
  // Cat and Eve share a conversation with each other only, never with Ann.
  const elsewhere = await api(stack.httpUrl, cat.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [eve.userId],
  });
  expect([direct.status, group.status, elsewhere.status]).toEqual([201, 201, 201]);
  directId = String(direct.body.id);
  groupId = String(group.body.id);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack?.stop();
});

describe('GET /users/{id}/presence', () => {
  it('reads online while any device holds a connection, then offline with the time the last one closed', async () => {
    const before = await presenceOf(ben, ann);
    const phone = await connect(ben, 'phone');
    const laptop = await connect(ben, 'laptop');
    const bothOnline = await presenceOf(ben, ann);
    await disconnect(laptop);
    const oneOnline = await presenceOf(ben, ann);
    await disconnect(phone);
    const offline = await presenceOf(ben, ann);

    // Ben's tablet connected once, before the conversations existed.
    expect(before).toMatchObject({ status: 200, body: { online: false, lastSeenAt: expect.any(String) } });
    expect(bothOnline).toEqual({ status: 200, body: { online: true, lastSeenAt: null } });
    expect(oneOnline).toEqual({ status: 200, body: { online: true, lastSeenAt: null } });
    expect(offline.status).toBe(200);
    expect(offline.body.online).toBe(false);
    expect(new Date(String(offline.body.lastSeenAt)).toISOString()).toBe(offline.body.lastSeenAt);
    expect(String(offline.body.lastSeenAt) > String(before.body.lastSeenAt)).toBe(true);
  });

  it('answers a user who shares no conversation with the caller exactly as an unknown id: 404', async () => {
    await connect(cat, 'phone');

    const stranger = await presenceOf(cat, ann);
    const unknown = await api(stack.httpUrl, ann.token, 'GET', '/users/no-such-user/presence');

    expect(stranger.status).toBe(404);
    expect(stranger.body).toMatchObject({ error: { code: 'not_found' } });
    expect(stranger).toEqual(unknown);
  });

  it('hides a user whose showPresence is off (offline, never seen) from others, not from themselves', async () => {
    const hidden = await api(stack.httpUrl, dan.token, 'PUT', '/users/me', { showPresence: false });

    const danPhone = await connect(dan, 'phone');
    const byAnn = await presenceOf(dan, ann);
    const byDan = await api(stack.httpUrl, dan.token, 'GET', '/users/me/presence');
    const profile = await api(stack.httpUrl, dan.token, 'GET', '/users/me');
    await disconnect(danPhone);

    expect(hidden.status).toBe(200);
    expect(profile.body.showPresence).toBe(false);
    expect(byAnn).toEqual({ status: 200, body: { online: false, lastSeenAt: null } });
    expect(byDan).toEqual({ status: 200, body: { online: true, lastSeenAt: null } });
  });
});

describe('subscribePresence', () => {
  it('answers the allowed users’ presence now and pushes a frame only when one comes online or goes offline', async () => {
    const annPhone = await connect(ann, 'sub-phone');
    const subscribed = await annPhone.request(
      { action: 'subscribePresence', userIds: [ben.userId, cat.userId, 'no-such-user'] },
      'presenceSubscribed',
    );

    const benPhone = await connect(ben, 'phone');
    const cameOnline = await annPhone.waitFor(
      (frame) => frame.type === 'presence' && frame.userId === ben.userId,
      'Ben online',
    );
    const benLaptop = await connect(ben, 'laptop');
    await disconnect(benLaptop);
    await flushed(annPhone);
    const whileStillOnline = presenceFrames(annPhone, ben.userId).length;
    await disconnect(benPhone);
    const wentOffline = await annPhone.waitFor(
      (frame) => frame.type === 'presence' && frame.userId === ben.userId && frame.online === false,
      'Ben offline',
    );

    expect(subscribed).toMatchObject({ type: 'presenceSubscribed', presence: [{ userId: ben.userId, online: false }] });
    expect((subscribed.presence as unknown[]).length).toBe(1);
    expect(cameOnline).toMatchObject({ userId: ben.userId, online: true, lastSeenAt: null });
    expect(whileStillOnline).toBe(1);
    expect(wentOffline.lastSeenAt).toBe(wentOffline.changedAt);
    expect(presenceFrames(annPhone, ben.userId)).toHaveLength(2);
    expect(presenceFrames(annPhone, cat.userId)).toEqual([]);
  });

  it('replaces the last list: an empty one stops the frames', async () => {
    const annLaptop = await connect(ann, 'sub-laptop');
    await annLaptop.request({ action: 'subscribePresence', userIds: [ben.userId] }, 'presenceSubscribed');
    const cleared = await annLaptop.request({ action: 'subscribePresence', userIds: [] }, 'presenceSubscribed');

    const benPhone = await connect(ben, 'phone');
    await flushed(annLaptop);
    await disconnect(benPhone);
    await flushed(annLaptop);

    expect(cleared).toEqual({ type: 'presenceSubscribed', presence: [] });
    expect(presenceFrames(annLaptop, ben.userId)).toEqual([]);
  });

  it('pushes nothing about a user whose showPresence is off, and answers them as offline, never seen', async () => {
    const annTablet = await connect(ann, 'sub-tablet');
    const subscribed = await annTablet.request(
      { action: 'subscribePresence', userIds: [dan.userId] },
      'presenceSubscribed',
    );

    const danLaptop = await connect(dan, 'laptop');
    await flushed(annTablet);
    await disconnect(danLaptop);
    await flushed(annTablet);

    expect(subscribed).toEqual({
      type: 'presenceSubscribed',
      presence: [{ userId: dan.userId, online: false, lastSeenAt: null }],
    });
    expect(presenceFrames(annTablet, dan.userId)).toEqual([]);
  });

  it('refuses more than 100 users and repeated ones as bad_request', async () => {
    const annDesk = await connect(ann, 'sub-desk');
    const ids = Array.from({ length: limits.maxPresenceSubscriptions + 1 }, (_, i) => `user-${i}`);

    const tooMany = await annDesk.request({ action: 'subscribePresence', userIds: ids }, 'presenceSubscribed');
    const repeated = await annDesk.request(
      { action: 'subscribePresence', userIds: [ben.userId, ben.userId] },
      'presenceSubscribed',
    );

    expect(tooMany).toMatchObject({ type: 'error', code: 'bad_request', action: 'subscribePresence' });
    expect(repeated).toMatchObject({ type: 'error', code: 'bad_request', action: 'subscribePresence' });
  });
});

describe('typing', () => {
  it('reaches the other members’ online devices, not the sender’s, and at most once per window per sender', async () => {
    const annPhone = await connect(ann, 'typing-phone');
    const annLaptop = await connect(ann, 'typing-laptop');
    const benLaptop = await connect(ben, 'typing-laptop');
    const before = finished('wsTyping');
    const frames = 5;

    const startedAt = Date.now();
    for (let i = 0; i < frames; i++) annPhone.send({ action: 'typing', conversationId: groupId });
    await expect.poll(() => finished('wsTyping'), { timeout: 15_000 }).toBeGreaterThanOrEqual(before + frames);
    const elapsedMs = Date.now() - startedAt;
    await Promise.all([flushed(benLaptop), flushed(annLaptop), flushed(annPhone)]);

    const received = typingFrames(benLaptop);
    expect(received[0]).toEqual({ type: 'typing', conversationId: groupId, userId: ann.userId });
    // One per window that could have started while the frames were handled: one, unless the machine stalled for seconds.
    expect(received.length).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / limits.typingWindowMs));
    expect(typingFrames(annLaptop)).toEqual([]);
    // Dropped repeats are not errors: the sender is answered nothing at all.
    expect(annPhone.frames.filter((frame) => frame.type === 'error' || frame.type === 'typing')).toEqual([]);
  });

  it('is never stored, parked or replayed: the timeline and an offline device’s sync hold only timeline entries', async () => {
    const annPhone = await connect(ann, 'typing-direct');
    const lastSeqBefore = Number(
      (await api(stack.httpUrl, ann.token, 'GET', `/conversations/${directId}`)).body.lastSeq,
    );
    const before = finished('wsTyping');

    annPhone.send({ action: 'typing', conversationId: directId });
    await expect.poll(() => finished('wsTyping'), { timeout: 15_000 }).toBeGreaterThan(before);
    await stack.streamsSettled();
    // Ben's tablet was offline throughout: whatever it is owed waits in its inbox.
    const benTablet = await connect(ben, 'tablet');
    const replay = await benTablet.request({ action: 'sync' }, 'syncComplete');
    const history = await api(stack.httpUrl, ben.token, 'GET', `/conversations/${directId}/messages?after=0&limit=100`);
    const lastSeqAfter = Number(
      (await api(stack.httpUrl, ann.token, 'GET', `/conversations/${directId}`)).body.lastSeq,
    );

    expect(lastSeqAfter).toBe(lastSeqBefore);
    expect((history.body.messages as unknown[]).length).toBe(lastSeqBefore);
    expect(replay.type).toBe('syncComplete');
    expect(benTablet.messages(directId).map((message) => message.seq)).toEqual(
      Array.from({ length: lastSeqBefore }, (_, i) => i + 1),
    );
    expect(typingFrames(benTablet)).toEqual([]);
  });

  it('answers a non-member exactly as an unknown conversation (not_found), and tells nobody', async () => {
    const catPhone = await connect(cat, 'typing-intruder');
    const benLaptop = await connect(ben, 'typing-watch');

    const onTarget = await catPhone.request({ action: 'typing', conversationId: groupId }, 'typing');
    const onUnknown = await catPhone.request({ action: 'typing', conversationId: 'no-such-conversation' }, 'typing');
    await flushed(benLaptop);

    // The refusal echoes the conversation the frame named, and differs in nothing else.
    expect(onTarget).toMatchObject({ type: 'error', code: 'not_found', action: 'typing', conversationId: groupId });
    expect({ ...onTarget, conversationId: 'echoed' }).toEqual({ ...onUnknown, conversationId: 'echoed' });
    expect(typingFrames(benLaptop)).toEqual([]);
  });
});

/** A fresh pair in a direct chat of their own, so no earlier test's connections or watchers are in the way. */
async function freshPair(label: string): Promise<{ watcher: User; watched: User; conversationId: string }> {
  const [watcher, watched] = (await Promise.all(
    [`${label}-w`, `${label}-u`].map((name) => issueToken(stack.httpUrl, name)),
  )) as [User, User];
  await Promise.all(
    [watcher, watched].map((user, i) =>
      api(stack.httpUrl, user.token, 'POST', '/users', { name: `${label} ${i}`, username: `${label}${i}` }),
    ),
  );
  const direct = await api(stack.httpUrl, watcher.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [watched.userId],
  });
  expect(direct.status).toBe(201);
  return { watcher, watched, conversationId: String(direct.body.id) };
}

describe('presence without a $disconnect', () => {
  it('tells watchers a user went offline when fan-out finds their last device gone (410)', async () => {
    const { watcher, watched, conversationId } = await freshPair('gone');
    const watchedPhone = await connect(watched, 'phone');
    const watcherLaptop = await connect(watcher, 'laptop');
    const subscribed = await watcherLaptop.request(
      { action: 'subscribePresence', userIds: [watched.userId] },
      'presenceSubscribed',
    );
    // The socket dies without a $disconnect (best effort on AWS), past the handshake grace.
    await stack.dropConnection(await stack.connectionIdOf(watched.userId, 'phone'), { notify: false });
    await sleep(limits.connectionHandshakeGraceSeconds * 1000);

    await watcherLaptop.sendMessage(conversationId, 'to-gone', 'are you there?');
    const wentOffline = await watcherLaptop.waitFor(
      (frame) => frame.type === 'presence' && frame.userId === watched.userId,
      'offline after the 410',
    );
    const probed = await presenceOf(watched, watcher);

    expect(subscribed).toMatchObject({ presence: [{ userId: watched.userId, online: true }] });
    expect(wentOffline).toMatchObject({ type: 'presence', online: false, lastSeenAt: wentOffline.changedAt });
    expect(probed).toEqual({ status: 200, body: { online: false, lastSeenAt: wentOffline.changedAt } });
    expect(watchedPhone.messages().map((message) => message.text)).not.toContain('are you there?');
  });
});

describe('showPresence changed on the profile', () => {
  it('tells watchers the hidden state when switched off and the state now when switched on, only on a change', async () => {
    const { watcher, watched } = await freshPair('switch');
    await connect(watched, 'phone');
    const watcherLaptop = await connect(watcher, 'laptop');
    const watchedTablet = await connect(watched, 'tablet');
    await watcherLaptop.request({ action: 'subscribePresence', userIds: [watched.userId] }, 'presenceSubscribed');
    await watchedTablet.request({ action: 'subscribePresence', userIds: [watched.userId] }, 'presenceSubscribed');
    const setShowPresence = (showPresence: boolean) =>
      api(stack.httpUrl, watched.token, 'PUT', `/users/${watched.userId}`, { showPresence });

    const off = await setShowPresence(false);
    const hiddenFrame = await watcherLaptop.waitFor(
      (frame) => frame.type === 'presence' && frame.userId === watched.userId,
      'hidden state',
    );
    const probedHidden = await presenceOf(watched, watcher);
    await setShowPresence(false);
    const renamed = await api(stack.httpUrl, watched.token, 'PUT', `/users/${watched.userId}`, { name: 'renamed' });
    await flushed(watcherLaptop);
    const framesWhileOff = presenceFrames(watcherLaptop, watched.userId).length;
    const on = await setShowPresence(true);
    const shownFrame = await watcherLaptop.waitFor(
      (frame) => frame.type === 'presence' && frame.userId === watched.userId && frame.online === true,
      'state now',
    );
    await setShowPresence(true);
    await Promise.all([flushed(watcherLaptop), flushed(watchedTablet)]);

    expect([off.status, renamed.status, on.status]).toEqual([200, 200, 200]);
    expect(hiddenFrame).toEqual({
      type: 'presence',
      userId: watched.userId,
      ...probedHidden.body,
      changedAt: expect.any(String),
    });
    expect(probedHidden.body).toEqual({ online: false, lastSeenAt: null });
    expect(framesWhileOff).toBe(1);
    expect(shownFrame).toEqual({
      type: 'presence',
      userId: watched.userId,
      online: true,
      lastSeenAt: null,
      changedAt: expect.any(String),
    });
    expect(presenceFrames(watcherLaptop, watched.userId)).toHaveLength(2);
    // The user's own devices see through the switch: nothing changed for them.
    expect(presenceFrames(watchedTablet, watched.userId)).toEqual([]);
  });

  it('tells the state now of a user who is offline when they switch it back on', async () => {
    const { watcher, watched } = await freshPair('switchoff');
    await disconnect(await connect(watched, 'phone'));
    const lastSeen = await presenceOf(watched, watcher);
    await api(stack.httpUrl, watched.token, 'PUT', `/users/${watched.userId}`, { showPresence: false });
    const watcherLaptop = await connect(watcher, 'laptop');
    await watcherLaptop.request({ action: 'subscribePresence', userIds: [watched.userId] }, 'presenceSubscribed');

    await api(stack.httpUrl, watched.token, 'PUT', `/users/${watched.userId}`, { showPresence: true });
    const shown = await watcherLaptop.waitFor(
      (frame) => frame.type === 'presence' && frame.userId === watched.userId,
      'state now',
    );

    expect(lastSeen.body).toMatchObject({ online: false, lastSeenAt: expect.any(String) });
    expect(shown).toMatchObject({ online: false, lastSeenAt: lastSeen.body.lastSeenAt });
  });
});
