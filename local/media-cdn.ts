/**
 * CloudFront on a laptop: serves processed media (keys under `media.mediaPrefix`) from the local
 * bucket to holders of a CloudFront signed URL, verified as CloudFront does (canned or custom policy,
 * RSA-SHA1 or SHA256, Key-Pair-Id, expiry), with byte ranges for video playback.
 */
import { createPublicKey, createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import { media, mediaResponseHeaders } from '#shared/config/media';
import type { LocalLogger } from './log';
import { closeServer, listenOnLoopback } from './ports';
import type { ObjectOrigin } from './s3/object-origin';
import { getObject } from './s3/ranges';
import { headerValue, safeDecode, sendReply, splitUrl } from './s3/request-io';
import { escapeXml } from './s3/xml-escape';

/** The id of the local public key (CloudFront's look like `K2JCJMDEHXQW5F`). */
export const localKeyPairId = 'K0LOCALPARLEY';

export interface MediaSigningKeyPair {
  readonly keyPairId: string;
  /** PEM (PKCS#1, as `openssl genrsa` writes it): what the handlers sign with. */
  readonly privateKeyPem: string;
  /** PEM (SPKI): what CloudFront is given. */
  readonly publicKeyPem: string;
}

/** A fresh RSA 2048 key pair, as CloudFront key groups take. */
export function generateMediaSigningKeyPair(keyPairId: string = localKeyPairId): MediaSigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { keyPairId, privateKeyPem: privateKey, publicKeyPem: publicKey };
}

export interface MediaCdnOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** The bucket the distribution reads from (s3rver, unsigned: CloudFront's origin access). */
  readonly origin: ObjectOrigin;
  readonly keyPairId: string;
  readonly publicKeyPem: string;
  readonly logger: LocalLogger;
  /** Only keys under this prefix are served. Default `media.mediaPrefix`. */
  readonly pathPrefix?: string;
}

export interface MediaCdn {
  /** Base URL, no trailing slash: what MEDIA_CDN_URL holds. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Query parameters that sign a URL; the rest of the URL is the signed resource. */
const signingParams = new Set(['Expires', 'Signature', 'Key-Pair-Id', 'Policy', 'Hash-Algorithm']);
/** Object headers CloudFront passes on to viewers. */
const passedHeaders = [
  'content-type',
  'content-length',
  'content-range',
  'content-disposition',
  'content-encoding',
  'content-language',
  'cache-control',
  'expires',
  'etag',
  'last-modified',
  'accept-ranges',
];
const { security, cors } = mediaResponseHeaders;
/** What the distribution's response headers policy adds to every answer (infra/constructs/media.ts builds it from the same). */
const policyHeaders = {
  ...security,
  'access-control-allow-origin': cors.allowOrigins.join(', '),
  'access-control-expose-headers': cors.exposeHeaders.join(', '),
} as const;

export async function startMediaCdn(options: MediaCdnOptions): Promise<MediaCdn> {
  const { logger, origin } = options;
  const prefix = options.pathPrefix ?? media.mediaPrefix;
  const publicKey = createPublicKey(options.publicKeyPem);
  const server = createServer((request, response) => {
    serve(request, response).catch((error: unknown) => {
      logger.error('CDN stand-in request failed', { url: request.url, error });
      if (!response.headersSent) deny(response, 502, 'InternalError', 'The origin could not be reached.');
      else response.destroy();
    });
  });

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    if (method === 'OPTIONS') {
      response.writeHead(200, {
        ...policyHeaders,
        'access-control-allow-methods': cors.allowMethods.join(', '),
        'access-control-allow-headers': cors.allowHeaders.join(', '),
        'access-control-max-age': String(cors.maxAgeSeconds),
        'content-length': '0',
      });
      response.end();
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      deny(
        response,
        403,
        'MethodNotAllowed',
        'This distribution is not configured to allow the HTTP request method that was used for this request.',
      );
      return;
    }
    const { rawPath, rawQuery } = splitUrl(request.url ?? '/');
    const key = safeDecode(rawPath.slice(1));
    if (key === undefined || !key.startsWith(prefix)) {
      deny(response, 403, 'AccessDenied', 'Access denied');
      return;
    }
    const problem = verifySignedUrl({
      resourceBase: `http://${headerValue(request, 'host') ?? ''}${rawPath}`,
      rawQuery,
      keyPairId: options.keyPairId,
      publicKey,
      now: Date.now(),
      sourceIp: (request.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
    });
    if (problem !== undefined) {
      logger.info('CDN refused a signed URL', { key, problem });
      deny(response, 403, 'AccessDenied', problem);
      return;
    }
    const forwarded: OutgoingHttpHeaders = {};
    for (const name of ['range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since']) {
      const value = headerValue(request, name);
      if (value !== undefined) forwarded[name] = value;
    }
    const objectPath = `/${encodeURIComponent(origin.bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const reply = await getObject(origin, method, objectPath, forwarded);
    if (reply.statusCode === 404 || reply.statusCode === 403) {
      reply.body.resume();
      // Behind origin access control without s3:ListBucket, S3 answers a missing key with 403.
      deny(response, 403, 'AccessDenied', 'Access Denied (no such object)');
      return;
    }
    const headers: OutgoingHttpHeaders = { 'x-cache': 'Miss from cloudfront' };
    for (const name of passedHeaders) {
      const value = reply.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    for (const [name, value] of Object.entries(reply.headers)) {
      if (name.startsWith('x-amz-meta-') && value !== undefined) headers[name] = value;
    }
    // The policy's headers override what the origin sent, as the CloudFront policy's `override` does.
    Object.assign(headers, policyHeaders);
    await sendReply(response, { statusCode: reply.statusCode, headers: {}, body: reply.body }, headers);
  }

  const url = await listenOnLoopback(server, options.port);
  let stopped: Promise<void> | undefined;
  return {
    url,
    stop() {
      stopped ??= closeServer(server);
      return stopped;
    },
  };
}

export interface SignedUrlCheck {
  /** The requested URL without its query: scheme, host as requested, raw path. */
  readonly resourceBase: string;
  readonly rawQuery: string;
  readonly keyPairId: string;
  readonly publicKey: KeyObject;
  readonly now: number;
  readonly sourceIp: string;
}

/** Why CloudFront would refuse this URL, or undefined when its signature and policy hold. */
export function verifySignedUrl(check: SignedUrlCheck): string | undefined {
  const params = new Map<string, string>();
  const kept: string[] = [];
  for (const raw of check.rawQuery.split('&')) {
    if (raw === '') continue;
    const index = raw.indexOf('=');
    const name = safeDecode(index === -1 ? raw : raw.slice(0, index));
    if (name !== undefined && signingParams.has(name)) {
      params.set(name, safeDecode(index === -1 ? '' : raw.slice(index + 1)) ?? '');
    } else {
      kept.push(raw);
    }
  }
  const keyPairId = params.get('Key-Pair-Id');
  const signature = params.get('Signature');
  if (keyPairId === undefined) return 'Missing Key-Pair-Id query parameter or cookie value';
  if (signature === undefined) return 'Missing Signature query parameter or cookie value';
  if (keyPairId !== check.keyPairId) return 'Unknown Key-Pair-Id';
  const hashAlgorithm = params.get('Hash-Algorithm') ?? 'SHA1';
  if (hashAlgorithm !== 'SHA1' && hashAlgorithm !== 'SHA256') return 'Invalid Hash-Algorithm';
  // The signed resource is the URL as requested, less the signing parameters (which come last).
  const resource = kept.length === 0 ? check.resourceBase : `${check.resourceBase}?${kept.join('&')}`;

  const encodedPolicy = params.get('Policy');
  const expires = params.get('Expires');
  let policy: string;
  if (encodedPolicy !== undefined) {
    policy = fromCloudFrontBase64(encodedPolicy).toString('utf8');
  } else if (expires !== undefined && /^\d+$/.test(expires)) {
    // The canned policy, rebuilt exactly as @aws-sdk/cloudfront-signer (and CloudFront) write it.
    policy = JSON.stringify({
      Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': Number(expires) } } }],
    });
  } else {
    return 'Missing Expires or Policy query parameter';
  }
  const verifier = createVerify(hashAlgorithm === 'SHA256' ? 'RSA-SHA256' : 'RSA-SHA1');
  verifier.update(policy);
  if (!verifier.verify(check.publicKey, fromCloudFrontBase64(signature)))
    return 'Access denied: signature does not match';
  return encodedPolicy === undefined
    ? checkConditions({ dateLessThan: Number(expires) }, check.now, check.sourceIp)
    : checkCustomPolicy(policy, resource, check);
}

interface PolicyConditions {
  readonly dateLessThan?: number;
  readonly dateGreaterThan?: number;
  readonly sourceIp?: string;
}

function checkCustomPolicy(policy: string, resource: string, check: SignedUrlCheck): string | undefined {
  let statement: unknown;
  try {
    statement = (JSON.parse(policy) as { Statement?: unknown[] }).Statement?.[0];
  } catch {
    return 'Malformed Policy';
  }
  if (typeof statement !== 'object' || statement === null) return 'Malformed Policy';
  const { Resource, Condition } = statement as {
    Resource?: unknown;
    Condition?: Record<string, Record<string, unknown>>;
  };
  if (typeof Resource !== 'string' || !wildcardMatch(Resource, resource))
    return 'Access denied: the policy does not cover this URL';
  const epoch = (condition: string): number | undefined => {
    const value = Condition?.[condition]?.['AWS:EpochTime'];
    return typeof value === 'number' ? value : undefined;
  };
  const sourceIp = Condition?.IpAddress?.['AWS:SourceIp'];
  const dateLessThan = epoch('DateLessThan');
  const dateGreaterThan = epoch('DateGreaterThan');
  if (dateLessThan === undefined) return 'Malformed Policy: DateLessThan is required';
  return checkConditions(
    {
      dateLessThan,
      ...(dateGreaterThan === undefined ? {} : { dateGreaterThan }),
      ...(typeof sourceIp === 'string' ? { sourceIp } : {}),
    },
    check.now,
    check.sourceIp,
  );
}

function checkConditions(conditions: PolicyConditions, now: number, sourceIp: string): string | undefined {
  const nowSeconds = now / 1000;
  if (conditions.dateLessThan !== undefined && nowSeconds >= conditions.dateLessThan)
    return 'Access denied: the URL has expired';
  if (conditions.dateGreaterThan !== undefined && nowSeconds < conditions.dateGreaterThan)
    return 'Access denied: the URL is not valid yet';
  if (conditions.sourceIp !== undefined && !inCidr(sourceIp, conditions.sourceIp))
    return 'Access denied: source IP not allowed';
  return undefined;
}

function inCidr(ip: string, cidr: string): boolean {
  const [network = '', bits = '32'] = cidr.split('/');
  if (!isIPv4(ip) || !isIPv4(network)) return false;
  const toNumber = (address: string): number =>
    address.split('.').reduce((total, octet) => total * 256 + Number(octet), 0);
  const maskBits = Number(bits);
  const block = 2 ** (32 - maskBits);
  return Math.floor(toNumber(ip) / block) === Math.floor(toNumber(network) / block);
}

/** CloudFront's URL-safe base64: '-' for '+', '_' for '=', '~' for '/'. */
function fromCloudFrontBase64(text: string): Buffer {
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');
}

/** CloudFront policy resources allow '*' (any characters) and '?' (one character). */
function wildcardMatch(pattern: string, value: string): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`).test(value);
}

function deny(response: ServerResponse, status: number, code: string, message: string): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>`;
  response.writeHead(status, {
    ...policyHeaders,
    'content-type': 'text/xml',
    'content-length': String(Buffer.byteLength(xml)),
    'x-cache': 'Error from cloudfront',
  });
  response.end(xml);
}
