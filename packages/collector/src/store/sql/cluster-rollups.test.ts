// The rollup statements whose text grows with the batch: few distinct texts, whatever the batch,
// because the SQLite writer keeps a prepared statement per text for the collector's life.
import { describe, expect, it } from 'vitest';
import { clusterDayPairs, ROLLUP_SQL, versionRefreshes } from './cluster-rollups.js';

const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ tracking_id: `t${String(i).padStart(5, '0')}`, day: '2026-11-29' }));

describe('rollup statements of a batch', () => {
  it('come in about ten texts for batches of 1 to 1,200 clusters, each covering exactly its clusters', () => {
    const texts = new Set<string>();
    for (let n = 1; n <= 1200; n++) {
      const input = rows(n);
      const refreshes = versionRefreshes(input);
      for (const r of refreshes) texts.add(ROLLUP_SQL.carryVersions(r.trackingIds.length));
      expect(new Set(refreshes.flatMap((r) => r.trackingIds))).toEqual(
        new Set(input.map((r) => r.tracking_id)),
      );
      const links = clusterDayPairs(input);
      for (const pairs of links) texts.add(ROLLUP_SQL.linkFacts(pairs.length / 2));
      const linked = new Set(links.flatMap((pairs) => pairs.filter((_, i) => i % 2 === 0)));
      expect(linked).toEqual(new Set(input.map((r) => r.tracking_id)));
    }
    // Powers of two up to 256, and 500: 10 lengths for each of the two statements.
    expect(texts.size).toBeLessThanOrEqual(20);
  });
});
