// The ClickHouse rollups and the reads that dedup without FINAL: copies of one report that two
// collectors stored before a merge (written here straight into the raw tables, so the copies are
// really there) must count once in every answer; rollups created on a store that already has rows
// are filled from them; erase and retention reach the rollups.
import { decodeV2EventBatchRaw, decodeV2Report } from '@tidewatch/protocol';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { agentReport, counter } from '../../../test-support/agent-report.js';
import { eventBatch, metaReport, nodeReport } from '../../../test-support/risingwave.js';
import { createClickHouseDatabase, type TestDatabase } from '../../../test-support/services.js';
import { agentReportWrite } from '../../ingest/native-rows.js';
import { eventRow, reportRow } from '../../ingest/rows.js';
import { agentReportColumns, eventColumns, reportColumns } from '../batch-rows.js';
import type { ClusterFacts, WriteBatch } from '../store.js';
import type { ClickHouseConnection } from './clickhouse-connection.js';
import { FILL_SETTING } from './clickhouse-migrate.js';
import { ClickHouseStore, openClickHouseStore, parseClickHouseUrl } from './clickhouse-store.js';
import { CLUSTER_TABLES, ROLLUPS } from './schema.js';
import { ident, sql } from './sql.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20, 12, 0, 0, 0);
const databases: TestDatabase[] = [];
const probe = await createClickHouseDatabase();
if (probe) databases.push(probe);
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

function meta(trackingId: string, receivedAt: number, o: Parameters<typeof metaReport>[0] = {}) {
  const raw = metaReport({ trackingId, ...o });
  return reportRow(decodeV2Report('meta', raw), raw, receivedAt);
}

function compute(trackingId: string, receivedAt: number) {
  const raw = nodeReport('compute', { trackingId });
  return reportRow(decodeV2Report('compute', raw), raw, receivedAt);
}

function events(trackingId: string, names: string[], receivedAt: number) {
  const raw = eventBatch(names.map((name) => ({ trackingId, name })));
  return decodeV2EventBatchRaw(raw).map((e) => eventRow(e.event, e.raw, receivedAt));
}

function agent(trackingId: string, receivedAt: number, ci = false) {
  const report = agentReport({ trackingId, ci, metrics: [counter('db.queries', 100)] });
  const none = { names: new Set<string>(), series: new Set<string>() };
  return agentReportWrite(report, new TextEncoder().encode(JSON.stringify(report)), receivedAt, none).write;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** Inserts rows as a second collector would after finding their keys absent: a second copy. */
async function secondCopy(store: ClickHouseStore, batch: WriteBatch, shiftMs: number): Promise<void> {
  const later = <T extends { receivedAt: number }>(r: T) => ({ ...r, receivedAt: r.receivedAt + shiftMs });
  await store.client.insert({
    table: 'events',
    // Ids as that collector's writer gives them: rising in key order, from its clock a moment later.
    values: [...batch.events]
      .sort((a, b) => (a.dedupKey < b.dedupKey ? -1 : 1))
      .map(later)
      .map((e, i) => ({
        ...eventColumns(e),
        id: (Date.now() + 1) * 1000 + i,
        raw: base64(e.raw),
      })),
    format: 'JSONEachRow',
  });
  await store.client.insert({
    table: 'reports',
    values: batch.reports.map(later).map((r) => ({ ...reportColumns(r), raw: base64(r.raw) })),
    format: 'JSONEachRow',
  });
  await store.client.insert({
    table: 'agent_reports',
    values: (batch.agentReports ?? [])
      .map((w) => later(w.report))
      .map((r) => ({ ...agentReportColumns(r), raw: base64(r.raw) })),
    format: 'JSONEachRow',
  });
}

/** Every answer of the store about these clusters, for comparing two stores or two moments. */
async function answers(store: ClickHouseStore, ids: string[]) {
  const range = { fromDay: '2026-11-18', toDay: '2026-11-21', includeCi: true, includeInternal: true };
  return {
    clusters: await Promise.all(ids.map((id) => store.getCluster(id))),
    history: await Promise.all(ids.map((id) => store.clusterHistory({ trackingId: id, ...range }))),
    active: await store.activeClusters(range),
    count: await store.activeClusterCount(range),
    spans: await store.clusterSpans(range),
    versions: await store.versionCounts(range),
    facts: await store.latestFacts(range),
    list: await store.listClusters({ limit: 10 }),
    byVersion: await store.breakdown('version', range),
    eventCounts: await store.eventCounts({ ...range, by: 'name', limit: 10 }),
    events: (await store.events({ ...range, limit: 100 })).map((e) => [e.trackingId, e.name, e.receivedAt]),
  };
}

describe.skipIf(!probe)('ClickHouse rollups and reads without FINAL', () => {
  let store: ClickHouseStore;
  beforeEach(async () => {
    const db = (await createClickHouseDatabase())!;
    databases.push(db);
    store = openClickHouseStore(db.url);
    await store.migrate();
    return () => store.close();
  });

  const batch = (): WriteBatch => ({
    reports: [
      meta('dup', T0 - DAY, { version: '2.3.0' }),
      meta('dup', T0, { version: '2.4.0' }),
      compute('dup', T0),
    ],
    events: events('dup', ['source', 'sink'], T0),
    agentReports: [agent('dup', T0)],
  });

  it('counts a report, event and agent report once while a second copy waits for a merge', async () => {
    const rows = batch();
    await store.writeBatch(rows);
    const before = await answers(store, ['dup']);
    // The copies a racing collector would add at the same moment; the merge has not run.
    await secondCopy(store, rows, 0);
    const [stored] = await store.rows<{ n: number }>(sql`SELECT count() AS n FROM reports`);
    expect(Number(stored?.n)).toBe(6);
    expect(await answers(store, ['dup'])).toEqual(before);
    // A third copy from a collector whose clock is 5 ms ahead: only times may move (to a copy's).
    await secondCopy(store, rows, 5);
    const after = await answers(store, ['dup']);
    expect(after.clusters[0]).toMatchObject({ reports: { meta: 2, compute: 1 }, events: 2, agentReports: 1 });
    expect(after.clusters[0]?.lastSeen).toBe(T0 + 5);
    for (const key of ['active', 'count', 'spans', 'versions', 'byVersion', 'eventCounts'] as const) {
      expect(after[key]).toEqual(before[key]);
    }
    const reportsPerSession = (a: typeof after) => a.history[0]?.sessions.map((s) => s.reports).sort();
    expect(reportsPerSession(after)).toEqual(reportsPerSession(before));
    expect(after.list.map((c) => c.trackingId)).toEqual(['dup']);
    expect(after.events).toHaveLength(2);
    // Page by page, each event once.
    const range = { fromDay: '2026-11-20', toDay: '2026-11-20' };
    const first = await store.events({ ...range, limit: 1 });
    const last = first.at(-1)!;
    const second = await store.events({
      ...range,
      limit: 5,
      before: { receivedAt: last.receivedAt, id: last.id },
    });
    expect([...first, ...second].map((e) => e.name).sort()).toEqual(['sink', 'source']);
  });

  it('stores once a copy that arrives while the first is still being written (one collector)', async () => {
    const first = batch();
    // A client's retry while its first attempt still waits in a slow commit, received a second
    // later; the agent report's copy a day later (its metric points then belong to another day).
    const later = <T extends { receivedAt: number }>(r: T, ms = 1000) => ({
      ...r,
      receivedAt: r.receivedAt + ms,
    });
    const retry: WriteBatch = {
      reports: first.reports.map((r) => later(r)),
      events: first.events.map((e) => later(e)),
      agentReports: first.agentReports!.map((w) => ({
        ...w,
        report: { ...later(w.report, DAY), receivedDay: '2026-11-21' },
      })),
    };
    const [, again] = await Promise.all([store.writeBatch(first), store.writeBatch(retry)]);
    expect(again).toMatchObject({ reportsInserted: 0, eventsInserted: 0, agentReportsInserted: 0 });
    const cluster = await store.getCluster('dup');
    expect(cluster).toMatchObject({ reports: { meta: 2, compute: 1 }, events: 2, agentReports: 1 });
    expect(cluster?.lastSeen).toBe(T0);
    const days = await store.rows<{ day: string }>(
      sql`SELECT DISTINCT toString(received_day) AS day FROM metric_rollup FINAL WHERE tracking_id = 'dup'`,
    );
    expect(days.map((d) => d.day)).toEqual(['2026-11-20']);
    const [copies] = await store.rows<{ n: number }>(sql`SELECT count() AS n FROM reports`);
    expect(Number(copies?.n)).toBe(3);
  });

  it('fills rollups created on a store that already holds rows, answering as before', async () => {
    await store.writeBatch(batch());
    await store.writeBatch({ reports: [meta('other', T0 - 2 * DAY, { version: '2.2.0' })], events: [] });
    const ids = ['dup', 'other'];
    const before = await answers(store, ids);
    // A store from before the rollups: their tables and views gone, the raw rows kept.
    for (const rollup of ROLLUPS) {
      for (const view of rollup.views) await store.rows(sql`DROP TABLE ${ident(view.name)}`);
      await store.rows(sql`DROP TABLE ${ident(rollup.name)}`);
    }
    await store.migrate();
    expect(await answers(store, ids)).toEqual(before);
    // A range that ends before a cluster's last meta report takes the facts of its own days.
    const earlier = await store.latestFacts({ fromDay: '2026-11-18', toDay: '2026-11-19', includeCi: true });
    expect(earlier.map((f) => [f.trackingId, f.day, f.version])).toEqual([
      ['dup', '2026-11-19', '2.3.0'],
      ['other', '2026-11-18', '2.2.0'],
    ]);
    // And the views run again: a new row reaches the rollups.
    await store.writeBatch({ reports: [meta('new', T0, { version: '2.5.0' })], events: [] });
    expect((await store.getCluster('new'))?.version).toBe('2.5.0');
    const facts = await store.latestFacts({ fromDay: '2026-11-20', toDay: '2026-11-20', includeCi: true });
    expect(facts.map((f: ClusterFacts) => [f.trackingId, f.version])).toEqual([
      ['dup', '2.4.0'],
      ['new', '2.5.0'],
    ]);
  });

  it('fills again a rollup whose fill was cut short, and only that once', async () => {
    await store.writeBatch(batch());
    await store.writeBatch({ reports: [meta('other', T0 - 2 * DAY, { version: '2.2.0' })], events: [] });
    const ids = ['dup', 'other'];
    const before = await answers(store, ids);
    const rollupRows = async (name: string) =>
      Number((await store.rows<{ n: number }>(sql`SELECT count() AS n FROM ${ident(name)}`))[0]!.n);
    // What a collector killed mid-fill leaves: the rollup claimed (its table there, empty here),
    // the fill's start recorded, its end not.
    const cutShort = async () => {
      for (const rollup of ROLLUPS) await store.rows(sql`TRUNCATE TABLE ${ident(rollup.name)}`);
      await store.client.insert({
        table: 'settings',
        values: ROLLUPS.map((r) => ({ key: `${FILL_SETTING}${r.name}`, value: 'started' })),
        format: 'JSONEachRow',
      });
    };
    await cutShort();
    expect(await rollupRows('cluster_days')).toBe(0);
    // A caller that must not upgrade the store (the CLI) is told before anything is written.
    const refuse = () => {
      throw new Error('refused');
    };
    await expect(store.migrate(refuse)).rejects.toThrow('refused');
    expect(await rollupRows('cluster_days')).toBe(0);
    // The next start fills them again, and the answers are what they were.
    expect(await store.migrate()).toEqual(ROLLUPS.map((r) => r.name));
    expect(await answers(store, ids)).toEqual(before);
    // Finished: later starts leave them alone.
    expect(await store.migrate()).toEqual([]);
    // A rollup from before the fill was recorded (no setting) counts as filled.
    await cutShort();
    await store.client.command({
      query: `ALTER TABLE settings DELETE WHERE startsWith(key, '${FILL_SETTING}')`,
    });
    await expect
      .poll(
        async () =>
          (await store.rows(sql`SELECT 1 FROM settings WHERE startsWith(key, ${FILL_SETTING})`)).length,
      )
      .toBe(0);
    expect(await store.migrate()).toEqual([]);
    expect(await rollupRows('cluster_days')).toBe(0);
  });

  it('counts the clusters a statistic leaves out: all reports from CI, or tagged internal', async () => {
    await store.writeBatch({
      reports: [meta('internal', T0), meta('mixed', T0), meta('plain', T0)],
      events: events('events-only', ['source'], T0),
      agentReports: [agent('ci-only', T0, true), agent('mixed', T0, true)],
    });
    // A copy not merged yet of the CI-only cluster's report changes nothing.
    await secondCopy(store, { reports: [], events: [], agentReports: [agent('ci-only', T0, true)] }, 0);
    expect(await store.setInternal('internal', true)).toBe(true);
    const range = { fromDay: '2026-11-20', toDay: '2026-11-20' };
    expect(await store.leftOut(range)).toEqual({ ci: 1, internal: 1 });
    expect(await store.activeClusterCount({ ...range, includeCi: false })).toBe(2);
    expect(await store.activeClusterCount({ ...range, includeCi: true, includeInternal: true })).toBe(4);
    expect(await store.leftOut({ fromDay: '2026-11-21', toDay: '2026-11-21' })).toEqual({
      ci: 0,
      internal: 0,
    });
  });

  it('finds retried keys of a bulk batch that needs several lookups (tracking ids in any order)', async () => {
    const db = (await createClickHouseDatabase())!;
    databases.push(db);
    const small = new ClickHouseStore({ ...parseClickHouseUrl(db.url), keysPerLookup: 2 });
    await small.migrate();
    try {
      const ids = ['m', 'c', 'x', 'a', 'q', 'f', 'b'];
      const first: WriteBatch = {
        reports: ids.map((id, i) => meta(id, T0 + i)),
        events: ids.flatMap((id) => events(id, ['source'], T0)),
      };
      expect(await small.writeBatch(first)).toMatchObject({ reportsInserted: 7, eventsInserted: 7 });
      // Sent again with two new clusters in the middle: only theirs are new.
      const again: WriteBatch = {
        reports: [...first.reports.slice(0, 3), meta('n', T0), ...first.reports.slice(3), meta('d', T0)],
        events: [...first.events, ...events('n', ['sink'], T0)],
      };
      expect(await small.writeBatch(again)).toMatchObject({ reportsInserted: 2, eventsInserted: 1 });
      const [stored] = await small.rows<{ n: number }>(sql`SELECT count() AS n FROM reports`);
      expect(Number(stored?.n)).toBe(9);
    } finally {
      await small.close();
    }
  });

  it('erases a cluster from every rollup and keeps retention to the days after the cut-off', async () => {
    await store.writeBatch(batch());
    await store.writeBatch({ reports: [meta('kept', T0, { version: '2.4.0' })], events: [] });
    await store.eraseCluster('dup', T0 + DAY);
    for (const rollup of ROLLUPS) {
      const left = await store.rows<{ tracking_id: string }>(
        sql`SELECT DISTINCT tracking_id FROM ${ident(rollup.name)} ORDER BY tracking_id`,
      );
      expect(left.map((r) => r.tracking_id)).toEqual(['kept']);
    }
    await store.unblockCluster('dup');
    await store.writeBatch(batch());
    await store.deleteBefore('2026-11-20');
    for (const rollup of ROLLUPS) {
      const [oldest] = await store.rows<{ first: string }>(
        sql`SELECT toString(min(day)) AS first FROM ${ident(rollup.name)}`,
      );
      expect(oldest?.first).toBe('2026-11-20');
    }
    // The 2026-11-19 meta report is gone: the cluster's first seen and version history start later.
    expect((await store.getCluster('dup'))?.firstSeen).toBe(T0);
    const range = { fromDay: '2026-11-19', toDay: '2026-11-20', includeCi: true };
    expect(await store.versionCounts(range)).toEqual([{ day: '2026-11-20', version: '2.4.0', clusters: 2 }]);
  });

  it('an erase that finishes while a write is between its block check and its inserts still wins', async () => {
    // A slow insert (a busy server, a slow network): the write checked the block before the erase
    // blocked the cluster, and its rows land after the erase's passes.
    const ch = (store as unknown as { ch: ClickHouseConnection }).ch;
    const insert = ch.insert.bind(ch);
    let arrived!: () => void;
    const atInsert = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    ch.insert = async (table, values) => {
      if (table === 'reports' && values.some((v) => v.tracking_id === 'late')) {
        arrived();
        await gate;
      }
      return insert(table, values);
    };
    const late: WriteBatch = {
      reports: [meta('late', T0), meta('other', T0)],
      events: events('late', ['source'], T0),
      agentReports: [agent('late', T0)],
    };
    const writing = store.writeBatch(late);
    await atInsert;
    await store.eraseCluster('late', T0);
    release();
    const result = await writing;
    expect(result.blockedIds).toEqual(['late']);
    expect(result.reportsInserted).toBe(1); // the other cluster's
    expect(await store.getCluster('late')).toBeNull();
    expect((await store.getCluster('other'))?.trackingId).toBe('other');
    for (const table of CLUSTER_TABLES) {
      const [left] = await store.rows<{ n: number }>(
        sql`SELECT count() AS n FROM ${ident(table)} WHERE tracking_id = 'late'`,
      );
      expect(Number(left?.n), table).toBe(0);
    }
  });
});
