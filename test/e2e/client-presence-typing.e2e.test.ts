/** The client SDK's presence and typing on the local stack: `subscribePresence`, `sendTyping` and their events. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionName } from '#shared/config/functions';
import type { ParleyClient, PresenceEvent, TypingEvent } from '../../client/index';
import { api, issueToken } from '../support/chat-client';
import { localSdkClient } from '../support/client-sdk';
import { startTestStack, type TestStack } from '../support/local-stack';

type User = { token: string; userId: string };

let stack: TestStack;
let ann: User;
let ben: User;
let directId: string;
const sdkClients: ParleyClient[] = [];

function sdkClient(user: User, deviceId: string): ParleyClient {
  const client = localSdkClient(stack, { tokenProvider: async () => user.token, deviceId });
  sdkClients.push(client);
  return client;
}

/** Invocations of `name` started so far: a frame the SDK wrote is routed before the one before it is answered. */
function started(name: FunctionName): number {
  return stack.invocationCounts()[name]?.invocations ?? 0;
}

beforeAll(async () => {
  stack = await startTestStack('e2e-client-presence');
  [ann, ben] = (await Promise.all(['ann', 'ben'].map((name) => issueToken(stack.httpUrl, name)))) as [User, User];
  const direct = await api(stack.httpUrl, ann.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [ben.userId],
  });
  expect(direct.status).toBe(201);
  directId = String(direct.body.id);
});

afterAll(async () => {
  await Promise.all(sdkClients.map((client) => client.close()));
  await stack?.stop();
});

describe('the SDK', () => {
  it('emits presence (now, then each change) and typing events, and sends one typing frame per window', async () => {
    const annApp = sdkClient(ann, 'sdk-ann');
    const presence: PresenceEvent[] = [];
    const typing: TypingEvent[] = [];
    annApp.on('presence', (event) => presence.push(event));
    annApp.on('typing', (event) => typing.push(event));
    await annApp.connect();
    annApp.subscribePresence([ben.userId]);
    await expect.poll(() => presence.length, { timeout: 15_000 }).toBe(1);

    const benApp = sdkClient(ben, 'sdk-ben');
    await benApp.connect();
    await expect.poll(() => presence.at(-1)?.online, { timeout: 15_000 }).toBe(true);
    const before = started('wsTyping');
    benApp.sendTyping(directId);
    benApp.sendTyping(directId);
    await expect.poll(() => typing.length, { timeout: 15_000 }).toBe(1);
    await benApp.close();
    await expect.poll(() => presence.at(-1)?.online, { timeout: 15_000 }).toBe(false);

    expect(presence[0]).toEqual({ userId: ben.userId, online: false, lastSeenAt: null });
    expect(presence.at(-1)?.lastSeenAt).toEqual(expect.any(String));
    expect(typing).toEqual([{ conversationId: directId, userId: ben.userId }]);
    // The SDK held the second back: the server was asked once.
    expect(started('wsTyping') - before).toBe(1);
  });
});
