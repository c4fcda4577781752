/**
 * Secrets Manager on a laptop: GetSecretValue only (what Powertools' getSecret calls), over the AWS
 * JSON 1.1 protocol, SigV4-checked with the local credentials. It shares the S3 stand-in's port and
 * is told apart by its X-Amz-Target header; handlers find it through AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { localAccountId, localRegion } from './aws-local';
import { PayloadTooLargeError, readBody } from './http-helpers';
import type { LocalLogger } from './log';
import type { LocalAwsService } from './s3/request-handler';
import type { S3Failure } from './s3/s3-errors';
import { checkSigV4, sha256Hex } from './s3/sigv4';

export interface SecretsManagerOptions {
  /** Secret name to SecretString. */
  readonly secrets?: Readonly<Record<string, string>>;
  readonly logger: LocalLogger;
}

export interface SecretsManager extends LocalAwsService {
  /** Creates or replaces a secret (a new version, as PutSecretValue would make). */
  put(name: string, value: string): void;
}

interface StoredSecret {
  readonly arn: string;
  readonly name: string;
  readonly value: string;
  readonly versionId: string;
  readonly createdAt: Date;
}

const targetPrefix = 'secretsmanager.';
const jsonContentType = 'application/x-amz-json-1.1';
/** GetSecretValue requests are a few hundred bytes. */
const maxRequestBytes = 64 * 1024;

export function createSecretsManager(options: SecretsManagerOptions): SecretsManager {
  const { logger } = options;
  const secrets = new Map<string, StoredSecret>();

  const put = (name: string, value: string): void => {
    const existing = secrets.get(name);
    // Secrets Manager appends six random characters to a secret's ARN.
    const suffix = randomBytes(4).toString('base64url').replace(/[-_]/g, 'x').slice(0, 6);
    secrets.set(name, {
      arn: existing?.arn ?? `arn:aws:secretsmanager:${localRegion}:${localAccountId}:secret:${name}-${suffix}`,
      name,
      value,
      versionId: randomUUID(),
      createdAt: existing?.createdAt ?? new Date(),
    });
  };
  for (const [name, value] of Object.entries(options.secrets ?? {})) put(name, value);

  /** By name, full ARN, or ARN without its random suffix, as the real service accepts. */
  const find = (secretId: string): StoredSecret | undefined =>
    secrets.get(secretId) ??
    [...secrets.values()].find((secret) => secret.arn === secretId || secret.arn.slice(0, -7) === secretId);

  return {
    put,
    handles: (request) =>
      request.method === 'POST' && String(request.headers['x-amz-target'] ?? '').startsWith(targetPrefix),
    async handle(request, response) {
      let body: Buffer;
      try {
        body = await readBody(request, maxRequestBytes);
      } catch (error) {
        if (error instanceof PayloadTooLargeError) {
          sendError(response, 413, 'RequestEntityTooLargeException', 'Request body too large');
          return;
        }
        throw error;
      }
      const failure = await checkSigV4(request, { service: 'secretsmanager', payloadHash: sha256Hex(body) });
      if (failure !== undefined) {
        const [type, message] = authError(failure);
        sendError(response, 400, type, message);
        return;
      }
      const operation = String(request.headers['x-amz-target']).slice(targetPrefix.length);
      if (operation !== 'GetSecretValue') {
        sendError(
          response,
          400,
          'UnknownOperationException',
          `The local Secrets Manager does not implement ${operation}`,
        );
        return;
      }
      let input: unknown;
      try {
        input = JSON.parse(body.toString('utf8'));
      } catch {
        sendError(response, 400, 'SerializationException', 'Start of structure or map found where not expected.');
        return;
      }
      const field = (name: string): unknown =>
        typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[name] : undefined;
      const secretId = field('SecretId');
      if (typeof secretId !== 'string' || secretId === '') {
        sendError(
          response,
          400,
          'ValidationException',
          "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must not be null",
        );
        return;
      }
      const secret = find(secretId);
      const versionId = field('VersionId');
      const versionStage = field('VersionStage');
      if (
        secret === undefined ||
        (versionId !== undefined && versionId !== secret.versionId) ||
        (versionStage !== undefined && versionStage !== 'AWSCURRENT')
      ) {
        logger.warn('Secrets Manager: no such secret', { secretId });
        sendError(response, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
        return;
      }
      sendJson(response, 200, {
        ARN: secret.arn,
        Name: secret.name,
        SecretString: secret.value,
        VersionId: secret.versionId,
        VersionStages: ['AWSCURRENT'],
        // The JSON protocols carry timestamps as epoch seconds.
        CreatedDate: secret.createdAt.getTime() / 1000,
      });
    },
  };
}

/** The JSON-protocol names for the failures the SigV4 check reports in S3's terms. */
function authError(failure: S3Failure): [string, string] {
  switch (failure.code) {
    case 'AccessDenied':
      return failure.message === 'Access Denied'
        ? ['MissingAuthenticationTokenException', 'Missing Authentication Token']
        : ['InvalidSignatureException', failure.message];
    case 'InvalidAccessKeyId':
      return ['UnrecognizedClientException', 'The security token included in the request is invalid.'];
    case 'SignatureDoesNotMatch':
      return ['InvalidSignatureException', failure.message];
    case 'RequestTimeTooSkewed':
      return ['InvalidSignatureException', 'Signature expired: the request time is too far from the server time.'];
    default:
      return ['IncompleteSignatureException', failure.message];
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': jsonContentType,
    'content-length': String(Buffer.byteLength(text)),
    'x-amzn-requestid': randomUUID(),
  });
  response.end(text);
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  response.setHeader('x-amzn-errortype', type);
  sendJson(response, status, { __type: type, message });
}
