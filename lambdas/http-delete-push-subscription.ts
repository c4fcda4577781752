import { devicePathSchema } from '#shared/protocol/push-http';
import { callerIdOf, httpRoute, parsePath } from './lib/http-route';
import { createPushSubscriptionService } from './lib/push-subscription-wiring';

const subscriptions = createPushSubscriptionService();

/** `DELETE /devices/{deviceId}/push-subscription`: no more pushes to this device of the caller's. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { deviceId } = parsePath(devicePathSchema, event);
  await subscriptions.remove(callerId, deviceId);
  return { statusCode: 204 };
});
