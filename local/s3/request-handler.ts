import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { localCredentials } from '../aws-local';
import { sourceIpOf } from '../http-helpers';
import type { LocalLogger } from '../log';
import { answerPreflight, corsHeaders } from './cors';
import type { CreatedObject } from './notifications';
import { type ObjectOrigin, objectPath } from './object-origin';
import { getObject } from './ranges';
import { headerValue, readReplyText, sendReply, sendText } from './request-io';
import { originPath, parseCopySource, parseTarget, type S3Target } from './request-target';
import { sendS3Error } from './s3-errors';
import { checkSigV4, contentSha256Header } from './sigv4';
import { readTags, type Tag, taggingOf, writeTags } from './tagging';

/** Another AWS service stand-in sharing the S3 port, told apart by its own request shape (e.g. X-Amz-Target). */
export interface LocalAwsService {
  handles(request: IncomingMessage): boolean;
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

export interface ProxySettings {
  readonly origin: ObjectOrigin;
  readonly logger: LocalLogger;
  readonly notify: (created: CreatedObject) => void;
  readonly services: readonly LocalAwsService[];
}

export type ProxyHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  expectsContinue: boolean,
) => Promise<void>;

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

export function createS3Proxy(settings: ProxySettings): ProxyHandler {
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
          sourceIp: sourceIpOf(request),
          requestId,
          hostId,
        });

      const isCopy = headerValue(request, 'x-amz-copy-source') !== undefined;
      if (isPut) {
        await putObject(request, response, target, isCopy, tagging, created);
      } else if (method === 'POST' && target.key !== '' && target.query.some((pair) => pair.name === 'uploadId')) {
        // CompleteMultipartUpload: the object exists once s3rver answers 200 without an error body.
        const upstream = await forward(request, target, request);
        const body = await readReplyText(upstream);
        sendText(response, upstream.statusCode ?? 502, upstream.headers, body);
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
    const body = await readReplyText(upstream);
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
        tags = await readTags(origin, objectPath(copySource.bucket, copySource.key));
      }
      await writeTags(origin, target.rawPath, tags ?? []);
    }
    sendText(response, upstream.statusCode ?? 502, upstream.headers, body);
    if (ok) created(isCopy ? 'ObjectCreated:Copy' : 'ObjectCreated:Put');
  }

  /** A PUT cut off mid-body leaves a truncated file in s3rver (S3 would store nothing): remove it. */
  async function removePartialUpload(target: S3Target): Promise<void> {
    logger.warn('upload aborted by the client; removing the partial object', { key: target.key });
    const removed = await origin.request('DELETE', originPath(target)).catch(() => undefined);
    removed?.resume();
  }

  function forward(request: IncomingMessage, target: S3Target, body: Readable | undefined): Promise<IncomingMessage> {
    return origin.request(request.method ?? 'GET', originPath(target), forwardedHeaders(request), body);
  }
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
