/**
 * The media bucket on a laptop. s3rver stores the objects behind an internal loopback port that
 * answers only requests carrying a per-start key (object-origin.ts), so nothing reaches the bucket
 * without a signature. In front of it a reverse proxy on the public port behaves like S3 where
 * s3rver does not: it verifies SigV4 (presigned and header-signed), answers CORS from
 * `media.uploadCors`, applies `x-amz-tagging` on PUT and copy, serves byte ranges correctly, and
 * sends S3 ObjectCreated notifications to the catalog's `bucketTriggers` the way S3 invokes Lambda:
 * asynchronously, with two retries.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { type BucketTriggerSpec, bucketTriggers } from '#shared/config/functions';
import type { DeadLetterQueue } from '../dead-letters';
import type { LocalLogger } from '../log';
import { closeServer, listenOnLoopback } from '../ports';
import { createNotifier, type NotificationInvoker } from './notifications';
import { connectObjectOrigin, type ObjectOrigin, originKeyHeader } from './object-origin';
import { createS3Proxy, type LocalAwsService } from './request-handler';
import { sendS3Error } from './s3-errors';

export const defaultMediaBucket = 'parley-local-media';

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

export interface MediaS3 {
  /** The verifying proxy: what AWS_ENDPOINT_URL_S3 holds and presigned URLs point at. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly bucketArn: string;
  readonly directory: string;
  readonly origin: ObjectOrigin;
  /** s3rver's own loopback address: it refuses every request without the origin key (tests knock on it). */
  readonly backendUrl: string;
  /** Resolves once every notification sent so far was delivered or given up on. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMediaS3(options: MediaS3Options): Promise<MediaS3> {
  const { logger } = options;
  const bucket = options.bucket ?? defaultMediaBucket;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const temporary = options.directory === undefined;
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'parley-s3-'));
  mkdirSync(directory, { recursive: true });

  const s3rver = new S3rver({
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  await s3rver.configureBuckets();
  // s3rver checks no signature and serves anonymous requests: it is served only to holders of the key.
  const originKey = randomBytes(32);
  const handleInS3rver = s3rver.callback();
  const backend = createServer((request, response) => {
    const presented = Buffer.from(String(request.headers[originKeyHeader] ?? ''), 'hex');
    if (presented.length !== originKey.length || !timingSafeEqual(presented, originKey)) {
      request.resume();
      sendS3Error(response, request.method ?? 'GET', { status: 403, code: 'AccessDenied', message: 'Access Denied' });
      return;
    }
    delete request.headers[originKeyHeader];
    handleInS3rver(request, response);
  });
  backend.requestTimeout = 60 * 60 * 1000;
  const backendUrl = await listenOnLoopback(backend, 0);
  const connection = connectObjectOrigin(bucket, Number(new URL(backendUrl).port), originKey.toString('hex'));
  const { origin } = connection;
  const notifier = createNotifier({
    origin,
    bucket,
    bucketArn,
    triggers: options.triggers ?? bucketTriggers,
    retryDelayMs: options.retryDelayMs ?? 500,
    invoke: options.invoke,
    deadLetters: options.deadLetters,
    logger,
  });

  const proxy = createS3Proxy({ origin, logger, notify: notifier.notify, services: options.services ?? [] });
  const server = createServer();
  // Uploads up to 250 MB: Node's default 5-minute request timeout would cut off a slow one.
  server.requestTimeout = 60 * 60 * 1000;
  server.on('request', (request, response) => void proxy(request, response, false));
  server.on('checkContinue', (request, response) => void proxy(request, response, true));
  let endpoint: string;
  try {
    endpoint = await listenOnLoopback(server, options.port);
  } catch (error) {
    connection.close();
    await closeServer(backend);
    if (temporary) rmSync(directory, { recursive: true, force: true });
    throw error;
  }

  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    bucket,
    bucketArn,
    directory,
    origin,
    backendUrl,
    settled: notifier.settled,
    stop() {
      stopped ??= (async () => {
        notifier.stop();
        // Running handlers still read and write through the proxy: let them finish first.
        await notifier.settled();
        await closeServer(server);
        connection.close();
        await closeServer(backend);
        if (temporary) rmSync(directory, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
