// The PostgreSQL store's own URL parameters (pool=N bounds the connections one collector keeps),
// and what only a store with several writers at once can get wrong.
import { decodeV2Report } from '@tidewatch/protocol';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { agentReport, counter } from '../../../test-support/agent-report.js';
import { metaReport } from '../../../test-support/risingwave.js';
import { createPostgresDatabase } from '../../../test-support/services.js';
import { agentReportWrite } from '../../ingest/native-rows.js';
import { reportRow } from '../../ingest/rows.js';
import { metricFromCells } from '../../query/metric-aggregate.js';
import { DEFAULT_POOL_SIZE, openPostgresStore, poolSizeOption } from './postgres-store.js';

describe('poolSizeOption', () => {
  it('reads pool=N from the store URL and hands pg the URL without it', () => {
    expect(poolSizeOption('postgres://u@h/db')).toEqual({
      url: 'postgres://u@h/db',
      poolSize: DEFAULT_POOL_SIZE,
    });
    expect(poolSizeOption('postgres://u@h/db?pool=3')).toEqual({ url: 'postgres://u@h/db', poolSize: 3 });
    expect(poolSizeOption('postgres://u@h/db?sslmode=require&pool=40&prepare=off')).toEqual({
      url: 'postgres://u@h/db?sslmode=require&prepare=off',
      poolSize: 40,
    });
    for (const bad of ['0', '-1', '1001', '2.5', 'ten', '']) {
      expect(() => poolSizeOption(`postgres://u@h/db?pool=${bad}`), bad).toThrow(
        `postgres store URL: pool=${bad} is not a number of connections from 1 to 1000`,
      );
    }
  });
});

const database = await createPostgresDatabase(); // null (skipped, with a warning) only outside CI
afterAll(async () => {
  await database?.drop();
});

describe.skipIf(!database)('a PostgreSQL store with pool=2', () => {
  it('keeps at most two connections however many reads run at once', async () => {
    const url = new URL(database!.url);
    url.searchParams.set('pool', '2');
    const store = openPostgresStore(url.toString());
    const watcher = new pg.Client({ connectionString: database!.url });
    await watcher.connect();
    try {
      await store.migrate();
      const day = new Date().toISOString().slice(0, 10);
      // Reads that wait on a lock hold their connections: as many as the pool allows.
      await watcher.query('begin');
      await watcher.query('lock table cluster_days in access exclusive mode');
      const reads = Array.from({ length: 20 }, () =>
        store.activeClusterCount({ fromDay: day, toDay: day, includeCi: false }),
      );
      const connections = async () => {
        // pg_stat_activity is read once per transaction unless the snapshot is dropped.
        await watcher.query('select pg_stat_clear_snapshot()');
        const { rows } = await watcher.query<{ n: string }>(
          'select count(*) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
        );
        return Number(rows[0]!.n);
      };
      // Wait for the pool to fill (not a fixed sleep), then check it stays filled at two.
      await expect.poll(connections, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      await new Promise((r) => setTimeout(r, 300));
      const held = await connections();
      await watcher.query('rollback');
      expect(held).toBe(2);
      expect(await Promise.all(reads)).toEqual(Array.from({ length: 20 }, () => 0));
    } finally {
      await watcher.end();
      await store.close();
    }
  });
});

describe.skipIf(!database)('a role that may not create tables', () => {
  it('is refused at start with what to do, not "cannot reach the store"', async () => {
    const admin = new pg.Client({ connectionString: database!.url });
    await admin.connect();
    const role = `tw_no_create_${process.pid}`;
    try {
      await admin.query(`drop role if exists ${role}`);
      await admin.query(`create role ${role} login`);
      const url = new URL(database!.url);
      url.username = role;
      const store = openPostgresStore(url.toString());
      try {
        await expect(store.migrate()).rejects.toThrow(
          /^cannot set up the store: permission denied for (schema public|table kysely_migration) \(the collector's role must own the store's tables, or be able to create them/,
        );
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`drop role if exists ${role}`).catch(() => {});
      await admin.end();
    }
  });
});

describe.skipIf(!database)('a PostgreSQL store with several writes in flight', () => {
  it('counts every cluster of a day once in the version counts', async () => {
    // The write batcher keeps up to four write transactions in flight. Each used to count its
    // days again from cluster_days: a second recount's delete could not see the first one's new
    // rows, so both counts stayed (a day of 2,000 new clusters read as 5,936 in a scratch run).
    const store = openPostgresStore(database!.url);
    try {
      await store.migrate();
      const at = Date.UTC(2026, 10, 24, 9);
      const report = (trackingId: string, version: string) => {
        const raw = metaReport({ trackingId, version });
        return reportRow(decodeV2Report('meta', raw), raw, at);
      };
      await store.writeBatch({ reports: [report('first', '2.5.0')], events: [] });
      // A day that already holds many clusters: a recount of it takes long enough for the next
      // write to start its own meanwhile.
      const admin = new pg.Client({ connectionString: database!.url });
      await admin.connect();
      try {
        await admin.query(`insert into cluster_days (day, tracking_id, ci, version)
          select '2026-11-24', 'seed-' || g, 0, '2.5.0' from generate_series(1, 200000) g`);
        await admin.query(`update day_versions set clusters = clusters + 200000
          where day = '2026-11-24' and version = '2.5.0' and ci = 0`);
      } finally {
        await admin.end();
      }
      const lane = async (lane: number) => {
        for (let write = 0; write < 20; write++) {
          const ids = Array.from({ length: 16 }, (_, i) => `lane${lane}-write${write}-${i}`);
          await store.writeBatch({ reports: ids.map((id, i) => report(id, `2.${i % 4}.0`)), events: [] });
        }
      };
      await Promise.all([0, 1, 2, 3].map(lane));
      const day = { fromDay: '2026-11-24', toDay: '2026-11-24', includeCi: false };
      expect(await store.versionCounts(day)).toEqual([
        { day: '2026-11-24', version: '2.0.0', clusters: 320 },
        { day: '2026-11-24', version: '2.1.0', clusters: 320 },
        { day: '2026-11-24', version: '2.2.0', clusters: 320 },
        { day: '2026-11-24', version: '2.3.0', clusters: 320 },
        { day: '2026-11-24', version: '2.5.0', clusters: 200_001 },
      ]);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!database)('a PostgreSQL store rebuilding fleet cells beside an erase or a tag', () => {
  // A rebuild of a stale day reads the day's rows and then writes its cells in one transaction.
  // Erase and the internal tag mark the cluster's days stale; they used to skip days already
  // stale (`fresh = 1`), so a rebuild could claim such a day before they committed, fold what it
  // read before the commit, and store those cells as fresh: the erased cluster stayed in them
  // (the tagged one on the wrong side) until some later write of that day.
  const day = Date.UTC(2026, 9, 1, 12); // a closed day: cells are stored for it
  const now = day + 30 * 86_400_000;
  const question = { name: 'race.q', fromDay: '2026-10-01', toDay: '2026-10-01', includeCi: false };
  const none = { names: new Set<string>(), series: new Set<string>() };
  const write = (trackingId: string, value: number) => {
    const report = agentReport({ trackingId, metrics: [counter('race.q', value)] });
    return agentReportWrite(report, new Uint8Array([1]), day, none).write;
  };

  it.each([
    ['an erase', (s: ReturnType<typeof openPostgresStore>) => s.eraseCluster('gone')],
    ['the internal tag', (s: ReturnType<typeof openPostgresStore>) => s.setInternal('gone', true)],
  ])('keeps no cells folded before %s committed', async (_, change) => {
    const url = (await createPostgresDatabase())!;
    const store = openPostgresStore(url.url);
    const admin = new pg.Client({ connectionString: url.url });
    const blocker = new pg.Client({ connectionString: url.url });
    try {
      await store.migrate();
      await store.writeBatch({ reports: [], events: [], agentReports: [write('keep', 1), write('gone', 2)] });
      await admin.connect();
      await blocker.connect();
      // Built once, to learn a cell the next rebuild writes; then the day is stale again.
      await store.metricFleet(question, undefined, now);
      const { rows } = await admin.query(`select * from metric_fleet where name = 'race.q' limit 1`);
      await admin.query(`delete from metric_fleet where name = 'race.q'`);
      await admin.query(`update metric_fleet_days set fresh = 0 where name = 'race.q'`);
      // The same cell, inserted and not committed: the rebuild waits at its insert, after reading.
      const cell = rows[0] as Record<string, unknown>;
      const columns = Object.keys(cell);
      await blocker.query('begin');
      await blocker.query(
        `insert into metric_fleet (${columns.join(', ')}) values (${columns.map((_c, i) => `$${i + 1}`).join(', ')})`,
        columns.map((c) => cell[c]),
      );
      const waiting = async (n: number) => {
        for (let i = 0; i < 100; i++) {
          const { rows: w } = await admin.query(
            `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          );
          if (w[0].n >= n) return true;
          await new Promise((r) => setTimeout(r, 20));
        }
        return false;
      };
      const rebuild = store.metricFleet(question, undefined, now);
      expect(await waiting(1)).toBe(true);
      // The erase or tag now waits for the rebuild (it used to commit at once).
      let changed = false;
      const changing = change(store).then(() => {
        changed = true;
      });
      await waiting(2);
      await blocker.query('rollback');
      await Promise.all([rebuild, changing]);
      expect(changed).toBe(true);
      // The cells answer as the rows do: only the cluster left.
      expect(metricFromCells(await store.metricFleet(question, undefined, now))?.rows).toEqual([
        { value: 'all', clusters: 1, total: 1 },
      ]);
    } finally {
      await blocker.end().catch(() => {});
      await admin.end().catch(() => {});
      await store.close();
      await url.drop();
    }
  });
});
