/**
 * The CloudFront stand-in in a whole local stack: URLs signed with the stack's key (read from the
 * Secrets Manager stand-in through Powertools, as the handlers read it) download processed media with
 * its headers and byte ranges; anything CloudFront would refuse gets 403.
 */
import { randomUUID } from 'node:crypto';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '#shared/aws/s3';
import { envVars } from '#shared/config/env';
import { media } from '#shared/config/media';
import { localCredentials } from '../../local/aws-local';
import { generateMediaSigningKeyPair } from '../../local/media-cdn';
import { mediaSigningKeySecretName } from '../../local/stack';
import { startTestStack, type TestStack } from '../support/local-stack';
import { withAlteredParam } from '../support/signed-url';

let stack: TestStack;
let s3: S3Client;
let privateKey: string;
let keyPairId: string;
const key = `${media.mediaPrefix}conv/${randomUUID()}/original`;
const body = Buffer.from('0123456789abcdefghij');

beforeAll(async () => {
  // mediaProcess is another team's handler in progress: nothing here uploads, but never import it.
  stack = await startTestStack('media-cdn', { handlerOverrides: { mediaProcess: async () => undefined } });
  s3 = createS3Client({ endpoint: stack.s3Endpoint, region: 'us-east-1', credentials: localCredentials });
  // The stack set the handlers' environment on this process, so Powertools finds the local Secrets Manager.
  const secret = await getSecret(process.env[envVars.mediaSigningKeySecret] ?? '');
  if (typeof secret !== 'string') throw new Error('the signing key secret holds no string');
  privateKey = secret;
  keyPairId = process.env[envVars.mediaKeyPairId] ?? '';
  await s3.send(
    new PutObjectCommand({
      Bucket: stack.mediaBucket,
      Key: key,
      Body: body,
      ContentType: 'video/mp4',
      ContentDisposition: 'inline; filename="clip.mp4"',
      CacheControl: 'private, max-age=31536000, immutable',
      Metadata: { 'file-name': 'clip.mp4' },
    }),
  );
});

afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
});

const inAMinute = () => new Date(Date.now() + 60_000);

function sign(url: string, options: { keyPairId?: string; privateKey?: string; dateLessThan?: Date } = {}): string {
  return getSignedUrl({
    url,
    keyPairId: options.keyPairId ?? keyPairId,
    privateKey: options.privateKey ?? privateKey,
    dateLessThan: options.dateLessThan ?? inAMinute(),
  });
}

const objectUrl = (objectKey: string = key) => `${stack.mediaCdnUrl}/${objectKey}`;

describe('the local environment', () => {
  it('points the media handlers at the stand-ins', () => {
    expect(process.env).toMatchObject({
      AWS_ENDPOINT_URL_S3: stack.s3Endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: stack.s3Endpoint,
      [envVars.mediaBucket]: stack.mediaBucket,
      [envVars.mediaCdnUrl]: stack.mediaCdnUrl,
      [envVars.mediaKeyPairId]: 'K0LOCALPARLEY',
      [envVars.mediaSigningKeySecret]: mediaSigningKeySecretName,
    });
    expect(stack.mediaCdnUrl).not.toMatch(/\/$/);
    expect(privateKey).toContain('PRIVATE KEY');
  });
});

describe('signed downloads', () => {
  it('serves the object to a valid signed URL with its headers', async () => {
    const response = await fetch(sign(objectUrl()));

    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(body);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'content-type': 'video/mp4',
      'content-length': String(body.length),
      'content-disposition': 'inline; filename="clip.mp4"',
      'cache-control': 'private, max-age=31536000, immutable',
      etag: expect.stringMatching(/^"[0-9a-f]{32}"$/),
      'accept-ranges': 'bytes',
      'access-control-allow-origin': '*',
      'x-amz-meta-file-name': 'clip.mp4',
    });
  });

  it('answers Range requests with 206, as video players need', async () => {
    const url = sign(objectUrl());
    const ranged = async (range: string) => {
      const response = await fetch(url, { headers: { range } });
      return {
        status: response.status,
        contentRange: response.headers.get('content-range'),
        length: response.headers.get('content-length'),
        text: await response.text(),
      };
    };

    expect(await ranged('bytes=0-1')).toEqual({ status: 206, contentRange: 'bytes 0-1/20', length: '2', text: '01' });
    expect(await ranged('bytes=0-0')).toEqual({ status: 206, contentRange: 'bytes 0-0/20', length: '1', text: '0' });
    expect(await ranged('bytes=-4')).toEqual({
      status: 206,
      contentRange: 'bytes 16-19/20',
      length: '4',
      text: 'ghij',
    });
    expect(await ranged('bytes=10-')).toEqual({
      status: 206,
      contentRange: 'bytes 10-19/20',
      length: '10',
      text: 'abcdefghij',
    });
    expect((await ranged('bytes=20-30')).status).toBe(416);
  });

  it('answers HEAD with the headers only', async () => {
    const response = await fetch(sign(objectUrl()), { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(body.length));
    expect(await response.text()).toBe('');
  });

  it('accepts a custom policy, wildcards included', async () => {
    const policy = JSON.stringify({
      Statement: [
        {
          Resource: `${stack.mediaCdnUrl}/${media.mediaPrefix}*`,
          Condition: { DateLessThan: { 'AWS:EpochTime': Math.floor(inAMinute().getTime() / 1000) } },
        },
      ],
    });
    const url = getSignedUrl({ url: objectUrl(), keyPairId, privateKey, policy });

    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(body.toString());
  });
});

describe('refusals', () => {
  const expectDenied = async (url: string) => {
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('<Code>AccessDenied</Code>');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  };

  it('refuses an expired URL', async () => {
    await expectDenied(sign(objectUrl(), { dateLessThan: new Date(Date.now() - 1000) }));
  });

  it('refuses a tampered signature or a changed Expires', async () => {
    const url = new URL(sign(objectUrl()));
    await expectDenied(withAlteredParam(url.href, 'Signature', 10));

    const extended = new URL(url);
    extended.searchParams.set('Expires', String(Number(url.searchParams.get('Expires')) + 3600));
    await expectDenied(extended.href);
  });

  it('refuses a wrong Key-Pair-Id, and a URL signed with another key', async () => {
    await expectDenied(sign(objectUrl(), { keyPairId: 'K0SOMEONEELSE' }));
    await expectDenied(sign(objectUrl(), { privateKey: generateMediaSigningKeyPair().privateKeyPem }));
  });

  it('refuses a URL used for another object, and unsigned requests', async () => {
    const other = `${media.mediaPrefix}conv/${randomUUID()}/original`;
    await expectDenied(sign(objectUrl()).replace(key, other));
    await expectDenied(objectUrl());
  });

  it('refuses keys outside the media prefix, even validly signed', async () => {
    const upload = `${media.uploadPrefix}conv/${randomUUID()}/original`;
    await s3.send(new PutObjectCommand({ Bucket: stack.mediaBucket, Key: upload, Body: 'raw upload' }));
    await expectDenied(sign(objectUrl(upload)));
  });

  it('answers a missing object with 403, as CloudFront in front of a private bucket does', async () => {
    await expectDenied(sign(objectUrl(`${media.mediaPrefix}conv/${randomUUID()}/thumbnail`)));
  });
});

describe('the Secrets Manager stand-in', () => {
  it('answers GetSecretValue like the service, and refuses an unknown secret', async () => {
    const client = new SecretsManagerClient({});
    try {
      const result = await client.send(new GetSecretValueCommand({ SecretId: mediaSigningKeySecretName }));
      expect(result).toMatchObject({
        ARN: expect.stringMatching(
          /^arn:aws:secretsmanager:us-east-1:000000000000:secret:parley-local\/media-signing-key-\w{6}$/,
        ),
        Name: mediaSigningKeySecretName,
        SecretString: privateKey,
        VersionId: expect.any(String),
        VersionStages: ['AWSCURRENT'],
      });
      expect(result.CreatedDate).toBeInstanceOf(Date);
      const byArn = await client.send(new GetSecretValueCommand({ SecretId: result.ARN }));
      expect(byArn.SecretString).toBe(privateKey);

      await expect(client.send(new GetSecretValueCommand({ SecretId: 'parley-local/nothing' }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
      await expect(getSecret('parley-local/nothing-either')).rejects.toThrow();
    } finally {
      client.destroy();
    }
  });

  it('refuses callers without the local credentials', async () => {
    const stranger = new SecretsManagerClient({ credentials: { accessKeyId: 'local', secretAccessKey: 'wrong' } });
    try {
      await expect(
        stranger.send(new GetSecretValueCommand({ SecretId: mediaSigningKeySecretName })),
      ).rejects.toMatchObject({
        name: 'InvalidSignatureException',
      });
    } finally {
      stranger.destroy();
    }
  });
});
