/**
 * A browser's side of Web Push, for tests: a P-256 key pair and auth secret (what `PushManager.subscribe`
 * makes), the subscription JSON to register, and RFC 8291 decryption (aes128gcm, RFC 8188) of what the
 * push-service stand-in received, with Node's crypto only.
 */
import { createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';

export interface WebPushSubscriber {
  /** What `PushSubscription.toJSON()` gives, to POST to `/devices/{id}/push-subscription`. */
  readonly subscription: {
    readonly endpoint: string;
    readonly expirationTime: null;
    readonly keys: { readonly p256dh: string; readonly auth: string };
  };
  /** The plaintext of one aes128gcm body sent to this subscriber; throws when it is not for it. */
  decrypt(body: Buffer): string;
}

export function createWebPushSubscriber(endpoint: string): WebPushSubscriber {
  const ecdh = createECDH('prime256v1');
  const userAgentPublicKey = ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return {
    subscription: {
      endpoint,
      expirationTime: null,
      keys: { p256dh: userAgentPublicKey.toString('base64url'), auth: authSecret.toString('base64url') },
    },
    decrypt(body) {
      // RFC 8188 header: salt (16) | record size (4) | key id length (1) | key id (the sender's public key, 65).
      const salt = body.subarray(0, 16);
      const idLength = body.readUInt8(20);
      const senderPublicKey = body.subarray(21, 21 + idLength);
      const record = body.subarray(21 + idLength);
      const sharedSecret = ecdh.computeSecret(senderPublicKey);
      // RFC 8291 section 3.4: the auth secret and both public keys go into the input keying material.
      const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), userAgentPublicKey, senderPublicKey]);
      const inputKey = Buffer.from(hkdfSync('sha256', sharedSecret, authSecret, keyInfo, 32));
      const contentKey = Buffer.from(
        hkdfSync('sha256', inputKey, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16),
      );
      const nonce = Buffer.from(hkdfSync('sha256', inputKey, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
      const decipher = createDecipheriv('aes-128-gcm', contentKey, nonce);
      decipher.setAuthTag(record.subarray(record.length - 16));
      const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
      // The last record ends in the delimiter 0x02, then zero padding.
      const delimiter = padded.lastIndexOf(0x02);
      if (delimiter < 0 || padded.subarray(delimiter + 1).some((byte) => byte !== 0)) {
        throw new Error('not a final aes128gcm record');
      }
      return padded.subarray(0, delimiter).toString('utf8');
    },
  };
}
