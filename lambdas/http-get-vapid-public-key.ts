import { envVars, requireEnv } from '#shared/config/env';
import { callerIdOf, httpRoute, json } from './lib/http-route';

const publicKey = requireEnv(envVars.vapidPublicKey);

/** `GET /push/vapid-public-key`: what browsers pass to `PushManager.subscribe` as `applicationServerKey`. */
export const handler = httpRoute(async (event) => {
  callerIdOf(event);
  return json(200, { publicKey });
});
