import type { OutgoingHttpHeaders } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectOrigin } from './object-origin';
import type { OriginReply } from './request-io';
import { s3ErrorXml } from './s3-errors';

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

/** The first `length` bytes of `source`; the rest (at most one byte, see getObject) is dropped. */
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
