/**
 * A counting HTTP proxy in front of DynamoDB Local: every handler's DynamoDB call passes through
 * it (the stack is pointed at the proxy), so calls are counted as they really happen, by operation.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DynamoDbCallCounter {
  readonly endpoint: string;
  /** Calls per operation (e.g. `TransactWriteItems`, `Streams.GetRecords`) since the last reset. */
  snapshot(): Record<string, number>;
  reset(): void;
  close(): Promise<void>;
}

export async function startDynamoDbCallCounter(target: string): Promise<DynamoDbCallCounter> {
  const upstream = new URL(target);
  let counts: Record<string, number> = {};
  const server = createServer((incoming, outgoing) => {
    const operation = String(incoming.headers['x-amz-target'] ?? 'unknown')
      .replace(/^DynamoDB_\d+\./, '')
      .replace(/^DynamoDBStreams_\d+\./, 'Streams.');
    counts[operation] = (counts[operation] ?? 0) + 1;
    const forwarded = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 500, response.headers);
        response.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    snapshot: () => ({ ...counts }),
    reset: () => {
      counts = {};
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
