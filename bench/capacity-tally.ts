/**
 * The benchmark's recorder for `shared/aws/capacity-meter`: running totals of DynamoDB calls and
 * the units DynamoDB reported, by operation and by table. Phases take the difference of two snapshots.
 */
import type { DynamoDbCallRecord, TableUnits } from '#shared/aws/capacity-meter';

export interface UnitTally {
  calls: number;
  readUnits: number;
  writeUnits: number;
}

export interface TallySnapshot {
  readonly total: UnitTally & {
    failedCalls: number;
    retries: number;
    failedWriteUnits: number;
    /** Units added to what DynamoDB Local reported for transactions (see `localVersusAws`). */
    transactionWriteUnitsAdded: number;
  };
  readonly byOperation: Readonly<Record<string, UnitTally>>;
  /** Calls here count each call once per table it touched. */
  readonly byTable: Readonly<Record<string, UnitTally>>;
  /** Failed calls by operation (a failed condition, a cancelled transaction, a throttle after retries). */
  readonly failedByOperation: Readonly<Record<string, number>>;
}

/**
 * Where DynamoDB Local's `ConsumedCapacity` differs from what AWS bills, found by probing DynamoDB Local
 * (docs/performance.md, "Cost model"). The tally corrects the first two; the others are reported, not corrected.
 */
export const localVersusAws = [
  'Failed calls: a failed conditional write (ConditionalCheckFailedException) and a cancelled transaction (TransactionCanceledException) carry no ConsumedCapacity on either; AWS bills the write anyway (at least 1 WRU per conditional write, by the existing item size). The tally adds an estimate: the mean units of this run’s successful calls of the same operation on the same tables, else 1 WRU per table (2 per item for a transaction).',
  'Transactions: DynamoDB Local reports a TransactWriteItems as 2 WRU per table however many small items it writes there (2 puts or 4 puts to one table: 2 WRU); AWS bills 2 WRU per item of up to 1 KB (a ConditionCheck counted as one). The tally corrects it: a table of a transaction costs at least 2 WRU per item on it, on top of its index writes as reported.',
  'Transactions and indexes: DynamoDB Local doubles the index write of a transactional update (4 WRU for a GSI key change, 2 for another attribute); the pricing pages do not say whether AWS doubles index writes made by a transaction; the bench keeps the figure DynamoDB Local reports.',
  'Non-transactional index writes match: 1 WRU per index entry written, 2 when an update moves the index key (delete and put).',
] as const;

/** Operations whose failures AWS bills (a condition evaluated, a transaction cancelled). */
const billedWhenFailed = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems']);

export class CapacityTally {
  private readonly total = {
    calls: 0,
    readUnits: 0,
    writeUnits: 0,
    failedCalls: 0,
    retries: 0,
    failedWriteUnits: 0,
    transactionWriteUnitsAdded: 0,
  };
  private readonly byOperation: Record<string, UnitTally> = {};
  private readonly byTable: Record<string, UnitTally> = {};
  private readonly failedByOperation: Record<string, number> = {};
  /** Successful calls by shape (operation and tables): what a failed call of that shape is taken to cost. */
  private readonly shapes = new Map<string, { calls: number; writeUnits: number }>();

  readonly record = (reported: DynamoDbCallRecord): void => {
    const call = billedAsAws(reported);
    this.total.transactionWriteUnitsAdded += call.writeUnits - reported.writeUnits;
    add(this.total, call.readUnits, call.writeUnits);
    const shape = `${call.operation} ${call.tables
      .map((t) => t.table)
      .sort()
      .join(',')}`;
    if (call.failed) {
      this.total.failedCalls += 1;
      this.failedByOperation[call.operation] = (this.failedByOperation[call.operation] ?? 0) + 1;
      this.total.failedWriteUnits += this.failedWriteUnits(call, shape);
    } else if (billedWhenFailed.has(call.operation)) {
      const seen = this.shapes.get(shape) ?? { calls: 0, writeUnits: 0 };
      seen.calls += 1;
      seen.writeUnits += call.writeUnits;
      this.shapes.set(shape, seen);
    }
    this.total.retries += Math.max(0, call.attempts - 1);
    add(entry(this.byOperation, call.operation), call.readUnits, call.writeUnits);
    for (const table of call.tables) add(entry(this.byTable, table.table), table.readUnits, table.writeUnits);
  };

  /** What AWS would bill for a failed call that reported nothing (see `localVersusAws`). */
  private failedWriteUnits(call: DynamoDbCallRecord, shape: string): number {
    if (!billedWhenFailed.has(call.operation)) return 0;
    const seen = this.shapes.get(shape);
    if (seen !== undefined && seen.calls > 0) return seen.writeUnits / seen.calls;
    if (call.operation !== 'TransactWriteItems') return Math.max(1, call.tables.length);
    return (
      2 *
      Math.max(
        1,
        sum(call.tables, (t) => t.transactItems ?? 1),
      )
    );
  }

  /** Calls so far: a cheap change detector. */
  get calls(): number {
    return this.total.calls;
  }

  snapshot(): TallySnapshot {
    return structuredClone({
      total: this.total,
      byOperation: this.byOperation,
      byTable: this.byTable,
      failedByOperation: this.failedByOperation,
    });
  }
}

/**
 * `call` with each table of a successful transaction raised to AWS's 2 WRU per item on it (DynamoDB
 * Local reports 2 per table); index writes stay as reported. Every other call is returned as it is.
 */
export function billedAsAws(call: DynamoDbCallRecord): DynamoDbCallRecord {
  if (call.operation !== 'TransactWriteItems' || call.failed) return call;
  const tables = call.tables.map((t): TableUnits => {
    const base = t.baseTableUnits ?? t.writeUnits;
    const added = Math.max(0, 2 * (t.transactItems ?? 0) - base);
    return added === 0 ? t : { ...t, writeUnits: t.writeUnits + added, baseTableUnits: base + added };
  });
  return { ...call, tables, writeUnits: sum(tables, (t) => t.writeUnits) };
}

function sum<T>(values: readonly T[], pick: (value: T) => number): number {
  return values.reduce((total, value) => total + pick(value), 0);
}

/** `after - before`, per message: what the phase between the two snapshots cost each message. */
export function tallyPerMessage(
  before: TallySnapshot,
  after: TallySnapshot,
  messages: number,
  tableName: (name: string) => string,
) {
  const per = (value: number) => round(value / Math.max(1, messages));
  const diff = (
    a: Readonly<Record<string, UnitTally>>,
    b: Readonly<Record<string, UnitTally>>,
    rename: (k: string) => string,
  ) =>
    Object.fromEntries(
      Object.entries(b)
        .map(([key, t]): [string, UnitTally] => {
          const was = a[key] ?? { calls: 0, readUnits: 0, writeUnits: 0 };
          return [
            rename(key),
            {
              calls: per(t.calls - was.calls),
              readUnits: per(t.readUnits - was.readUnits),
              writeUnits: per(t.writeUnits - was.writeUnits),
            },
          ];
        })
        .filter(([, t]) => t.calls > 0),
    );
  return {
    calls: per(after.total.calls - before.total.calls),
    readUnits: per(after.total.readUnits - before.total.readUnits),
    writeUnits: per(after.total.writeUnits - before.total.writeUnits),
    failedCalls: per(after.total.failedCalls - before.total.failedCalls),
    /** Estimated: AWS bills failed conditional writes and cancelled transactions; no one reports their units. */
    failedWriteUnits: per(after.total.failedWriteUnits - before.total.failedWriteUnits),
    /** Of `writeUnits`: what the transaction correction added to DynamoDB Local's report. */
    transactionWriteUnitsAdded: per(after.total.transactionWriteUnitsAdded - before.total.transactionWriteUnitsAdded),
    retries: per(after.total.retries - before.total.retries),
    byOperation: diff(before.byOperation, after.byOperation, (key) => key),
    byTable: diff(before.byTable, after.byTable, tableName),
    failedByOperation: Object.fromEntries(
      Object.entries(after.failedByOperation)
        .map(([operation, count]): [string, number] => [
          operation,
          per(count - (before.failedByOperation[operation] ?? 0)),
        ])
        .filter(([, count]) => count > 0),
    ),
  };
}

export type DynamoDbPerMessage = ReturnType<typeof tallyPerMessage>;

function entry(map: Record<string, UnitTally>, key: string): UnitTally {
  const existing = map[key];
  if (existing) return existing;
  const created = { calls: 0, readUnits: 0, writeUnits: 0 };
  map[key] = created;
  return created;
}

function add(tally: UnitTally, readUnits: number, writeUnits: number): void {
  tally.calls += 1;
  tally.readUnits += readUnits;
  tally.writeUnits += writeUnits;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
