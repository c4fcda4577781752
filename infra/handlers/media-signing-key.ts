/**
 * Custom resource onEvent handler (CDK provider framework) for the media signing key pair.
 *
 * Create: generates an RSA 2048 pair, writes the private key (PEM) into the secret and returns
 * the public key (PEM) as the `PublicKey` attribute. Update: keeps the pair, returning the public
 * key derived again from the stored private key, unless the secret itself changed (a new pair
 * goes into the new secret). Delete: nothing; the secret leaves with the stack.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';

export interface SigningKeyProperties {
  readonly ServiceToken: string;
  /** The secret the private key is kept in. */
  readonly SecretArn: string;
}

export interface SigningKeyData {
  /** SPKI PEM, the form CloudFront public keys take. */
  readonly PublicKey: string;
}

export type SigningKeyEvent = CdkCustomResourceEvent<SigningKeyProperties>;
export type SigningKeyResponse = CdkCustomResourceResponse<SigningKeyData>;

/** The handler with its client given: tests pass a mocked one. */
export function createSigningKeyHandler(
  secrets: SecretsManagerClient,
): (event: SigningKeyEvent) => Promise<SigningKeyResponse> {
  async function createPair(secretArn: string): Promise<SigningKeyResponse> {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      // PKCS#1, as the CloudFront guide's openssl commands produce; every signer reads it.
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: privateKey }));
    // The secret names the pair: a new secret is a new pair, and CloudFormation then deletes the old id.
    return { PhysicalResourceId: secretArn, Data: { PublicKey: publicKey } };
  }

  async function keepPair(secretArn: string, physicalResourceId: string): Promise<SigningKeyResponse> {
    const { SecretString: privateKey } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (!privateKey) throw new Error(`Secret ${secretArn} holds no private key`);
    const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return { PhysicalResourceId: physicalResourceId, Data: { PublicKey: publicKey } };
  }

  return async (event) => {
    const secretArn = event.ResourceProperties.SecretArn;
    switch (event.RequestType) {
      case 'Create':
        return createPair(secretArn);
      case 'Update':
        return event.OldResourceProperties.SecretArn === secretArn
          ? keepPair(secretArn, event.PhysicalResourceId)
          : createPair(secretArn);
      case 'Delete':
        return { PhysicalResourceId: event.PhysicalResourceId };
    }
  };
}

export const handler = createSigningKeyHandler(new SecretsManagerClient({}));
