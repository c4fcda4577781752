/**
 * DynamoDB as AWS fails it, in front of DynamoDB Local (`--aws-faults`): an HTTP proxy the handlers'
 * AWS_ENDPOINT_URL_DYNAMODB points at. It answers what DynamoDB Local never does, on the wire, so the
 * real SDK parses, retries or surfaces each answer exactly as it would on AWS:
 * - TransactionConflictException for a PutItem, UpdateItem or DeleteItem of an item that an in-flight
 *   TransactWriteItems holds, and a TransactWriteItems touching such an item cancelled with the
 *   reason `TransactionConflict` (modelled: the proxy tracks the items of every transaction it has
 *   forwarded and not yet answered, and holds them `transactionHoldMs` past DynamoDB Local's answer,
 *   as a transaction on AWS holds its items for its tens of milliseconds);
 * - ThrottlingException / ProvisionedThroughputExceededException and InternalServerError (HTTP 500),
 *   per request attempt (the SDK retries both, up to its attempts);
 * - a partial BatchGetItem / BatchWriteItem: part of the keys or writes left unsent and answered as
 *   `UnprocessedKeys` / `UnprocessedItems` (at least one is processed, as on AWS).
 * Other requests (the stack's own table setup, the stream poller, tests' direct reads) do not come here.
 */
import {
  createServer,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { type TableKey, tables as tableSpecs } from '#shared/config/tables';
import type { FaultInjector } from './faults';
import type { LocalLogger } from './log';
import { closeServer } from './ports';

export interface DynamoDbFaultProxy {
  /** What the handlers' AWS_ENDPOINT_URL_DYNAMODB holds. */
  readonly endpoint: string;
  /** Items held by transactions in flight now (tests wait for one before they meet it). */
  heldItems(): number;
  /** Tests: transactions keep their items past their hold until `released` settles. */
  holdTransactionsUntil(released: Promise<void>): void;
  stop(): Promise<void>;
}

export interface DynamoDbFaultProxyOptions {
  /** DynamoDB Local. */
  readonly upstream: string;
  /** Physical table name per table (for the key schema of each item a request touches). */
  readonly tableNames: Readonly<Record<TableKey, string>>;
  readonly injector: FaultInjector;
  readonly logger: LocalLogger;
}

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

const errorPrefix = 'com.amazonaws.dynamodb.v20120810#';
/** Requests a table's throughput throttles (control-plane calls never come from handlers). */
const dataPlane = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);
const singleItemWrites = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
/** Longer than any request of the handlers' SDK waits (they give up first and retry). */
const upstreamTimeoutMs = 60_000;

export async function startDynamoDbFaultProxy(options: DynamoDbFaultProxyOptions): Promise<DynamoDbFaultProxy> {
  const { injector, logger } = options;
  const upstream = new URL(options.upstream);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  const keyNames = new Map<string, readonly string[]>();
  for (const [key, name] of Object.entries(options.tableNames) as [TableKey, string][]) {
    const spec = tableSpecs[key];
    keyNames.set(
      name,
      'sortKey' in spec && spec.sortKey ? [spec.partitionKey.name, spec.sortKey.name] : [spec.partitionKey.name],
    );
  }
  /** Item keys held by in-flight transactions, with how many hold each. */
  const held = new Map<string, number>();
  let transactionsReleased: Promise<void> = Promise.resolve();

  const itemKey = (tableName: unknown, item: unknown): string | undefined => {
    if (typeof tableName !== 'string' || typeof item !== 'object' || item === null) return undefined;
    const names = keyNames.get(tableName);
    if (names === undefined) return undefined;
    return `${tableName} ${JSON.stringify(names.map((name) => (item as Item)[name]))}`;
  };

  const transactionKeys = (input: Record<string, unknown>): (string | undefined)[] => {
    const items = Array.isArray(input.TransactItems)
      ? (input.TransactItems as Record<string, Record<string, unknown>>[])
      : [];
    return items.map((action) => {
      const request = action.Put ?? action.Update ?? action.Delete ?? action.ConditionCheck ?? action.Get;
      if (request === undefined) return undefined;
      return itemKey(request.TableName, request.Item ?? request.Key);
    });
  };

  const forward = (
    request: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...request.headers, host: upstream.host, 'content-length': String(body.length) };
      const outgoing = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers, agent },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () =>
            resolve({ status: answer.statusCode ?? 500, headers: answer.headers, body: Buffer.concat(chunks) }),
          );
          answer.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      // DynamoDB Local answers in milliseconds; one that never does must not hold a transaction's items forever.
      outgoing.setTimeout(upstreamTimeoutMs, () => {
        logger.warn('DynamoDB fault proxy: DynamoDB Local did not answer', {
          operation: request.headers['x-amz-target'],
          timeoutMs: upstreamTimeoutMs,
        });
        outgoing.destroy(new Error(`DynamoDB Local did not answer in ${upstreamTimeoutMs} ms`));
      });
      outgoing.end(body);
    });

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = await readAll(request);
    const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    if (!dataPlane.has(operation)) return relay(response, await forward(request, body));
    const input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;

    if (injector.roll('dynamoDbInternalError')) {
      return sendError(response, 500, 'InternalServerError', 'Internal server error');
    }
    if (injector.roll('throttle')) {
      return injector.random() < 0.5
        ? sendError(response, 400, 'ThrottlingException', 'Rate of requests exceeds the allowed throughput.')
        : sendError(
            response,
            400,
            'ProvisionedThroughputExceededException',
            'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
          );
    }

    if (singleItemWrites.has(operation)) {
      const key = itemKey(input.TableName, operation === 'PutItem' ? input.Item : input.Key);
      if (key !== undefined && held.has(key)) {
        injector.count('transactionConflict');
        return sendError(response, 400, 'TransactionConflictException', 'Transaction is ongoing for the item');
      }
    }

    if (operation === 'TransactWriteItems') {
      const keys = transactionKeys(input);
      if (keys.some((key) => key !== undefined && held.has(key))) {
        injector.count('transactionCancelledByConflict');
        const reasons = keys.map((key) =>
          key !== undefined && held.has(key)
            ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
            : { Code: 'None' },
        );
        return sendJson(response, 400, {
          __type: `${errorPrefix}TransactionCanceledException`,
          message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(', ')}]`,
          CancellationReasons: reasons,
        });
      }
      const taken = keys.filter((key): key is string => key !== undefined);
      for (const key of taken) held.set(key, (held.get(key) ?? 0) + 1);
      try {
        const answer = await forward(request, body);
        const holdMs = injector.settings.transactionHoldMs;
        if (holdMs > 0) await sleep(holdMs * (0.5 + injector.random()));
        await transactionsReleased;
        return relay(response, answer);
      } finally {
        for (const key of taken) {
          const count = (held.get(key) ?? 1) - 1;
          if (count > 0) held.set(key, count);
          else held.delete(key);
        }
      }
    }

    if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
      const partial = splitBatch(operation, input, injector);
      if (partial !== undefined) {
        const answer = await forward(request, Buffer.from(JSON.stringify(partial.sent)));
        if (answer.status !== 200) return relay(response, answer);
        const output = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
        const field = operation === 'BatchGetItem' ? 'UnprocessedKeys' : 'UnprocessedItems';
        output[field] = mergeUnprocessed(operation, output[field], partial.unprocessed);
        injector.count(operation === 'BatchGetItem' ? 'unprocessedKeys' : 'unprocessedItems');
        return sendJson(response, 200, output);
      }
    }
    return relay(response, await forward(request, body));
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // DynamoDB Local away (a chaos restart): the connection drops, as the SDK would see it without the proxy.
      logger.debug('DynamoDB fault proxy: upstream failed', { error });
      response.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    heldItems: () => held.size,
    holdTransactionsUntil: (released) => {
      transactionsReleased = released;
    },
    async stop() {
      await closeServer(server);
      agent.destroy();
    },
  };
}

/**
 * A partial batch when the dice say so: a random part of the keys (or writes) held back, at least one
 * sent. Undefined for a batch of one, which AWS answers whole or throttles.
 */
function splitBatch(
  operation: 'BatchGetItem' | 'BatchWriteItem',
  input: Record<string, unknown>,
  injector: FaultInjector,
): { sent: Record<string, unknown>; unprocessed: Record<string, unknown> } | undefined {
  const requestItems = (input.RequestItems ?? {}) as Record<string, unknown>;
  const entries: { table: string; index: number }[] = [];
  for (const [table, request] of Object.entries(requestItems)) {
    const list = operation === 'BatchGetItem' ? ((request as { Keys?: unknown[] }).Keys ?? []) : (request as unknown[]);
    for (let index = 0; index < list.length; index++) entries.push({ table, index });
  }
  if (entries.length < 2 || !injector.roll('unprocessed', false, `unprocessed ${operation}`)) return undefined;
  const heldBack = new Set<string>();
  const wanted = 1 + Math.floor(injector.random() * (entries.length - 1));
  for (const entry of shuffled(entries, injector.random).slice(0, wanted))
    heldBack.add(`${entry.table}#${entry.index}`);
  const sent: Record<string, unknown> = {};
  const unprocessed: Record<string, unknown> = {};
  for (const [table, request] of Object.entries(requestItems)) {
    if (operation === 'BatchGetItem') {
      const { Keys: keys = [], ...rest } = request as { Keys?: unknown[] } & Record<string, unknown>;
      const keep = keys.filter((_, index) => !heldBack.has(`${table}#${index}`));
      const back = keys.filter((_, index) => heldBack.has(`${table}#${index}`));
      if (keep.length > 0) sent[table] = { ...rest, Keys: keep };
      if (back.length > 0) unprocessed[table] = { ...rest, Keys: back };
    } else {
      const writes = request as unknown[];
      const keep = writes.filter((_, index) => !heldBack.has(`${table}#${index}`));
      const back = writes.filter((_, index) => heldBack.has(`${table}#${index}`));
      if (keep.length > 0) sent[table] = keep;
      if (back.length > 0) unprocessed[table] = back;
    }
  }
  return { sent: { ...input, RequestItems: sent }, unprocessed };
}

function mergeUnprocessed(
  operation: 'BatchGetItem' | 'BatchWriteItem',
  fromDynamoDb: unknown,
  heldBack: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...((fromDynamoDb as Record<string, unknown> | undefined) ?? {}) };
  for (const [table, request] of Object.entries(heldBack)) {
    const earlier = merged[table];
    if (earlier === undefined) merged[table] = request;
    else if (operation === 'BatchGetItem') {
      const keys = [...((earlier as { Keys: unknown[] }).Keys ?? []), ...((request as { Keys: unknown[] }).Keys ?? [])];
      merged[table] = { ...(request as object), Keys: keys };
    } else merged[table] = [...(earlier as unknown[]), ...(request as unknown[])];
  }
  return merged;
}

function shuffled<T>(values: readonly T[], random: () => number): T[] {
  const copy = [...values];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

function readAll(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function relay(
  response: ServerResponse,
  answer: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer },
): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value !== undefined && name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding') {
      headers[name] = value;
    }
  }
  headers['content-length'] = String(answer.body.length);
  response.writeHead(answer.status, headers);
  response.end(answer.body);
}

/** As DynamoDB answers: JSON 1.0, the error's type in `__type`, a CRC32 of the body. */
function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': String(bytes.length),
    'x-amz-crc32': String(crc32(bytes)),
    'x-amzn-requestid': `local-fault-${Date.now().toString(36)}`,
  });
  response.end(bytes);
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  sendJson(response, status, { __type: `${errorPrefix}${type}`, message });
}
