/** The client SDK's Web Push calls on the local stack: the VAPID key, and this device's subscription. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyApiError, type ParleyClient } from '../../client/index';
import { issueToken } from '../support/chat-client';
import { localSdkClient } from '../support/client-sdk';
import { startTestStack, type TestStack } from '../support/local-stack';
import { createWebPushSubscriber } from '../support/web-push-subscriber';

let stack: TestStack;
let client: ParleyClient;

beforeAll(async () => {
  stack = await startTestStack('client-push');
  const ada = await issueToken(stack.httpUrl, 'ada');
  client = localSdkClient(stack, { tokenProvider: async () => ada.token, deviceId: 'browser' });
  // The device becomes known to the server by connecting.
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

describe('ParleyClient push', () => {
  it('answers the VAPID public key to subscribe with', async () => {
    expect(await client.vapidPublicKey()).toBe(stack.vapidPublicKey);
  });

  it("registers and removes this device's subscription, and refuses an unknown push service", async () => {
    const { subscription } = createWebPushSubscriber(stack.pushService.newEndpoint());

    await expect(client.registerPush(subscription)).resolves.toBeUndefined();
    await expect(client.unregisterPush()).resolves.toBeUndefined();
    const refused = await client
      .registerPush({ ...subscription, endpoint: 'https://push.example.com/abc' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ParleyApiError);
    expect(refused).toMatchObject({ status: 400, code: 'push_endpoint_not_allowed' });
  });
});
