/**
 * What must never reach a log line: bearer tokens, connect tickets, signatures of presigned and
 * CloudFront-signed URLs, cookies, and message text. Handlers log ids, not payloads; this is the
 * safety net both the handlers' Powertools logger and the local stack's logger run every value
 * through, so a careless `{ url }` or `{ error }` still comes out clean.
 */

export const redacted = '[redacted]';

/** Field names whose values are secrets or user content, compared lower-case. */
const secretKeys = new Set([
  'token',
  'idtoken',
  'accesstoken',
  'refreshtoken',
  'ticket',
  'authorization',
  'cookie',
  'set-cookie',
  'password',
  'secret',
  'privatekey',
  'signature',
  'x-amz-signature',
  'x-amz-security-token',
  'policy',
  'text',
]);

// Query parameters that authenticate a request: ours (token, ticket), S3 SigV4 and CloudFront signed URLs.
const secretQueryParameter =
  /([?&](?:token|ticket|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|Policy|Key-Pair-Id)=)[^&\s"'#]*/gi;
const bearer = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;
// A JWT anywhere in free text (an error message quoting a header, say): three base64url parts, the first `{"`.
const jwt = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

export function isSecretKey(key: string): boolean {
  return secretKeys.has(key.toLowerCase());
}

/** Removes credentials embedded in free text (URLs, headers, error messages). */
export function scrubText(value: string): string {
  return value.replace(secretQueryParameter, `$1${redacted}`).replace(bearer, `$1${redacted}`).replace(jwt, redacted);
}

/** A `JSON.stringify` replacer: secret fields become `[redacted]`, strings lose embedded credentials. */
export function redactForLog(key: string, value: unknown): unknown {
  if (key !== '' && isSecretKey(key) && value !== undefined && value !== null) return redacted;
  return typeof value === 'string' ? scrubText(value) : value;
}
