/**
 * The lifecycle every deploy-time key pair shares, as a custom resource onEvent handler (CDK
 * provider framework). Create: generates a pair, writes the private key into the secret and returns
 * the public key as the `PublicKey` attribute. Update: keeps the pair, deriving the public key again
 * from the stored private key, unless the secret itself changed (a new pair goes into the new
 * secret). Delete: nothing; the secret leaves with the stack.
 */
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';

export interface KeyPairProperties {
  readonly ServiceToken: string;
  /** The secret the private key is kept in. */
  readonly SecretArn: string;
}

export interface KeyPairData {
  /** The public key, in the form its user takes it. */
  readonly PublicKey: string;
}

export type KeyPairEvent = CdkCustomResourceEvent<KeyPairProperties>;
export type KeyPairResponse = CdkCustomResourceResponse<KeyPairData>;

/** What differs between pairs: how one is made, and how the public key follows from the stored private one. */
export interface KeyPairAlgorithm {
  /** Names the pair in errors, e.g. "VAPID". */
  readonly label: string;
  generate(): { readonly privateKey: string; readonly publicKey: string };
  publicKeyOf(privateKey: string): string;
}

export function createKeyPairHandler(
  secrets: SecretsManagerClient,
  algorithm: KeyPairAlgorithm,
): (event: KeyPairEvent) => Promise<KeyPairResponse> {
  async function createPair(secretArn: string): Promise<KeyPairResponse> {
    const { privateKey, publicKey } = algorithm.generate();
    await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: privateKey }));
    // The secret names the pair: a new secret is a new pair, and CloudFormation then deletes the old id.
    return { PhysicalResourceId: secretArn, Data: { PublicKey: publicKey } };
  }

  async function keepPair(secretArn: string, physicalResourceId: string): Promise<KeyPairResponse> {
    const { SecretString: privateKey } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (!privateKey) throw new Error(`Secret ${secretArn} holds no private key (${algorithm.label} pair)`);
    return { PhysicalResourceId: physicalResourceId, Data: { PublicKey: algorithm.publicKeyOf(privateKey) } };
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
