/**
 * A counting HTTP proxy in front of DynamoDB Local: every handler's DynamoDB call passes through
 * it (the stack is pointed at the proxy), so calls are counted as they really happen, by
 * operation, and each request asks for `ReturnConsumedCapacity: TOTAL` so units are summed from
 * what DynamoDB reports rather than estimated.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OperationTally {
  calls: number;
  readUnits: number;
  writeUnits: number;
}

export interface DynamoDbCallCounter {
  readonly endpoint: string;
  /** Tallies per operation (e.g. `TransactWriteItems`, `Streams.GetRecords`) since the last reset. */
  snapshot(): Record<string, OperationTally>;
  reset(): void;
  close(): Promise<void>;
}

/** Operations that accept ReturnConsumedCapacity. */
const reportsCapacity = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'TransactGetItems',
]);

interface ConsumedCapacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

export async function startDynamoDbCallCounter(target: string): Promise<DynamoDbCallCounter> {
  const upstream = new URL(target);
  let tallies: Record<string, OperationTally> = {};
  const server = createServer(async (incoming, outgoing) => {
    const operation = String(incoming.headers['x-amz-target'] ?? 'unknown')
      .replace(/^DynamoDB_\d+\./, '')
      .replace(/^DynamoDBStreams_\d+\./, 'Streams.');
    const tally = tallies[operation] ?? { calls: 0, readUnits: 0, writeUnits: 0 };
    tallies[operation] = tally;
    tally.calls++;
    let body = Buffer.concat(await incoming.toArray());
    const measured = reportsCapacity.has(operation);
    if (measured)
      body = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString('utf8')), ReturnConsumedCapacity: 'TOTAL' }));
    const headers = { ...incoming.headers, 'content-length': String(body.length) };
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers },
      async (response) => {
        const answer = Buffer.concat(await response.toArray());
        if (measured && (response.statusCode ?? 500) < 300) addUnits(tally, operation, answer);
        outgoing.writeHead(response.statusCode ?? 500, {
          ...response.headers,
          'content-length': String(answer.length),
        });
        outgoing.end(answer);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    forwarded.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    snapshot: () => structuredClone(tallies),
    reset: () => {
      tallies = {};
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Reads units: a read operation's CapacityUnits are read units, a write's are write units. */
function addUnits(tally: OperationTally, operation: string, answer: Buffer): void {
  const parsed = JSON.parse(answer.toString('utf8')) as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] };
  const consumed = parsed.ConsumedCapacity;
  const entries = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
  const isRead = ['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems'].includes(operation);
  for (const entry of entries) {
    const units = entry.CapacityUnits ?? 0;
    if (isRead) tally.readUnits += entry.ReadCapacityUnits ?? units;
    else tally.writeUnits += entry.WriteCapacityUnits ?? units;
  }
}
