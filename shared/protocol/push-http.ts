/** Web Push routes: a device's subscription (the browser's `PushSubscription.toJSON()`) and the VAPID key. */
import * as z from 'zod';
import { limits } from '../config/limits';
import { push } from '../config/push';

const base64url = /^[A-Za-z0-9_-]+$/;

export const devicePathSchema = z.object({
  deviceId: z
    .string()
    .regex(limits.deviceIdPattern, 'must be a device id (1-64 letters, digits, "_" or "-")')
    .describe('The id the device connects with (`$connect?deviceId=…`)'),
});

/**
 * What `PushSubscription.toJSON()` gives: the push service's endpoint and the keys payloads are
 * encrypted to (RFC 8291): `p256dh`, the browser's P-256 public key (65 bytes, uncompressed), and
 * `auth`, its 16-byte secret. Whether the endpoint is a known push service is the service's check.
 */
export const pushSubscriptionBodySchema = z.object({
  endpoint: z.url({ protocol: /^https?$/ }).max(push.maxEndpointLength),
  expirationTime: z.number().int().nonnegative().nullable().optional(),
  keys: z.object({
    p256dh: z
      .string()
      .regex(base64url, 'must be unpadded base64url')
      // 65 bytes are 87 characters; a leading 0x04 byte (uncompressed point) is a leading "B".
      .refine((key) => key.length === 87 && key.startsWith('B'), {
        message: 'must be an uncompressed P-256 public key (65 bytes)',
      }),
    auth: z
      .string()
      .regex(base64url, 'must be unpadded base64url')
      // 16 bytes are 22 characters.
      .refine((secret) => secret.length === 22, { message: 'must be 16 bytes' }),
  }),
});

export type PushSubscriptionBody = z.infer<typeof pushSubscriptionBodySchema>;
