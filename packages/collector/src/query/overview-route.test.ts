// overview() reads spans counted per pair of days; its answer must be what the same clusters one
// by one would give (the nearest-rank percentile of every cluster's lifetime).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterSpan } from '../store/store.js';
import { addDays, DAY_MS } from '../utc-day.js';
import { overview } from './overview-route.js';

/** The overview of clusters given one by one: the definition the counted form must match. */
function overviewOfEach(clusters: { firstDay: string; lastDay: string }[], fromDay: string, toDay: string) {
  const lifetimes = clusters
    .map((c) => (Date.parse(c.lastDay) - Date.parse(c.firstDay)) / DAY_MS + 1)
    .sort((a, b) => a - b);
  const at = (q: number) =>
    lifetimes.length === 0 ? null : lifetimes[Math.floor(q * (lifetimes.length - 1))]!;
  const silentFrom = addDays(fromDay, -7);
  const silentTo = addDays(toDay, -7);
  return {
    new: clusters.filter((c) => c.firstDay >= fromDay && c.firstDay <= toDay).length,
    silent: clusters.filter((c) => c.lastDay >= silentFrom && c.lastDay <= silentTo).length,
    total: clusters.length,
    lifetimeDays: { p50: at(0.5), p90: at(0.9) },
  };
}

function counted(clusters: { firstDay: string; lastDay: string }[]): ClusterSpan[] {
  const perPair = new Map<string, ClusterSpan>();
  for (const c of clusters) {
    const key = `${c.firstDay} ${c.lastDay}`;
    const span = perPair.get(key) ?? { ...c, clusters: 0 };
    span.clusters++;
    perPair.set(key, span);
  }
  return [...perPair.values()];
}

describe('overview', () => {
  it('counts clusters and takes lifetime percentiles from spans counted per pair of days', () => {
    const spans: ClusterSpan[] = [
      { firstDay: '2026-11-01', lastDay: '2026-11-01', clusters: 3 }, // 1 day
      { firstDay: '2026-11-01', lastDay: '2026-11-10', clusters: 1 }, // 10 days
      { firstDay: '2026-11-15', lastDay: '2026-11-20', clusters: 2 }, // 6 days
    ];
    // Lifetimes 1 1 1 6 6 10: p50 at rank floor(0.5 * 5) = 2 → 1; p90 at rank 4 → 6.
    expect(overview(spans, '2026-11-10', '2026-11-20')).toEqual({
      new: 2,
      silent: 1, // last report on 11-10: its 7th silent day falls in the range
      total: 6,
      lifetimeDays: { p50: 1, p90: 6 },
    });
    expect(overview([], '2026-11-10', '2026-11-20')).toEqual({
      new: 0,
      silent: 0,
      total: 0,
      lifetimeDays: { p50: null, p90: null },
    });
  });

  it('answers for counted spans what it would for the clusters one by one', () => {
    const day = fc.integer({ min: 0, max: 40 }).map((d) => addDays('2026-10-01', d));
    const cluster = fc
      .tuple(day, fc.integer({ min: 0, max: 20 }))
      .map(([firstDay, length]) => ({ firstDay, lastDay: addDays(firstDay, length) }));
    fc.assert(
      fc.property(
        fc.array(cluster, { maxLength: 60 }),
        day,
        fc.integer({ min: 0, max: 15 }),
        (clusters, from, n) => {
          const to = addDays(from, n);
          // In any order: the counted spans come from SQL sorted, from tests in insertion order.
          const spans = counted(clusters).reverse();
          expect(overview(spans, from, to)).toEqual(overviewOfEach(clusters, from, to));
        },
      ),
      { numRuns: 500 },
    );
  });
});
