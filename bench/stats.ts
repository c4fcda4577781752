/** Percentiles and distribution points from raw samples. */
import { round } from './capacity-tally';

export interface Distribution {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((total, value) => total + value, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50), 1),
    p95: round(percentile(sorted, 95), 1),
    p99: round(percentile(sorted, 99), 1),
    max: round(sorted.at(-1) ?? Number.NaN, 1),
    mean: round(mean, 1),
  };
}

/** The cumulative distribution at fixed percentiles (0.5 % steps up to 99, then finer), for charts. */
export function cdfPoints(samples: readonly number[]): Array<{ readonly p: number; readonly ms: number }> {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const ps = [...Array.from({ length: 198 }, (_, i) => (i + 1) * 0.5), 99.2, 99.4, 99.6, 99.8, 99.9, 100];
  return ps.map((p) => ({ p, ms: round(percentile(sorted, p), 2) }));
}
