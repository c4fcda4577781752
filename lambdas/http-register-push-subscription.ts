import { devicePathSchema, pushSubscriptionBodySchema } from '#shared/protocol/push-http';
import { callerIdOf, httpRoute, parseBody, parsePath } from './lib/http-route';
import { createPushSubscriptionService } from './lib/push-subscription-wiring';

const subscriptions = createPushSubscriptionService();

/** `POST /devices/{deviceId}/push-subscription`: the browser's `PushSubscription.toJSON()` for one of the caller's devices. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { deviceId } = parsePath(devicePathSchema, event);
  const { endpoint, keys } = parseBody(pushSubscriptionBodySchema, event);
  await subscriptions.register(callerId, deviceId, { endpoint, p256dh: keys.p256dh, auth: keys.auth });
  return { statusCode: 204 };
});
