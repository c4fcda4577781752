/**
 * Composition root for the Web Push sender and its VAPID key. Apart from wiring.ts and the
 * subscription routes' wiring, so that only pushSend bundles web-push and reads the key's settings.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { envVars, requireEnv, tableNameFromEnv } from '#shared/config/env';
import { UserRepository } from '#shared/repositories/user-repository';
import { fetchTransport, PushSender, type VapidKeys } from '#shared/services/push-sender';
import { documentClient } from './dynamodb-client';
import { logger } from './observability';
import { extraPushOrigins, pushSubscriptionRepository } from './push-subscription-wiring';

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
    extraPushOrigins(),
  );
