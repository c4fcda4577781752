/**
 * The media bucket on a laptop. s3rver stores the objects on an internal loopback port; in front of
 * it a reverse proxy on the public port behaves like S3 where s3rver does not: it verifies SigV4
 * (presigned and header-signed), answers CORS from `media.uploadCors`, applies `x-amz-tagging` on
 * PUT and copy, serves byte ranges correctly, and sends S3 ObjectCreated notifications to the
 * catalog's `bucketTriggers` the way S3 invokes Lambda: asynchronously, with two retries.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import S3rver from 's3rver';
import { type BucketTriggerSpec, bucketTriggers, type FunctionName } from '#shared/config/functions';
import { media } from '#shared/config/media';
import { localCredentials, localRegion } from './aws-local';
import type { DeadLetterQueue } from './dead-letters';
import type { LocalLogger } from './log';
import { closeServer, listenOnLoopback, loopbackHost } from './ports';

export const defaultMediaBucket = 'parley-local-media';

/** Another AWS service stand-in sharing the S3 port, told apart by its own request shape (e.g. X-Amz-Target). */
export interface LocalAwsService {
  handles(request: IncomingMessage): boolean;
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/** How a notification reaches a function: the stack passes its Lambda runtime's invoke. */
export type NotificationInvoker = (functionName: FunctionName, event: S3Event) => Promise<unknown>;

export interface MediaS3Options {
  /** Public (verifying) port; 0 picks a free one. */
  readonly port: number;
  readonly bucket?: string;
  /** Where s3rver keeps objects; absent: a temporary directory removed on stop. */
  readonly directory?: string;
  readonly logger: LocalLogger;
  readonly invoke: NotificationInvoker;
  /** Notifications whose retries are exhausted land here. */
  readonly deadLetters?: DeadLetterQueue;
  /** Which function runs for objects created under which prefix. Default: the catalog's bucketTriggers. */
  readonly triggers?: readonly BucketTriggerSpec[];
  /** Pause before the first retry of a failed notification (the second waits twice as long). Default 500 ms. */
  readonly retryDelayMs?: number;
  readonly services?: readonly LocalAwsService[];
}

/** Unsigned access to s3rver itself, for the other local stand-ins (the CDN reads objects through it). */
export interface ObjectOrigin {
  readonly bucket: string;
  request(
    method: string,
    path: string,
    headers?: OutgoingHttpHeaders,
    body?: Buffer | Readable,
  ): Promise<IncomingMessage>;
}

export interface MediaS3 {
  /** The verifying proxy: what AWS_ENDPOINT_URL_S3 holds and presigned URLs point at. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly bucketArn: string;
  readonly directory: string;
  readonly origin: ObjectOrigin;
  /** Resolves once every notification sent so far was delivered or given up on. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** Lambda's asynchronous invocation: the first attempt and two retries. */
const notificationAttempts = 3;
/** S3 refuses header-signed requests whose clock is further off than this. */
const maxClockSkewMs = 15 * 60 * 1000;
const unsignedPayload = 'UNSIGNED-PAYLOAD';
const contentSha256Header = 'x-amz-content-sha256';
/** Query parameters that carry a SigV4 query signature (and are not forwarded to s3rver). */
const queryAuthParams = new Set([
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-signedheaders',
  'x-amz-signature',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'x-amz-tagging',
]);
/** Sub-resources that make a request about something other than the object's bytes. */
const subresources = new Set([
  'acl',
  'tagging',
  'uploadId',
  'uploads',
  'legal-hold',
  'retention',
  'select',
  'torrent',
  'restore',
  'attributes',
]);
const hopByHopHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'authorization',
  'x-amz-tagging',
  'x-amz-tagging-directive',
]);
const fakeOwnerId = 'A1LOCALPARLEYOWNER';

export async function startMediaS3(options: MediaS3Options): Promise<MediaS3> {
  const { logger } = options;
  const bucket = options.bucket ?? defaultMediaBucket;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const triggers = options.triggers ?? bucketTriggers;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const temporary = options.directory === undefined;
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'parley-s3-'));
  mkdirSync(directory, { recursive: true });

  const s3rver = new S3rver({
    address: loopbackHost,
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const s3rverAddress = await s3rver.run();
  const agent = new Agent({ keepAlive: true });
  const origin: ObjectOrigin = {
    bucket,
    request: (method, path, headers = {}, body) =>
      new Promise((resolve, reject) => {
        const upstream = httpRequest(
          { agent, host: loopbackHost, port: s3rverAddress.port, method, path, headers },
          resolve,
        );
        upstream.on('error', reject);
        if (body === undefined) upstream.end();
        else if (Buffer.isBuffer(body)) upstream.end(body);
        else pipeline(body, upstream).catch((error: unknown) => upstream.destroy(asError(error)));
      }),
  };

  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let sequence = 0;

  const deliver = async (trigger: BucketTriggerSpec, created: CreatedObject): Promise<void> => {
    const head = await origin.request('HEAD', objectPath(bucket, created.key));
    head.resume();
    if (head.statusCode !== 200) {
      logger.warn('object gone before its S3 notification was sent', { key: created.key, status: head.statusCode });
      return;
    }
    sequence = (sequence + 1) % 0x10000;
    const record = s3EventRecord({
      bucket,
      bucketArn,
      configurationId: `parley-local-${trigger.function}`,
      created,
      size: Number(head.headers['content-length'] ?? 0),
      eTag: String(head.headers.etag ?? '').replaceAll('"', ''),
      sequencer: `${Date.now().toString(16).toUpperCase().padStart(12, '0')}${sequence.toString(16).toUpperCase().padStart(4, '0')}`,
    });
    const event: S3Event = { Records: [record] };
    let lastError: unknown;
    for (let attempt = 1; attempt <= notificationAttempts; attempt += 1) {
      try {
        await options.invoke(trigger.function, event);
        return;
      } catch (error) {
        lastError = error;
        if (attempt === notificationAttempts) break;
        logger.warn('S3 notification failed; Lambda retries it', {
          function: trigger.function,
          key: created.key,
          attempt,
        });
        const retried = await sleep(retryDelayMs * attempt, true, { signal: stopping.signal }).catch(() => false);
        if (!retried) {
          logger.warn('S3 notification dropped: the stack is stopping', {
            function: trigger.function,
            key: created.key,
          });
          return;
        }
      }
    }
    logger.error('S3 notification failed after every retry', {
      function: trigger.function,
      key: created.key,
      attempts: notificationAttempts,
      error: lastError,
    });
    options.deadLetters?.add({
      source: 's3',
      function: trigger.function,
      condition: 'RetriesExhausted',
      attempts: notificationAttempts,
      lastError: lastError instanceof Error ? lastError.message : String(lastError),
      record,
      at: new Date().toISOString(),
    });
  };

  /** S3 notifies after the object exists and never holds up the PUT for it. */
  const notify = (created: CreatedObject): void => {
    // Notifications are configured on the media bucket only.
    if (stopping.signal.aborted || created.bucket !== bucket) return;
    const trigger = triggers.find((candidate) => created.key.startsWith(candidate.prefix));
    if (trigger === undefined) return;
    const delivery = deliver(trigger, created).catch((error: unknown) =>
      logger.error('S3 notification could not be sent', { key: created.key, error }),
    );
    inFlight.add(delivery);
    void delivery.finally(() => inFlight.delete(delivery));
  };

  const proxy = createS3Proxy({ origin, logger, notify, services: options.services ?? [] });
  const server = createServer();
  // Uploads up to 250 MB: Node's default 5-minute request timeout would cut off a slow one.
  server.requestTimeout = 60 * 60 * 1000;
  server.on('request', (request, response) => void proxy(request, response, false));
  server.on('checkContinue', (request, response) => void proxy(request, response, true));
  let endpoint: string;
  try {
    endpoint = await listenOnLoopback(server, options.port);
  } catch (error) {
    agent.destroy();
    await s3rver.close();
    if (temporary) rmSync(directory, { recursive: true, force: true });
    throw error;
  }

  const settled = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  };
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    bucket,
    bucketArn,
    directory,
    origin,
    settled,
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        // Running handlers still read and write through the proxy: let them finish first.
        await settled();
        await closeServer(server);
        agent.destroy();
        await s3rver.close();
        if (temporary) rmSync(directory, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

interface CreatedObject {
  readonly bucket: string;
  readonly key: string;
  readonly eventName: 'ObjectCreated:Put' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload';
  readonly principalId: string;
  readonly sourceIp: string;
  readonly requestId: string;
  readonly hostId: string;
}

interface EventRecordSettings {
  readonly bucket: string;
  readonly bucketArn: string;
  readonly configurationId: string;
  readonly created: CreatedObject;
  readonly size: number;
  readonly eTag: string;
  readonly sequencer: string;
}

function s3EventRecord(settings: EventRecordSettings): S3EventRecord {
  const { created } = settings;
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: localRegion,
    eventTime: new Date().toISOString(),
    eventName: created.eventName,
    userIdentity: { principalId: created.principalId },
    requestParameters: { sourceIPAddress: created.sourceIp },
    responseElements: { 'x-amz-request-id': created.requestId, 'x-amz-id-2': created.hostId },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: settings.configurationId,
      bucket: { name: settings.bucket, ownerIdentity: { principalId: fakeOwnerId }, arn: settings.bucketArn },
      object: { key: s3EventKey(created.key), size: settings.size, eTag: settings.eTag, sequencer: settings.sequencer },
    },
  };
}

/** Keys in S3 notifications are form-encoded (spaces as '+', as Java's URLEncoder does), slashes kept. */
export function s3EventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+')
    .replaceAll('%2F', '/');
}

/** The path of an object on s3rver (path-style, each key segment percent-encoded). */
export function objectPath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

// ---------------------------------------------------------------------------------------------
// The proxy
// ---------------------------------------------------------------------------------------------

interface ProxySettings {
  readonly origin: ObjectOrigin;
  readonly logger: LocalLogger;
  readonly notify: (created: CreatedObject) => void;
  readonly services: readonly LocalAwsService[];
}

/** What one request is about, from its raw (still percent-encoded) URL. */
interface S3Target {
  readonly rawPath: string;
  readonly bucket: string;
  /** Decoded object key; '' for requests on the bucket or the service. */
  readonly key: string;
  readonly query: readonly QueryPair[];
  /** The query s3rver gets: without the signature parameters, otherwise byte for byte. */
  readonly forwardedQuery: string;
  readonly isObjectRequest: boolean;
}

type ProxyHandler = (request: IncomingMessage, response: ServerResponse, expectsContinue: boolean) => Promise<void>;

function createS3Proxy(settings: ProxySettings): ProxyHandler {
  const { origin, logger } = settings;

  return async (request, response, expectsContinue) => {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const hostId = randomBytes(32).toString('base64');
    try {
      const service = settings.services.find((candidate) => candidate.handles(request));
      if (service !== undefined) {
        if (expectsContinue) response.writeContinue();
        await service.handle(request, response);
        return;
      }
      response.setHeader('x-amz-request-id', requestId);
      response.setHeader('x-amz-id-2', hostId);
      const method = request.method ?? 'GET';
      if (method === 'OPTIONS') {
        answerPreflight(request, response);
        return;
      }
      for (const [name, value] of Object.entries(corsHeaders(request, method))) response.setHeader(name, value);

      const target = parseTarget(request.url ?? '/');
      if (target === undefined) {
        sendS3Error(response, method, {
          status: 400,
          code: 'InvalidURI',
          message: "Couldn't parse the specified URI.",
        });
        return;
      }
      const failure = await checkSigV4(request, { service: 's3' });
      if (failure !== undefined) {
        sendS3Error(response, method, failure);
        return;
      }
      const contentSha256 = headerValue(request, contentSha256Header) ?? '';
      if (contentSha256.startsWith('STREAMING-')) {
        sendS3Error(response, method, {
          status: 501,
          code: 'NotImplemented',
          message: 'aws-chunked (STREAMING-*) uploads are not supported by the local S3 stand-in; send a plain body.',
        });
        return;
      }
      const isPut = method === 'PUT' && target.isObjectRequest;
      const tagging = isPut ? taggingOf(request, target) : undefined;
      if (tagging !== undefined && 'code' in tagging) {
        sendS3Error(response, method, tagging);
        return;
      }
      if (expectsContinue) response.writeContinue();

      const created = (eventName: CreatedObject['eventName']): void =>
        settings.notify({
          bucket: target.bucket,
          key: target.key,
          eventName,
          principalId: `AWS:${localCredentials.accessKeyId}`,
          sourceIp: (request.socket.remoteAddress ?? loopbackHost).replace(/^::ffff:/, ''),
          requestId,
          hostId,
        });

      const isCopy = headerValue(request, 'x-amz-copy-source') !== undefined;
      if (isPut) {
        await putObject(request, response, target, isCopy, tagging, created);
      } else if (method === 'POST' && target.key !== '' && target.query.some((pair) => pair.name === 'uploadId')) {
        // CompleteMultipartUpload: the object exists once s3rver answers 200 without an error body.
        const upstream = await forward(request, target, request);
        const body = await readAll(upstream);
        send(response, upstream.statusCode ?? 502, upstream.headers, body);
        if (upstream.statusCode === 200 && !body.includes('<Error>')) created('ObjectCreated:CompleteMultipartUpload');
      } else if ((method === 'GET' || method === 'HEAD') && target.isObjectRequest) {
        const reply = await getObject(origin, method, originPath(target), forwardedHeaders(request));
        await sendReply(response, reply);
      } else {
        const upstream = await forward(request, target, method === 'GET' || method === 'HEAD' ? undefined : request);
        await sendReply(response, {
          statusCode: upstream.statusCode ?? 502,
          headers: upstream.headers,
          body: upstream,
        });
      }
    } catch (error) {
      // A client that went away mid-upload was already reported; its broken pipe is no fault here.
      if (!(request.destroyed && !request.complete)) {
        logger.error('S3 stand-in request failed', { method: request.method, url: request.url, error });
      }
      if (!response.headersSent && !response.destroyed) {
        sendS3Error(response, request.method ?? 'GET', {
          status: 500,
          code: 'InternalError',
          message: 'We encountered an internal error. Please try again.',
        });
      } else {
        response.destroy();
      }
    }
  };

  async function putObject(
    request: IncomingMessage,
    response: ServerResponse,
    target: S3Target,
    isCopy: boolean,
    tagging: readonly Tag[] | undefined,
    created: (eventName: CreatedObject['eventName']) => void,
  ): Promise<void> {
    const copySource = isCopy ? parseCopySource(headerValue(request, 'x-amz-copy-source') ?? '') : undefined;
    if (isCopy && copySource === undefined) {
      sendS3Error(response, 'PUT', {
        status: 400,
        code: 'InvalidArgument',
        message: 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      });
      return;
    }
    const headers = forwardedHeaders(request);
    if (copySource !== undefined) {
      // s3rver reads the source with decodeURI, which leaves %2B and friends encoded: hand it a form it decodes right.
      headers['x-amz-copy-source'] = encodeURI(`/${copySource.bucket}/${copySource.key}`);
    }
    const upstream = await origin.request(
      'PUT',
      originPath(target),
      headers,
      isCopy ? undefined : bodyWatchingAbort(request, () => removePartialUpload(target)),
    );
    const body = await readAll(upstream);
    // CopyObject can fail with 200 and an error document, as on S3.
    const ok = upstream.statusCode === 200 && !body.includes('<Error>');
    if (ok) {
      // s3rver ignores x-amz-tagging and keeps an overwritten object's old tags: set the tag set S3 would have.
      let tags = tagging;
      if (
        tags === undefined &&
        copySource !== undefined &&
        headerValue(request, 'x-amz-tagging-directive') !== 'REPLACE'
      ) {
        tags = await readTags(objectPath(copySource.bucket, copySource.key));
      }
      await writeTags(target.rawPath, tags ?? []);
    }
    send(response, upstream.statusCode ?? 502, upstream.headers, body);
    if (ok) created(isCopy ? 'ObjectCreated:Copy' : 'ObjectCreated:Put');
  }

  /** A PUT cut off mid-body leaves a truncated file in s3rver (S3 would store nothing): remove it. */
  async function removePartialUpload(target: S3Target): Promise<void> {
    logger.warn('upload aborted by the client; removing the partial object', { key: target.key });
    const removed = await origin.request('DELETE', originPath(target)).catch(() => undefined);
    removed?.resume();
  }

  async function readTags(path: string): Promise<Tag[]> {
    const upstream = await origin.request('GET', `${path}?tagging`);
    const xml = await readAll(upstream);
    if (upstream.statusCode !== 200) return [];
    return [...xml.matchAll(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g)].map((match) => ({
      key: unescapeXml(match[1] ?? ''),
      value: unescapeXml(match[2] ?? ''),
    }));
  }

  async function writeTags(path: string, tags: readonly Tag[]): Promise<void> {
    const upstream = await origin.request(
      'PUT',
      `${path}?tagging`,
      { 'content-type': 'application/xml' },
      Buffer.from(taggingXml(tags)),
    );
    const body = await readAll(upstream);
    if (upstream.statusCode !== 200) throw new Error(`s3rver refused the tag set (${upstream.statusCode}): ${body}`);
  }

  function forward(request: IncomingMessage, target: S3Target, body: Readable | undefined): Promise<IncomingMessage> {
    return origin.request(request.method ?? 'GET', originPath(target), forwardedHeaders(request), body);
  }
}

function originPath(target: S3Target): string {
  return target.forwardedQuery === '' ? target.rawPath : `${target.rawPath}?${target.forwardedQuery}`;
}

function parseTarget(url: string): S3Target | undefined {
  const { rawPath, rawQuery } = splitUrl(url);
  const query = parseQuery(rawQuery);
  const segments = rawPath.split('/').slice(1);
  const bucket = safeDecode(segments[0] ?? '');
  const key = safeDecode(segments.slice(1).join('/'));
  if (query === undefined || bucket === undefined || key === undefined) return undefined;
  return {
    rawPath,
    bucket,
    key,
    query,
    forwardedQuery: query
      .filter((pair) => !queryAuthParams.has(pair.name.toLowerCase()))
      .map((pair) => pair.raw)
      .join('&'),
    isObjectRequest: key !== '' && !query.some((pair) => subresources.has(pair.name)),
  };
}

function parseCopySource(header: string): { bucket: string; key: string } | undefined {
  const decoded = safeDecode(header.split('?')[0] ?? '');
  if (decoded === undefined) return undefined;
  const [bucket, ...key] = decoded.replace(/^\//, '').split('/');
  if (!bucket || key.length === 0 || key.join('/') === '') return undefined;
  return { bucket, key: key.join('/') };
}

function forwardedHeaders(request: IncomingMessage): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (values === undefined || hopByHopHeaders.has(name)) continue;
    headers[name] = values.length === 1 ? values[0] : values;
  }
  return headers;
}

/** The request body for s3rver; calls `onAbort` when the client goes away before sending all of it. */
function bodyWatchingAbort(request: IncomingMessage, onAbort: () => Promise<void>): Readable {
  request.once('close', () => {
    if (!request.complete) void onAbort();
  });
  return request;
}

// ---------------------------------------------------------------------------------------------
// Tagging
// ---------------------------------------------------------------------------------------------

interface Tag {
  readonly key: string;
  readonly value: string;
}

/** The tag set a PUT asks for (header, or query parameter in a presigned URL); undefined when none. */
function taggingOf(request: IncomingMessage, target: S3Target): readonly Tag[] | S3Failure | undefined {
  const raw =
    headerValue(request, 'x-amz-tagging') ??
    target.query.find((pair) => pair.name.toLowerCase() === 'x-amz-tagging')?.value;
  if (raw === undefined) return undefined;
  const tags = [...new URLSearchParams(raw)].map(([key, value]) => ({ key, value }));
  const invalid = (message: string): S3Failure => ({ status: 400, code: 'InvalidTag', message });
  if (tags.length > 10) return invalid('Object tags cannot be greater than 10');
  if (new Set(tags.map((tag) => tag.key)).size !== tags.length)
    return invalid('Cannot provide multiple Tags with the same key');
  if (tags.some((tag) => tag.key.length === 0 || tag.key.length > 128))
    return invalid('The TagKey you have provided is invalid');
  if (tags.some((tag) => tag.value.length > 256)) return invalid('The TagValue you have provided is invalid');
  return tags;
}

function taggingXml(tags: readonly Tag[]): string {
  const items = tags
    .map((tag) => `<Tag><Key>${escapeXml(tag.key)}</Key><Value>${escapeXml(tag.value)}</Value></Tag>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Tagging><TagSet>${items}</TagSet></Tagging>`;
}

// ---------------------------------------------------------------------------------------------
// Reading objects with S3's Range semantics
// ---------------------------------------------------------------------------------------------

export interface OriginReply {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
}

/**
 * GET or HEAD one object from s3rver, with S3's answer to a Range header: s3rver reads `bytes=-n`
 * from the start, `bytes=0-0` as the whole object, and hangs on any range of an empty object.
 */
export async function getObject(
  origin: ObjectOrigin,
  method: 'GET' | 'HEAD',
  path: string,
  headers: OutgoingHttpHeaders,
): Promise<OriginReply> {
  const { range: rangeHeader, ...withoutRange } = headers;
  const plain = async (): Promise<OriginReply> => {
    const upstream = await origin.request(method, path, withoutRange);
    return { statusCode: upstream.statusCode ?? 502, headers: upstream.headers, body: upstream };
  };
  const spec = typeof rangeHeader === 'string' ? parseRangeSpec(rangeHeader) : undefined;
  if (spec === undefined) return plain();
  const head = await origin.request('HEAD', path.split('?')[0] ?? path);
  head.resume();
  const size = Number(head.headers['content-length']);
  if (head.statusCode !== 200 || !Number.isInteger(size)) return plain();
  const range = resolveRange(spec, size);
  if (range === undefined) return plain();
  if (range === 'unsatisfiable') {
    const xml = s3ErrorXml('InvalidRange', 'The requested range is not satisfiable', {
      RangeRequested: String(rangeHeader),
      ActualObjectSize: String(size),
    });
    return {
      statusCode: 416,
      headers: {
        'content-type': 'application/xml',
        'content-length': String(Buffer.byteLength(xml)),
        'content-range': `bytes */${size}`,
      },
      body: Readable.from(method === 'HEAD' ? [] : [Buffer.from(xml)]),
    };
  }
  // Never ask s3rver for an end of 0 (it reads that as "to the end"); cut the reply to length instead.
  const upstream = await origin.request(method, path, {
    ...withoutRange,
    range: `bytes=${range.start}-${Math.max(range.end, 1)}`,
  });
  if (upstream.statusCode !== 206)
    return { statusCode: upstream.statusCode ?? 502, headers: upstream.headers, body: upstream };
  const length = range.end - range.start + 1;
  return {
    statusCode: 206,
    headers: {
      ...upstream.headers,
      'content-range': `bytes ${range.start}-${range.end}/${size}`,
      'content-length': String(length),
    },
    body: method === 'HEAD' ? upstream : limited(upstream, length),
  };
}

type RangeSpec = { readonly first?: number; readonly last?: number };

/** One `bytes=` range; anything else (several ranges, another unit, garbage) is ignored, as S3 does. */
function parseRangeSpec(header: string): RangeSpec | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null || (match[1] === '' && match[2] === '')) return undefined;
  return {
    ...(match[1] === '' ? {} : { first: Number(match[1]) }),
    ...(match[2] === '' ? {} : { last: Number(match[2]) }),
  };
}

function resolveRange(spec: RangeSpec, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (spec.first === undefined) {
    const suffix = spec.last ?? 0;
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  if (spec.last !== undefined && spec.last < spec.first) return undefined;
  if (spec.first >= size) return 'unsatisfiable';
  return { start: spec.first, end: Math.min(spec.last ?? size - 1, size - 1) };
}

/** The first `length` bytes of `source`; the rest (at most one byte, see above) is dropped. */
function limited(source: Readable, length: number): Readable {
  let remaining = length;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const part = remaining > 0 ? chunk.subarray(0, remaining) : Buffer.alloc(0);
      remaining -= part.length;
      callback(null, part);
    },
  });
  // pipeline destroys the limiter when s3rver's reply fails, so the client's copy fails too.
  pipeline(source, limiter).catch(() => undefined);
  return limiter;
}

// ---------------------------------------------------------------------------------------------
// CORS (media.uploadCors, as the CDK bucket gets it)
// ---------------------------------------------------------------------------------------------

interface CorsRule {
  readonly allowedOrigins: readonly string[];
  readonly allowedMethods: readonly string[];
  readonly allowedHeaders: readonly string[];
  readonly exposedHeaders: readonly string[];
  readonly maxAgeSeconds: number;
}

const corsRule: CorsRule = media.uploadCors;

function wildcardMatch(pattern: string, value: string): boolean {
  const escaped = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`, 'i').test(value);
}

function ruleHeaders(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': corsRule.allowedOrigins.includes('*') ? '*' : origin,
    'access-control-allow-methods': corsRule.allowedMethods.join(', '),
    'access-control-expose-headers': corsRule.exposedHeaders.join(', '),
    'access-control-max-age': String(corsRule.maxAgeSeconds),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
}

/** S3 adds CORS headers to a response only when the request's origin and method match a rule. */
function corsHeaders(request: IncomingMessage, method: string): Record<string, string> {
  const origin = headerValue(request, 'origin');
  if (origin === undefined) return {};
  const allowed =
    corsRule.allowedOrigins.some((pattern) => wildcardMatch(pattern, origin)) &&
    corsRule.allowedMethods.includes(method);
  return allowed ? ruleHeaders(origin) : {};
}

function answerPreflight(request: IncomingMessage, response: ServerResponse): void {
  const origin = headerValue(request, 'origin');
  const requestedMethod = headerValue(request, 'access-control-request-method');
  if (origin === undefined) {
    sendS3Error(response, 'OPTIONS', {
      status: 400,
      code: 'BadRequest',
      message: 'Insufficient information. Origin request header needed.',
    });
    return;
  }
  if (requestedMethod === undefined) {
    sendS3Error(response, 'OPTIONS', {
      status: 400,
      code: 'BadRequest',
      message: 'Invalid Access-Control-Request-Method: null',
    });
    return;
  }
  const requestedHeaders = (headerValue(request, 'access-control-request-headers') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  const allowed =
    corsRule.allowedOrigins.some((pattern) => wildcardMatch(pattern, origin)) &&
    corsRule.allowedMethods.includes(requestedMethod) &&
    requestedHeaders.every((name) => corsRule.allowedHeaders.some((pattern) => wildcardMatch(pattern, name)));
  if (!allowed) {
    sendS3Error(response, 'OPTIONS', {
      status: 403,
      code: 'AccessForbidden',
      message:
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      details: { Method: requestedMethod, ResourceType: 'OBJECT' },
    });
    return;
  }
  response.writeHead(200, {
    ...ruleHeaders(origin),
    ...(requestedHeaders.length > 0 ? { 'access-control-allow-headers': requestedHeaders.join(', ') } : {}),
    'content-length': '0',
  });
  response.end();
}

// ---------------------------------------------------------------------------------------------
// SigV4 verification
// ---------------------------------------------------------------------------------------------

export interface S3Failure {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, string>>;
}

export interface SigV4Check {
  /** The signing name the request must be scoped to: 's3', 'secretsmanager'... */
  readonly service: string;
  /** Hex SHA-256 of the body, for services whose requests carry no x-amz-content-sha256 header. */
  readonly payloadHash?: string;
  readonly now?: Date;
}

/** Records what it signed, so a mismatch can be answered with S3's CanonicalRequest and StringToSign. */
class RecordingSignatureV4 extends SignatureV4 {
  canonicalRequest = '';
  stringToSign = '';

  protected override async createStringToSign(
    longDate: string,
    credentialScope: string,
    canonicalRequest: string,
    algorithmIdentifier: string,
  ): Promise<string> {
    this.canonicalRequest = canonicalRequest;
    this.stringToSign = await super.createStringToSign(
      longDate,
      credentialScope,
      canonicalRequest,
      algorithmIdentifier,
    );
    return this.stringToSign;
  }
}

type SignableRequest = Parameters<SignatureV4['presign']>[0];

/**
 * Recomputes a request's SigV4 signature (Authorization header or presigned query) with the local
 * credentials; undefined when it matches and is still valid, else the error S3 would answer.
 */
export async function checkSigV4(request: IncomingMessage, check: SigV4Check): Promise<S3Failure | undefined> {
  const now = check.now ?? new Date();
  const { rawPath, rawQuery } = splitUrl(request.url ?? '/');
  const pairs = parseQuery(rawQuery);
  if (pairs === undefined) return { status: 400, code: 'InvalidURI', message: "Couldn't parse the specified URI." };
  const param = (name: string): string | undefined => pairs.find((pair) => pair.name === name)?.value;
  const authorization = headerValue(request, 'authorization');
  const presigned = param('X-Amz-Algorithm') !== undefined;
  if (authorization !== undefined && presigned) {
    return {
      status: 400,
      code: 'InvalidArgument',
      message:
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    };
  }
  if (authorization === undefined && !presigned) return { status: 403, code: 'AccessDenied', message: 'Access Denied' };

  const signer = new RecordingSignatureV4({
    service: check.service,
    region: localRegion,
    credentials: localCredentials,
    sha256: Hash.bind(null, 'sha256'),
    // S3 signs the path as sent; every other service signs it URI-encoded once more.
    uriEscapePath: check.service !== 's3',
    applyChecksum: false,
  });
  const query: Record<string, string | string[]> = {};
  for (const pair of pairs) {
    const existing = query[pair.name];
    query[pair.name] =
      existing === undefined ? pair.value : [...(Array.isArray(existing) ? existing : [existing]), pair.value];
  }
  const base = { method: request.method ?? 'GET', protocol: 'http:', hostname: 'localhost', path: rawPath, query };

  if (presigned) {
    const failParam = (message: string): S3Failure => ({
      status: 400,
      code: 'AuthorizationQueryParametersError',
      message,
    });
    if (param('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256')
      return failParam('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const credential = param('X-Amz-Credential');
    const provided = param('X-Amz-Signature');
    const date = param('X-Amz-Date');
    const signedHeaders = param('X-Amz-SignedHeaders');
    const expiresText = param('X-Amz-Expires');
    if ([credential, provided, date, signedHeaders, expiresText].includes(undefined)) {
      return failParam(
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    const signingDate = parseAmzDate(date ?? '');
    if (signingDate === undefined)
      return failParam("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
    const expires = Number(expiresText);
    if (!Number.isInteger(expires) || expires < 0) return failParam('X-Amz-Expires must be non-negative');
    if (expires > 604_800)
      return failParam(
        'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
      );
    const scopeFailure = checkScope(
      credential ?? '',
      date ?? '',
      check.service,
      'AuthorizationQueryParametersError',
      'X-Amz-Credential',
    );
    if (scopeFailure !== undefined) return scopeFailure;
    const expiresAt = new Date(signingDate.getTime() + expires * 1000);
    if (now.getTime() > expiresAt.getTime()) {
      return {
        status: 403,
        code: 'AccessDenied',
        message: 'Request has expired',
        details: { 'X-Amz-Expires': String(expires), Expires: isoSeconds(expiresAt), ServerTime: isoSeconds(now) },
      };
    }
    if (signingDate.getTime() - now.getTime() > maxClockSkewMs) {
      return { status: 403, code: 'AccessDenied', message: 'Request is not valid yet' };
    }
    const names = (signedHeaders ?? '').split(';').filter((name) => name !== '');
    const headers = signedHeaderValues(request, names);
    // A presigned request's payload is always UNSIGNED-PAYLOAD; the signer reads it from this header.
    const unsignable = new Set<string>();
    if (!names.includes(contentSha256Header)) {
      headers[contentSha256Header] = unsignedPayload;
      unsignable.add(contentSha256Header);
    }
    const signed = await signer.presign(
      { ...base, headers },
      {
        signingDate,
        expiresIn: expires,
        signableHeaders: new Set(names),
        unsignableHeaders: unsignable,
        // Hoisted headers are already in the query; the rest were signed as headers.
        unhoistableHeaders: new Set(Object.keys(headers)),
      },
    );
    const expected = signed.query?.['X-Amz-Signature'];
    return compareSignatures(typeof expected === 'string' ? expected : '', provided ?? '', signer);
  }

  const fields = parseAuthorization(authorization ?? '');
  if (fields === undefined) {
    return {
      status: 400,
      code: 'InvalidRequest',
      message: 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    };
  }
  const { credential, signedHeaders, signature } = fields;
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    return {
      status: 400,
      code: 'AuthorizationHeaderMalformed',
      message:
        'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    };
  }
  const date = headerValue(request, 'x-amz-date');
  const signingDate = date === undefined ? undefined : parseAmzDate(date);
  if (date === undefined || signingDate === undefined) {
    return {
      status: 403,
      code: 'AccessDenied',
      message: 'AWS authentication requires a valid Date or x-amz-date header',
    };
  }
  const scopeFailure = checkScope(credential, date, check.service, 'AuthorizationHeaderMalformed', 'Credential');
  if (scopeFailure !== undefined) return scopeFailure;
  if (Math.abs(now.getTime() - signingDate.getTime()) > maxClockSkewMs) {
    return {
      status: 403,
      code: 'RequestTimeTooSkewed',
      message: 'The difference between the request time and the current time is too large.',
      details: { RequestTime: date, ServerTime: isoSeconds(now), MaxAllowedSkewMilliseconds: String(maxClockSkewMs) },
    };
  }
  const names = signedHeaders.split(';').filter((name) => name !== '');
  const headers = signedHeaderValues(request, names);
  const unsignable = new Set<string>();
  const payloadHash = headerValue(request, contentSha256Header) ?? check.payloadHash;
  if (payloadHash === undefined) {
    return {
      status: 400,
      code: 'InvalidRequest',
      message: 'Missing required header for this request: x-amz-content-sha256',
    };
  }
  if (!names.includes(contentSha256Header)) {
    headers[contentSha256Header] = payloadHash;
    unsignable.add(contentSha256Header);
  }
  const signed = await signer.sign({ ...base, headers } satisfies SignableRequest, {
    signingDate,
    signableHeaders: new Set(names),
    unsignableHeaders: unsignable,
  });
  const expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  return compareSignatures(expected, signature, signer);
}

function compareSignatures(expected: string, provided: string, signer: RecordingSignatureV4): S3Failure | undefined {
  const expectedBytes = Buffer.from(expected);
  const providedBytes = Buffer.from(provided);
  if (
    expected !== '' &&
    expectedBytes.length === providedBytes.length &&
    timingSafeEqual(expectedBytes, providedBytes)
  ) {
    return undefined;
  }
  return {
    status: 403,
    code: 'SignatureDoesNotMatch',
    message:
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    details: {
      AWSAccessKeyId: localCredentials.accessKeyId,
      StringToSign: signer.stringToSign,
      SignatureProvided: provided,
      CanonicalRequest: signer.canonicalRequest,
    },
  };
}

/** `<key>/<yyyymmdd>/<region>/<service>/aws4_request`, checked as S3 checks it. */
function checkScope(
  credential: string,
  amzDate: string,
  service: string,
  code: string,
  name: string,
): S3Failure | undefined {
  const [accessKeyId, date, region, scopeService, terminator, ...rest] = credential.split('/');
  if (accessKeyId !== localCredentials.accessKeyId) {
    return {
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
      details: { AWSAccessKeyId: accessKeyId ?? '' },
    };
  }
  const malformed = (reason: string): S3Failure => ({
    status: 400,
    code,
    message: `Error parsing the ${name} parameter; ${reason}`,
  });
  if (terminator !== 'aws4_request' || rest.length > 0)
    return malformed("incorrect terminal. This endpoint uses 'aws4_request'.");
  if (date !== amzDate.slice(0, 8))
    return malformed(`the date '${date}' is not the same as the request date '${amzDate.slice(0, 8)}'.`);
  if (region !== localRegion) return malformed(`the region '${region}' is wrong; expecting '${localRegion}'`);
  if (scopeService !== service)
    return malformed(`incorrect service '${scopeService}'. This endpoint belongs to '${service}'.`);
  return undefined;
}

function parseAuthorization(
  header: string,
): { credential?: string; signedHeaders?: string; signature?: string } | undefined {
  const match = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(header.trim());
  if (match === null) return undefined;
  const fields = new Map<string, string>();
  for (const part of (match[1] ?? '').split(',')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== undefined && name !== '') fields.set(name, value.join('='));
  }
  return {
    ...(fields.has('Credential') ? { credential: fields.get('Credential') } : {}),
    ...(fields.has('SignedHeaders') ? { signedHeaders: fields.get('SignedHeaders') } : {}),
    ...(fields.has('Signature') ? { signature: fields.get('Signature') } : {}),
  };
}

/** Only the headers the client signed, as received (repeated ones comma-joined, as SigV4 does). */
function signedHeaderValues(request: IncomingMessage, names: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = headerValue(request, name);
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  const date = new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

interface QueryPair {
  readonly name: string;
  readonly value: string;
  /** The pair as it came, still encoded. */
  readonly raw: string;
}

export function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const index = url.indexOf('?');
  return index === -1
    ? { rawPath: url, rawQuery: '' }
    : { rawPath: url.slice(0, index), rawQuery: url.slice(index + 1) };
}

/** Query pairs decoded the way SigV4 does (no '+' as space); undefined on a malformed escape. */
function parseQuery(rawQuery: string): QueryPair[] | undefined {
  const pairs: QueryPair[] = [];
  for (const raw of rawQuery.split('&')) {
    if (raw === '') continue;
    const index = raw.indexOf('=');
    const name = safeDecode(index === -1 ? raw : raw.slice(0, index));
    const value = safeDecode(index === -1 ? '' : raw.slice(index + 1));
    if (name === undefined || value === undefined) return undefined;
    pairs.push({ name, value, raw });
  }
  return pairs;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export function headerValue(request: IncomingMessage, name: string): string | undefined {
  return request.headersDistinct[name]?.join(',');
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

const responseHopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding']);

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !responseHopByHop.has(name)) result[name] = value;
  }
  return result;
}

function send(response: ServerResponse, status: number, headers: IncomingHttpHeaders, body: string): void {
  response.writeHead(status, { ...responseHeaders(headers), 'content-length': String(Buffer.byteLength(body)) });
  response.end(body);
}

export async function sendReply(
  response: ServerResponse,
  reply: OriginReply,
  extraHeaders: OutgoingHttpHeaders = {},
): Promise<void> {
  response.writeHead(reply.statusCode, { ...responseHeaders(reply.headers), ...extraHeaders });
  await pipeline(reply.body, response);
}

const xmlEntities: Readonly<Record<string, string>> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  "'": '&apos;',
  '"': '&quot;',
};

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (character) => xmlEntities[character] ?? character);
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|apos|quot);/g, (entity) => {
    const found = Object.entries(xmlEntities).find(([, escaped]) => escaped === entity);
    return found === undefined ? entity : found[0];
  });
}

export function s3ErrorXml(code: string, message: string, details: Readonly<Record<string, string>> = {}): string {
  const extra = Object.entries(details)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>${extra}</Error>`;
}

/** S3's error document; the connection closes, so an unread upload body is not drained first. */
function sendS3Error(response: ServerResponse, method: string, failure: S3Failure): void {
  const requestId = String(response.getHeader('x-amz-request-id') ?? '');
  const hostId = String(response.getHeader('x-amz-id-2') ?? '');
  const xml = s3ErrorXml(failure.code, failure.message, { ...failure.details, RequestId: requestId, HostId: hostId });
  response.writeHead(failure.status, {
    'content-type': 'application/xml',
    'content-length': String(method === 'HEAD' ? 0 : Buffer.byteLength(xml)),
    connection: 'close',
  });
  response.end(method === 'HEAD' ? undefined : xml);
}

/** Hex SHA-256, the payload hash of a buffered body. */
export function sha256Hex(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('hex');
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
