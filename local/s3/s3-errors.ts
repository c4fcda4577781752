import type { ServerResponse } from 'node:http';
import { escapeXml } from './xml-escape';

export interface S3Failure {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, string>>;
}

export function s3ErrorXml(code: string, message: string, details: Readonly<Record<string, string>> = {}): string {
  const extra = Object.entries(details)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>${extra}</Error>`;
}

/** S3's error document; the connection closes, so an unread upload body is not drained first. */
export function sendS3Error(response: ServerResponse, method: string, failure: S3Failure): void {
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
