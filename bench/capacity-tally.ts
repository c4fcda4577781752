/**
 * The benchmark's recorder for `shared/aws/capacity-meter`: running totals of DynamoDB calls and
 * the units DynamoDB reported, by operation and by table. Phases take the difference of two snapshots.
 */
import type { DynamoDbCallRecord } from '#shared/aws/capacity-meter';

export interface UnitTally {
  calls: number;
  readUnits: number;
  writeUnits: number;
}

export interface TallySnapshot {
  readonly total: UnitTally & { failedCalls: number; retries: number };
  readonly byOperation: Readonly<Record<string, UnitTally>>;
  /** Calls here count each call once per table it touched. */
  readonly byTable: Readonly<Record<string, UnitTally>>;
}

export class CapacityTally {
  private readonly total = { calls: 0, readUnits: 0, writeUnits: 0, failedCalls: 0, retries: 0 };
  private readonly byOperation: Record<string, UnitTally> = {};
  private readonly byTable: Record<string, UnitTally> = {};

  readonly record = (call: DynamoDbCallRecord): void => {
    add(this.total, call.readUnits, call.writeUnits);
    if (call.failed) this.total.failedCalls += 1;
    this.total.retries += Math.max(0, call.attempts - 1);
    add(entry(this.byOperation, call.operation), call.readUnits, call.writeUnits);
    for (const table of call.tables) add(entry(this.byTable, table.table), table.readUnits, table.writeUnits);
  };

  /** Calls so far: a cheap change detector. */
  get calls(): number {
    return this.total.calls;
  }

  snapshot(): TallySnapshot {
    return structuredClone({ total: this.total, byOperation: this.byOperation, byTable: this.byTable });
  }
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
    retries: per(after.total.retries - before.total.retries),
    byOperation: diff(before.byOperation, after.byOperation, (key) => key),
    byTable: diff(before.byTable, after.byTable, tableName),
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
