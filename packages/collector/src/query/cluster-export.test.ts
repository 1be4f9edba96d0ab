import { describe, expect, it } from 'vitest';
import type { ClusterListItem, ClusterListQuery } from '../store/store.js';
import { listForExport } from './cluster-list-route.js';

/**
 * A store's cluster list as the stores page it (lastSeen descending, ties by tracking id
 * descending, a cursor continues below its position), where clusters can report between pages.
 */
function liveList(count: number, now: number) {
  const clusters = Array.from({ length: count }, (_, i) => ({
    trackingId: `c${String(i).padStart(5, '0')}`,
    internal: false,
    firstSeen: now - 10 * 86_400_000,
    lastSeen: now - 86_400_000 - i * 1000,
    version: '2.4.0',
    gitSha: null,
    clusterType: null,
    metaBackend: null,
  }));
  const below = (c: ClusterListItem, cursor: NonNullable<ClusterListQuery['before']>) =>
    c.lastSeen < cursor.lastSeen || (c.lastSeen === cursor.lastSeen && c.trackingId < cursor.trackingId);
  let calls = 0;
  const reports: { afterCall: number; index: number; at: number }[] = [];
  return {
    clusters,
    /** After the store's `afterCall`-th answer, cluster `index` reports (its lastSeen becomes `at`). */
    reportAfter(afterCall: number, index: number, at: number) {
      reports.push({ afterCall, index, at });
    },
    async listClusters(query: ClusterListQuery): Promise<ClusterListItem[]> {
      const page = clusters
        .filter((c) => query.before === undefined || below(c, query.before))
        .sort((a, b) => b.lastSeen - a.lastSeen || (a.trackingId < b.trackingId ? 1 : -1))
        .slice(0, query.limit)
        .map((c) => ({ ...c }));
      calls++;
      for (const r of reports) if (r.afterCall === calls) clusters[r.index]!.lastSeen = r.at;
      return page;
    },
  };
}

describe('cluster export under live ingest', () => {
  it('exports every cluster once, those that reported while it paged past them too, newest first', async () => {
    const now = Date.parse('2026-11-28T12:00:00Z');
    const store = liveList(2500, now);
    // While the export reads its first page of 1,000, the two oldest clusters report: paging
    // alone never reaches them again (they jump above the cursor), and a third one reports while
    // the first catch-up pass runs.
    store.reportAfter(1, 2499, now + 5);
    store.reportAfter(1, 2498, now + 6);
    store.reportAfter(4, 1500, now + 7);
    const rows = await listForExport(store, { limit: 50 }, now);
    expect(rows).toHaveLength(2500);
    expect(new Set(rows.map((r) => r.trackingId)).size).toBe(2500);
    // Each with the newest lastSeen read for it, in the list's order.
    expect(rows.slice(0, 3).map((r) => [r.trackingId, r.lastSeen])).toEqual([
      ['c01500', now + 7],
      ['c02498', now + 6],
      ['c02499', now + 5],
    ]);
    for (let i = 1; i < rows.length; i++)
      expect(rows[i - 1]!.lastSeen).toBeGreaterThanOrEqual(rows[i]!.lastSeen);
  });

  it('starting from a cursor, exports only what lies below it (no catch-up above it)', async () => {
    const now = Date.parse('2026-11-28T12:00:00Z');
    const store = liveList(30, now);
    const cursor = { lastSeen: store.clusters[9]!.lastSeen, trackingId: store.clusters[9]!.trackingId };
    store.reportAfter(1, 3, now + 5); // above the cursor, and reporting: not part of this export
    const rows = await listForExport(store, { limit: 50, before: cursor }, now);
    expect(rows.map((r) => r.trackingId)).toEqual(store.clusters.slice(10).map((c) => c.trackingId));
  });
});
