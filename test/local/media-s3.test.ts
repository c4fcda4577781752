/**
 * The S3 stand-in in a whole local stack: presigned and header-signed requests are verified as S3
 * verifies them, tags, copies and ranges behave as on S3, and every upload created under a bucket
 * trigger's prefix invokes mediaProcess once (a recorder here) with an S3 event.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '#shared/aws/s3';
import { media } from '#shared/config/media';
import { localCredentials } from '../../local/aws-local';
import { s3EventKey } from '../../local/s3/notifications';
import { startTestStack, type TestStack } from '../support/local-stack';
import { withAlteredParam } from '../support/signed-url';

/** Every record mediaProcess was invoked with, one entry per invocation attempt. */
const invocations: S3EventRecord[] = [];
let stack: TestStack;
let s3: S3Client;

beforeAll(async () => {
  stack = await startTestStack('media-s3', {
    handlerOverrides: {
      mediaProcess: async (event) => {
        const records = (event as S3Event).Records;
        invocations.push(...records);
        // Keys naming "fail" make the function throw, to exercise Lambda's async retries.
        if (records.some((record) => record.s3.object.key.includes('fail'))) throw new Error('recorder told to fail');
      },
    },
  });
  s3 = createS3Client({ endpoint: stack.s3Endpoint, region: 'us-east-1', credentials: localCredentials });
});

afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
});

const uploadKey = (label: string): string => `${media.uploadPrefix}conv ${label}/${randomUUID()}/original`;
const invocationsFor = (key: string): S3EventRecord[] =>
  invocations.filter((record) => record.s3.object.key === s3EventKey(key));
const md5 = (body: Buffer): string => createHash('md5').update(body).digest('hex');
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PresignOptions {
  readonly signingDate?: Date;
  readonly expiresIn?: number;
}

/** A presigned PUT exactly as the upload handler makes it: content type and length are signed. */
function presignPut(key: string, contentType: string, length: number, options: PresignOptions = {}): Promise<string> {
  return getSignedUrl(
    s3,
    new PutObjectCommand({ Bucket: stack.mediaBucket, Key: key, ContentType: contentType, ContentLength: length }),
    {
      expiresIn: options.expiresIn ?? media.uploadUrlTtlSeconds,
      signableHeaders: new Set(['content-type', 'content-length']),
      ...(options.signingDate === undefined ? {} : { signingDate: options.signingDate }),
    },
  );
}

async function errorCode(response: Response): Promise<string | undefined> {
  return /<Code>([^<]+)<\/Code>/.exec(await response.text())?.[1];
}

async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: stack.mediaBucket, Key: key }));
    return true;
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return false;
    throw error;
  }
}

async function sdkError(work: Promise<unknown>): Promise<S3ServiceException> {
  const error: unknown = await work.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof S3ServiceException)) throw new Error(`expected an S3 error, got ${String(error)}`);
  return error;
}

describe('presigned uploads', () => {
  it('stores a correct PUT and invokes mediaProcess once with an S3 ObjectCreated event', async () => {
    const key = uploadKey('put');
    const body = Buffer.from('an image, as far as this test cares');
    const url = await presignPut(key, 'image/png', body.length);

    const response = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'image/png' } });

    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe(`"${md5(body)}"`);
    await expect.poll(() => invocationsFor(key).length).toBe(1);
    const [record] = invocationsFor(key);
    expect(record).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: expect.stringMatching(/^AWS:/) },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: {
        'x-amz-request-id': response.headers.get('x-amz-request-id'),
        'x-amz-id-2': response.headers.get('x-amz-id-2'),
      },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: expect.any(String),
        bucket: {
          name: stack.mediaBucket,
          ownerIdentity: { principalId: expect.any(String) },
          arn: `arn:aws:s3:::${stack.mediaBucket}`,
        },
        object: {
          key: s3EventKey(key),
          size: body.length,
          eTag: md5(body),
          sequencer: expect.stringMatching(/^[0-9A-F]{16}$/),
        },
      },
    });
    // S3 encodes notification keys as forms do: the space in the conversation id becomes '+'.
    expect(record?.s3.object.key).toContain('conv+put/');
    expect(Number.isNaN(Date.parse(record?.eventTime ?? ''))).toBe(false);

    const stored = await s3.send(new GetObjectCommand({ Bucket: stack.mediaBucket, Key: key }));
    expect(stored.ContentType).toBe('image/png');
    expect(Buffer.from((await stored.Body?.transformToByteArray()) ?? [])).toEqual(body);
    await pause(300);
    expect(invocationsFor(key)).toHaveLength(1);
  });

  it('refuses a content type other than the signed one', async () => {
    const key = uploadKey('type');
    const body = Buffer.from('pretending to be a png');
    const url = await presignPut(key, 'image/png', body.length);

    const response = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'text/html' } });

    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('SignatureDoesNotMatch');
    expect(await exists(key)).toBe(false);
  });

  it('refuses a body of another length than the signed one', async () => {
    const key = uploadKey('length');
    const url = await presignPut(key, 'image/png', 10);

    const response = await fetch(url, {
      method: 'PUT',
      body: Buffer.alloc(11),
      headers: { 'content-type': 'image/png' },
    });

    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('SignatureDoesNotMatch');
    expect(await exists(key)).toBe(false);
  });

  it('refuses an expired URL', async () => {
    const key = uploadKey('expired');
    const url = await presignPut(key, 'image/png', 4, {
      signingDate: new Date(Date.now() - 10 * 60_000),
      expiresIn: 60,
    });

    const response = await fetch(url, { method: 'PUT', body: 'abcd', headers: { 'content-type': 'image/png' } });

    expect(response.status).toBe(403);
    const text = await response.text();
    expect(text).toContain('<Code>AccessDenied</Code>');
    expect(text).toContain('Request has expired');
  });

  it('refuses a request with no signature at all', async () => {
    const key = uploadKey('anonymous');
    const response = await fetch(`${stack.s3Endpoint}/${stack.mediaBucket}/${encodeURI(key)}`, {
      method: 'PUT',
      body: 'abcd',
      headers: { 'content-type': 'image/png' },
    });

    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('AccessDenied');
    const read = await fetch(`${stack.s3Endpoint}/${stack.mediaBucket}/${encodeURI(key)}`);
    expect(read.status).toBe(403);
    expect(await exists(key)).toBe(false);
  });

  it('refuses a tampered signature, and a URL whose key was changed', async () => {
    const key = uploadKey('tampered');
    const url = new URL(await presignPut(key, 'image/png', 4));
    const tampered = new URL(withAlteredParam(url.href, 'X-Amz-Signature'));
    const otherKey = new URL(url);
    otherKey.pathname = otherKey.pathname.replace('/original', '/poster');

    for (const target of [tampered, otherKey]) {
      const response = await fetch(target, { method: 'PUT', body: 'abcd', headers: { 'content-type': 'image/png' } });
      expect(response.status).toBe(403);
      expect(await errorCode(response)).toBe('SignatureDoesNotMatch');
    }
    expect(await exists(key)).toBe(false);
  });

  it('notifies mediaProcess again (Lambda retries) and dead-letters the upload after three failures', async () => {
    const key = uploadKey('fail');
    const url = await presignPut(key, 'text/plain', 2);

    const response = await fetch(url, { method: 'PUT', body: 'hi', headers: { 'content-type': 'text/plain' } });

    expect(response.status).toBe(200);
    await expect
      .poll(() => stack.deadLetters.filter((letter) => letter.function === 'mediaProcess').length, { timeout: 10_000 })
      .toBe(1);
    expect(invocationsFor(key)).toHaveLength(3);
    const [letter] = stack.deadLetters;
    expect(letter).toMatchObject({
      source: 's3',
      condition: 'RetriesExhausted',
      attempts: 3,
      lastError: 'recorder told to fail',
      record: {
        eventSource: 'aws:s3',
        s3: { bucket: { arn: `arn:aws:s3:::${stack.mediaBucket}` }, object: { key: s3EventKey(key) } },
      },
    });
  });
});

describe('CORS for browser uploads', () => {
  it('answers a preflight for a PUT with a content type, and refuses other methods', async () => {
    const url = await presignPut(uploadKey('cors'), 'image/png', 4);
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('PUT');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(preflight.headers.get('access-control-max-age')).toBe(String(media.uploadCors.maxAgeSeconds));

    const refused = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'DELETE' },
    });
    expect(refused.status).toBe(403);
  });

  it('adds CORS headers to the upload itself', async () => {
    const url = await presignPut(uploadKey('cors-put'), 'image/png', 4);
    const response = await fetch(url, {
      method: 'PUT',
      body: 'abcd',
      headers: { 'content-type': 'image/png', origin: 'http://localhost:5173' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-expose-headers')).toBe('etag');
  });
});

describe("the handlers' own (header-signed) calls", () => {
  const mediaKey = (label: string) => `${media.mediaPrefix}conv/${randomUUID()}/${label}`;
  const tagsOf = async (key: string) =>
    (await s3.send(new GetObjectTaggingCommand({ Bucket: stack.mediaBucket, Key: key }))).TagSet ?? [];

  it('refuses a wrong secret key and an unknown access key', async () => {
    const key = mediaKey('bad-signer');
    const wrongSecret = createS3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: localCredentials.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    const unknownKey = createS3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIASOMEONEELSE', secretAccessKey: 'local' },
    });
    try {
      const put = { Bucket: stack.mediaBucket, Key: key, Body: 'x' };
      expect((await sdkError(wrongSecret.send(new PutObjectCommand(put)))).name).toBe('SignatureDoesNotMatch');
      expect((await sdkError(unknownKey.send(new PutObjectCommand(put)))).name).toBe('InvalidAccessKeyId');
      expect(await exists(key)).toBe(false);
    } finally {
      wrongSecret.destroy();
      unknownKey.destroy();
    }
  });

  it('applies Tagging on PutObject, and an overwrite without it leaves no tags (as on S3)', async () => {
    const key = mediaKey('thumbnail');
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.mediaBucket,
        Key: key,
        Body: 'thumb',
        Tagging: 'parley-retention=unsent&b=two%20words',
      }),
    );
    expect(await tagsOf(key)).toEqual([
      { Key: 'parley-retention', Value: 'unsent' },
      { Key: 'b', Value: 'two words' },
    ]);

    await s3.send(new PutObjectCommand({ Bucket: stack.mediaBucket, Key: key, Body: 'thumb again' }));
    expect(await tagsOf(key)).toEqual([]);
  });

  it('copies with REPLACE: new type, disposition, cache control, metadata and tags', async () => {
    const source = `${media.uploadPrefix}conv/${randomUUID()}/a+b original`;
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.mediaBucket,
        Key: source,
        Body: 'video bytes',
        ContentType: 'application/octet-stream',
        Metadata: { old: 'yes' },
      }),
    );
    const key = mediaKey('original');

    await s3.send(
      new CopyObjectCommand({
        Bucket: stack.mediaBucket,
        Key: key,
        CopySource: `${stack.mediaBucket}/${source.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        TaggingDirective: 'REPLACE',
        ContentType: 'video/mp4',
        ContentDisposition: 'inline; filename="clip.mp4"',
        CacheControl: 'private, max-age=31536000, immutable',
        Metadata: { 'file-name': 'clip.mp4' },
        Tagging: 'parley-retention=unsent',
      }),
    );

    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.mediaBucket, Key: key }));
    expect(head).toMatchObject({
      ContentType: 'video/mp4',
      ContentDisposition: 'inline; filename="clip.mp4"',
      CacheControl: 'private, max-age=31536000, immutable',
      Metadata: { 'file-name': 'clip.mp4' },
      ContentLength: 'video bytes'.length,
    });
    expect(await tagsOf(key)).toEqual([{ Key: 'parley-retention', Value: 'unsent' }]);

    // Without a tagging directive a copy takes the source's tags, as on S3.
    const second = mediaKey('copy-of-copy');
    await s3.send(
      new CopyObjectCommand({ Bucket: stack.mediaBucket, Key: second, CopySource: `${stack.mediaBucket}/${key}` }),
    );
    expect(await tagsOf(second)).toEqual([{ Key: 'parley-retention', Value: 'unsent' }]);
    expect((await s3.send(new HeadObjectCommand({ Bucket: stack.mediaBucket, Key: second }))).ContentType).toBe(
      'video/mp4',
    );
  });

  it('notifies once, as ObjectCreated:Copy, for a copy into the upload prefix', async () => {
    const source = mediaKey('source');
    await s3.send(new PutObjectCommand({ Bucket: stack.mediaBucket, Key: source, Body: 'copied' }));
    expect(invocations.filter((record) => record.s3.object.key === s3EventKey(source))).toHaveLength(0);
    const key = uploadKey('copy');

    await s3.send(
      new CopyObjectCommand({ Bucket: stack.mediaBucket, Key: key, CopySource: `${stack.mediaBucket}/${source}` }),
    );

    await expect.poll(() => invocationsFor(key).length).toBe(1);
    expect(invocationsFor(key)[0]).toMatchObject({
      eventName: 'ObjectCreated:Copy',
      s3: { object: { size: 'copied'.length, eTag: md5(Buffer.from('copied')) } },
    });
    await pause(300);
    expect(invocationsFor(key)).toHaveLength(1);
  });

  it('notifies once, as ObjectCreated:CompleteMultipartUpload, for a multipart upload', async () => {
    const key = uploadKey('multipart');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: stack.mediaBucket, Key: key }));
    const parts = [];
    for (const [index, text] of ['first part, ', 'second part'].entries()) {
      const part = await s3.send(
        new UploadPartCommand({ Bucket: stack.mediaBucket, Key: key, UploadId, PartNumber: index + 1, Body: text }),
      );
      parts.push({ ETag: part.ETag, PartNumber: index + 1 });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: stack.mediaBucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );

    await expect.poll(() => invocationsFor(key).length).toBe(1);
    expect(invocationsFor(key)[0]).toMatchObject({
      eventName: 'ObjectCreated:CompleteMultipartUpload',
      s3: { object: { size: 'first part, second part'.length } },
    });
    const stored = await s3.send(new GetObjectCommand({ Bucket: stack.mediaBucket, Key: key }));
    expect(await stored.Body?.transformToString()).toBe('first part, second part');
  });

  it('serves byte ranges as S3 does (where s3rver alone would not)', async () => {
    const key = mediaKey('ranges');
    await s3.send(new PutObjectCommand({ Bucket: stack.mediaBucket, Key: key, Body: '0123456789' }));
    const read = async (range: string) => {
      const result = await s3.send(new GetObjectCommand({ Bucket: stack.mediaBucket, Key: key, Range: range }));
      return { text: await result.Body?.transformToString(), contentRange: result.ContentRange };
    };

    expect(await read('bytes=0-0')).toEqual({ text: '0', contentRange: 'bytes 0-0/10' });
    expect(await read('bytes=-3')).toEqual({ text: '789', contentRange: 'bytes 7-9/10' });
    expect(await read('bytes=4-')).toEqual({ text: '456789', contentRange: 'bytes 4-9/10' });
    expect(await read('bytes=8-100')).toEqual({ text: '89', contentRange: 'bytes 8-9/10' });
    expect((await sdkError(read('bytes=10-12'))).name).toBe('InvalidRange');

    const empty = mediaKey('empty');
    await s3.send(new PutObjectCommand({ Bucket: stack.mediaBucket, Key: empty, Body: '', ContentLength: 0 }));
    const emptyRead = s3.send(new GetObjectCommand({ Bucket: stack.mediaBucket, Key: empty, Range: 'bytes=0-99' }));
    expect((await sdkError(emptyRead)).name).toBe('InvalidRange');
  });
});

describe('notification keys', () => {
  it("are form-encoded like S3's, slashes kept", () => {
    expect(s3EventKey("uploads/a b/c+d(1)!~'*.png")).toBe('uploads/a+b/c%2Bd%281%29%21%7E%27*.png');
    expect(decodeURIComponent(s3EventKey('uploads/é ü/x').replace(/\+/g, ' '))).toBe('uploads/é ü/x');
  });
});
