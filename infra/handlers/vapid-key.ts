/**
 * Custom resource onEvent handler for the VAPID key pair (RFC 8292), with the lifecycle of every
 * deploy-time pair (key-pair-resource.ts): the private key is the 32-byte P-256 scalar, base64url (the
 * form web-push signs with); the public key the uncompressed point, base64url (what browsers take as
 * `applicationServerKey`). Every browser subscription is bound to the pair, so an update keeps it.
 */
import { createECDH } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createKeyPairHandler, type KeyPairProperties } from './key-pair-resource';

export type VapidKeyProperties = KeyPairProperties;

/** The handler with its client given: tests pass a mocked one. */
export const createVapidKeyHandler = (secrets: SecretsManagerClient) =>
  createKeyPairHandler(secrets, {
    label: 'VAPID',
    generate() {
      const ecdh = createECDH('prime256v1');
      const publicKey = ecdh.generateKeys().toString('base64url');
      // Node drops leading zero bytes; web-push wants the scalar as exactly 32 (as its own generator pads it).
      const scalar = ecdh.getPrivateKey();
      const privateKey = Buffer.concat([Buffer.alloc(32 - scalar.length), scalar]).toString('base64url');
      return { privateKey, publicKey };
    },
    publicKeyOf(privateKey) {
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'));
      return ecdh.getPublicKey().toString('base64url');
    },
  });

export const handler = createVapidKeyHandler(new SecretsManagerClient({}));
