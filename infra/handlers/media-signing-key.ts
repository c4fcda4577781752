/**
 * Custom resource onEvent handler for the media signing key pair, with the lifecycle of every
 * deploy-time pair (key-pair-resource.ts): RSA 2048, the private key as PEM in the secret, the public
 * key as SPKI PEM, the form CloudFront public keys take.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createKeyPairHandler, type KeyPairProperties } from './key-pair-resource';

export type SigningKeyProperties = KeyPairProperties;

/** The handler with its client given: tests pass a mocked one. */
export const createSigningKeyHandler = (secrets: SecretsManagerClient) =>
  createKeyPairHandler(secrets, {
    label: 'media signing',
    generate: () =>
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        // PKCS#1, as the CloudFront guide's openssl commands produce; every signer reads it.
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      }),
    publicKeyOf: (privateKey) => createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
  });

export const handler = createSigningKeyHandler(new SecretsManagerClient({}));
