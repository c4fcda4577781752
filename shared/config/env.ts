import { type TableKey, tables } from './tables';

/** Reads a required environment variable once, failing fast at cold start when it is missing. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`Missing required environment variable ${name}`);
  }
  return value;
}

export function tableNameFromEnv(table: TableKey): string {
  return requireEnv(tables[table].envVar);
}

/** Names of the non-table settings handlers read from the environment. */
export const envVars = {
  /** https://{api}.execute-api.{region}.amazonaws.com/{stage}, or the local gateway's URL. */
  callbackUrl: 'WS_CALLBACK_URL',
  jwtIssuer: 'JWT_ISSUER',
  jwtAudience: 'JWT_AUDIENCE',
  jwksUri: 'JWKS_URI',
  /** The media bucket's name. */
  mediaBucket: 'MEDIA_BUCKET',
  /** Base URL downloads are signed for: `https://{distribution domain}`, or the local stand-in. */
  mediaCdnUrl: 'MEDIA_CDN_URL',
  /** Id of the CloudFront public key whose private half signs download URLs. */
  mediaKeyPairId: 'MEDIA_KEY_PAIR_ID',
  /** Secrets Manager secret holding that private key (PEM). */
  mediaSigningKeySecret: 'MEDIA_SIGNING_KEY_SECRET',
  /** Overrides `limits.directDelivery.maxMembers` (`0` turns the fast path off); unset on AWS. */
  directDeliveryMaxMembers: 'DIRECT_DELIVERY_MAX_MEMBERS',
  /** Overrides `limits.directDelivery.postTimeoutMs` (tests on loaded machines); unset on AWS. */
  directPostTimeoutMs: 'DIRECT_POST_TIMEOUT_MS',
  /** The VAPID public key (uncompressed P-256 point, base64url), served to clients and signed with. */
  vapidPublicKey: 'VAPID_PUBLIC_KEY',
  /** Secrets Manager secret holding the VAPID private key (base64url). */
  vapidPrivateKeySecret: 'VAPID_PRIVATE_KEY_SECRET',
  /** The function that sends Web Pushes, invoked asynchronously by fan-out. */
  pushSendFunction: 'PUSH_SEND_FUNCTION',
  /** Local stack only: the push-service stand-in's origin, accepted besides the known push services. */
  localPushOrigin: 'LOCAL_PUSH_ORIGIN',
} as const;
