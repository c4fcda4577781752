import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSigningKeyHandler, type SigningKeyProperties } from '../../infra/handlers/media-signing-key';

const secrets = mockClient(SecretsManagerClient);
const handler = createSigningKeyHandler(new SecretsManagerClient({ region: 'us-east-1' }));
const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:MediaSigningKey-AbCdEf';
const properties: SigningKeyProperties = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
  SecretArn: secretArn,
};
const common = {
  ServiceToken: properties.ServiceToken,
  ResponseURL: 'https://cloudformation-custom-resource-response.example/unused',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/ParleyStack/1',
  RequestId: 'request-1',
  LogicalResourceId: 'MediaSigningKeyKeyPair',
  ResourceType: 'Custom::ParleyMediaSigningKey',
  ResourceProperties: properties,
};

/** The same signature check CloudFront does: the public key verifies what the private key signed. */
function pairMatches(privateKeyPem: string, publicKeyPem: string): boolean {
  const data = Buffer.from('https://cdn.example/media/c/a/original?Expires=1');
  return verify('sha1', data, publicKeyPem, sign('sha1', data, privateKeyPem));
}

function storedPrivateKey(): string {
  const calls = secrets.commandCalls(PutSecretValueCommand);
  expect(calls).toHaveLength(1);
  const input = calls[0]?.args[0].input;
  expect(input?.SecretId).toBe(secretArn);
  return String(input?.SecretString);
}

beforeEach(() => {
  secrets.reset();
  secrets.on(PutSecretValueCommand).resolves({});
});

describe('media signing key custom resource', () => {
  it('on Create writes a new RSA 2048 private key to the secret and returns its public key', async () => {
    const response = await handler({ ...common, RequestType: 'Create' });

    const privateKeyPem = storedPrivateKey();
    expect(privateKeyPem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(createPrivateKey(privateKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(response.PhysicalResourceId).toBe(secretArn);
    const publicKeyPem = String(response.Data?.PublicKey);
    expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    expect(pairMatches(privateKeyPem, publicKeyPem)).toBe(true);
  });

  it('makes a different pair for each stack', async () => {
    const first = await handler({ ...common, RequestType: 'Create' });
    const second = await handler({ ...common, RequestType: 'Create' });

    expect(first.Data?.PublicKey).not.toBe(second.Data?.PublicKey);
  });

  it('on Update keeps the id and the pair: the public key comes again from the stored private key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    secrets.on(GetSecretValueCommand, { SecretId: secretArn }).resolves({ SecretString: privateKey });

    const response = await handler({
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: secretArn,
      OldResourceProperties: properties,
    });

    expect(secrets.commandCalls(PutSecretValueCommand)).toEqual([]);
    expect(response.PhysicalResourceId).toBe(secretArn);
    expect(response.Data?.PublicKey).toBe(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
  });

  it('on Update to another secret makes a new pair there, under a new id', async () => {
    const oldArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:OldSigningKey-XyZ123';
    const response = await handler({
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: oldArn,
      OldResourceProperties: { ...properties, SecretArn: oldArn },
    });

    expect(secrets.commandCalls(GetSecretValueCommand)).toEqual([]);
    expect(pairMatches(storedPrivateKey(), String(response.Data?.PublicKey))).toBe(true);
    expect(response.PhysicalResourceId).toBe(secretArn);
  });

  it('fails an Update whose secret lost its key rather than return a public key nobody signs with', async () => {
    secrets.on(GetSecretValueCommand).resolves({});

    await expect(
      handler({
        ...common,
        RequestType: 'Update',
        PhysicalResourceId: secretArn,
        OldResourceProperties: properties,
      }),
    ).rejects.toThrow(/holds no private key/);
  });

  it('on Delete touches nothing: the secret leaves with the stack', async () => {
    const response = await handler({ ...common, RequestType: 'Delete', PhysicalResourceId: secretArn });

    expect(secrets.calls()).toEqual([]);
    expect(response).toEqual({ PhysicalResourceId: secretArn });
  });
});
