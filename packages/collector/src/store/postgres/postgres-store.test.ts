// The PostgreSQL store's own URL parameters (pool=N bounds the connections one collector keeps),
// and what only a store with several writers at once can get wrong.
import { decodeV2Report } from '@tidewatch/protocol';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { agentReport, counter } from '../../../test-support/agent-report.js';
import { metaReport } from '../../../test-support/risingwave.js';
import { createPostgresDatabase } from '../../../test-support/services.js';
import { agentReportWrite } from '../../ingest/native-rows.js';
import { reportRow } from '../../ingest/rows.js';
import { metricFromCells } from '../../query/metric-aggregate.js';
import { SqlRunner } from '../sql/sql-runner.js';
import type { SqlStore } from '../sql/sql-store.js';
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

describe.skipIf(!database)('a PostgreSQL store erasing and tagging beside writes', () => {
  const closed = Date.UTC(2026, 9, 1, 12); // closed days: their writes mark the fleet day stale
  const now = closed + 30 * 86_400_000;
  const none = { names: new Set<string>(), series: new Set<string>() };
  const agentWrite = (trackingId: string, at: number, value: number) => {
    const report = agentReport({ trackingId, metrics: [counter('race.e', value)] });
    return agentReportWrite(report, new Uint8Array([1]), at, none).write;
  };
  const meta = (trackingId: string, at: number, version: string) => {
    const raw = metaReport({ trackingId, version, reportTime: Math.floor(at / 1000) });
    return reportRow(decodeV2Report('meta', raw), raw, at);
  };
  /** Sessions waiting on a lock (heavyweight: rows, advisory locks), other than `self`. */
  const lockWaiters = async (admin: pg.Client) => {
    const { rows } = await admin.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
    );
    return rows[0]!.n;
  };

  /** What each rollup says that the raw rows do not (every query must come back empty). */
  const INCONSISTENT: Record<string, string> = {
    'cluster days no report explains, or reports missing from them': `(select day, tracking_id, ci
        from cluster_days except select received_day, tracking_id, min(ci) from (
          select received_day, tracking_id, ci from reports
          union all select received_day, tracking_id, ci from agent_reports) r group by 1, 2)
      union all (select received_day, tracking_id, min(ci) from (
          select received_day, tracking_id, ci from reports
          union all select received_day, tracking_id, ci from agent_reports) r group by 1, 2
        except select day, tracking_id, ci from cluster_days)`,
    'version counts not those of cluster days': `(select day, version, ci, count(*) from cluster_days
        group by 1, 2, 3 except select day, version, ci, sum(clusters) from day_versions
        group by 1, 2, 3 having sum(clusters) <> 0)
      union all (select day, version, ci, sum(clusters) from day_versions group by 1, 2, 3
        having sum(clusters) <> 0 except select day, version, ci, count(*) from cluster_days group by 1, 2, 3)`,
    'carried versions not the latest facts': `select d.day, d.tracking_id from cluster_days d
      where d.version is distinct from (select f.version from cluster_day_facts f
        where f.tracking_id = d.tracking_id and f.day <= d.day order by f.day desc limit 1)`,
    'metric rollup not the points': `(select name, received_day, tracking_id, count(*), sum(value)
        from metric_points group by 1, 2, 3
        except select name, day, tracking_id, sum(points), sum(total) from metric_rollup group by 1, 2, 3)
      union all (select name, day, tracking_id, sum(points), sum(total) from metric_rollup group by 1, 2, 3
        except select name, received_day, tracking_id, count(*), sum(value) from metric_points group by 1, 2, 3)`,
    'clusters not those of the raw rows': `(select tracking_id from clusters except (select tracking_id
        from reports union select tracking_id from events union select tracking_id from agent_reports))
      union all ((select tracking_id from reports union select tracking_id from agent_reports)
        except select tracking_id from clusters)`,
  };
  const inconsistencies = async (admin: pg.Client) => {
    const found: Record<string, unknown[]> = {};
    for (const [what, query] of Object.entries(INCONSISTENT)) {
      const { rows } = await admin.query(query);
      if (rows.length > 0) found[what] = rows;
    }
    return found;
  };

  /** `test` on a migrated store of a database of its own, with two more connections to it (connected). */
  const onOwnDatabase = async (
    test: (store: SqlStore, clients: [pg.Client, pg.Client], url: string) => Promise<void>,
  ) => {
    const database = (await createPostgresDatabase())!;
    const store = openPostgresStore(database.url);
    const clients = [0, 1].map(() => new pg.Client({ connectionString: database.url })) as [
      pg.Client,
      pg.Client,
    ];
    try {
      await store.migrate();
      for (const client of clients) await client.connect();
      await test(store, clients, database.url);
    } finally {
      for (const client of clients) await client.end().catch(() => {});
      await store.close();
      await database.drop();
    }
  };

  it('an erase and a tag of one cluster, both waiting on a write of a closed day, both complete', async () => {
    // The tag updated the clusters row and then locked the cluster's fleet days; the erase locked
    // the fleet days and then deleted the clusters row. Queued in that order behind a write that
    // marks one of those days stale, each then held what the other waited for (40P01).
    await onOwnDatabase(async (store, [admin, writer]) => {
      await store.writeBatch({
        reports: [meta('gone', closed, '2.4.0'), meta('keep', closed, '2.4.0')],
        events: [],
        agentReports: [agentWrite('keep', closed, 1), agentWrite('gone', closed, 2)],
      });
      // A write of the closed day, not yet committed: it holds the day's fleet row, as a write's
      // mark does (metric-fleet-writes.ts) until its commit.
      await writer.query('begin');
      await writer.query(
        `insert into metric_fleet_days (name, day, fresh) values ('race.e', '2026-10-01', 0)
          on conflict (name, day) do update set fresh = 0`,
      );
      const settled: string[] = [];
      const erasing = store.eraseCluster('gone').then(() => settled.push('erase'));
      await expect.poll(() => lockWaiters(admin)).toBe(1);
      const tagging = store.setInternal('gone', true).then(() => settled.push('tag'));
      await expect.poll(() => lockWaiters(admin)).toBe(2);
      await writer.query('commit');
      const outcomes = await Promise.allSettled([erasing, tagging]);
      expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual(['ok', 'ok']);
      expect(settled).toEqual(['erase', 'tag']);
      expect(await store.getCluster('gone')).toBeNull();
      expect(await inconsistencies(admin)).toEqual({});
      const question = { name: 'race.e', fromDay: '2026-10-01', toDay: '2026-10-01', includeCi: false };
      expect(metricFromCells(await store.metricFleet(question, undefined, now))?.rows).toEqual([
        { value: 'all', clusters: 1, total: 1 },
      ]);
    });
  });

  it('runs a transaction again when PostgreSQL rolled it back as a deadlock victim, at most five times', async () => {
    const run = new SqlRunner('postgres');
    await onOwnDatabase(async (store, [admin, other]) => {
      await admin.query('create table crossing (id int primary key, n int not null)');
      await admin.query('insert into crossing values (1, 0), (2, 0)');
      // The other transaction holds row 2; the first run holds row 1 and waits for row 2, then
      // the other one waits for row 1: the first run waited first, so it is the victim.
      await other.query('begin');
      await other.query('update crossing set n = n + 10 where id = 2');
      let runs = 0;
      const answer = await run.transaction(store.db, async (trx) => {
        runs++;
        await sql`update crossing set n = n + 1 where id = 1`.execute(trx);
        const waiting = sql`update crossing set n = n + 1 where id = 2`.execute(trx);
        if (runs === 1) {
          waiting.catch(() => {});
          await expect.poll(() => lockWaiters(admin)).toBe(1);
          void other.query('update crossing set n = n + 10 where id = 1').then(() => other.query('commit'));
        }
        await waiting;
        return runs;
      });
      expect(answer).toBe(2);
      const { rows } = await admin.query('select id, n from crossing order by id');
      expect(rows).toEqual([
        { id: 1, n: 11 },
        { id: 2, n: 11 },
      ]);
      // Bounded: a transaction rolled back so every time fails with the last run's error.
      const rolledBack = (code: string) => Object.assign(new Error(`rolled back (${code})`), { code });
      for (const [code, expected] of [
        ['40P01', 5],
        ['40001', 5],
        ['23505', 1],
      ] as const) {
        let tries = 0;
        await expect(
          run.transaction(store.db, async () => {
            tries++;
            throw rolledBack(code);
          }),
        ).rejects.toThrow(`rolled back (${code})`);
        expect(tries).toBe(expected);
      }
    });
  });

  it('erases racing writes of two collectors leave every rollup as the raw rows say', async () => {
    await onOwnDatabase(async (first, [admin], url) => {
      const second = openPostgresStore(url);
      const stores = [first, second];
      try {
        const ids = Array.from({ length: 12 }, (_, i) => `race-${String(i).padStart(2, '0')}`);
        const erased = ids.slice(0, 4);
        const tagged = ids.slice(4, 7);
        const days = [0, 1, 2, 3].map((d) => closed + d * 86_400_000);
        // Seeded first, so that every erase has rows on every day to delete.
        await stores[0]!.writeBatch({
          reports: ids.flatMap((id) => days.map((at) => meta(id, at, '2.3.0'))),
          events: [],
          agentReports: ids.flatMap((id) => days.map((at) => agentWrite(id, at, 1))),
        });
        // Lanes of writes into the closed days (every one marks its days stale), each batch across
        // clusters, days and versions, the erased clusters among them.
        const lane = async (lane: number) => {
          const store = stores[lane % 2]!;
          for (let write = 0; write < 12; write++) {
            const batch = ids.map((id, i) => ({
              id,
              at: days[(i + write + lane) % 4]! + lane * 1000 + write,
            }));
            await store.writeBatch({
              reports: batch.map((b, i) => meta(b.id, b.at, `2.${(i + write) % 3}.0`)),
              events: [],
              agentReports: batch.map((b, i) => agentWrite(b.id, b.at, i + write)),
            });
          }
        };
        const question = { name: 'race.e', fromDay: '2026-10-01', toDay: '2026-10-04', includeCi: false };
        const changes = async () => {
          for (const [i, id] of erased.entries()) {
            await stores[i % 2]!.setInternal(tagged[i % tagged.length]!, i % 2 === 0);
            await stores[(i + 1) % 2]!.eraseCluster(id);
            await stores[i % 2]!.metricFleet(question, undefined, now);
          }
        };
        await Promise.all([0, 1, 2, 3].map(lane).concat([changes(), changes().then(() => undefined)]));
        expect(await inconsistencies(admin)).toEqual({});
        const { rows } = await admin.query(
          `select tracking_id from clusters where tracking_id = any($1)
          union all select tracking_id from cluster_days where tracking_id = any($1)
          union all select tracking_id from metric_rollup where tracking_id = any($1)`,
          [erased],
        );
        expect(rows).toEqual([]);
        // The fleet's cells (built again where stale) answer as the per-cluster rows fold.
        const cells = metricFromCells(await stores[0]!.metricFleet(question, undefined, now));
        const { rows: sums } = await admin.query<{ clusters: number; total: number }>(
          `select count(distinct r.tracking_id)::int as clusters, sum(r.total)::float8 as total
          from metric_rollup r join clusters c using (tracking_id)
          where r.name = 'race.e' and c.internal = 0 and r.day between '2026-10-01' and '2026-10-04'`,
        );
        expect(cells?.rows).toEqual([{ value: 'all', ...sums[0] }]);
      } finally {
        await second.close();
      }
    });
  });
});
