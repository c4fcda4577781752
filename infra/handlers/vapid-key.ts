/**
 * Custom resource onEvent handler (CDK provider framework) for the VAPID key pair (RFC 8292).
 *
 * Create: generates a P-256 pair, writes the private key (the 32-byte scalar, base64url, the form
 * web-push signs with) into the secret and returns the public key (uncompressed point, base64url, what
 * browsers take as `applicationServerKey`) as the `PublicKey` attribute. Update: keeps the pair (every
 * browser subscription is bound to it), deriving the public key again from the stored private key,
 * unless the secret itself changed. Delete: nothing; the secret leaves with the stack.
 */
import { createECDH } from 'node:crypto';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';

export interface VapidKeyProperties {
  readonly ServiceToken: string;
  /** The secret the private key is kept in. */
  readonly SecretArn: string;
}

export interface VapidKeyData {
  /** Uncompressed P-256 point, base64url. */
  readonly PublicKey: string;
}

export type VapidKeyEvent = CdkCustomResourceEvent<VapidKeyProperties>;
export type VapidKeyResponse = CdkCustomResourceResponse<VapidKeyData>;

/** The handler with its client given: tests pass a mocked one. */
export function createVapidKeyHandler(
  secrets: SecretsManagerClient,
): (event: VapidKeyEvent) => Promise<VapidKeyResponse> {
  async function createPair(secretArn: string): Promise<VapidKeyResponse> {
    const ecdh = createECDH('prime256v1');
    const publicKey = ecdh.generateKeys().toString('base64url');
    // Node drops leading zero bytes; web-push wants the scalar as exactly 32 (as its own generator pads it).
    const scalar = ecdh.getPrivateKey();
    const privateKey = Buffer.concat([Buffer.alloc(32 - scalar.length), scalar]).toString('base64url');
    await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: privateKey }));
    return { PhysicalResourceId: secretArn, Data: { PublicKey: publicKey } };
  }

  async function keepPair(secretArn: string, physicalResourceId: string): Promise<VapidKeyResponse> {
    const { SecretString: privateKey } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (!privateKey) throw new Error(`Secret ${secretArn} holds no VAPID private key`);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'));
    return { PhysicalResourceId: physicalResourceId, Data: { PublicKey: ecdh.getPublicKey().toString('base64url') } };
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

export const handler = createVapidKeyHandler(new SecretsManagerClient({}));
