/**
 * Composition root for Web Push: subscriptions, the VAPID key and the sender. Apart from wiring.ts so
 * that only pushSend bundles web-push, and only the routes that need them read the key's settings.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { systemClock } from '#shared/clock';
import { envVars, requireEnv, tableNameFromEnv } from '#shared/config/env';
import { PushSubscriptionRepository } from '#shared/repositories/push-subscription-repository';
import { UserRepository } from '#shared/repositories/user-repository';
import { fetchTransport, PushSender, type VapidKeys } from '#shared/services/push-sender';
import { PushSubscriptionService } from '#shared/services/push-subscription-service';
import { documentClient } from './dynamodb-client';
import { logger } from './observability';

/** The local stand-in's origin, set by the local stack only: on AWS only the known push services pass. */
const extraOrigins = () => {
  const origin = process.env[envVars.localPushOrigin];
  return origin ? [origin] : [];
};

const pushSubscriptionRepository = () => new PushSubscriptionRepository(documentClient, tableNameFromEnv('users'));

export const createPushSubscriptionService = () =>
  new PushSubscriptionService(pushSubscriptionRepository(), systemClock, extraOrigins());

/** The private key, fetched once per container and cached for its life (it changes only with a new key pair). */
function vapidKeys(): () => Promise<VapidKeys> {
  const publicKey = requireEnv(envVars.vapidPublicKey);
  const secretName = requireEnv(envVars.vapidPrivateKeySecret);
  return async () => {
    const privateKey = await getSecret(secretName, { maxAge: 24 * 60 * 60 });
    if (typeof privateKey !== 'string' || privateKey === '') throw new Error(`Secret ${secretName} holds no VAPID key`);
    return { publicKey, privateKey };
  };
}

export const createPushSender = () =>
  new PushSender(
    new UserRepository(documentClient, tableNameFromEnv('users')),
    pushSubscriptionRepository(),
    vapidKeys(),
    fetchTransport,
    logger,
    extraOrigins(),
  );
