import { createECDH } from 'node:crypto';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import webPush from 'web-push';
import { createVapidKeyHandler, type VapidKeyProperties } from '../../infra/handlers/vapid-key';

const secrets = mockClient(SecretsManagerClient);
const handler = createVapidKeyHandler(new SecretsManagerClient({ region: 'us-east-1' }));
const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:VapidPrivateKey-AbCdEf';
const properties: VapidKeyProperties = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
  SecretArn: secretArn,
};
const common = {
  ServiceToken: properties.ServiceToken,
  ResponseURL: 'https://cloudformation-custom-resource-response.example/unused',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/ParleyStack/1',
  RequestId: 'request-1',
  LogicalResourceId: 'PushKeyPair',
  ResourceType: 'Custom::ParleyVapidKey',
  ResourceProperties: properties,
};

beforeEach(() => {
  secrets.reset();
  secrets.on(PutSecretValueCommand).resolves({});
});

describe('VAPID key custom resource', () => {
  it('on Create writes a P-256 private key to the secret and returns a public key web-push signs with', async () => {
    const response = await handler({ ...common, RequestType: 'Create' });

    const calls = secrets.commandCalls(PutSecretValueCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.SecretId).toBe(secretArn);
    const privateKey = String(calls[0]?.args[0].input.SecretString);
    const publicKey = String(response.Data?.PublicKey);
    expect(Buffer.from(privateKey, 'base64url')).toHaveLength(32);
    expect(Buffer.from(publicKey, 'base64url')).toHaveLength(65);
    // web-push validates both halves before it signs anything.
    expect(() => webPush.setVapidDetails('mailto:ops@example.com', publicKey, privateKey)).not.toThrow();
  });

  it('on Update keeps the pair: the public key comes again from the stored private key', async () => {
    const ecdh = createECDH('prime256v1');
    const publicKey = ecdh.generateKeys().toString('base64url');
    secrets.on(GetSecretValueCommand, { SecretId: secretArn }).resolves({
      SecretString: ecdh.getPrivateKey().toString('base64url'),
    });

    const response = await handler({
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: secretArn,
      OldResourceProperties: properties,
    });

    expect(secrets.commandCalls(PutSecretValueCommand)).toEqual([]);
    expect(response).toEqual({ PhysicalResourceId: secretArn, Data: { PublicKey: publicKey } });
  });
});
