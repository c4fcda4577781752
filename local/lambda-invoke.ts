/**
 * Lambda's Invoke API on a laptop, asynchronous invocations only (`X-Amz-Invocation-Type: Event`):
 * answers 202 at once and runs the catalog handler in the background, retrying a failed invocation as
 * Lambda does (the function's `asyncInvocation.retryAttempts`, with backoff, shorter here), then logs
 * it as sent to the on-failure destination. Shares the S3 stand-in's port; handlers find it through
 * AWS_ENDPOINT_URL_LAMBDA.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FunctionName, type FunctionSpec, functions } from '#shared/config/functions';
import { PayloadTooLargeError, readBody } from './http-helpers';
import type { LocalLogger } from './log';
import type { LocalAwsService } from './s3/request-handler';
import { checkSigV4, sha256Hex } from './s3/sigv4';

export interface AsyncInvocationStats {
  invoked: number;
  /** Attempts that failed (each retry that follows counts once more). */
  failedAttempts: number;
  /** Events that failed every retry (on AWS: the on-failure destination). */
  exhausted: number;
}

export interface LambdaInvokeService extends LocalAwsService {
  readonly stats: Readonly<AsyncInvocationStats>;
  /** Resolves once every event accepted so far ran to success or gave up. */
  settled(): Promise<void>;
  /** Drops waiting retries and accepts nothing more. */
  stop(): void;
}

export interface LambdaInvokeOptions {
  readonly invoke: (functionName: FunctionName, event: unknown) => Promise<unknown>;
  /** The pause before retry n is `retryDelayMs * n` (Lambda waits about a minute, then two). */
  readonly retryDelayMs: number;
  readonly logger: LocalLogger;
}

/** Asynchronous invocation payloads are capped at 1 MB (256 KB before 2025). */
const maxPayloadBytes = 1024 * 1024;
const invokePath = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** `parley-local-<name>` (what PUSH_SEND_FUNCTION holds locally) or an ARN ending in it: the catalog name. */
export const localFunctionName = (name: FunctionName) => `parley-local-${name}`;

export function createLambdaInvokeService(options: LambdaInvokeOptions): LambdaInvokeService {
  const { logger } = options;
  const stats: AsyncInvocationStats = { invoked: 0, failedAttempts: 0, exhausted: 0 };
  const inFlight = new Set<Promise<void>>();
  const stopping = new AbortController();

  const runWithRetries = async (functionName: FunctionName, event: unknown): Promise<void> => {
    const spec: FunctionSpec = functions[functionName];
    const attempts = 1 + (spec.asyncInvocation?.retryAttempts ?? 2);
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        await options.invoke(functionName, event);
        return;
      } catch (error) {
        stats.failedAttempts += 1;
        if (attempt === attempts) {
          stats.exhausted += 1;
          logger.error('asynchronous invocation failed every retry (on AWS: its on-failure queue)', {
            function: functionName,
            attempts,
            error,
          });
          return;
        }
        const retried = await sleep(options.retryDelayMs * attempt, true, { signal: stopping.signal }).catch(
          () => false,
        );
        if (!retried) return;
      }
    }
  };

  return {
    stats,
    handles: (request) =>
      request.method === 'POST' && invokePath.test(new URL(request.url ?? '/', 'http://x').pathname),
    async handle(request, response) {
      let body: Buffer;
      try {
        body = await readBody(request, maxPayloadBytes);
      } catch (error) {
        if (error instanceof PayloadTooLargeError) return sendError(response, 413, 'RequestTooLargeException');
        throw error;
      }
      const failure = await checkSigV4(request, { service: 'lambda', payloadHash: sha256Hex(body) });
      if (failure !== undefined) return sendError(response, 403, 'InvalidSignatureException', failure.message);
      const pathname = new URL(request.url ?? '/', 'http://x').pathname;
      const requested = decodeURIComponent(invokePath.exec(pathname)?.[1] ?? '');
      const functionName = (Object.keys(functions) as FunctionName[]).find(
        (name) => requested === localFunctionName(name) || requested.endsWith(`:function:${localFunctionName(name)}`),
      );
      if (functionName === undefined) return sendError(response, 404, 'ResourceNotFoundException');
      if (request.headers['x-amz-invocation-type'] !== 'Event') {
        return sendError(response, 400, 'InvalidParameterValueException', 'Only Event invocations are served locally');
      }
      let event: unknown;
      try {
        event = JSON.parse(body.toString('utf8') || '{}');
      } catch {
        return sendError(response, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
      }
      if (stopping.signal.aborted) return sendError(response, 503, 'ServiceException');
      stats.invoked += 1;
      const run = runWithRetries(functionName, event).finally(() => inFlight.delete(run));
      inFlight.add(run);
      response.writeHead(202, { 'x-amzn-requestid': randomUUID(), 'content-length': '0' });
      response.end();
    },
    async settled() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    stop() {
      stopping.abort();
    },
  };
}

function sendError(response: ServerResponse, status: number, type: string, message = type): void {
  const text = JSON.stringify({ Type: 'User', message });
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'x-amzn-errortype': type,
    'x-amzn-requestid': randomUUID(),
  });
  response.end(text);
}
