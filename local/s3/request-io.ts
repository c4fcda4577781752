import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readBody } from '../http-helpers';

export interface QueryPair {
  readonly name: string;
  readonly value: string;
  /** The pair as it came, still encoded. */
  readonly raw: string;
}

/** A reply from s3rver (or one made up in its place) on its way to the client. */
export interface OriginReply {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
}

export function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const index = url.indexOf('?');
  return index === -1
    ? { rawPath: url, rawQuery: '' }
    : { rawPath: url.slice(0, index), rawQuery: url.slice(index + 1) };
}

/** Query pairs decoded the way SigV4 does (no '+' as space); undefined on a malformed escape. */
export function parseQuery(rawQuery: string): QueryPair[] | undefined {
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

export function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export function headerValue(request: IncomingMessage, name: string): string | undefined {
  return request.headersDistinct[name]?.join(',');
}

/** A whole s3rver reply as text: only its short XML documents are read this way, so no limit applies. */
export async function readReplyText(reply: IncomingMessage): Promise<string> {
  return (await readBody(reply, Number.POSITIVE_INFINITY)).toString('utf8');
}

const responseHopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding']);

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !responseHopByHop.has(name)) result[name] = value;
  }
  return result;
}

export function sendText(response: ServerResponse, status: number, headers: IncomingHttpHeaders, body: string): void {
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
