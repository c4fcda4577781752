import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { setAwsCallGate } from '#shared/aws/call-gate';
import { createConnectionPoster, PostToConnectionError } from '#shared/aws/connection-poster';

/** What the stand-in for API Gateway's `@connections` endpoint received. */
interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG',
  sessionToken: 'session-token',
};
const region = 'eu-west-1';

let server: Server;
let received: Received[] = [];
/** The statuses the endpoint answers with, in turn; 200 once they run out. `hold` never answers. */
let answers: (number | 'hold')[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks),
      });
      const status = answers.shift() ?? 200;
      if (status === 'hold') return;
      const errorType = { 410: 'GoneException', 429: 'LimitExceededException', 403: 'ForbiddenException' }[status];
      response.writeHead(status, errorType ? { 'x-amzn-errortype': errorType } : {});
      response.end(status === 200 ? '' : JSON.stringify({ message: errorType ?? 'Internal server error' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
  answers = [];
  vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', credentials.sessionToken);
  vi.stubEnv('AWS_REGION', region);
});
afterEach(() => {
  vi.unstubAllEnvs();
  setAwsCallGate(undefined);
});

const callbackUrl = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;

describe('createConnectionPoster', () => {
  it('posts the frame as JSON to the named connection, signed for execute-api as the SDK signs it', async () => {
    const poster = createConnectionPoster(callbackUrl());

    await expect(poster.post('abc=', { type: 'pong' })).resolves.toBe('sent');

    const [post] = received;
    expect(post?.method).toBe('POST');
    expect(post?.path).toBe('/prod/@connections/abc%3D');
    expect(post?.body.toString()).toBe('{"type":"pong"}');
    expect(post?.headers['x-amz-security-token']).toBe(credentials.sessionToken);
    expect(post?.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/\\d{8}/${region}/execute-api/aws4_request,`),
    );
    expect(signatureHolds(post as Received)).toBe(true);

    // The SDK's own request for the same post: same path, body and content type, and it passes the
    // same check, so the check is AWS's rule and not this poster's.
    const sdk = new ApiGatewayManagementApiClient({ endpoint: callbackUrl() });
    await sdk.send(
      new PostToConnectionCommand({ ConnectionId: 'abc=', Data: new TextEncoder().encode('{"type":"pong"}') }),
    );
    sdk.destroy();
    const sdkPost = received[1] as Received;
    expect(sdkPost.path).toBe(post?.path);
    expect(sdkPost.body.equals(post?.body as Buffer)).toBe(true);
    expect(sdkPost.headers['content-type']).toBe(post?.headers['content-type']);
    expect(signatureHolds(sdkPost)).toBe(true);
  });

  it('a signature over another path does not hold (the check can fail)', async () => {
    await createConnectionPoster(callbackUrl()).post('abc=', { type: 'pong' });

    expect(signatureHolds({ ...(received[0] as Received), path: '/prod/@connections/abd%3D' })).toBe(false);
  });

  it('answers gone for a 410', async () => {
    answers = [410];

    await expect(createConnectionPoster(callbackUrl()).post('abc=', { type: 'pong' })).resolves.toBe('gone');
    expect(received).toHaveLength(1);
  });

  it('retries a throttle and a server error, as the SDK does, and answers sent', async () => {
    answers = [429, 503];

    await expect(createConnectionPoster(callbackUrl()).post('abc=', { type: 'pong' })).resolves.toBe('sent');
    expect(received).toHaveLength(3);
    // Each attempt is signed anew.
    expect(received.every((attempt) => signatureHolds(attempt))).toBe(true);
  });

  it('throws a failure that outlasts the retries, with its status, so the stream retries the record', async () => {
    answers = [500, 500, 500];

    const failure = await createConnectionPoster(callbackUrl())
      .post('abc=', { type: 'pong' })
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(PostToConnectionError);
    expect((failure as PostToConnectionError).statusCode).toBe(500);
    expect(received).toHaveLength(3);
  });

  it('throws a refusal at once: a 403 is not retried', async () => {
    answers = [403];

    await expect(createConnectionPoster(callbackUrl()).post('abc=', { type: 'pong' })).rejects.toMatchObject({
      statusCode: 403,
      errorType: 'ForbiddenException',
    });
    expect(received).toHaveLength(1);
  });

  it('abandons a post that outlasts its timeout, without a retry', async () => {
    answers = ['hold'];

    await expect(
      createConnectionPoster(callbackUrl()).post('abc=', { type: 'pong' }, { timeoutMs: 50 }),
    ).rejects.toThrow();
    expect(received).toHaveLength(1);
  });

  it("goes through the local runtime's call gate: a stopped invocation's post is never sent, or never answers", async () => {
    const asked: string[] = [];
    let admit = false;
    setAwsCallGate({
      admit: (operation) => {
        asked.push(operation);
        return admit;
      },
      deliver: () => false,
    });
    const poster = createConnectionPoster(callbackUrl());
    const settled = (post: Promise<unknown>) =>
      Promise.race([post.then(() => 'settled'), new Promise((resolve) => setTimeout(resolve, 200, 'pending'))]);

    await expect(settled(poster.post('abc=', { type: 'pong' }))).resolves.toBe('pending');
    expect(received).toHaveLength(0);

    admit = true;
    const delivered = poster.post('abc=', { type: 'pong' });
    await expect.poll(() => received.length).toBe(1);
    // The endpoint answered; the stopped invocation never sees it.
    await expect(settled(delivered)).resolves.toBe('pending');
    expect(asked).toEqual(['PostToConnection', 'PostToConnection']);
  });
});

/** Checks a request's SigV4 signature by the published algorithm, written apart from any SDK code. */
function signatureHolds({ method, path, headers, body }: Received): boolean {
  const authorization = String(headers.authorization ?? '');
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(
    authorization,
  );
  if (!match) return false;
  const [, accessKeyId, scope, signedHeaders, signature] = match as unknown as [string, string, string, string, string];
  if (accessKeyId !== credentials.accessKeyId) return false;
  const [date, scopeRegion, service] = scope.split('/') as [string, string, string];
  // Services other than S3 encode each path segment again in the canonical request.
  const canonicalPath = path
    .split('?')[0]
    ?.split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join('/');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(headers[name] ?? '').trim()}\n`)
    .join('');
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const canonicalRequest = [method, canonicalPath, '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    String(headers['x-amz-date']),
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const key = [date, scopeRegion, service, 'aws4_request'].reduce<Buffer | string>(
    (secret, part) => createHmac('sha256', secret).update(part).digest(),
    `AWS4${credentials.secretAccessKey}`,
  );
  return createHmac('sha256', key).update(stringToSign).digest('hex') === signature;
}
