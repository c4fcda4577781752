/**
 * Issue 20, local exposure: what `npm start` opens on a developer's machine. DynamoDB Local (the
 * run's, started by the same code as `npm start`) listens on 127.0.0.1 only and answers loopback
 * host names only; the S3 stand-in refuses x-amz-* headers a presigned URL did not sign, as S3
 * does, and its s3rver backend answers nothing to a request without the stand-ins' origin key.
 */
import { request as httpRequest } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '#shared/aws/s3';
import { media } from '#shared/config/media';
import { localCredentials, localRegion } from '../../local/aws-local';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;
let s3: S3Client;

beforeAll(async () => {
  stack = await startTestStack('exposure');
  s3 = createS3Client({
    endpoint: stack.s3Endpoint,
    region: localRegion,
    credentials: localCredentials,
    forcePathStyle: true,
  });
});

afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
});

/** Whether a TCP connection to host:port opens. */
function opens(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A ListTables with a Host header of our choosing (fetch will not send one). */
function listTables(endpoint: string, host: string): Promise<{ status: number; body: string }> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        headers: {
          host,
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          authorization:
            'AWS4-HMAC-SHA256 Credential=anyone/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end('{}');
  });
}

describe('DynamoDB Local', () => {
  it('listens on 127.0.0.1 only: another address of this machine, which a wildcard listener answers on, is refused', async () => {
    const port = Number(new URL(stack.dynamoEndpoint).port);
    // The control: a server on every interface, as the jar binds by itself, is reachable at 127.0.0.2.
    const everywhere: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => everywhere.listen(0, '0.0.0.0', resolve));
    const controlPort = (everywhere.address() as { port: number }).port;
    try {
      expect(await opens('127.0.0.2', controlPort)).toBe(true);
      expect(await opens('127.0.0.1', port)).toBe(true);
      expect(await opens('127.0.0.2', port)).toBe(false);
    } finally {
      everywhere.close();
    }
  });

  it('answers loopback host names, and refuses a request naming another host (a page rebinding its name to 127.0.0.1)', async () => {
    const local = await listTables(stack.dynamoEndpoint, new URL(stack.dynamoEndpoint).host);
    expect(local.status).toBe(200);
    expect(JSON.parse(local.body).TableNames.length).toBeGreaterThan(0);

    const rebound = await listTables(stack.dynamoEndpoint, `evil.example:${new URL(stack.dynamoEndpoint).port}`);
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain('TableNames');
  });
});

describe('the S3 stand-in', () => {
  const body = Buffer.from('not an image, just bytes');
  const keyFor = (label: string) => `${media.uploadPrefix}exposure/${label}-${Date.now()}/original`;

  function presignPut(key: string): Promise<string> {
    return getSignedUrl(
      s3,
      new PutObjectCommand({
        Bucket: stack.mediaBucket,
        Key: key,
        ContentType: 'image/png',
        ContentLength: body.length,
      }),
      { expiresIn: media.uploadUrlTtlSeconds, signableHeaders: new Set(['content-type', 'content-length']) },
    );
  }

  const exists = (key: string) =>
    s3.send(new HeadObjectCommand({ Bucket: stack.mediaBucket, Key: key })).then(
      () => true,
      () => false,
    );

  it.each([
    ['x-amz-meta-owner', 'mallory'],
    ['x-amz-tagging', `${media.retentionTag.key}=${media.retentionTag.kept}`],
    ['x-amz-website-redirect-location', 'https://evil.example/'],
    ['x-amz-acl', 'public-read'],
  ])(
    'refuses a presigned PUT carrying %s, which its signature does not cover, and stores nothing',
    async (name, value) => {
      const key = keyFor(name);
      const url = await presignPut(key);

      const answer = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png', [name]: value }, body });

      expect(answer.status).toBe(403);
      const xml = await answer.text();
      expect(xml).toContain('<Code>AccessDenied</Code>');
      expect(xml).toContain('There were headers present in the request which were not signed');
      expect(xml).toContain(name);
      expect(await exists(key)).toBe(false);
    },
  );

  it('takes the same PUT with only its signed headers', async () => {
    const key = keyFor('signed-only');
    const answer = await fetch(await presignPut(key), {
      method: 'PUT',
      headers: { 'content-type': 'image/png' },
      body,
    });

    expect(answer.status).toBe(200);
    expect(await exists(key)).toBe(true);
  });

  it('keeps s3rver unreachable without the origin key: unsigned GET, PUT and listing get 403, the object stays', async () => {
    const key = keyFor('backend');
    expect(
      (await fetch(await presignPut(key), { method: 'PUT', headers: { 'content-type': 'image/png' }, body })).status,
    ).toBe(200);
    const objectUrl = `${stack.s3BackendUrl}/${stack.mediaBucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

    const read = await fetch(objectUrl);
    const overwrite = await fetch(objectUrl, { method: 'PUT', body: Buffer.from('<html><script>') });
    const listing = await fetch(`${stack.s3BackendUrl}/${stack.mediaBucket}`);

    expect([read.status, overwrite.status, listing.status]).toEqual([403, 403, 403]);
    expect(await read.text()).not.toContain(body.toString());
    expect(await listing.text()).not.toContain(key);
    expect(await exists(key)).toBe(true);
  });
});
