/**
 * The redaction both loggers apply: whatever a careless line hands them (a URL, a header, an
 * error quoting a token, a message object), credentials and message text come out as `[redacted]`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { redacted, redactForLog, scrubText } from '#shared/log-hygiene';
import { logger } from '../../lambdas/lib/observability';
import { createLocalLogger } from '../../local/log';

const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl';
const presigned =
  'https://bucket.s3.amazonaws.com/uploads/c/a/original?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261127&X-Amz-Signature=0a1b2c3d&X-Amz-SignedHeaders=host';
const cloudFront =
  'https://d111.cloudfront.net/media/c/a/original?Expires=1795821900&Signature=Zm9v~YmFy__&Key-Pair-Id=K2AB';
const webSocket = `wss://api.example.com/prod?token=${jwt}&deviceId=phone`;
const withTicket = 'wss://api.example.com/prod?deviceId=phone&ticket=dGlja2V0LXZhbHVlLTQzLWNoYXJhY3RlcnMtbG9uZw';

describe('scrubText', () => {
  it.each([
    ['a presigned S3 URL', presigned, ['0a1b2c3d', 'AKIA']],
    ['a CloudFront signed URL', cloudFront, ['Zm9v~YmFy__', 'K2AB']],
    ['a WebSocket URL with a token', webSocket, [jwt]],
    ['a WebSocket URL with a ticket', withTicket, ['dGlja2V0']],
    ['an Authorization header', `authorization: Bearer ${jwt}`, [jwt]],
    ['a bare JWT in an error message', `Invalid token ${jwt} (expired)`, [jwt]],
  ])('removes the credentials of %s', (_what, text, secrets) => {
    const scrubbed = scrubText(text);
    for (const secret of secrets) expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain(redacted);
  });

  it('keeps what is no credential', () => {
    expect(scrubText('/conversations/01ABC/messages?limit=50&before=12')).toBe(
      '/conversations/01ABC/messages?limit=50&before=12',
    );
    expect(scrubText(presigned)).toContain('X-Amz-SignedHeaders=host');
  });
});

describe('redactForLog', () => {
  it('blanks secret and text fields at any depth, and scrubs every string', () => {
    const line = JSON.stringify(
      {
        headers: { Authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
        query: { token: jwt, deviceId: 'phone' },
        frame: { action: 'sendMessage', text: 'meet me at noon', clientMessageId: 'c-1' },
        url: presigned,
      },
      redactForLog,
    );

    expect(line).not.toContain(jwt);
    expect(line).not.toContain('meet me at noon');
    expect(line).not.toContain('0a1b2c3d');
    expect(line).toContain('"deviceId":"phone"');
    expect(line).toContain('"clientMessageId":"c-1"');
  });
});

describe('the loggers', () => {
  const written: string[] = [];
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  afterEach(() => {
    process.stdout.write = originals.stdout;
    process.stderr.write = originals.stderr;
    written.length = 0;
  });

  it("redact the handlers' Powertools lines, errors included", () => {
    // Powertools writes INFO to stdout and ERROR to stderr.
    const keep = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    process.stdout.write = keep;
    process.stderr.write = keep;

    logger.error('request failed', {
      url: cloudFront,
      message: { id: 'c-1', text: 'meet me at noon' },
      error: new Error(`upstream refused ${webSocket}`),
    });

    const line = written.join('');
    expect(line).toContain('request failed');
    for (const secret of [jwt, 'Zm9v~YmFy__', 'meet me at noon']) expect(line).not.toContain(secret);
  });

  it("redact the local stack's lines", () => {
    const lines: string[] = [];
    createLocalLogger('DEBUG', (line) => lines.push(line)).error('S3 stand-in request failed', {
      url: presigned,
      error: new Error(`bad ${withTicket}`),
    });

    expect(lines.join('\n')).not.toContain('0a1b2c3d');
    expect(lines.join('\n')).toContain(redacted);
  });
});
