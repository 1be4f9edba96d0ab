// Percentiles of values given with how many clusters have each: the fleet statistics read counts
// per value from the stores, not a row per cluster.

export interface CountedValue {
  value: number;
  count: number;
}

/**
 * The q-quantile of counted values sorted ascending: the value at rank floor(q * (n - 1)) of the
 * n values they stand for (nearest rank, never interpolated); null when there are none.
 */
export function countedPercentile(sorted: readonly CountedValue[], q: number): number | null {
  const total = sorted.reduce((n, v) => n + v.count, 0);
  if (total === 0) return null;
  let rank = Math.floor(q * (total - 1));
  for (const { value, count } of sorted) {
    if (rank < count) return value;
    rank -= count;
  }
  return null;
}
