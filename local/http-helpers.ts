import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

export class PayloadTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`Request body exceeds ${limitBytes} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/** Reads a whole request body, refusing (without buffering) anything over `limitBytes`. */
export async function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limitBytes) throw new PayloadTooLargeError(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > limitBytes) throw new PayloadTooLargeError(limitBytes);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  response: ServerResponse,
  statusCode: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(statusCode, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/** API Gateway ids (request, connection, message ids) are short base64 strings such as `L0SM9cOFvHcCIhw=`. */
export function apiGatewayStyleId(): string {
  return randomBytes(11).toString('base64');
}

const monthNames = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's `requestTime` format: `27/Nov/2026:18:50:08 +0000`. */
export function apiGatewayRequestTime(epochMs: number): string {
  const date = new Date(epochMs);
  const two = (value: number): string => String(value).padStart(2, '0');
  return (
    `${two(date.getUTCDate())}/${monthNames[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

export function sourceIpOf(request: IncomingMessage): string {
  return (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
}

/** Single-valued headers as API Gateway passes them: lowercased names, repeated values comma-joined. */
export function singleValueHeaders(request: IncomingMessage, omit: readonly string[] = []): Record<string, string> {
  // Object.fromEntries makes own properties: a header named `__proto__` stays a header, as in API Gateway's JSON.
  return Object.fromEntries(
    Object.entries(request.headersDistinct).flatMap(([name, values]) =>
      values !== undefined && !omit.includes(name) ? [[name, values.join(',')]] : [],
    ),
  );
}

export function multiValueHeaders(request: IncomingMessage): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(request.headersDistinct).flatMap(([name, values]) => (values !== undefined ? [[name, values]] : [])),
  );
}

export function multiValueQuery(searchParams: URLSearchParams): Record<string, string[]> {
  // A Map: names like `constructor` or `__proto__` are plain parameters, not Object.prototype members.
  const query = new Map<string, string[]>();
  for (const [name, value] of searchParams) query.set(name, [...(query.get(name) ?? []), value]);
  return Object.fromEntries(query);
}
