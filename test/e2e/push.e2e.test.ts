/**
 * Web Push on the local stack: subscriptions registered per device (known push services only), one
 * push per burst to an offline subscribed device, VAPID-signed and aes128gcm-encrypted (the stand-in
 * checks the JWT, the test decrypts with the subscriber keys it made), none to a connected device,
 * retries after 429, and a 410 removing the subscription.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { userKeys } from '#shared/keys';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { api, ChatClient, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';
import { createWebPushSubscriber, type WebPushSubscriber } from '../support/web-push-subscriber';

type User = { token: string; userId: string };

let stack: TestStack;
let documents: ReturnType<typeof createDocumentClient>;
let alice: User;
let bob: User;
let bobLaptop: ChatClient;
let phone: WebPushSubscriber;
let laptop: WebPushSubscriber;

async function newUser(name: string): Promise<User> {
  const user = await issueToken(stack.httpUrl, name);
  const profile = await api(stack.httpUrl, user.token, 'POST', '/users', { name, username: name.toLowerCase() });
  expect(profile.status).toBe(201);
  return user;
}

/** A group of Alice and Bob: its creation is no text, so nothing is pushed until someone writes. */
async function newGroup(name: string): Promise<string> {
  const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'group',
    name,
    memberIds: [bob.userId],
  });
  expect(created.status).toBe(201);
  return String(created.body.id);
}

async function send(conversationId: string, clientMessageId: string, text: string): Promise<number> {
  const sent = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${conversationId}/messages`, {
    clientMessageId,
    text,
  });
  expect(sent.status).toBe(201);
  return Number((sent.body.message as { seq: number }).seq);
}

/** Every stream batch through fan-out, then every push it handed on, retries included. */
async function pushesSettled(): Promise<void> {
  await stack.streamsSettled();
  await stack.asyncInvocationsSettled();
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  while (!(await condition())) {
    if (stack === undefined) throw new Error(`stopped waiting for ${what}`);
    await sleep(25);
  }
}

/** A device that just closed its socket is offline once its `$disconnect` removed the connection row. */
const phoneDisconnected = () =>
  until(
    () =>
      stack.connectionIdOf(bob.userId, 'phone').then(
        () => false,
        () => true,
      ),
    "the phone's $disconnect",
  );

const register = (user: User, deviceId: string, subscription: unknown) =>
  api(stack.httpUrl, user.token, 'POST', `/devices/${deviceId}/push-subscription`, subscription);

async function storedSubscriptions(userId: string, deviceId: string) {
  const [device, reach] = await Promise.all([
    documents.send(new GetCommand({ TableName: stack.tables.users.tableName, Key: userKeys.device(userId, deviceId) })),
    documents.send(new GetCommand({ TableName: stack.tables.users.tableName, Key: userKeys.reach(userId) })),
  ]);
  return { onDevice: device.Item?.pushSubscription, onReach: reach.Item?.[`push#${deviceId}`] };
}

beforeAll(async () => {
  stack = await startTestStack('push', { asyncRetryDelayMs: 20 });
  documents = createDocumentClient(createLocalDynamoDbClient(stack.dynamoEndpoint));
  [alice, bob] = await Promise.all([newUser('Alice'), newUser('Bob')]);
  // Both devices register by connecting; the phone then goes offline.
  const bobPhone = await ChatClient.connect(stack.wsUrl, bob.token, 'phone');
  bobLaptop = await ChatClient.connect(stack.wsUrl, bob.token, 'laptop');
  await bobPhone.close();
  await phoneDisconnected();
  phone = createWebPushSubscriber(stack.pushService.newEndpoint());
  laptop = createWebPushSubscriber(stack.pushService.newEndpoint());
  expect((await register(bob, 'phone', phone.subscription)).status).toBe(204);
  expect((await register(bob, 'laptop', laptop.subscription)).status).toBe(204);
});

afterAll(async () => {
  await bobLaptop?.close();
  await stack?.stop();
});

describe('push subscriptions', () => {
  it('serves the VAPID public key the stack signs with', async () => {
    const answer = await api(stack.httpUrl, bob.token, 'GET', '/push/vapid-public-key');

    expect(answer).toEqual({ status: 200, body: { publicKey: stack.vapidPublicKey } });
  });

  it.each([
    ['an unknown host', 'https://push.example.com/send/abc'],
    ['a known push service over http', 'http://fcm.googleapis.com/fcm/send/abc'],
    ['a look-alike host', 'https://fcm.googleapis.com.example.com/fcm/send/abc'],
    ['a known host on another port', 'https://fcm.googleapis.com:8443/fcm/send/abc'],
  ])('refuses an endpoint at %s', async (_case, endpoint) => {
    const answer = await register(bob, 'phone', { ...phone.subscription, endpoint });

    expect(answer.status).toBe(400);
    expect((answer.body.error as { code: string }).code).toBe('push_endpoint_not_allowed');
  });

  it('accepts a known push service endpoint, and refuses malformed keys', async () => {
    const fcm = { ...phone.subscription, endpoint: 'https://fcm.googleapis.com/fcm/send/abc' };
    const malformed = { ...phone.subscription, keys: { p256dh: 'short', auth: phone.subscription.keys.auth } };

    expect((await register(alice, 'elsewhere', fcm)).status).toBe(404);
    const refused = await register(bob, 'phone', malformed);
    expect(refused.status).toBe(400);
    expect((refused.body.error as { code: string }).code).toBe('bad_request');
  });

  it("refuses a device that is not the caller's", async () => {
    const answer = await register(alice, 'phone', phone.subscription);

    expect(answer.status).toBe(404);
    expect(await storedSubscriptions(alice.userId, 'phone')).toEqual({ onDevice: undefined, onReach: undefined });
  });

  it('keeps the subscription on the device row and the reach item, through a reconnect', async () => {
    const again = await ChatClient.connect(stack.wsUrl, bob.token, 'phone');
    await again.close();
    await phoneDisconnected();

    const stored = await storedSubscriptions(bob.userId, 'phone');
    expect(stored.onDevice).toMatchObject({ endpoint: phone.subscription.endpoint });
    expect(stored.onReach).toMatchObject({ endpoint: phone.subscription.endpoint });
  });
});

describe('pushes', () => {
  it('sends one push per burst to the offline subscribed device, none to the connected one', async () => {
    const conversationId = await newGroup('Burst');
    const texts = ['one', 'two', 'three', 'four', 'five'];
    const seqs: number[] = [];
    for (const [i, text] of texts.entries()) seqs.push(await send(conversationId, `burst-${i}`, text));
    await pushesSettled();

    const received = stack.pushService.received(phone.subscription.endpoint);
    expect(received).toHaveLength(1);
    const payload = JSON.parse(phone.decrypt((received[0] as { body: Buffer }).body)) as Record<string, unknown>;
    const index = seqs.indexOf(Number(payload.seq));
    expect(index).toBeGreaterThanOrEqual(0);
    expect(payload).toEqual({
      type: 'message',
      conversationId,
      seq: seqs[index],
      senderName: 'Alice',
      preview: texts[index],
    });
    expect(received[0]).toMatchObject({ ttl: 86_400, vapid: { subject: expect.stringMatching(/^mailto:/) } });
    expect(stack.pushService.received(laptop.subscription.endpoint)).toEqual([]);
    expect(stack.pushService.refused(laptop.subscription.endpoint)).toEqual([]);
  });

  it('leaves the preview out for a user who turned previews off', async () => {
    const conversationId = await newGroup('Private');
    expect((await api(stack.httpUrl, bob.token, 'PUT', '/users/me', { pushPreview: false })).status).toBe(200);
    const before = stack.pushService.received(phone.subscription.endpoint).length;

    const seq = await send(conversationId, 'private-1', 'my secret');
    await pushesSettled();

    const received = stack.pushService.received(phone.subscription.endpoint).slice(before);
    expect(received).toHaveLength(1);
    expect(JSON.parse(phone.decrypt((received[0] as { body: Buffer }).body))).toEqual({
      type: 'message',
      conversationId,
      seq,
      senderName: 'Alice',
    });
    expect((await api(stack.httpUrl, bob.token, 'PUT', '/users/me', { pushPreview: true })).status).toBe(200);
  });

  it('retries a push the push service answered 429, and delivers it once', async () => {
    const conversationId = await newGroup('Throttled');
    stack.pushService.answerNext(phone.subscription.endpoint, 429);
    const before = stack.pushService.received(phone.subscription.endpoint).length;
    const failedBefore = stack.asyncInvocations.failedAttempts;

    const seq = await send(conversationId, 'throttled-1', 'try again');
    await pushesSettled();

    const received = stack.pushService.received(phone.subscription.endpoint).slice(before);
    expect(received).toHaveLength(1);
    expect(JSON.parse(phone.decrypt((received[0] as { body: Buffer }).body))).toMatchObject({ conversationId, seq });
    expect(stack.asyncInvocations.failedAttempts).toBe(failedBefore + 1);
  });

  it('removes the subscription when the push service answers 410, and pushes there no more', async () => {
    const conversationId = await newGroup('Gone');
    stack.pushService.answerNext(phone.subscription.endpoint, 410);
    const received = stack.pushService.received(phone.subscription.endpoint).length;

    await send(conversationId, 'gone-1', 'anyone there?');
    await pushesSettled();

    expect(stack.pushService.refused(phone.subscription.endpoint).at(-1)?.status).toBe(410);
    expect(await storedSubscriptions(bob.userId, 'phone')).toEqual({ onDevice: undefined, onReach: undefined });
    const refused = stack.pushService.refused(phone.subscription.endpoint).length;
    await send(await newGroup('After gone'), 'gone-2', 'still?');
    await pushesSettled();
    expect(stack.pushService.received(phone.subscription.endpoint)).toHaveLength(received);
    expect(stack.pushService.refused(phone.subscription.endpoint)).toHaveLength(refused);
  });

  it('pushes nothing once the device removed its subscription', async () => {
    const tablet = createWebPushSubscriber(stack.pushService.newEndpoint());
    const bobTablet = await ChatClient.connect(stack.wsUrl, bob.token, 'tablet');
    await bobTablet.close();
    expect((await register(bob, 'tablet', tablet.subscription)).status).toBe(204);

    expect((await api(stack.httpUrl, bob.token, 'DELETE', '/devices/tablet/push-subscription')).status).toBe(204);
    await send(await newGroup('Unsubscribed'), 'unsubscribed-1', 'hello?');
    await pushesSettled();

    expect(await storedSubscriptions(bob.userId, 'tablet')).toEqual({ onDevice: undefined, onReach: undefined });
    expect(stack.pushService.received(tablet.subscription.endpoint)).toEqual([]);
    expect((await api(stack.httpUrl, bob.token, 'DELETE', '/devices/nowhere/push-subscription')).status).toBe(404);
  });

  it.each([
    ['removed', 'DELETE'],
    ['replaced by another', 'POST'],
  ] as const)('sends no retry once the device’s subscription was %s meanwhile', async (_case, method) => {
    const deviceId = `retry-${method.toLowerCase()}`;
    await (await ChatClient.connect(stack.wsUrl, bob.token, deviceId)).close();
    await until(
      () =>
        stack.connectionIdOf(bob.userId, deviceId).then(
          () => false,
          () => true,
        ),
      `the ${deviceId} $disconnect`,
    );
    const first = createWebPushSubscriber(stack.pushService.newEndpoint());
    const second = createWebPushSubscriber(stack.pushService.newEndpoint());
    expect((await register(bob, deviceId, first.subscription)).status).toBe(204);
    // The first attempt is answered 429 only after the device changed its subscription: the retry comes after.
    stack.pushService.beforeAnswering(first.subscription.endpoint, async () => {
      const changed =
        method === 'DELETE'
          ? await api(stack.httpUrl, bob.token, 'DELETE', `/devices/${deviceId}/push-subscription`)
          : await register(bob, deviceId, second.subscription);
      expect(changed.status).toBe(204);
    });
    stack.pushService.answerNext(first.subscription.endpoint, 429);
    const failedBefore = stack.asyncInvocations.failedAttempts;

    await send(await newGroup(`Retry ${method}`), `retry-${method}`, 'still subscribed?');
    await pushesSettled();

    expect(stack.asyncInvocations.failedAttempts).toBe(failedBefore + 1);
    expect(stack.pushService.refused(first.subscription.endpoint).map((refusal) => refusal.status)).toEqual([429]);
    expect(stack.pushService.received(first.subscription.endpoint)).toEqual([]);
    expect(stack.pushService.received(second.subscription.endpoint)).toEqual([]);
  });

  it("takes a user's subscriptions away with the account", async () => {
    const dora = await newUser('Dora');
    const doraPhone = await ChatClient.connect(stack.wsUrl, dora.token, 'phone');
    await doraPhone.close();
    const subscriber = createWebPushSubscriber(stack.pushService.newEndpoint());
    expect((await register(dora, 'phone', subscriber.subscription)).status).toBe(204);

    expect((await api(stack.httpUrl, dora.token, 'DELETE', '/users/me')).status).toBe(204);

    expect(await storedSubscriptions(dora.userId, 'phone')).toEqual({ onDevice: undefined, onReach: undefined });
  });
});
