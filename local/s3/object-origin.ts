import { Agent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loopbackHost } from '../ports';

/**
 * The header that opens s3rver: it answers only requests carrying its per-start key, which only the
 * stand-ins in this process hold (the verifying proxy, the CDN as CloudFront's origin access), so
 * nothing else on the machine reads or writes the bucket past the signature checks.
 */
export const originKeyHeader = 'x-parley-origin-key';

/** Access to s3rver itself without a signature, for the other local stand-ins (the CDN reads objects through it). */
export interface ObjectOrigin {
  readonly bucket: string;
  request(
    method: string,
    path: string,
    headers?: OutgoingHttpHeaders,
    body?: Buffer | Readable,
  ): Promise<IncomingMessage>;
}

export interface ObjectOriginConnection {
  readonly origin: ObjectOrigin;
  /** Closes the kept-alive sockets to s3rver. */
  close(): void;
}

export function connectObjectOrigin(bucket: string, s3rverPort: number, originKey: string): ObjectOriginConnection {
  const agent = new Agent({ keepAlive: true });
  const origin: ObjectOrigin = {
    bucket,
    request: (method, path, headers = {}, body) =>
      new Promise((resolve, reject) => {
        const upstream = httpRequest(
          {
            agent,
            host: loopbackHost,
            port: s3rverPort,
            method,
            path,
            headers: { ...headers, [originKeyHeader]: originKey },
          },
          resolve,
        );
        upstream.on('error', reject);
        if (body === undefined) upstream.end();
        else if (Buffer.isBuffer(body)) upstream.end(body);
        else pipeline(body, upstream).catch((error: unknown) => upstream.destroy(asError(error)));
      }),
  };
  return { origin, close: () => agent.destroy() };
}

/** The path of an object on s3rver (path-style, each key segment percent-encoded). */
export function objectPath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
