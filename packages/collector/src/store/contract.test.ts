// The definition of a correct store: every adapter passes this same suite.
import { createHash } from 'node:crypto';
import { decodeV2EventBatchRaw, decodeV2Report } from '@tidewatch/protocol';
import { Migrator } from 'kysely';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { agentReport, counter, gauge, histogram } from '../../test-support/agent-report.js';
import { event, eventBatch, metaReport, nodeReport } from '../../test-support/risingwave.js';
import { storeTargets, withoutLegacyBoundary } from '../../test-support/stores.js';
import { tokenRecord } from '../auth/tokens.js';
import { agentReportWrite } from '../ingest/native-rows.js';
import { eventRow, eventRows, reportRow } from '../ingest/rows.js';
import { aggregateMetric, metricFromCells } from '../query/metric-aggregate.js';
import { factsDistributionCounts } from './answers.js';
import { agentChildren, agentReportColumns, eventColumns, reportColumns } from './batch-rows.js';
import { ClickHouseStore } from './clickhouse/clickhouse-store.js';
import { sql } from './clickhouse/sql.js';
import { connectorUseCounts } from './connector-uses.js';
import { LEGACY_EVENT_KEYS_SETTING } from './legacy-event-keys.js';
import type { CellGrouping } from './metric-cells.js';
import { openStore } from './open-store.js';
import { clusterDayRows, clusterRows, dayFactsRows } from './sql/cluster-rollups.js';
import { migrationProvider } from './sql/migrations/index.js';
import type { SqlStore } from './sql/sql-store.js';
import {
  type DayRangeQuery,
  DISTRIBUTION_NAMES,
  type ReportRow,
  type Store,
  type WriteBatch,
} from './store.js';

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0, 123);

/** Every rollup row of a query, its pages concatenated. */
async function rollupRows(store: Store, query: Parameters<Store['metricRollupPages']>[0], pageSize?: number) {
  const rows = [];
  for await (const page of store.metricRollupPages(query, pageSize)) rows.push(...page);
  return rows;
}

function meta(trackingId: string, receivedAt = T0, o: Parameters<typeof metaReport>[0] = {}) {
  const raw = metaReport({ trackingId, ...o });
  return reportRow(decodeV2Report('meta', raw), raw, receivedAt);
}

function compute(trackingId: string, receivedAt = T0, reportTime = 1_764_000_000) {
  const raw = nodeReport('compute', { trackingId, reportTime });
  return reportRow(decodeV2Report('compute', raw), raw, receivedAt);
}

function agent(o: Parameters<typeof agentReport>[0], receivedAt = T0) {
  const report = agentReport(o);
  const none = { names: new Set<string>(), series: new Set<string>() };
  return agentReportWrite(report, new TextEncoder().encode(JSON.stringify(report)), receivedAt, none).write;
}

function events(trackingId: string, names: string[], receivedAt = T0) {
  const raw = eventBatch(names.map((name) => ({ trackingId, name })));
  return decodeV2EventBatchRaw(raw).map((e) => eventRow(e.event, e.raw, receivedAt));
}

describe.each(targets)('store contract: $name', (target) => {
  let store: Store;
  let url: string;
  beforeEach(async () => {
    url = await target.freshUrl();
    store = openStore(url);
    await store.migrate();
    return () => store.close();
  });

  it('runs migrations again without error (every start does), applying nothing', async () => {
    expect(await store.migrate()).toEqual([]);
    await store.ping();
  });

  it('returns null for a cluster it never stored', async () => {
    expect(await store.getCluster('never-seen')).toBeNull();
  });

  it("stores a meta report and answers the cluster's facts from it", async () => {
    await store.writeBatch({ reports: [meta('c1')], events: [] });
    const cluster = await store.getCluster('c1');
    expect(cluster).toEqual({
      trackingId: 'c1',
      firstSeen: T0,
      lastSeen: T0,
      version: '2.4.1',
      gitSha: 'a1b2c3d4e5f6',
      clusterType: 'kubernetes',
      metaBackend: 'rdb',
      nodeCount: { meta: 1, compute: 3, frontend: 2, compactor: 1 },
      streamJobCount: 5,
      objectStore: 's3',
      licenseTier: 'paid',
      connectors: ['iceberg', 'kafka', 'postgres-cdc'],
      reports: { meta: 1, compute: 0, frontend: 0, compactor: 0 },
      events: 0,
      agentReports: 0,
    });
  });

  it('takes facts from the most recently received meta report, not the client clock', async () => {
    // The later-received report claims an older report_time: receive time decides.
    await store.writeBatch({
      reports: [meta('c1', T0, { version: '2.3.0', reportTime: 2_000_000_000 })],
      events: [],
    });
    await store.writeBatch({
      reports: [meta('c1', T0 + 1000, { version: '2.4.0', reportTime: 1 })],
      events: [],
    });
    const cluster = await store.getCluster('c1');
    expect(cluster?.version).toBe('2.4.0');
    expect(cluster?.firstSeen).toBe(T0);
    expect(cluster?.lastSeen).toBe(T0 + 1000);
  });

  it('keeps the facts of the newest stored meta report when an older one is retried later', async () => {
    // Found by the SIGKILL test: a retry stored no row but still rewrote the facts rollups, with
    // the old report's facts and a receive time no stored report has.
    const old = meta('c9', T0, { version: '2.3.0', reportTime: 1 });
    await store.writeBatch({ reports: [old], events: [] });
    await store.writeBatch({
      reports: [meta('c9', T0 + 1000, { version: '2.4.0', reportTime: 2 })],
      events: [],
    });
    const retry = await store.writeBatch({ reports: [{ ...old, receivedAt: T0 + 2000 }], events: [] });
    expect(retry.reportsInserted).toBe(0);
    expect((await store.getCluster('c9'))?.version).toBe('2.4.0');
    const day = { fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: false };
    expect(await store.breakdown('version', day)).toEqual([{ value: '2.4.0', clusters: 1 }]);
  });

  it('has null facts for a cluster that sent only compute reports', async () => {
    await store.writeBatch({ reports: [compute('c2')], events: [] });
    const cluster = await store.getCluster('c2');
    expect(cluster).toMatchObject({ version: null, nodeCount: null, metaBackend: null, connectors: [] });
    expect(cluster?.reports).toEqual({ meta: 0, compute: 1, frontend: 0, compactor: 0 });
  });

  it('stores a retried report once, within a batch and across batches', async () => {
    const row = compute('c3');
    const first = await store.writeBatch({ reports: [row, { ...row }], events: [] });
    const second = await store.writeBatch({ reports: [{ ...row, receivedAt: T0 + 5000 }], events: [] });
    expect(first.reportsInserted).toBe(1);
    expect(second.reportsInserted).toBe(0);
    const cluster = await store.getCluster('c3');
    expect(cluster?.reports.compute).toBe(1);
    // A retry that stored nothing does not move last seen.
    expect(cluster?.lastSeen).toBe(T0);
  });

  it('counts a report once when two collectors store it at the same moment', async () => {
    // A retry through a second collector racing the first: both may find the key absent. SQLite
    // serves one process (a second one would wait on the file lock): there the race is in-process.
    const other = target.name === 'sqlite' ? store : openStore(url);
    try {
      const batch: WriteBatch = {
        reports: [meta('race'), compute('race')],
        events: events('race', ['source']),
        agentReports: [agent({ trackingId: 'race', metrics: [counter('race.q', 3)] })],
      };
      await Promise.all([store.writeBatch(batch), other.writeBatch(batch), store.writeBatch(batch)]);
      const range = { fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: true };
      expect(await other.getCluster('race')).toMatchObject({
        reports: { meta: 1, compute: 1 },
        events: 1,
        agentReports: 1,
      });
      expect((await store.metricPoints({ ...range, name: 'race.q' })).map((p) => p.value)).toEqual([3]);
      expect((await rollupRows(store, { ...range, name: 'race.q' })).map((r) => [r.points, r.total])).toEqual(
        [[1, 3]],
      );
      expect(await store.events({ ...range, limit: 10 })).toHaveLength(1);
      expect(await store.eventCounts({ ...range, by: 'name', limit: 10 })).toEqual([
        { value: 'source', events: 1, clusters: 1 },
      ]);
    } finally {
      if (other !== store) await other.close();
    }
  });

  it('stores retried events once and counts them per cluster', async () => {
    const batch = events('c4', ['source', 'sink']);
    expect((await store.writeBatch({ reports: [], events: batch })).eventsInserted).toBe(2);
    expect((await store.writeBatch({ reports: [], events: batch })).eventsInserted).toBe(0);
    expect(await store.getCluster('c4')).toMatchObject({ events: 2, reports: { meta: 0 } });
  });

  it('keeps the raw payload byte for byte', async () => {
    const row = meta('c5');
    await store.writeBatch({ reports: [row], events: [] });
    const raw = await rawOf(store, 'c5');
    expect(Buffer.from(raw).equals(Buffer.from(row.raw))).toBe(true);
  });

  it('writes a batch all or nothing', async () => {
    const good = compute('c6');
    const bad = { ...compute('c7'), nodeType: null as unknown as string }; // violates NOT NULL
    await expect(store.writeBatch({ reports: [good, bad], events: [] })).rejects.toThrow();
    expect(await store.getCluster('c6')).toBeNull();
    expect(await store.getCluster('c7')).toBeNull();
  });

  it('holds large batches (more rows than one INSERT statement takes)', async () => {
    const reports = Array.from({ length: 1200 }, (_, i) =>
      compute(`big-${i % 7}`, T0 + i, 1_764_000_000 + i),
    );
    const result = await store.writeBatch({ reports, events: [] });
    expect(result.reportsInserted).toBe(1200);
    const total = (
      await Promise.all(Array.from({ length: 7 }, (_, i) => store.getCluster(`big-${i}`)))
    ).reduce((sum, c) => sum + (c?.reports.compute ?? 0), 0);
    expect(total).toBe(1200);
  });

  it('stores values at the edges of what the protocol allows', async () => {
    const row = {
      ...compute('edge'),
      memoryUsed: Number.MAX_SAFE_INTEGER,
      osName: 'x'.repeat(1024),
      flags: 'number_clamped',
    };
    await store.writeBatch({ reports: [row], events: [] });
    expect((await store.getCluster('edge'))?.reports.compute).toBe(1);
  });

  it('erases every row of a cluster and nothing of others', async () => {
    const single = event({ trackingId: 'gone' });
    const batch: WriteBatch = {
      reports: [meta('gone'), compute('gone'), compute('kept')],
      events: [
        ...events('gone', ['source']),
        eventRow(decodeV2EventBatchRaw(eventBatch([{ trackingId: 'kept' }]))[0]!.event, single, T0),
      ],
    };
    await store.writeBatch(batch);
    expect(await store.eraseCluster('gone')).toEqual({ reports: 2, events: 1, agentReports: 0 });
    expect(await store.getCluster('gone')).toBeNull();
    expect(await store.getCluster('kept')).toMatchObject({ reports: { compute: 1 }, events: 1 });
    expect(await store.eraseCluster('gone')).toEqual({ reports: 0, events: 0, agentReports: 0 });
    // An erased cluster is blocked: what it sends next is dropped, and counted as such.
    const dropped = await store.writeBatch({
      reports: [compute('gone', T0 + 8000, 7), compute('kept', T0 + 8000, 7)],
      events: events('gone', ['sink'], T0 + 8000),
      agentReports: [agent({ trackingId: 'gone' }, T0 + 8000)],
    });
    expect(dropped).toMatchObject({
      reportsInserted: 1,
      eventsInserted: 0,
      agentReportsInserted: 0,
      blocked: 3,
      blockedIds: ['gone'],
    });
    expect(await store.getCluster('gone')).toBeNull();
    expect(await store.blockedClusters()).toEqual([{ trackingId: 'gone', blockedAt: expect.any(Number) }]);
    // Once an admin lifts the block, a cluster heard from again starts over.
    expect(await store.unblockCluster('gone')).toBe(true);
    expect(await store.unblockCluster('gone')).toBe(false);
    expect(await store.blockedClusters()).toEqual([]);
    await store.writeBatch({ reports: [compute('gone', T0 + 9000)], events: [] });
    expect(await store.getCluster('gone')).toMatchObject({
      firstSeen: T0 + 9000,
      reports: { meta: 0, compute: 1 },
    });
  });

  it('stores an agent report once with its metric points, events and series', async () => {
    const write = agent({
      trackingId: 'pg-1',
      metrics: [
        counter('queries', 10, { kind: 'select' }),
        histogram('query.duration', [0.001, 0.002, 0.004]),
      ],
      events: [{ name: 'backup.finished', timeMs: 1, fields: { ok: true } }],
    });
    const first = await store.writeBatch({ reports: [], events: [], agentReports: [write] });
    const retry = await store.writeBatch({ reports: [], events: [], agentReports: [write] });
    expect(first.agentReportsInserted).toBe(1);
    expect(retry.agentReportsInserted).toBe(0);
    const cluster = await store.getCluster('pg-1');
    // No meta report: version and cluster type come from the agent.
    expect(cluster).toMatchObject({
      agentReports: 1,
      version: '0.2.0',
      clusterType: 'single_node',
      events: 0,
    });
    const known = await store.knownSeries('pg-1');
    expect([...known.names].sort()).toEqual(['queries', 'query.duration']);
    expect(known.series.has('queries\0{"kind":"select"}')).toBe(true);
    const points = await store.metricPoints({
      name: 'queries',
      fromDay: '2026-11-20',
      toDay: '2026-11-20',
      includeCi: false,
    });
    expect(points).toEqual([
      {
        reportId: expect.any(String),
        trackingId: 'pg-1',
        receivedAt: T0,
        nodeType: 'pglite',
        version: '0.2.0',
        clusterType: 'single_node',
        kind: 'counter',
        value: 10,
        histogram: null,
      },
    ]);
  });

  it('stores the points and events of a report sent twice in one batch once', async () => {
    const report = agentReport({
      trackingId: 'dup',
      metrics: [counter('dup.q', 5)],
      events: [{ name: 'e', timeMs: 1, fields: {} }],
    });
    const none = { names: new Set<string>(), series: new Set<string>() };
    const raw = new TextEncoder().encode(JSON.stringify(report));
    const copy = () => agentReportWrite(report, raw, T0, none).write;
    const result = await store.writeBatch({ reports: [], events: [], agentReports: [copy(), copy()] });
    expect(result.agentReportsInserted).toBe(1);
    const points = await store.metricPoints({
      name: 'dup.q',
      fromDay: '2026-11-20',
      toDay: '2026-11-20',
      includeCi: true,
    });
    expect(points.map((p) => p.value)).toEqual([5]);
  });

  it('selects metric points by day range and leaves CI out unless asked', async () => {
    const day = 86_400_000;
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [
        agent({ trackingId: 'r1', metrics: [counter('q', 1)] }, T0 - day),
        agent({ trackingId: 'r1', metrics: [counter('q', 2)] }, T0),
        agent({ trackingId: 'r2', ci: true, metrics: [counter('q', 4)] }, T0),
        agent({ trackingId: 'r1', metrics: [counter('other', 8)] }, T0),
      ],
    });
    const sum = async (fromDay: string, toDay: string, includeCi: boolean) =>
      (await store.metricPoints({ name: 'q', fromDay, toDay, includeCi })).reduce((s, p) => s + p.value, 0);
    expect(await sum('2026-11-19', '2026-11-20', false)).toBe(3);
    expect(await sum('2026-11-20', '2026-11-20', false)).toBe(2);
    expect(await sum('2026-11-20', '2026-11-20', true)).toBe(6);
    expect(await sum('2026-11-21', '2026-11-30', true)).toBe(0);
  });

  it('erases a cluster while its reports are being written: the erase succeeds and leaves nothing', async () => {
    // Writes in flight when the erase starts commit before it (and are erased) or see the block
    // (and are dropped); a burst from a restarting cluster made PostgreSQL's erase deadlock.
    const writes: Promise<unknown>[] = [];
    let erase: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < 60; i++) {
      writes.push(
        store.writeBatch({
          reports: [meta('busy', T0 + i), compute('busy', T0 + i, 1_764_000_000 + i)],
          events: events('busy', [`e${i}`], T0 + i),
          agentReports: [agent({ trackingId: 'busy', metrics: [counter('busy.q', 1)] }, T0 + i)],
        }),
      );
      if (i === 20) erase = store.eraseCluster('busy');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([...writes, erase]);
    expect(await store.getCluster('busy')).toBeNull();
    // A second erase finds nothing left to delete.
    expect(await store.eraseCluster('busy')).toEqual({ reports: 0, events: 0, agentReports: 0 });
    expect(
      await rollupRows(store, {
        name: 'busy.q',
        fromDay: '2026-11-20',
        toDay: '2026-11-20',
        includeCi: true,
      }),
    ).toEqual([]);
  });

  it('erases agent reports, points, series and events with the cluster', async () => {
    const write = agent({
      trackingId: 'pg-gone',
      metrics: [counter('q', 1)],
      events: [{ name: 'e', timeMs: 1, fields: {} }],
    });
    await store.writeBatch({ reports: [], events: [], agentReports: [write] });
    expect(await store.eraseCluster('pg-gone')).toEqual({ reports: 0, events: 0, agentReports: 1 });
    expect(await store.getCluster('pg-gone')).toBeNull();
    expect((await store.knownSeries('pg-gone')).series.size).toBe(0);
    expect(
      await store.metricPoints({ name: 'q', fromDay: '2000-01-01', toDay: '2100-01-01', includeCi: true }),
    ).toEqual([]);
  });

  it('rolls metric points up per day, cluster and series at ingest, once per report', async () => {
    const day = 86_400_000;
    const ddl = { name: 'db.ddl', timeMs: 1, fields: { op: 'create', object: 'table' } };
    const first = agent({
      trackingId: 'm1',
      metrics: [
        counter('db.query.errors', 2, { sqlstate_class: '42' }),
        gauge('db.connections', 4),
        histogram('db.query.duration', [0.25, 0.5, 1]),
      ],
      events: [ddl],
    });
    const second = agent(
      {
        trackingId: 'm1',
        metrics: [
          counter('db.query.errors', 3, { sqlstate_class: '42' }),
          counter('db.query.errors', 1, { sqlstate_class: '23' }),
          gauge('db.connections', 6),
          histogram('db.query.duration', [2, 4]),
        ],
      },
      T0 + 1000,
    );
    const otherDay = agent(
      { trackingId: 'm1', metrics: [counter('db.query.errors', 8, { sqlstate_class: '42' })] },
      T0 - day,
    );
    const ci = agent({ trackingId: 'm2', ci: true, metrics: [counter('db.query.errors', 16)] });
    await store.writeBatch({ reports: [], events: [], agentReports: [first, otherDay] });
    await store.writeBatch({ reports: [], events: [], agentReports: [second, ci] });
    // Retries (alone and next to new reports) change nothing.
    await store.writeBatch({ reports: [], events: [], agentReports: [first] });
    await store.writeBatch({ reports: [], events: [], agentReports: [second, otherDay] });
    const range = { fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: false };
    const rollup = await rollupRows(store, { ...range, name: 'db.query.errors' });
    const common = {
      trackingId: 'm1',
      nodeType: 'pglite',
      version: '0.2.0',
      clusterType: 'single_node',
      ci: false,
    };
    expect(rollup).toEqual([
      {
        ...common,
        day: '2026-11-20',
        kind: 'counter',
        labels: '{"sqlstate_class":"23"}',
        points: 1,
        total: 1,
        min: 1,
        max: 1,
        lastAt: T0 + 1000,
        lastReport: second.report.reportId,
        lastValue: 1,
        histogram: null,
      },
      {
        ...common,
        day: '2026-11-20',
        kind: 'counter',
        labels: '{"sqlstate_class":"42"}',
        points: 2,
        total: 5,
        min: 2,
        max: 3,
        lastAt: T0 + 1000,
        lastReport: second.report.reportId,
        lastValue: 3,
        histogram: null,
      },
    ]);
    const withCi = await rollupRows(store, {
      ...range,
      fromDay: '2026-11-19',
      includeCi: true,
      name: 'db.query.errors',
    });
    expect(withCi.map((r) => [r.day, r.trackingId, r.total])).toEqual([
      ['2026-11-19', 'm1', 8],
      ['2026-11-20', 'm1', 1],
      ['2026-11-20', 'm1', 5],
      ['2026-11-20', 'm2', 16],
    ]);
    // Pages of one row (the route reads pages of thousands) continue where the last one ended.
    const paged = await rollupRows(
      store,
      { ...range, fromDay: '2026-11-19', includeCi: true, name: 'db.query.errors' },
      1,
    );
    expect(paged).toEqual(withCi);
    const [gaugeRow] = await rollupRows(store, { ...range, name: 'db.connections' });
    expect(gaugeRow).toMatchObject({ points: 2, total: 10, min: 4, max: 6, lastAt: T0 + 1000, lastValue: 6 });
    const [histogramRow] = await rollupRows(store, { ...range, name: 'db.query.duration' });
    expect(histogramRow).toMatchObject({ kind: 'histogram', points: 2 });
    const merged = JSON.parse(histogramRow!.histogram!) as {
      count: number;
      sum: number;
      min: number;
      max: number;
    };
    expect(merged).toMatchObject({ count: 5, sum: 7.75, min: 0.25, max: 4 });
    // The raw points agree.
    const points = await store.metricPoints({ ...range, name: 'db.query.errors' });
    expect(points.map((p) => p.value).sort()).toEqual([1, 2, 3]);
  });

  it('answers fleet counters and histograms from cells that follow late writes, the internal tag, erase and retention', async () => {
    const day = 86_400_000;
    const report = (
      trackingId: string,
      version: string,
      at: number,
      values: number[],
      errors: number,
      ci = false,
    ) =>
      agent(
        { trackingId, version, ci, metrics: [counter('f.errors', errors), histogram('f.duration', values)] },
        at,
      );
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [
        report('fa', '1.0', T0 - day, [0.125, 0.25], 1),
        report('fb', '1.0', T0 - day, [0.375], 2),
        report('fa', '1.1', T0, [0.5, 1.5, 0.75], 4),
        report('fc', '1.1', T0, [2.5], 8),
        report('fci', '1.1', T0, [9], 16, true),
      ],
    });
    const range = { fromDay: '2026-11-19', toDay: '2026-11-20', includeCi: false };
    // "Now" long after the data: every day is read from stored cells (built by the first question);
    // "now" on the data's day: every day is folded from per-cluster rows. Both answer alike, and
    // (with values whose sums are exact in binary) alike the per-cluster fold (MetricAggregator).
    const later = T0 + 30 * day;
    const fleet = async (name: string, by: CellGrouping, q: Partial<DayRangeQuery> = {}, now = later) =>
      metricFromCells(await store.metricFleet({ ...range, ...q, name }, by, now));
    const perCluster = async (name: string, by: CellGrouping, q: Partial<DayRangeQuery> = {}) =>
      aggregateMetric(await rollupRows(store, { ...range, ...q, name }), by);
    for (const by of [undefined, 'version', 'nodeType'] as const) {
      for (const name of ['f.errors', 'f.duration']) {
        const stored = await fleet(name, by);
        expect(stored).toEqual(await fleet(name, by, {}, T0));
        expect(stored).toEqual(await fleet(name, by, {}, T0)); // and again, from the stored cells
        expect(stored).toEqual(await perCluster(name, by));
      }
    }
    expect(await fleet('f.errors', 'version')).toEqual({
      kind: 'counter',
      rows: [
        { value: '1.0', clusters: 2, total: 3 },
        { value: '1.1', clusters: 2, total: 12 },
      ],
    });
    expect(await fleet('f.errors', undefined, { includeCi: true })).toEqual({
      kind: 'counter',
      rows: [{ value: 'all', clusters: 4, total: 31 }],
    });
    expect((await fleet('f.duration', undefined))?.rows).toMatchObject([{ clusters: 3, count: 7 }]);
    // A late write into a stored day (an import, a retry long after): that day is built again.
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [report('fd', '1.0', T0 - day + 5, [0.625], 32)],
    });
    expect(await fleet('f.errors', 'version')).toEqual({
      kind: 'counter',
      rows: [
        { value: '1.0', clusters: 3, total: 35 },
        { value: '1.1', clusters: 2, total: 12 },
      ],
    });
    // Tagged internal: left out unless asked for; untagged: back.
    await store.setInternal('fa', true);
    expect((await fleet('f.errors', undefined))?.rows).toEqual([{ value: 'all', clusters: 3, total: 42 }]);
    expect((await fleet('f.errors', undefined, { includeInternal: true }))?.rows).toEqual([
      { value: 'all', clusters: 4, total: 47 },
    ]);
    expect(await fleet('f.duration', undefined)).toEqual(await perCluster('f.duration', undefined));
    await store.setInternal('fa', false);
    expect((await fleet('f.errors', undefined))?.rows).toEqual([{ value: 'all', clusters: 4, total: 47 }]);
    // Erased: gone from every cell.
    await store.eraseCluster('fc');
    expect((await fleet('f.errors', undefined))?.rows).toEqual([{ value: 'all', clusters: 3, total: 39 }]);
    expect(await fleet('f.duration', 'version')).toEqual(await perCluster('f.duration', 'version'));
    // Retention: the days it deletes answer nothing, from cells or rows.
    await store.deleteBefore('2026-11-20');
    expect(await fleet('f.errors', 'version')).toEqual({
      kind: 'counter',
      rows: [{ value: '1.1', clusters: 1, total: 4 }],
    });
    expect(await fleet('f.errors', undefined, { fromDay: '2026-11-19', toDay: '2026-11-19' })).toEqual({
      kind: null,
      rows: [],
    });
    // A gauge is answered from per-cluster rows (each cluster's latest value): no cells answer.
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [agent({ trackingId: 'g', metrics: [gauge('f.gauge', 3)] })],
    });
    expect(await fleet('f.gauge', undefined)).toBeNull();
  });

  it("counts the distinct clusters of a fleet metric in a range, gaps in a cluster's days included", async () => {
    const day = 86_400_000;
    const at = (d: number) => T0 + d * day;
    const write = (trackingId: string, version: string, days: number[]) =>
      store.writeBatch({
        reports: [],
        events: [],
        agentReports: days.map((d) => agent({ trackingId, version, metrics: [counter('s.q', 1)] }, at(d))),
      });
    await write('gap', '1.0', [-3, 2]); // before and after the range, nothing in it
    await write('through', '1.0', [-3, 0, 2]); // before, in and after
    await write('inside', '1.1', [-1]);
    await write('moved', '1.0', [-5]); // 1.0 before the range, 1.1 after it: neither in it
    await write('moved', '1.1', [3]);
    const range = { fromDay: '2026-11-19', toDay: '2026-11-21', includeCi: false, name: 's.q' };
    for (const now of [T0, T0 + 30 * day]) {
      expect(metricFromCells(await store.metricFleet(range, 'version', now))).toEqual({
        kind: 'counter',
        rows: [
          { value: '1.0', clusters: 1, total: 1 },
          { value: '1.1', clusters: 1, total: 1 },
        ],
      });
      expect(metricFromCells(await store.metricFleet(range, undefined, now))?.rows).toEqual([
        { value: 'all', clusters: 2, total: 2 },
      ]);
      // The whole span: every cluster.
      const all = { ...range, fromDay: '2026-11-15', toDay: '2026-11-23' };
      expect(metricFromCells(await store.metricFleet(all, undefined, now))?.rows).toEqual([
        { value: 'all', clusters: 4, total: 8 },
      ]);
    }
  });

  it('erases a cluster from the metric rollup and keeps other clusters', async () => {
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [
        agent({ trackingId: 'gone', metrics: [counter('q', 1)] }),
        agent({ trackingId: 'kept', metrics: [counter('q', 2)] }),
      ],
    });
    await store.eraseCluster('gone');
    const range = { fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: true, name: 'q' };
    expect((await rollupRows(store, range)).map((r) => [r.trackingId, r.total])).toEqual([['kept', 2]]);
    // The erased cluster's report, retried, is dropped: the rollup does not come back.
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [agent({ trackingId: 'gone', metrics: [counter('q', 1)] })],
    });
    expect((await rollupRows(store, range)).map((r) => r.trackingId)).toEqual(['kept']);
  });

  it('lists agent events newest first, filtered, page by page', async () => {
    const e = (name: string, op: string) => ({ name, timeMs: 1, fields: { op } });
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [
        agent({ trackingId: 'a1', events: [e('db.ddl', 'create'), e('db.ddl', 'drop')] }, T0),
        agent({ trackingId: 'a1', events: [e('backup', 'done')] }, T0 + 1000),
        agent({ trackingId: 'a2', events: [e('db.ddl', 'create')] }, T0 + 2000),
        agent({ trackingId: 'a2', events: [e('db.ddl', 'old')] }, T0 - 86_400_000),
      ],
    });
    const base = { fromDay: '2026-11-20', toDay: '2026-11-20', limit: 10 };
    const all = await store.agentEvents(base);
    expect(all.map((x) => [x.trackingId, x.name, JSON.parse(x.fields).op])).toEqual([
      ['a2', 'db.ddl', 'create'],
      ['a1', 'backup', 'done'],
      ['a1', 'db.ddl', 'drop'],
      ['a1', 'db.ddl', 'create'],
    ]);
    expect(all[0]).toMatchObject({ receivedAt: T0 + 2000, timeMs: 1, seq: 0 });
    expect(
      (await store.agentEvents({ ...base, trackingId: 'a1', name: 'db.ddl' })).map((x) => x.fields),
    ).toEqual(['{"op":"drop"}', '{"op":"create"}']);
    expect(await store.agentEvents({ ...base, fromDay: '2026-11-19', toDay: '2026-11-19' })).toHaveLength(1);
    const page: string[] = [];
    let before: { receivedAt: number; reportId: string; seq: number } | undefined;
    for (;;) {
      const rows = await store.agentEvents({ ...base, limit: 1, before });
      if (rows.length === 0) break;
      page.push(rows[0]!.fields);
      before = rows[0]!;
    }
    expect(page).toEqual(all.map((x) => x.fields));
  });

  it('counts active clusters per day from reports of every kind, leaving CI out unless asked', async () => {
    const day = 86_400_000;
    await store.writeBatch({
      reports: [meta('a1', T0 - day), compute('a1', T0, 1), compute('a1', T0 + 1000, 2), meta('a2', T0)],
      events: events('a3', ['source'], T0), // events alone do not make a cluster active
      agentReports: [agent({ trackingId: 'a4' }, T0), agent({ trackingId: 'a5', ci: true }, T0)],
    });
    const q = { fromDay: '2026-11-19', toDay: '2026-11-21', includeCi: false };
    expect(await store.activeClusters(q)).toEqual([
      { day: '2026-11-19', clusters: 1 },
      { day: '2026-11-20', clusters: 3 },
    ]);
    expect(await store.activeClusters({ ...q, includeCi: true })).toContainEqual({
      day: '2026-11-20',
      clusters: 4,
    });
    // The rollup follows erase.
    await store.eraseCluster('a1');
    expect(await store.activeClusters(q)).toEqual([{ day: '2026-11-20', clusters: 2 }]);
  });

  it('rolls a cluster up again when another collector erased it between two reports of one day', async () => {
    // Steady ingest first (each collector's writes then remember which rollup rows exist and skip
    // rewriting them), then an erase through another collector (its own process on a shared
    // store), which that memory must not outlive. SQLite serves one process: there the erase comes
    // through the same store's other connection.
    const other = target.name === 'sqlite' ? store : openStore(url);
    try {
      const day = { fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: false };
      for (const at of [T0, T0 + 1000])
        await store.writeBatch({ reports: [meta('shared', at, { version: '2.4.0' })], events: [] });
      expect(await store.versionCounts(day)).toEqual([{ day: '2026-11-20', version: '2.4.0', clusters: 1 }]);
      await other.eraseCluster('shared');
      expect(await store.activeClusters(day)).toEqual([]);
      expect(await other.unblockCluster('shared')).toBe(true);
      await store.writeBatch({ reports: [meta('shared', T0 + 2000, { version: '2.5.0' })], events: [] });
      expect(await other.activeClusters(day)).toEqual([{ day: '2026-11-20', clusters: 1 }]);
      expect(await other.versionCounts(day)).toEqual([{ day: '2026-11-20', version: '2.5.0', clusters: 1 }]);
      const history = await other.clusterHistory({ trackingId: 'shared', ...day });
      expect(history.days.map((d) => [d.day, d.version])).toEqual([['2026-11-20', '2.5.0']]);
    } finally {
      if (other !== store) await other.close();
    }
  });

  it('rolls a day up again when it is written after retention deleted it', async () => {
    const day = { fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: false };
    for (const at of [T0, T0 + 1000])
      await store.writeBatch({ reports: [meta('kept-late', at, { version: '2.4.0' })], events: [] });
    await store.deleteBefore('2026-11-21');
    expect(await store.activeClusters(day)).toEqual([]);
    // A write of that day after the pass (a store-level write: the ingest routes refuse such old days).
    await store.writeBatch({ reports: [meta('kept-late', T0 + 2000, { version: '2.4.0' })], events: [] });
    expect(await store.activeClusters(day)).toEqual([{ day: '2026-11-20', clusters: 1 }]);
    expect(await store.versionCounts(day)).toEqual([{ day: '2026-11-20', version: '2.4.0', clusters: 1 }]);
  });

  it('carries a version change within a day, and a new day, into the version counts', async () => {
    const range = { fromDay: '2026-11-20', toDay: '2026-11-21', includeCi: false };
    const dayMs = 86_400_000;
    // The same cluster again and again (what the SQLite writer remembers), then a new version the
    // same day, an older report of the old version that must not win, and a compute report alone
    // the next day, which carries the latest version forward.
    for (const at of [T0, T0 + 1000])
      await store.writeBatch({ reports: [meta('steady', at, { version: '2.4.0' })], events: [] });
    await store.writeBatch({ reports: [meta('steady', T0 + 2000, { version: '2.5.0' })], events: [] });
    await store.writeBatch({ reports: [meta('steady', T0 + 1500, { version: '2.4.0' })], events: [] });
    await store.writeBatch({ reports: [compute('steady', T0 + dayMs)], events: [] });
    await store.writeBatch({ reports: [compute('steady', T0 + dayMs + 1000, 2)], events: [] });
    expect(await store.versionCounts(range)).toEqual([
      { day: '2026-11-20', version: '2.5.0', clusters: 1 },
      { day: '2026-11-21', version: '2.5.0', clusters: 1 },
    ]);
    expect(await store.activeClusters(range)).toEqual([
      { day: '2026-11-20', clusters: 1 },
      { day: '2026-11-21', clusters: 1 },
    ]);
  });

  it("breaks clusters down by their latest meta report's facts in the range", async () => {
    const day = 86_400_000;
    await store.writeBatch({
      reports: [
        meta('b1', T0 - 2 * day, { version: '2.3.0', reportTime: 1 }),
        meta('b1', T0, { version: '2.4.1', reportTime: 2 }),
        meta('b2', T0, { version: '2.4.1' }),
        meta('b3', T0 - 2 * day, { version: '2.2.0' }),
        compute('b4', T0),
      ],
      events: [],
    });
    const sorted = (rows: { value: string | null; clusters: number }[]) =>
      [...rows].sort((a, b) => String(a.value).localeCompare(String(b.value)));
    const range = { fromDay: '2026-11-18', toDay: '2026-11-20', includeCi: false };
    expect(sorted(await store.breakdown('version', range))).toEqual([
      { value: '2.2.0', clusters: 1 },
      { value: '2.4.1', clusters: 2 },
    ]);
    // Only the range counts: b1's latest report on the 18th was 2.3.0.
    expect(await store.breakdown('version', { ...range, toDay: '2026-11-18' })).toEqual(
      expect.arrayContaining([
        { value: '2.3.0', clusters: 1 },
        { value: '2.2.0', clusters: 1 },
      ]),
    );
    expect(await store.breakdown('clusterType', range)).toEqual([{ value: 'kubernetes', clusters: 3 }]);
    // A report of the same day received earlier but stored later (an import) does not win.
    await store.writeBatch({
      reports: [meta('b2', T0 - 1000, { version: '1.0.0', reportTime: 9 })],
      events: [],
    });
    expect(sorted(await store.breakdown('version', range))).toEqual([
      { value: '2.2.0', clusters: 1 },
      { value: '2.4.1', clusters: 2 },
    ]);
    expect(await store.breakdown('os', range)).toEqual([{ value: 'Ubuntu', clusters: 3 }]);
    expect(sorted(await store.breakdown('connector', range))).toEqual([
      { value: 'iceberg', clusters: 3 },
      { value: 'kafka', clusters: 3 },
      { value: 'postgres-cdc', clusters: 3 },
    ]);
    // Erase leaves nothing behind in the rollup.
    await store.eraseCluster('b3');
    expect(await store.breakdown('version', range)).toEqual([{ value: '2.4.1', clusters: 2 }]);
  });

  it('lists events newest first, filtered, page by page', async () => {
    const batch = [
      ...events('e1', ['source'], T0),
      ...events('e1', ['sink'], T0 + 500),
      ...events('e1', ['source_2'], T0 + 1000),
      ...events('e2', ['source'], T0 + 2000),
    ];
    await store.writeBatch({ reports: [], events: batch });
    const base = { fromDay: '2026-11-20', toDay: '2026-11-20', limit: 10 };
    const all = await store.events(base);
    expect(all.map((e) => [e.trackingId, e.name])).toEqual([
      ['e2', 'source'],
      ['e1', 'source_2'],
      ['e1', 'sink'],
      ['e1', 'source'],
    ]);
    expect(all[0]).toMatchObject({
      stage: 'create_stream_job',
      connectorName: 'kafka',
      object: 'source',
      node: 'meta',
    });
    expect((await store.events({ ...base, trackingId: 'e1' })).map((e) => e.name)).toEqual([
      'source_2',
      'sink',
      'source',
    ]);
    expect(await store.events({ ...base, name: 'sink' })).toHaveLength(1);
    expect(await store.events({ ...base, stage: 'recovery' })).toHaveLength(0);
    const first = await store.events({ ...base, limit: 2 });
    const rest = await store.events({
      ...base,
      before: { receivedAt: first[1]!.receivedAt, id: first[1]!.id },
    });
    expect([...first, ...rest].map((e) => e.id)).toEqual(all.map((e) => e.id));
  });

  it('lists events received together in one order on every store: the later batch first, each by its own time', async () => {
    const batchOf = (times: number[]) =>
      decodeV2EventBatchRaw(
        eventBatch(times.map((t) => ({ trackingId: 'tie', eventTimeSec: t, name: `t${t}` }))),
      ).map((e) => eventRow(e.event, e.raw, T0));
    // Two requests in the same millisecond (one receive time), the events of each in no order.
    await store.writeBatch({ reports: [], events: batchOf([1_764_000_030, 1_764_000_010, 1_764_000_020]) });
    await store.writeBatch({ reports: [], events: batchOf([1_764_000_005, 1_764_000_040, 1_764_000_015]) });
    const base = { fromDay: '2026-11-20', toDay: '2026-11-20', limit: 10 };
    const expected = [
      't1764000040',
      't1764000015',
      't1764000005',
      't1764000030',
      't1764000020',
      't1764000010',
    ];
    expect((await store.events(base)).map((e) => e.name)).toEqual(expected);
    // Page by page, two at a time: the same order, each event once.
    const paged: string[] = [];
    let before: { receivedAt: number; id: number } | undefined;
    for (let page = 0; page < 5; page++) {
      const rows = await store.events({ ...base, limit: 2, before });
      paged.push(...rows.map((e) => e.name));
      if (rows.length < 2) break;
      before = { receivedAt: rows[1]!.receivedAt, id: rows[1]!.id };
    }
    expect(paged).toEqual(expected);
  });

  it('spans clusters over days and carries versions forward day by day', async () => {
    const day = 86_400_000;
    await store.writeBatch({
      reports: [
        meta('v1', T0 - 2 * day, { version: '2.3.0', reportTime: 1 }),
        compute('v1', T0 - day, 1),
        meta('v1', T0, { version: '2.4.1', reportTime: 3 }),
        compute('v2', T0, 1),
        compute('v4', T0 + 60_000, 1),
      ],
      events: [],
      agentReports: [agent({ trackingId: 'v3', ci: true }, T0)],
    });
    const range = { fromDay: '2026-11-18', toDay: '2026-11-20', includeCi: false };
    expect(await store.activeClusterCount(range)).toBe(3);
    expect(await store.activeClusterCount({ ...range, includeCi: true })).toBe(4);
    // Counted per pair of days: v2 and v4 share theirs.
    expect(await store.clusterSpans({ toDay: '2026-11-20', includeCi: false })).toEqual([
      { firstDay: '2026-11-18', lastDay: '2026-11-20', clusters: 1 },
      { firstDay: '2026-11-20', lastDay: '2026-11-20', clusters: 2 },
    ]);
    expect(await store.clusterSpans({ toDay: '2026-11-20', includeCi: true })).toEqual([
      { firstDay: '2026-11-18', lastDay: '2026-11-20', clusters: 1 },
      { firstDay: '2026-11-20', lastDay: '2026-11-20', clusters: 3 },
    ]);
    expect(await store.versionCounts(range)).toEqual([
      { day: '2026-11-18', version: '2.3.0', clusters: 1 },
      { day: '2026-11-19', version: '2.3.0', clusters: 1 }, // only a compute report: carried forward
      { day: '2026-11-20', version: '2.4.1', clusters: 1 },
      { day: '2026-11-20', version: null, clusters: 2 },
    ]);
  });

  it('counts a new cluster-day, and one that stops being CI, even when no version changes', async () => {
    const range: DayRangeQuery = { fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: false };
    const nulls = async () =>
      (await store.versionCounts(range)).find((r) => r.version === null)?.clusters ?? 0;
    // Each in its own batch: no meta report (no version) comes along to trigger the recount.
    await store.writeBatch({ reports: [compute('n1', T0, 1)], events: [] });
    expect(await nulls()).toBe(1);
    await store.writeBatch({ reports: [compute('n2', T0, 1)], events: [] });
    expect(await nulls()).toBe(2);
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [agent({ trackingId: 'n3', ci: true }, T0)],
    });
    expect(await nulls()).toBe(2);
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [agent({ trackingId: 'n3', ci: false }, T0)],
    });
    expect(await nulls()).toBe(3);
    await store.writeBatch({ reports: [compute('n1', T0, 2)], events: [] }); // same cluster-day again
    expect(await nulls()).toBe(3);
  });

  it('keeps version counts per day right through backdated imports, retries, internal tags and erase', async () => {
    const day = 86_400_000;
    const range: DayRangeQuery = { fromDay: '2026-11-17', toDay: '2026-11-20', includeCi: false };
    await store.writeBatch({
      reports: [
        meta('w1', T0 - 3 * day, { version: '2.3.0', reportTime: 1 }),
        compute('w1', T0 - 2 * day, 1),
        compute('w1', T0 - day, 2),
        compute('w1', T0, 3),
        meta('w2', T0, { version: '2.4.1', reportTime: 1 }),
      ],
      events: [],
    });
    const count = async (q = range) =>
      (await store.versionCounts(q)).map((r) => `${r.day} ${r.version} ${r.clusters}`);
    expect(await count()).toEqual([
      '2026-11-17 2.3.0 1',
      '2026-11-18 2.3.0 1',
      '2026-11-19 2.3.0 1',
      '2026-11-20 2.3.0 1',
      '2026-11-20 2.4.1 1',
    ]);
    // An upgrade imported late (received on the 18th): every later day follows it.
    const upgrade = meta('w1', T0 - 2 * day + 1000, { version: '2.4.1', reportTime: 2 });
    await store.writeBatch({ reports: [upgrade], events: [] });
    // A retry of it stores nothing and counts nothing twice.
    await store.writeBatch({ reports: [upgrade, compute('w1', T0, 3)], events: [] });
    expect(await count()).toEqual([
      '2026-11-17 2.3.0 1',
      '2026-11-18 2.4.1 1',
      '2026-11-19 2.4.1 1',
      '2026-11-20 2.4.1 2',
    ]);
    expect(await store.activeClusters(range)).toEqual([
      { day: '2026-11-17', clusters: 1 },
      { day: '2026-11-18', clusters: 1 },
      { day: '2026-11-19', clusters: 1 },
      { day: '2026-11-20', clusters: 2 },
    ]);
    // Internal clusters are left out unless asked for.
    expect(await store.setInternal('w2', true)).toBe(true);
    expect((await count()).at(-1)).toBe('2026-11-20 2.4.1 1');
    expect((await count({ ...range, includeInternal: true })).at(-1)).toBe('2026-11-20 2.4.1 2');
    expect(await store.activeClusterCount(range)).toBe(1);
    expect(await store.activeClusterCount({ ...range, includeInternal: true })).toBe(2);
    // Erase takes the cluster out of every day it counted in.
    await store.eraseCluster('w1');
    expect(await count({ ...range, includeInternal: true })).toEqual(['2026-11-20 2.4.1 1']);
  });

  it("answers each cluster's latest deployment facts in a range and one cluster's history", async () => {
    const day = 86_400_000;
    const usage = JSON.stringify({
      source: [{ '1': { connector: 'kafka', format: 'upsert', encode: 'avro' } }],
      sink: [],
    });
    await store.writeBatch({
      reports: [
        meta('f1', T0 - day, { version: '2.3.0', computeNodes: 2, reportTime: 1, sessionId: 's-old' }),
        meta('f1', T0, {
          version: '2.4.1',
          computeNodes: 8,
          streamJobCount: 40,
          memoryTotal: 34_359_738_368,
          licenseTier: 'free',
          connectorUsage: usage,
          reportTime: 2,
          sessionId: 's-new',
        }),
        meta('f2', T0, { reportTime: 1 }),
        compute('f3', T0),
      ],
      events: [],
      agentReports: [agent({ trackingId: 'f1' }, T0 + 5000)],
    });
    const range = { fromDay: '2026-11-19', toDay: '2026-11-20', includeCi: false };
    const facts = await store.latestFacts(range);
    expect(facts.map((f) => f.trackingId)).toEqual(['f1', 'f2']);
    expect(facts[0]).toEqual({
      trackingId: 'f1',
      day: '2026-11-20',
      factsAt: T0,
      version: '2.4.1',
      clusterType: 'kubernetes',
      metaBackend: 'rdb',
      os: 'Ubuntu',
      objectStore: 's3',
      connectors: ['kafka', 'postgres-cdc'],
      connectorUsage: usage,
      licenseTier: 'free',
      memoryTotal: 34_359_738_368,
      nodeCount: { meta: 1, compute: 8, frontend: 2, compactor: 1 },
      streamJobCount: 40,
    });
    expect((await store.latestFacts({ ...range, toDay: '2026-11-19' }))[0]?.nodeCount?.compute).toBe(2);
    const tiers = await store.breakdown('licenseTier', range);
    expect(tiers.sort((a, b) => String(a.value).localeCompare(String(b.value)))).toEqual([
      { value: 'free', clusters: 1 },
      { value: 'paid', clusters: 1 },
    ]);
    await store.setInternal('f2', true);
    expect((await store.latestFacts(range)).map((f) => f.trackingId)).toEqual(['f1']);
    expect((await store.latestFacts({ ...range, includeInternal: true })).length).toBe(2);

    const history = await store.clusterHistory({ trackingId: 'f1', ...range });
    expect(history.days.map((d) => [d.day, d.version, d.nodeCount?.compute])).toEqual([
      ['2026-11-19', '2.3.0', 2],
      ['2026-11-20', '2.4.1', 8],
    ]);
    expect(history.sessions.map((s) => [s.source, s.nodeType, s.sessionId, s.reports])).toEqual([
      ['agent', 'pglite', expect.any(String), 1],
      ['risingwave', 'meta', 's-new', 1],
      ['risingwave', 'meta', 's-old', 1],
    ]);
    expect(history.sessions[1]).toMatchObject({ firstSeen: T0, lastSeen: T0, memoryTotal: 34_359_738_368 });
    const narrow = await store.clusterHistory({
      trackingId: 'f1',
      fromDay: '2026-11-19',
      toDay: '2026-11-19',
    });
    expect(narrow.sessions.map((s) => s.sessionId)).toEqual(['s-old']);
    await store.eraseCluster('f1');
    expect(await store.clusterHistory({ trackingId: 'f1', ...range })).toEqual({ days: [], sessions: [] });
  });

  it('lists metric names with kind, unit and how many clusters send them', async () => {
    await store.writeBatch({
      reports: [],
      events: [],
      agentReports: [
        agent({
          trackingId: 'm1',
          metrics: [counter('db.queries', 5), histogram('db.query.duration', [0.1])],
        }),
        agent({ trackingId: 'm2', metrics: [counter('db.queries', 7)] }),
      ],
    });
    expect(await store.metricNames()).toEqual([
      { name: 'db.queries', kind: 'counter', unit: '{query}', clusters: 2 },
      { name: 'db.query.duration', kind: 'histogram', unit: 's', clusters: 1 },
    ]);
  });

  it('filters events by connector', async () => {
    await store.writeBatch({ reports: [], events: events('ec1', ['source', 'sink']) });
    const base = { fromDay: '2026-11-20', toDay: '2026-11-20', limit: 10 };
    expect(await store.events({ ...base, connector: 'kafka' })).toHaveLength(2);
    expect(await store.events({ ...base, connector: 'iceberg' })).toHaveLength(0);
    // Stored lower-cased, found in any case; a row an earlier collector kept as sent, by that spelling.
    expect(await store.events({ ...base, connector: 'Kafka' })).toHaveLength(2);
    expect(await store.events({ ...base, connector: 'KAFKA' })).toHaveLength(2);
    const [old] = events('ec2', ['source']);
    await store.writeBatch({ reports: [], events: [{ ...old!, connectorName: 'Kinesis' }] });
    expect((await store.events({ ...base, connector: 'Kinesis' })).map((e) => e.trackingId)).toEqual(['ec2']);
  });

  // SQL stores keep rollups, filled by a migration for data stored before it (ClickHouse fills its
  // own when it creates them: clickhouse/rollups.test.ts).
  /** Tests that ask hundreds of questions: ClickHouse answers each in tens of ms. */
  const MANY_QUERIES_MS = 120_000;

  /** Numbers in [0, 1) from a fixed seed: the same scattered history on every run and store. */
  function seeded(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state / 2_147_483_648;
    };
  }

  const USAGES = [
    undefined,
    'not json',
    JSON.stringify({
      source: [
        { '1': { connector: 'Kafka', format: 'plain', encode: 'json' } },
        { '2': { connector: 'kafka' } },
      ],
      sink: [{ '3': { connector: 'iceberg', format: 'upsert', encode: 'parquet' } }],
    }),
  ];

  /** Meta reports of a few clusters over 12 days, with gaps, 1-2 reports a day, versions moving. */
  function scatteredMetaReports() {
    const day = 86_400_000;
    const next = seeded(7);
    const reports = [];
    let reportTime = 1;
    for (const id of ['g0', 'g1', 'g2', 'g3', 'g4']) {
      for (let d = 0; d < 12; d++) {
        if (next() < 0.4) continue;
        for (let k = next() < 0.3 ? 2 : 1; k > 0; k--) {
          const at = T0 - (11 - d) * day + Math.floor(next() * 3_600_000) * 10 + k;
          const version = `2.${Math.floor(next() * 4)}.0`;
          const connectorUsage = USAGES[Math.floor(next() * USAGES.length)];
          reports.push(meta(id, at, { version, reportTime: reportTime++, computeNodes: d, connectorUsage }));
        }
      }
    }
    return reports;
  }

  /** Each cluster's latest meta report in [from, to], by receive time (what latestFacts answers). */
  function latestIn(reports: ReturnType<typeof meta>[], from: string, to: string) {
    const latest = new Map<string, ReturnType<typeof meta>>();
    for (const r of reports) {
      if (r.receivedDay < from || r.receivedDay > to) continue;
      const seen = latest.get(r.trackingId);
      if (!seen || r.receivedAt > seen.receivedAt) latest.set(r.trackingId, r);
    }
    return [...latest.values()]
      .sort((a, b) => (a.trackingId < b.trackingId ? -1 : 1))
      .map((r) => [r.trackingId, r.receivedDay, r.receivedAt, r.version]);
  }

  /** latestFacts and the version breakdown for every range inside the 12 days, against `latestIn`. */
  async function expectLatestFactsOf(s: Store, reports: ReturnType<typeof meta>[]) {
    const days = Array.from({ length: 12 }, (_, d) => new Date(T0 - (11 - d) * 86_400_000).toISOString());
    // A few first days, every last day after each: `to` falls on, between and after stored days.
    for (const i of [0, 2, 5, 9]) {
      const from = days[i]!.slice(0, 10);
      for (const to of days.slice(i).map((d) => d.slice(0, 10))) {
        const range = { fromDay: from, toDay: to, includeCi: false };
        const expected = latestIn(reports, from, to);
        const facts = await s.latestFacts(range);
        expect([from, to, facts.map((f) => [f.trackingId, f.day, f.factsAt, f.version])]).toEqual([
          from,
          to,
          expected,
        ]);
        const perVersion = new Map<string, number>();
        for (const e of expected) perVersion.set(String(e[3]), (perVersion.get(String(e[3])) ?? 0) + 1);
        const breakdown = await s.breakdown('version', range);
        expect(new Map(breakdown.map((b) => [String(b.value), b.clusters]))).toEqual(perVersion);
        // Each size counted per value in the store, as counting the latest facts one by one.
        const byValue = (rows: { value: number | null; clusters: number }[]) =>
          [...rows].sort((a, b) => (a.value ?? -1) - (b.value ?? -1));
        for (const of of DISTRIBUTION_NAMES) {
          expect([of, byValue(await s.distributionCounts(of, range))]).toEqual([
            of,
            byValue(factsDistributionCounts(of, facts)),
          ]);
        }
        {
          // Clusters per set of uses, from the store's counts and from each cluster's JSON.
          const perSet = (entries: { uses: unknown; clusters: number }[]) => {
            const sets = new Map<string, number>();
            for (const e of entries) {
              const key = JSON.stringify(e.uses);
              sets.set(key, (sets.get(key) ?? 0) + e.clusters);
            }
            return [...sets].sort(([a], [b]) => (a < b ? -1 : 1));
          };
          const fromJson = facts.map((f) => ({ uses: connectorUseCounts(f.connectorUsage), clusters: 1 }));
          expect(perSet(await s.connectorUseCounts(range))).toEqual(perSet(fromJson));
        }
      }
    }
  }

  it(
    "answers each cluster's latest facts in every range through gaps, backdated and retried batches, erase and retention",
    async () => {
      const reports = scatteredMetaReports();
      // Shuffled into batches: later batches fill days before and between days already stored.
      const shuffled = [...reports].sort(
        (a, b) => ((a.reportTime * 7919) % 31) - ((b.reportTime * 7919) % 31),
      );
      const batches = [0, 1, 2, 3].map((k) => shuffled.filter((_, i) => i % 4 === k));
      for (const batch of batches) await store.writeBatch({ reports: batch, events: [] });
      await store.writeBatch({ reports: batches[1]!, events: [] }); // retried: stores nothing
      await expectLatestFactsOf(store, reports);
      if (target.name !== 'clickhouse') {
        // A day two months on: every range above now ends long before the newest facts day, where
        // the SQL stores read latest facts by a seek per cluster instead of by next_day.
        const later = meta('g9', T0 + 60 * 86_400_000, { reportTime: 999 });
        await store.writeBatch({ reports: [later], events: [] });
        await expectLatestFactsOf(store, reports);
      }
      await store.eraseCluster('g1');
      const kept = reports.filter((r) => r.trackingId !== 'g1');
      await expectLatestFactsOf(store, kept);
      const cut = new Date(T0 - 6 * 86_400_000).toISOString().slice(0, 10);
      await store.deleteBefore(cut);
      await expectLatestFactsOf(
        store,
        kept.filter((r) => r.receivedDay >= cut),
      );
    },
    MANY_QUERIES_MS,
  );

  /** Agent reports (some from CI) and compute reports of a few clusters over 12 days, with gaps. */
  function scatteredActivity() {
    const day = 86_400_000;
    const next = seeded(11);
    const reports: ReturnType<typeof compute>[] = [];
    const agents: ReturnType<typeof agent>[] = [];
    let reportTime = 1;
    for (const id of ['s0', 's1', 's2', 's3', 's4', 's5']) {
      for (let d = 0; d < 12; d++) {
        const roll = next();
        const at = T0 - (11 - d) * day + Math.floor(next() * 3_600_000);
        if (roll < 0.35) continue;
        if (roll < 0.55) reports.push(compute(id, at, reportTime++));
        else agents.push(agent({ trackingId: id, ci: roll < 0.85 }, at));
      }
    }
    return { reports, agents };
  }

  /** activeClusterCount and clusterSpans for ranges inside the 12 days, against the written rows. */
  async function expectSpansOf(s: Store, activity: ReturnType<typeof scatteredActivity>, internal: string) {
    // Per cluster and day: CI only when every report that day was from CI (agents only send CI).
    const days = new Map<string, Map<string, boolean>>();
    const mark = (id: string, at: number, ci: boolean) => {
      const day = new Date(at).toISOString().slice(0, 10);
      const perDay = days.get(id) ?? new Map<string, boolean>();
      perDay.set(day, (perDay.get(day) ?? true) && ci);
      days.set(id, perDay);
    };
    for (const r of activity.reports) mark(r.trackingId, r.receivedAt, false);
    for (const a of activity.agents) mark(a.report.trackingId, a.report.receivedAt, a.report.ci);
    const all = Array.from({ length: 12 }, (_, d) =>
      new Date(T0 - (11 - d) * 86_400_000).toISOString().slice(0, 10),
    );
    for (const includeCi of [false, true]) {
      for (const includeInternal of [false, true]) {
        const counted = (id: string) => includeInternal || id !== internal;
        const qualifying = (id: string) =>
          [...(days.get(id) ?? [])]
            .filter(([, ci]) => includeCi || !ci)
            .map(([d]) => d)
            .sort();
        for (const i of [0, 3, 6, 10]) {
          for (const to of all.slice(i)) {
            const from = all[i]!;
            const active = [...days.keys()].filter(
              (id) => counted(id) && qualifying(id).some((d) => d >= from && d <= to),
            ).length;
            const query = { fromDay: from, toDay: to, includeCi, includeInternal };
            expect([query, await s.activeClusterCount(query)]).toEqual([query, active]);
          }
        }
        for (const to of all) {
          // Clusters per (first day, last day up to `to`), sorted by the days.
          const perPair = new Map<string, number>();
          for (const id of [...days.keys()].filter(counted)) {
            const before = qualifying(id).filter((d) => d <= to);
            if (before.length === 0) continue;
            const pair = `${before[0]} ${before.at(-1)}`;
            perPair.set(pair, (perPair.get(pair) ?? 0) + 1);
          }
          const spans = [...perPair]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([pair, clusters]) => {
              const [firstDay, lastDay] = pair.split(' ');
              return { firstDay, lastDay, clusters };
            });
          const stored = await s.clusterSpans({ toDay: to, includeCi, includeInternal });
          expect([to, includeCi, includeInternal, stored]).toEqual([to, includeCi, includeInternal, spans]);
        }
      }
    }
  }

  it(
    'counts active clusters and spans them over any range through backdated batches, CI days, internal tags, erase and retention',
    async () => {
      const activity = scatteredActivity();
      // Batches in a scrambled order: later ones add days before, between and after stored ones.
      for (const k of [2, 0, 3, 1]) {
        await store.writeBatch({
          reports: activity.reports.filter((_, i) => i % 4 === k),
          events: [],
          agentReports: activity.agents.filter((_, i) => i % 4 === k),
        });
      }
      await store.setInternal('s2', true);
      await expectSpansOf(store, activity, 's2');
      await store.eraseCluster('s1');
      const kept = {
        reports: activity.reports.filter((r) => r.trackingId !== 's1'),
        agents: activity.agents.filter((a) => a.report.trackingId !== 's1'),
      };
      await expectSpansOf(store, kept, 's2');
      const cut = new Date(T0 - 5 * 86_400_000).toISOString().slice(0, 10);
      await store.deleteBefore(cut);
      await expectSpansOf(
        store,
        {
          reports: kept.reports.filter((r) => r.receivedDay >= cut),
          agents: kept.agents.filter((a) => a.report.receivedDay >= cut),
        },
        's2',
      );
    },
    MANY_QUERIES_MS,
  );

  // About PostgreSQL's row locks (SQLite has one writer); ClickHouse keeps no such links, so the test
  // is not defined for it (a skipped test would fail CI).
  if (target.name !== 'clickhouse')
    it("links each cluster's facts days right when two collectors write its days at the same moment", async () => {
      // One report per batch, two collectors racing: each batch adds a day before, between or after
      // the days the other one is committing (PostgreSQL runs them concurrently).
      const other = target.name === 'sqlite' ? store : openStore(url);
      try {
        const reports = scatteredMetaReports();
        const order = [...reports].sort(
          (a, b) => ((a.reportTime * 7919) % 37) - ((b.reportTime * 7919) % 37),
        );
        for (let i = 0; i < order.length; i += 2) {
          await Promise.all(
            [store, other].map((s, k) => {
              const r = order[i + k];
              return r ? s.writeBatch({ reports: [r], events: [] }) : null;
            }),
          );
        }
        await expectLatestFactsOf(store, reports);
      } finally {
        if (other !== store) await other.close();
      }
    });

  it('says how many clusters a statistic left out as CI-only or internal, per range', async () => {
    const day = 86_400_000;
    await store.writeBatch({
      reports: [meta('i1', T0 - 2 * day), meta('i2', T0)],
      events: [],
      agentReports: [
        agent({ trackingId: 'c1', ci: true }, T0), // CI only
        agent({ trackingId: 'c2', ci: true }, T0 - day), // CI one day, not CI the next
        agent({ trackingId: 'c2' }, T0),
        agent({ trackingId: 'c3', ci: true }, T0 - 3 * day), // CI only, before the range below
      ],
    });
    await store.setInternal('i1', true);
    await store.setInternal('i2', true);
    const left = (fromDay: string, toDay: string) => store.leftOut({ fromDay, toDay });
    expect(await left('2026-11-19', '2026-11-20')).toEqual({ ci: 1, internal: 1 });
    expect(await left('2026-11-19', '2026-11-19')).toEqual({ ci: 1, internal: 0 });
    expect(await left('2026-11-17', '2026-11-20')).toEqual({ ci: 2, internal: 2 });
    expect(await left('2026-11-21', '2026-11-30')).toEqual({ ci: 0, internal: 0 });
  });

  const sqlOnly = target.name === 'sqlite' || target.name === 'postgres' ? it : null;
  /** A fresh SQL store with the migrations up to `name` only (what an older collector left). */
  async function storeMigratedTo(name: string): Promise<SqlStore> {
    const sqlStore = openStore(await target.freshUrl()) as SqlStore;
    const dialect =
      sqlStore.kind === 'sqlite'
        ? ({ kind: 'sqlite', types: { serial: 'integer', blob: 'blob' } } as const)
        : ({ kind: 'postgres', types: { serial: 'bigserial', blob: 'bytea' } } as const);
    const migrator = new Migrator({ db: sqlStore.db, provider: migrationProvider(dialect) });
    expect((await migrator.migrateTo(name)).error).toBeUndefined();
    return sqlStore;
  }

  sqlOnly?.('backfills its rollups from reports stored before they existed', async () => {
    // A store at the first schema with raw reports only, then migrated: the rollups must answer
    // as if every report had been written through writeBatch.
    const day = 86_400_000;
    const rows = [
      meta('r1', T0 - 2 * day, { version: '2.3.0', reportTime: 1, licenseTier: 'free' }),
      compute('r1', T0 - day, 1),
      meta('r1', T0, { version: '2.4.1', reportTime: 2, computeNodes: 6 }),
      meta('r2', T0, { version: '2.4.1', reportTime: 1 }),
    ];
    const sqlStore = await storeMigratedTo('0002_agent_reports');
    try {
      // The columns reports had then (license_subject came later).
      const before = rows.map(reportColumns).map(({ license_subject: _, ...columns }) => columns);
      await sqlStore.db.insertInto('reports').values(before).execute();
      await sqlStore.db
        .insertInto('clusters')
        .values(clusterRows(rows.map((r) => ({ tracking_id: r.trackingId, received_at: r.receivedAt }))))
        .execute();
      await sqlStore.migrate();
      await store.writeBatch({ reports: rows, events: [] });
      const range = { fromDay: '2026-11-18', toDay: '2026-11-20', includeCi: false };
      for (const s of [sqlStore, store]) {
        expect(await s.versionCounts(range)).toEqual([
          { day: '2026-11-18', version: '2.3.0', clusters: 1 },
          { day: '2026-11-19', version: '2.3.0', clusters: 1 },
          { day: '2026-11-20', version: '2.4.1', clusters: 2 },
        ]);
      }
      expect(await sqlStore.latestFacts(range)).toEqual(await store.latestFacts(range));
      expect((await sqlStore.latestFacts(range))[0]?.nodeCount?.compute).toBe(6);
      expect(await sqlStore.clusterSpans({ toDay: '2026-11-20', includeCi: false })).toEqual(
        await store.clusterSpans({ toDay: '2026-11-20', includeCi: false }),
      );
    } finally {
      await sqlStore.close();
    }
  });

  sqlOnly?.('counts every day once again where two writes both kept their count (0042)', async () => {
    const sqlStore = await storeMigratedTo('0041_day_versions_index');
    try {
      await sqlStore.writeBatch({
        reports: [meta('twice-a', T0, { version: '2.4.1' }), meta('twice-b', T0, { version: '2.5.0' })],
        events: [],
      });
      // What two PostgreSQL writes recounting the day at once left: the day counted twice.
      await sqlStore.db
        .insertInto('day_versions')
        .values([
          { day: '2026-11-20', version: '2.4.1', ci: 0, clusters: 1 },
          { day: '2026-11-20', version: '2.5.0', ci: 0, clusters: 1 },
        ])
        .execute();
      const range = { fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: false };
      expect(await sqlStore.activeClusters(range)).toEqual([{ day: '2026-11-20', clusters: 4 }]);
      await sqlStore.migrate();
      expect(await sqlStore.versionCounts(range)).toEqual([
        { day: '2026-11-20', version: '2.4.1', clusters: 1 },
        { day: '2026-11-20', version: '2.5.0', clusters: 1 },
      ]);
    } finally {
      await sqlStore.close();
    }
  });

  sqlOnly?.('builds every fleet day again, so cells kept from before an erase go (0043)', async () => {
    const sqlStore = await storeMigratedTo('0042_day_versions_recount');
    try {
      const write = (trackingId: string, value: number) =>
        agent({ trackingId, metrics: [counter('rebuilt.q', value)] }, T0 - 10 * 86_400_000);
      await sqlStore.writeBatch({ reports: [], events: [], agentReports: [write('a', 1), write('b', 2)] });
      const question = { name: 'rebuilt.q', fromDay: '2026-11-10', toDay: '2026-11-10', includeCi: false };
      const now = T0 + 30 * 86_400_000;
      const total = async () =>
        metricFromCells(await sqlStore.metricFleet(question, undefined, now))?.rows[0]?.total;
      expect(await total()).toBe(3);
      // What a rebuild beside an erase of 'b' left: its rows gone, its points still in fresh cells.
      await sqlStore.db.deleteFrom('metric_rollup').where('tracking_id', '=', 'b').execute();
      expect(await total()).toBe(3);
      await sqlStore.migrate();
      expect(await total()).toBe(1);
    } finally {
      await sqlStore.close();
    }
  });

  sqlOnly?.('gives rows from before time-first retry keys the keys ingest computes now (0038)', async () => {
    const sqlStore = await storeMigratedTo('0037_event_counts_index');
    try {
      const old = meta('rekey-a', T0, { reportTime: 1_764_000_000 });
      const doubled = meta('rekey-b', T0, { reportTime: 1_764_000_001 });
      const [oldEvent] = events('rekey-a', ['source']);
      // The format before commit a51942a: 128 bits of sha256 over the key's fields, time not first.
      const v0 = (r: ReportRow) =>
        createHash('sha256')
          .update(JSON.stringify(['rw-report', r.trackingId, r.sessionId, r.nodeType, r.reportTime]))
          .digest('hex')
          .slice(0, 32);
      await sqlStore.db
        .insertInto('reports')
        .values([
          reportColumns({ ...old, dedupKey: v0(old) }),
          reportColumns({ ...doubled, dedupKey: v0(doubled) }),
          // Stored again after an upgrade without this migration: both copies stay.
          reportColumns(doubled),
        ])
        .execute();
      await sqlStore.db
        .insertInto('events')
        .values(eventColumns({ ...oldEvent!, dedupKey: 'ab'.repeat(16) }))
        .execute();
      await sqlStore.migrate();
      const keys = await sqlStore.db.selectFrom('reports').select('dedup_key').orderBy('id').execute();
      expect(keys.map((k) => k.dedup_key)).toEqual([old.dedupKey, v0(doubled), doubled.dedupKey]);
      // A retry of an old report or event now stores nothing new.
      const retried = await sqlStore.writeBatch({ reports: [old], events: [oldEvent!] });
      expect(retried).toMatchObject({ reportsInserted: 0, eventsInserted: 0 });
    } finally {
      await sqlStore.close();
    }
  });

  it('writes an import-sized batch of 150,000 events in one call', async () => {
    // /admin/import hands its whole body to one writeBatch: 50,000 lines of 3 events each. On
    // PostgreSQL `push(...rows)` of that many overflowed the call stack (a 503, every time).
    // Old events' keys are looked up in chunks of that batch too.
    const raw = eventBatch(
      Array.from({ length: 1000 }, (_, i) => ({ trackingId: 'bulk', eventTimeSec: 1_764_000_000 + i })),
    );
    const thousand = eventRows(decodeV2EventBatchRaw(raw), T0, raw);
    const events = Array.from({ length: 150 }, (_, copy) =>
      thousand.map((e) => ({ ...e, dedupKey: `${e.dedupKey}-${copy}`, legacyKey: `${e.legacyKey}-${copy}` })),
    ).flat();
    // A store upgraded with events in it, so every one of these is looked up by its legacy key,
    // and the last thousand are stored already under it (an import made before the upgrade).
    await withoutLegacyBoundary(store);
    expect(await store.ensureSetting(LEGACY_EVENT_KEYS_SETTING, '2000000000')).toBe('2000000000');
    const storedBefore = events.slice(-1000).map(({ legacyKey, ...e }) => ({ ...e, dedupKey: legacyKey! }));
    expect(await store.writeBatch({ reports: [], events: storedBefore })).toMatchObject({
      eventsInserted: 1000,
    });
    expect(await store.writeBatch({ reports: [], events })).toMatchObject({ eventsInserted: 149_000 });
  }, 120_000);

  const clickHouseOnly = target.name === 'clickhouse' ? it : null;
  clickHouseOnly?.(
    'records its schema, and refuses a store that a newer version upgraded, changing nothing in it',
    async () => {
      const ch = store as ClickHouseStore;
      const versions = () =>
        ch.rows<{ value: string }>(sql`SELECT value FROM settings WHERE key = 'clickhouse_schema'`);
      expect((await versions()).map((r) => r.value)).toEqual(['1']);
      await ch.client.insert({
        table: 'settings',
        values: [{ key: 'clickhouse_schema', value: '999' }],
        format: 'JSONEachRow',
      });
      // What a newer version might have dropped or renamed: an older one must not create it again.
      await ch.client.command({ query: 'DROP TABLE cluster_latest' });
      await expect(store.migrate()).rejects.toThrow(
        /^the store was upgraded by a newer Tidewatch: its ClickHouse schema 999 is unknown to this version \(1\)/,
      );
      expect(
        await ch.rows(
          sql`SELECT name FROM system.tables WHERE database = currentDatabase() AND name = 'cluster_latest'`,
        ),
      ).toEqual([]);
    },
  );

  clickHouseOnly?.(
    'says an older store needs upgrading before writing anything to it (the CLI stops there)',
    async () => {
      const ch = store as ClickHouseStore;
      await withoutLegacyBoundary(ch); // every setting goes: what a version before the schema setting left
      const refused = new Error('not upgrading');
      const steps: unknown[] = [];
      await expect(
        store.migrate((step) => {
          steps.push(step);
          if (step.phase === 'pending') throw refused;
        }),
      ).rejects.toBe(refused);
      expect(steps).toEqual([{ phase: 'pending', names: ['clickhouse_schema 1'], newStore: false }]);
      expect(await ch.rows(sql`SELECT key FROM settings`)).toEqual([]);
      // The collector's start upgrades it.
      await store.migrate();
      expect(
        (await ch.rows<{ key: string }>(sql`SELECT key FROM settings ORDER BY key`)).map((r) => r.key),
      ).toEqual(expect.arrayContaining(['clickhouse_schema', LEGACY_EVENT_KEYS_SETTING]));
    },
  );

  it('stores an event once when it comes again after an upgrade from keys without the request (a replayed import)', async () => {
    // A fresh store has no events from before: it looks up nothing.
    expect(await store.ensureSetting(LEGACY_EVENT_KEYS_SETTING, 'unset')).toBe('');
    expect(await store.legacyEventKeysUntil()).toBeNull();
    const raw = eventBatch([
      { trackingId: 'legacy', name: 'source' },
      { trackingId: 'legacy', name: 'source' },
      { trackingId: 'legacy', name: 'sink' },
    ]);
    const batch = decodeV2EventBatchRaw(raw);
    // What a collector before commit b2b470f stored: the keys without the request's hash.
    const before = eventRows(batch, T0, raw).map(({ legacyKey, ...row }) => ({
      ...row,
      dedupKey: legacyKey!,
    }));
    // The keys the ingest code of b2b470f^ gave these events (run on this batch, copied here).
    expect(before.map((r) => r.dedupKey)).toEqual([
      '00000069248100c73328736cd8de3521',
      '000000692481007fdb982770ba5d302c',
      '000000692481003c5f4fe7c9e168752c',
    ]);
    await withoutLegacyBoundary(store);
    expect(await store.writeBatch({ reports: [], events: before })).toMatchObject({ eventsInserted: 3 });
    // An event timed at the end of time, which anyone can send, does not move the boundary there.
    const farRaw = eventBatch([{ trackingId: 'far', eventTimeSec: Number.MAX_SAFE_INTEGER }]);
    await store.writeBatch({ reports: [], events: eventRows(decodeV2EventBatchRaw(farRaw), T0, farRaw) });
    await store.close();
    store = openStore(url);
    await store.migrate();
    const until = Number(await store.ensureSetting(LEGACY_EVENT_KEYS_SETTING, 'unset'));
    expect(until).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    expect(until).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 86_400);
    expect(await store.legacyEventKeysUntil()).toBe(until);
    // The same request replayed (an import) or resent later, its rows built as ingest builds them
    // (a legacy key for the events up to the boundary): nothing new.
    const rows = (at: number) => eventRows(batch, at, raw, until);
    expect(await store.writeBatch({ reports: [], events: rows(T0) })).toMatchObject({ eventsInserted: 0 });
    expect(await store.writeBatch({ reports: [], events: rows(T0 + 60_000) })).toMatchObject({
      eventsInserted: 0,
    });
    // Other events of that cluster are stored as ever, and a retry of them is not.
    const later = eventBatch([{ trackingId: 'legacy', name: 'source', eventTimeSec: 1_764_000_100 }]);
    const laterRows = eventRows(decodeV2EventBatchRaw(later), T0, later);
    expect(await store.writeBatch({ reports: [], events: laterRows })).toMatchObject({ eventsInserted: 1 });
    expect(await store.writeBatch({ reports: [], events: laterRows })).toMatchObject({ eventsInserted: 0 });
    const stored = await store.events({
      fromDay: '2026-11-20',
      toDay: '2026-11-20',
      trackingId: 'legacy',
      limit: 100,
    });
    expect(stored.map((e) => e.name).sort()).toEqual(['sink', 'source', 'source', 'source']);
  });

  sqlOnly?.('says what it applied, and refuses a store that a newer version upgraded', async () => {
    const fresh = openStore(await target.freshUrl()) as SqlStore;
    try {
      const applied = await fresh.migrate();
      expect(applied[0]).toBe('0001_initial');
      expect(applied).toContain('0037_event_counts_index');
      // A later Tidewatch ran a migration this one does not have: not "cannot reach the store".
      await fresh.db
        .insertInto('kysely_migration' as never)
        .values({ name: '9999_from_the_future', timestamp: new Date().toISOString() } as never)
        .execute();
      await expect(fresh.migrate()).rejects.toMatchObject({
        code: 'store_newer',
        message: expect.stringMatching(
          /^the store was upgraded by a newer Tidewatch: its migration 9999_from_the_future is unknown to this version/,
        ),
      });
    } finally {
      await fresh.close();
    }
  });

  sqlOnly?.('backfills the clusters day spans (migration 0033)', async () => {
    const activity = scatteredActivity();
    const sqlStore = await storeMigratedTo('0032_connector_uses');
    try {
      // What writeBatch stored before 0033: clusters and cluster_days rows (the rest is not read).
      const stored = [
        ...activity.reports.map((r) => ({ tracking_id: r.trackingId, received_at: r.receivedAt, ci: 0 })),
        ...activity.agents.map((a) => ({
          tracking_id: a.report.trackingId,
          received_at: a.report.receivedAt,
          ci: a.report.ci ? 1 : 0,
        })),
      ];
      await sqlStore.db.insertInto('clusters').values(clusterRows(stored)).execute();
      await sqlStore.db.insertInto('cluster_days').values(clusterDayRows(stored)).execute();
      await sqlStore.migrate();
      await sqlStore.setInternal('s2', true);
      await expectSpansOf(sqlStore, activity, 's2');
    } finally {
      await sqlStore.close();
    }
  });

  sqlOnly?.(
    'backfills next facts days and counted connector uses for every range (migrations 0030, 0032)',
    async () => {
      const reports = scatteredMetaReports();
      const sqlStore = await storeMigratedTo('0026_agent_event_order');
      try {
        // What writeBatch stored before 0030: the reports and their cluster_day_facts rows.
        await sqlStore.db.insertInto('reports').values(reports.map(reportColumns)).execute();
        const before = dayFactsRows(reports).map(({ connector_uses: _, ...columns }) => columns);
        await sqlStore.db
          .insertInto('cluster_day_facts')
          .values(before as never)
          .execute();
        await sqlStore.migrate();
        await expectLatestFactsOf(sqlStore, reports);
      } finally {
        await sqlStore.close();
      }
    },
  );

  sqlOnly?.('backfills the metric rollup and agent event order from rows stored before them', async () => {
    const writes = [
      agent({
        trackingId: 'b1',
        metrics: [counter('errors', 2, { sqlstate_class: '42' }), histogram('duration', [0.5, 1])],
        events: [
          { name: 'db.ddl', timeMs: 1, fields: { op: 'create' } },
          { name: 'db.ddl', timeMs: 2, fields: { op: 'drop' } },
        ],
      }),
      agent({ trackingId: 'b1', metrics: [histogram('duration', [2, 4])] }, T0 + 1000),
      agent({ trackingId: 'b2', metrics: [counter('errors', 5, { sqlstate_class: '42' })] }, T0 - 86_400_000),
    ];
    const sqlStore = await storeMigratedTo('0012_audit_log');
    try {
      // The rows as the write path stored them then (agent events had no seq).
      await sqlStore.db
        .insertInto('agent_reports')
        .values(writes.map((w) => agentReportColumns(w.report)))
        .execute();
      const children = agentChildren(writes);
      await sqlStore.db.insertInto('metric_points').values(children.points).execute();
      await sqlStore.db
        .insertInto('agent_events')
        .values(children.events.map(({ seq: _, ...e }) => e) as never)
        .execute();
      await sqlStore.migrate();
      await store.writeBatch({ reports: [], events: [], agentReports: writes });
      const range = { fromDay: '2026-11-19', toDay: '2026-11-20', includeCi: false };
      for (const name of ['errors', 'duration']) {
        expect(await rollupRows(sqlStore, { ...range, name })).toEqual(
          await rollupRows(store, { ...range, name }),
        );
      }
      expect((await rollupRows(store, { ...range, name: 'duration' }))[0]?.points).toBe(2);
      const strip = (events: { fields: string; name: string; trackingId: string }[]) =>
        events.map(({ fields, name, trackingId }) => ({ fields, name, trackingId }));
      expect(strip(await sqlStore.agentEvents({ ...range, limit: 10 }))).toEqual(
        strip(await store.agentEvents({ ...range, limit: 10 })),
      );
    } finally {
      await sqlStore.close();
    }
  });

  it('lists clusters with their latest facts, newest first, searchable and paged', async () => {
    const day = 86_400_000;
    await store.writeBatch({
      reports: [
        meta('list-a', T0, { version: '2.4.1', reportTime: 5 }),
        // Imported later but older: it must not overwrite the newer facts.
        meta('list-b', T0 - day, { version: '2.2.0', reportTime: 1 }),
        compute('LIST-c%', T0 - 2 * day),
      ],
      events: [],
    });
    await store.writeBatch({
      reports: [meta('list-a', T0 - 3 * day, { version: '1.9.0', reportTime: 2 })],
      events: [],
    });
    const all = await store.listClusters({ limit: 10 });
    expect(all.map((c) => [c.trackingId, c.version])).toEqual([
      ['list-a', '2.4.1'],
      ['list-b', '2.2.0'],
      ['LIST-c%', null],
    ]);
    expect(all[0]).toMatchObject({
      firstSeen: T0 - 3 * day,
      lastSeen: T0,
      clusterType: 'kubernetes',
      metaBackend: 'rdb',
    });
    expect((await store.listClusters({ limit: 10, search: 'list-' })).length).toBe(3);
    expect((await store.listClusters({ limit: 10, search: 'c%' })).map((c) => c.trackingId)).toEqual([
      'LIST-c%',
    ]);
    expect((await store.listClusters({ limit: 10, search: '_' })).length).toBe(0); // wildcards are literal
    expect((await store.listClusters({ limit: 10, version: '2.2.0' })).map((c) => c.trackingId)).toEqual([
      'list-b',
    ]);
    expect((await store.listClusters({ limit: 10, seenFromDay: '2026-11-19' })).length).toBe(2);
    const first = await store.listClusters({ limit: 2 });
    const rest = await store.listClusters({
      limit: 2,
      before: { lastSeen: first[1]!.lastSeen, trackingId: first[1]!.trackingId },
    });
    expect([...first, ...rest].map((c) => c.trackingId)).toEqual(all.map((c) => c.trackingId));
    // The count is of the whole filtered list, with the same filters.
    expect(await store.countClusters({})).toBe(3);
    expect(await store.countClusters({ search: 'list-' })).toBe(3);
    expect(await store.countClusters({ search: 'c%' })).toBe(1);
    expect(await store.countClusters({ search: '_' })).toBe(0);
    expect(await store.countClusters({ version: '2.2.0' })).toBe(1);
    expect(await store.countClusters({ clusterType: 'kubernetes' })).toBe(2);
    expect(await store.countClusters({ seenFromDay: '2026-11-19' })).toBe(2);
    expect(await store.countClusters({ search: 'LIST', seenFromDay: '2026-11-19', version: '2.4.1' })).toBe(
      1,
    );
  });

  it('retention deletes raw rows and rollups received before a day, and the rollups stay consistent', async () => {
    const day = 86_400_000;
    const old = T0 - 10 * day; // 2026-11-10
    await store.writeBatch({
      reports: [meta('old-only', old), meta('both', old, { version: '2.3.0' }), compute('both', T0)],
      events: [...events('old-only', ['source'], old), ...events('both', ['sink'], T0)],
      agentReports: [
        agent({ trackingId: 'both', metrics: [counter('q', 1, { gone: 'yes' })] }, old),
        agent({ trackingId: 'both', metrics: [counter('q', 2)] }, T0),
      ],
    });
    await store.appendAudit({
      at: old,
      actor: 'cli',
      action: 'token_create',
      target: 'tok_1',
      details: null,
    });
    await store.appendAudit({ at: T0, actor: 'cli', action: 'token_revoke', target: 'tok_1', details: null });
    const deleted = await store.deleteBefore('2026-11-15');
    expect(deleted).toMatchObject({
      reports: 2,
      events: 1,
      agent_reports: 1,
      metric_points: 1,
      metric_rollup: 1,
      metric_series: 1,
      clusters: 1,
      audit_log: 1,
    });
    // Rollups are counted too, on every store (ClickHouse's were left out of the metric).
    expect(deleted['cluster_days']).toBeGreaterThan(0);
    expect(await store.getCluster('old-only')).toBeNull();
    // First seen moves to the oldest remaining row; facts whose meta report is gone are unknown.
    const both = await store.getCluster('both');
    expect(both).toMatchObject({ firstSeen: T0, lastSeen: T0, reports: { meta: 0, compute: 1 }, events: 1 });
    const listed = await store.listClusters({ limit: 10 });
    expect(listed).toEqual([expect.objectContaining({ trackingId: 'both', firstSeen: T0, version: null })]);
    const range = { fromDay: '2026-11-01', toDay: '2026-11-30', includeCi: true };
    expect(await store.activeClusters(range)).toEqual([{ day: '2026-11-20', clusters: 1 }]);
    // The version carried forward from a meta report that retention deleted is unknown now.
    expect(await store.versionCounts(range)).toEqual([{ day: '2026-11-20', version: null, clusters: 1 }]);
    expect(await store.latestFacts(range)).toEqual([]);
    expect(await store.breakdown('version', range)).toEqual([]);
    expect(await store.clusterSpans({ toDay: '2026-11-30', includeCi: true })).toEqual([
      { firstDay: '2026-11-20', lastDay: '2026-11-20', clusters: 1 },
    ]);
    expect([...(await store.knownSeries('both')).series]).toEqual(['q\0{}']);
    expect((await store.metricPoints({ name: 'q', ...range })).map((p) => p.value)).toEqual([2]);
    expect(await rollupRows(store, { name: 'q', ...range, fromDay: '2000-01-01' })).toEqual([
      expect.objectContaining({ day: '2026-11-20', labels: '{}', total: 2 }),
    ]);
    expect((await store.auditLog({ limit: 10 })).map((a) => a.action)).toEqual(['token_revoke']);
    // Running it again deletes nothing more.
    expect(Object.values(await store.deleteBefore('2026-11-15')).every((n) => n === 0)).toBe(true);
  });

  it('keeps the first value of a setting, even when set concurrently', async () => {
    const values = await Promise.all(
      ['a', 'b', 'c', 'd'].map((v) => store.ensureSetting('license_subject_salt', v)),
    );
    expect(new Set(values).size).toBe(1);
    expect(await store.ensureSetting('license_subject_salt', 'other')).toBe(values[0]);
    expect(await store.ensureSetting('another', 'x')).toBe('x');
  });

  it('keeps an audit log, newest first, page by page', async () => {
    for (let i = 1; i <= 3; i++) {
      await store.appendAudit({
        at: T0 + i,
        actor: `tok_${i}`,
        action: 'erase',
        target: `c${i}`,
        details: i === 2 ? '{"reports":1}' : null,
      });
    }
    const page = await store.auditLog({ limit: 2 });
    expect(page).toEqual([
      { id: expect.any(Number), at: T0 + 3, actor: 'tok_3', action: 'erase', target: 'c3', details: null },
      {
        id: expect.any(Number),
        at: T0 + 2,
        actor: 'tok_2',
        action: 'erase',
        target: 'c2',
        details: '{"reports":1}',
      },
    ]);
    const next = await store.auditLog({ limit: 2, before: page[1]!.id });
    expect(next.map((e) => e.target)).toEqual(['c1']);
  });

  it('creates the first admin token exactly once, even when asked concurrently', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.createFirstAdminToken(tokenRecord(`secret-${i}`, 'admin', 'first', T0)),
      ),
    );
    expect(attempts.filter(Boolean)).toHaveLength(1);
    expect((await store.listTokens()).filter((t) => t.role === 'admin')).toHaveLength(1);
  });

  it('finds, lists and revokes tokens by hash and id', async () => {
    const read = tokenRecord('read-secret-123456', 'read', 'dashboard', T0, T0 + 86_400_000);
    await store.putToken(read);
    expect(await store.findTokenByHash(read.hash)).toEqual(read);
    expect(await store.findTokenByHash('0'.repeat(64))).toBeNull();
    expect(await store.revokeToken(read.id, T0 + 1)).toBe(true);
    expect(await store.revokeToken(read.id, T0 + 2)).toBe(false);
    expect((await store.findTokenByHash(read.hash))?.revokedAt).toBe(T0 + 1);
    // Configuring the same secret again (e.g. --admin-token on every start) re-activates it.
    await store.putToken({ ...read, id: 'tok_other', role: 'admin', expiresAt: null });
    expect(await store.findTokenByHash(read.hash)).toMatchObject({
      id: read.id,
      role: 'admin',
      revokedAt: null,
    });
    expect(await store.listTokens()).toHaveLength(1);
  });
});

/** Reads a cluster's raw payload straight from its table, as an operator's SQL would. */
async function rawOf(store: Store, trackingId: string): Promise<Uint8Array> {
  if (store instanceof ClickHouseStore) {
    const [row] = await store.rows<{ raw: string }>(
      sql`SELECT raw FROM reports FINAL WHERE tracking_id = ${trackingId}`,
    );
    return Buffer.from(row!.raw, 'base64');
  }
  const db = (store as unknown as { db: import('kysely').Kysely<import('./sql/schema.js').Database> }).db;
  const row = await db
    .selectFrom('reports')
    .select('raw')
    .where('tracking_id', '=', trackingId)
    .executeTakeFirstOrThrow();
  return row.raw;
}
