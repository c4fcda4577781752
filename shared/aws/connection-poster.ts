import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { StandardRetryStrategy } from '@smithy/core/retry';
import { HttpRequest } from '@smithy/core/transport';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { limits } from '../config/limits';
import type { ServerFrame } from '../protocol/frames';
import { addAwsCallGate, throughAwsCallGate } from './call-gate';

export type PostOutcome = 'sent' | 'gone';

export interface PostOptions {
  /** Abandons the call after this long (it throws); the frame may still have been delivered. */
  readonly timeoutMs?: number;
}

/** Pushes frames to WebSocket connections (the API Gateway management API). */
export interface ConnectionPoster {
  /** 'gone' when the connection no longer exists (HTTP 410); other failures throw. */
  post(connectionId: string, frame: ServerFrame, options?: PostOptions): Promise<PostOutcome>;
  disconnect(connectionId: string): Promise<void>;
}

/** Wraps the SDK client once made: handlers pass the tracer's `captureAWSv3Client`. */
export type ClientInstrumentation = (client: ApiGatewayManagementApiClient) => ApiGatewayManagementApiClient;

/** A post API Gateway refused, with its status: 429 and 5xx were retried as the SDK retries them. */
export class PostToConnectionError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorType: string,
    detail: string,
  ) {
    super(`PostToConnection answered ${statusCode} ${errorType}: ${detail}`);
    this.name = 'PostToConnectionError';
  }
}

export function createConnectionPoster(
  callbackUrl: string,
  instrument: ClientInstrumentation = (client) => client,
): ConnectionPoster {
  const agentOptions = { keepAlive: true, maxSockets: limits.managementApiMaxSockets };
  const sdkClient = new ApiGatewayManagementApiClient({
    endpoint: callbackUrl,
    // The SDK's default of 50 sockets would queue a group's fan-out behind itself.
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    }),
  });
  // A no-op on Lambda; locally, a call after the invocation's timeout is never made (shared/aws/call-gate.ts).
  addAwsCallGate(sdkClient);
  const client = instrument(sdkClient);
  const post = leanPost(callbackUrl, sdkClient);
  return {
    async post(connectionId, frame, options = {}) {
      return throughAwsCallGate('PostToConnection', () => post(connectionId, frame, options));
    },
    async disconnect(connectionId) {
      try {
        await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      } catch (error) {
        if (!(error instanceof GoneException)) throw error;
      }
    },
  };
}

/**
 * PostToConnection without the SDK's per-call middleware (serde schema, endpoint rules, user agent):
 * the same SigV4 signer, HTTP handler, credentials, region and retry strategy as the SDK client, at
 * about a third of its CPU per post (`npx tsx bench/post-cpu.ts`), which a group's 59 posts pay in a
 * row on the send's critical path. Posts are the one call made per recipient device.
 */
function leanPost(callbackUrl: string, sdkClient: ApiGatewayManagementApiClient) {
  const endpoint = new URL(callbackUrl);
  const basePath = endpoint.pathname.replace(/\/$/, '');
  const { config } = sdkClient;
  const signer = new SignatureV4({
    credentials: config.credentials,
    region: config.region,
    service: 'execute-api',
    sha256: config.sha256,
  });
  // The SDK's standard mode: throttles and transient failures retried with backoff, from a shared quota.
  const retryStrategy = new StandardRetryStrategy(config.maxAttempts);
  const encoder = new TextEncoder();
  return async (connectionId: string, frame: ServerFrame, options: PostOptions): Promise<PostOutcome> => {
    const abortSignal = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const body = encoder.encode(JSON.stringify(frame));
    let token = await retryStrategy.acquireInitialRetryToken('PostToConnection');
    for (;;) {
      const request = new HttpRequest({
        method: 'POST',
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
        path: `${basePath}/@connections/${encodeURIComponent(connectionId)}`,
        headers: {
          host: endpoint.host,
          'content-type': 'application/octet-stream',
          'content-length': String(body.byteLength),
        },
        body,
      });
      let retryType: 'THROTTLING' | 'TRANSIENT' | 'CLIENT_ERROR';
      let failure: Error;
      try {
        const signed = await signer.sign(request, { signingDate: new Date(Date.now() + config.systemClockOffset) });
        // The signer answers a signed clone of the HttpRequest it was given.
        const { response } = await config.requestHandler.handle(signed as HttpRequest, {
          ...(abortSignal ? { abortSignal } : {}),
        });
        const status = response.statusCode;
        const answer = await readBody(response.body);
        if (status >= 200 && status < 300) {
          retryStrategy.recordSuccess(token);
          return 'sent';
        }
        if (status === 410) return 'gone';
        const errorType = String(response.headers['x-amzn-errortype'] ?? '').split(':')[0] || 'UnknownError';
        failure = new PostToConnectionError(status, errorType, answer.slice(0, 200));
        retryType =
          status === 429 ? 'THROTTLING' : [500, 502, 503, 504].includes(status) ? 'TRANSIENT' : 'CLIENT_ERROR';
      } catch (error) {
        // An abandoned post (its timeout) is not retried; a connection-level failure is, as the SDK does.
        if (abortSignal?.aborted) throw abortSignal.reason ?? error;
        failure = error instanceof Error ? error : new Error(String(error));
        retryType = 'TRANSIENT';
      }
      try {
        // The strategy waits out the backoff itself; an abandoned post stops waiting at once.
        token = await untilAborted(
          retryStrategy.refreshRetryTokenForRetry(token, { errorType: retryType }),
          abortSignal,
        );
      } catch (refusal) {
        throw abortSignal?.aborted ? refusal : failure;
      }
    }
  };
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

async function readBody(body: unknown): Promise<string> {
  if (!body || typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function') return '';
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
