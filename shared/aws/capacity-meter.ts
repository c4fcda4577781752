/**
 * Per-call DynamoDB cost data, measured rather than estimated: a client middleware asks every
 * operation that can report it for `ReturnConsumedCapacity: 'TOTAL'` and hands what DynamoDB
 * answers (operation, table, read units, write units) to one process-wide recorder. The default
 * recorder does nothing; `npm run bench` installs a tallying one, and production code could install
 * one that emits metrics. The cost of keeping it on is a few bytes per response.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbOperation, requiredAccess } from './access-guard';

/** Units one call consumed on one table (indexes included, as `TOTAL` reports them). */
export interface TableUnits {
  readonly table: string;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** A transaction's units on the table itself, its indexes left out (asked for as `INDEXES`). */
  readonly baseTableUnits?: number;
  /** Items a TransactWriteItems wrote or checked on this table: AWS bills each at least 2 WRU. */
  readonly transactItems?: number;
}

/** One DynamoDB call as the client made it (SDK retries inside it are counted in `attempts`). */
export interface DynamoDbCallRecord {
  /** The API name: `PutItem`, `Query`, `TransactWriteItems`, ... */
  readonly operation: string;
  /** One entry per table DynamoDB reported; when it reported none, the input's tables with zero units. */
  readonly tables: readonly TableUnits[];
  readonly readUnits: number;
  readonly writeUnits: number;
  /** The call threw (a failed condition, a cancelled transaction, a throttle after retries). */
  readonly failed: boolean;
  /** HTTP attempts, retries included; 0 when unknown. */
  readonly attempts: number;
}

export type CapacityRecorder = (call: DynamoDbCallRecord) => void;

/** Operations whose input takes `ReturnConsumedCapacity` (DynamoDB API reference). */
const metered = new Set([
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
  'ExecuteStatement',
  'BatchExecuteStatement',
  'ExecuteTransaction',
]);

const readOperations = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

// A global symbol rather than a module variable: two copies of this module (bundles, test loaders) share one recorder.
const recorderKey = Symbol.for('parley.dynamodb.capacityRecorder');
type RecorderSlot = { [recorderKey]?: CapacityRecorder };

const noRecorder: CapacityRecorder = () => undefined;

/** Installs the process-wide recorder (`undefined` restores the no-op); returns the previous one. */
export function setCapacityRecorder(recorder: CapacityRecorder | undefined): CapacityRecorder {
  const slot = globalThis as RecorderSlot;
  const previous = slot[recorderKey] ?? noRecorder;
  slot[recorderKey] = recorder;
  return previous;
}

function currentRecorder(): CapacityRecorder {
  return (globalThis as RecorderSlot)[recorderKey] ?? noRecorder;
}

/**
 * Adds the meter to `client`'s middleware stack (shared by every DynamoDBDocumentClient built on it).
 * Callers that set `ReturnConsumedCapacity` themselves keep their setting and their output untouched;
 * for everyone else the extra `ConsumedCapacity` field is removed again, so outputs look as before.
 */
export function addCapacityMeter(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = dynamoDbOperation(context);
      const input = args.input as Readonly<Record<string, unknown>>;
      const askedFor = metered.has(operation) && input.ReturnConsumedCapacity === undefined;
      // A transaction's base-table units apart from its indexes: what the per-item minimum applies to.
      const detail = operation === 'TransactWriteItems' ? 'INDEXES' : 'TOTAL';
      const forwarded = askedFor ? { ...args, input: { ...input, ReturnConsumedCapacity: detail } } : args;
      let result: Awaited<ReturnType<typeof next>>;
      try {
        result = await next(forwarded as typeof args);
      } catch (error) {
        record({
          operation,
          tables: inputTables(operation, input),
          readUnits: 0,
          writeUnits: 0,
          failed: true,
          attempts: 0,
        });
        throw error;
      }
      const output = result.output as Readonly<Record<string, unknown>> & { $metadata?: { attempts?: number } };
      const tables = consumedTables(operation, input, output.ConsumedCapacity);
      record({
        operation,
        tables,
        readUnits: sum(tables, (t) => t.readUnits),
        writeUnits: sum(tables, (t) => t.writeUnits),
        failed: false,
        attempts: output.$metadata?.attempts ?? 0,
      });
      if (!askedFor || output.ConsumedCapacity === undefined) return result;
      const { ConsumedCapacity: _reported, ...unchanged } = output;
      return { ...result, output: unchanged as typeof result.output };
    },
    // Initialize: before serialization (so the field is sent) and outside the retry loop (one record per call).
    { step: 'initialize', name: 'parleyCapacityMeter', override: true },
  );
}

function record(call: DynamoDbCallRecord): void {
  try {
    currentRecorder()(call);
  } catch {
    // Cost data must never fail the call it describes.
  }
}

interface ConsumedCapacity {
  readonly TableName?: string;
  readonly CapacityUnits?: number;
  readonly ReadCapacityUnits?: number;
  readonly WriteCapacityUnits?: number;
  readonly Table?: { readonly CapacityUnits?: number };
}

function consumedTables(
  operation: string,
  input: Readonly<Record<string, unknown>>,
  reported: unknown,
): readonly TableUnits[] {
  const entries = (Array.isArray(reported) ? reported : reported === undefined ? [] : [reported]) as ConsumedCapacity[];
  if (entries.length === 0) return inputTables(operation, input);
  const isRead = readOperations.has(operation) || isSelect(input);
  const items = operation === 'TransactWriteItems' ? itemsPerTable(operation, input) : undefined;
  return entries.map((entry) => {
    const units = entry.CapacityUnits ?? 0;
    const split = entry.ReadCapacityUnits !== undefined || entry.WriteCapacityUnits !== undefined;
    const table = entry.TableName ?? String(input.TableName ?? 'unknown');
    return {
      table,
      readUnits: split ? (entry.ReadCapacityUnits ?? 0) : isRead ? units : 0,
      writeUnits: split ? (entry.WriteCapacityUnits ?? 0) : isRead ? 0 : units,
      ...(items ? { baseTableUnits: entry.Table?.CapacityUnits ?? units, transactItems: items.get(table) ?? 0 } : {}),
    };
  });
}

/** PartiQL reads are SELECT statements; everything else it runs writes. */
function isSelect(input: Readonly<Record<string, unknown>>): boolean {
  return typeof input.Statement === 'string' && /^\s*select\b/i.test(input.Statement);
}

/** Tables named in the input (those IAM would check), for calls DynamoDB reported no capacity for. */
function inputTables(operation: string, input: Readonly<Record<string, unknown>>): readonly TableUnits[] {
  const items = itemsPerTable(operation, input);
  const transaction = operation === 'TransactWriteItems';
  return [...items.keys()].map((table) => ({
    table,
    readUnits: 0,
    writeUnits: 0,
    ...(transaction ? { transactItems: items.get(table) ?? 0 } : {}),
  }));
}

/** How many of the call's items (a transaction's actions; one per table otherwise) name each table. */
function itemsPerTable(operation: string, input: Readonly<Record<string, unknown>>): ReadonlyMap<string, number> {
  const items = new Map<string, number>();
  for (const { tableName } of requiredAccess(operation, input)) items.set(tableName, (items.get(tableName) ?? 0) + 1);
  return items;
}

function sum(tables: readonly TableUnits[], pick: (t: TableUnits) => number): number {
  return tables.reduce((total, t) => total + pick(t), 0);
}
