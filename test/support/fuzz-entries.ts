/**
 * JSON objects as the fuzzers write them: entries of key and raw value text, so a test can write
 * duplicate keys and values no serialiser would, and mutate them one change at a time; and the seed and
 * run count both fuzzers assert their properties with.
 */
import fc from 'fast-check';

const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
const runScale = Number(process.env.FUZZ_RUNS ?? 1);

/** A property's run count scaled by FUZZ_RUNS (a multiplier), at least one. */
const runs = (count: number): number => Math.max(1, Math.round(count * runScale));

/** Runs a property with the suite's seed (FUZZ_SEED); fast-check's report (seed, path, counterexample) is the failure. */
export async function holds<Args extends [unknown, ...unknown[]]>(
  property: fc.IAsyncPropertyWithHooks<Args>,
  numRuns: number,
): Promise<void> {
  await fc.assert(property, {
    seed,
    numRuns: runs(numRuns),
    plugins: [fc.interruptAfterTimeLimit(50_000, { failOnInterrupt: true })],
  });
}

export type Entries = ReadonlyArray<readonly [key: string, rawValue: string]>;

export function writeEntries(entries: Entries): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

export function parsedOrUndefined(text: string): { readonly value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

export type Mutation =
  | { readonly kind: 'set'; readonly at: number; readonly value: string }
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'add'; readonly key: string; readonly value: string }
  | { readonly kind: 'duplicate'; readonly at: number; readonly value: string };

/** Changes drawn from the surface's own hostile keys and values; long keys sized to what that surface lets through. */
export function mutation(
  value: fc.Arbitrary<string>,
  hostileKeys: readonly string[],
  longKeyLength: { readonly min: number; readonly max: number },
): fc.Arbitrary<Mutation> {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...hostileKeys) },
    { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.integer(longKeyLength).map((length) => 'k'.repeat(length)) },
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), key, value }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), value }) },
  );
}

export function mutate(entries: Entries, change: Mutation): Entries {
  if (change.kind === 'add') return [...entries, [change.key, change.value]];
  if (entries.length === 0) return entries;
  const at = change.at % entries.length;
  const [key] = entries[at] ?? ['', ''];
  if (change.kind === 'delete') return entries.filter((_entry, index) => index !== at);
  if (change.kind === 'set') return entries.map((entry, index) => (index === at ? [key, change.value] : entry));
  return [...entries, [key, change.value]];
}
