import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { localCredentials, localRegion } from '../aws-local';
import { headerValue, parseQuery, splitUrl } from './request-io';
import type { S3Failure } from './s3-errors';

/** S3 refuses header-signed requests whose clock is further off than this. */
const maxClockSkewMs = 15 * 60 * 1000;
const unsignedPayload = 'UNSIGNED-PAYLOAD';
export const contentSha256Header = 'x-amz-content-sha256';

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
    // S3 refuses a presigned request carrying an x-amz-* header its signature does not cover
    // (x-amz-meta-*, x-amz-tagging, x-amz-acl...): the URL grants only what was signed.
    const notSigned = Object.keys(request.headers).filter((name) => name.startsWith('x-amz-') && !names.includes(name));
    if (notSigned.length > 0) {
      return {
        status: 403,
        code: 'AccessDenied',
        message: 'There were headers present in the request which were not signed',
        details: { HeadersNotSigned: notSigned.join(', ') },
      };
    }
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

/** Hex SHA-256, the payload hash of a buffered body. */
export function sha256Hex(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('hex');
}
