import { parseQuery, type QueryPair, safeDecode, splitUrl } from './request-io';

/** What one request is about, from its raw (still percent-encoded) URL. */
export interface S3Target {
  readonly rawPath: string;
  readonly bucket: string;
  /** Decoded object key; '' for requests on the bucket or the service. */
  readonly key: string;
  readonly query: readonly QueryPair[];
  /** The query s3rver gets: without the signature parameters, otherwise byte for byte. */
  readonly forwardedQuery: string;
  readonly isObjectRequest: boolean;
}

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

export function parseTarget(url: string): S3Target | undefined {
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

/** The target's path and query as s3rver gets them. */
export function originPath(target: S3Target): string {
  return target.forwardedQuery === '' ? target.rawPath : `${target.rawPath}?${target.forwardedQuery}`;
}

export function parseCopySource(header: string): { bucket: string; key: string } | undefined {
  const decoded = safeDecode(header.split('?')[0] ?? '');
  if (decoded === undefined) return undefined;
  const [bucket, ...key] = decoded.replace(/^\//, '').split('/');
  if (!bucket || key.length === 0 || key.join('/') === '') return undefined;
  return { bucket, key: key.join('/') };
}
