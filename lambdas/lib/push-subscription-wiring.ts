/**
 * Composition root for Web Push subscriptions. Apart from push-wiring.ts, whose sender imports web-push:
 * the subscription routes register and remove endpoints and never encrypt or sign a push.
 */
import { systemClock } from '#shared/clock';
import { envVars, tableNameFromEnv } from '#shared/config/env';
import { PushSubscriptionRepository } from '#shared/repositories/push-subscription-repository';
import { PushSubscriptionService } from '#shared/services/push-subscription-service';
import { documentClient } from './dynamodb-client';

/** The local stand-in's origin, set by the local stack only: on AWS only the known push services pass. */
export const extraPushOrigins = () => {
  const origin = process.env[envVars.localPushOrigin];
  return origin ? [origin] : [];
};

export const pushSubscriptionRepository = () =>
  new PushSubscriptionRepository(documentClient, tableNameFromEnv('users'));

export const createPushSubscriptionService = () =>
  new PushSubscriptionService(pushSubscriptionRepository(), systemClock, extraPushOrigins());
