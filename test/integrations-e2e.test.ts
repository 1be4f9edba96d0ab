// End to end: a real database (PGlite in this process, and the real PostgreSQL through node-postgres)
// with the integration attached, the real agent, a real collector over real HTTP (SQLite store),
// and the query API: the counts are exact, the latency quantiles come from the merged histograms,
// errors arrive by SQLSTATE class and DDL as events that name no object.
import { PGlite } from '@electric-sql/pglite';
import { type Agent, createAgent } from '@tidewatch/agent';
import { instrumentPg } from '@tidewatch/integrations/pg';
import { instrumentPGlite } from '@tidewatch/integrations/pglite';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  fillStatements,
  POINT_SELECT,
  randomTransfer,
  SCHEMA,
  transferPGlite,
  transferPg,
} from '../examples/pglite/bank.js';
import type { SqlStore } from '../packages/collector/src/store/sql/sql-store.js';
import { startTestCollector, type TestCollector } from '../packages/collector/test-support/collector.js';
import { createPostgresDatabase } from '../packages/collector/test-support/services.js';
import { storeTargets } from '../packages/collector/test-support/stores.js';

const sqlite = (await storeTargets()).find((t) => t.name === 'sqlite')!;
const postgres = await createPostgresDatabase(); // null (skipped, with a warning) only outside CI
afterAll(async () => {
  await sqlite.cleanup();
  await postgres?.drop();
});

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const BANK = { branches: 1, tellersPerBranch: 10, accountsPerBranch: 1000 };
const DAY = 86_400_000;

async function collectorAndAgent(trackingId: string): Promise<{ c: TestCollector; agent: Agent }> {
  const c = await startTestCollector(await sqlite.freshUrl());
  cleanup.push(() => c.close());
  const agent = createAgent({
    endpoint: c.url,
    nodeType: 'pglite',
    trackingId,
    dataDir: null,
    firstReportDelay: DAY, // every report comes from flush()
    jitter: 0,
    env: {},
    logger: { warn: () => {} },
  });
  cleanup.push(() => agent.shutdown(500));
  return { c, agent };
}

type Row = Record<string, number | string | null>;
async function metricRow(c: TestCollector, name: string): Promise<Row> {
  const res = await c.get(`/query/metrics/${name}`);
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { rows: Row[] };
  expect(answer.rows).toHaveLength(1);
  return answer.rows[0]!;
}

async function stored(c: TestCollector, trackingId: string) {
  const db = (c.collector.store as SqlStore).db;
  const errors = await db
    .selectFrom('metric_points')
    .select(['labels', 'value'])
    .where('tracking_id', '=', trackingId)
    .where('name', '=', 'db.query.errors')
    .execute();
  const byClass: Record<string, number> = {};
  for (const e of errors) {
    const cls = JSON.parse(e.labels).sqlstate_class as string;
    byClass[cls] = (byClass[cls] ?? 0) + Number(e.value);
  }
  const events = await db
    .selectFrom('agent_events')
    .select(['name', 'fields'])
    .where('tracking_id', '=', trackingId)
    .execute();
  return { errorsByClass: byClass, events: events.map((e) => ({ name: e.name, ...JSON.parse(e.fields) })) };
}

/** Runs `fn` and returns how long the caller waited, in seconds. */
async function timed(durations: number[], fn: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  try {
    await fn();
  } finally {
    durations.push((performance.now() - start) / 1000);
  }
}

function expectQuantiles(row: Row, count: number, callerDurations: number[]): void {
  expect(row['count']).toBe(count);
  const p50 = row['p50'] as number;
  const p99 = row['p99'] as number;
  expect(p50).toBeGreaterThan(0);
  expect(p50).toBeLessThanOrEqual(row['p90'] as number);
  expect(row['p90']).toBeLessThanOrEqual(p99);
  // The integration times from inside the caller's await: never longer than what the caller saw
  // (plus the histogram's 2% error bound).
  expect(p99).toBeLessThanOrEqual(Math.max(...callerDurations) * 1.02);
}

describe('integration → agent → collector → query API', () => {
  it('PGlite: exact query and error counts, latency quantiles, errors by class, DDL events', async () => {
    const trackingId = 'e2e-pglite';
    const { c, agent } = await collectorAndAgent(trackingId);
    const db = await PGlite.create();
    cleanup.push(() => db.close());
    instrumentPGlite(db, agent);

    const durations: number[] = [];
    await db.exec(SCHEMA); // 1 call creating 4 tables and 1 index
    for (const statement of fillStatements(BANK)) await db.exec(statement); // 4 calls
    for (let i = 0; i < 60; i++) await timed(durations, () => transferPGlite(db, randomTransfer(BANK))); // 5 each
    for (let i = 0; i < 200; i++) await timed(durations, () => db.query(POINT_SELECT, [1 + (i % 1000)]));
    await db.query("update accounts set owner = 'dup@example.com' where aid = 1");
    for (let i = 0; i < 3; i++) {
      await expect(db.query("update accounts set owner = 'dup@example.com' where aid = 2")).rejects.toThrow();
      await expect(db.query('select balance from accounts')).rejects.toThrow(); // no such column: 42703
    }
    await db.query('drop index history_aid');
    await agent.flush();

    const queries = 1 + 4 + 60 * 5 + 200 + 1 + 6 + 1;
    expect(await metricRow(c, 'db.queries')).toMatchObject({ value: 'all', clusters: 1, total: queries });
    expect(await metricRow(c, 'db.query.errors')).toMatchObject({ total: 6 });
    expectQuantiles(await metricRow(c, 'db.query.duration'), queries, durations);
    const { errorsByClass, events } = await stored(c, trackingId);
    expect(errorsByClass).toEqual({ '23': 3, '42': 3 });
    expect(events).toEqual([
      ...Array(4).fill({ name: 'db.ddl', system: 'pglite', action: 'create', object: 'table' }),
      { name: 'db.ddl', system: 'pglite', action: 'create', object: 'index' },
      { name: 'db.ddl', system: 'pglite', action: 'drop', object: 'index' },
    ]);
  }, 120_000);

  it.skipIf(!postgres)(
    'pg Pool on the real PostgreSQL: the same numbers through the same path',
    async () => {
      const trackingId = 'e2e-pg';
      const { c, agent } = await collectorAndAgent(trackingId);
      const pool = new pg.Pool({ connectionString: postgres!.url, max: 4 });
      cleanup.push(() => pool.end());
      instrumentPg(pool, agent);

      const durations: number[] = [];
      await pool.query(SCHEMA); // one multi-statement query
      for (const statement of fillStatements(BANK)) await pool.query(statement);
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          const client = await pool.connect();
          try {
            for (let i = 0; i < 15; i++)
              await timed(durations, () => transferPg(client, randomTransfer(BANK)));
          } finally {
            client.release();
          }
        }),
      ); // 60 transfers of 7 statements (begin, 5, commit); they may not conflict-abort: no SERIALIZABLE
      for (let i = 0; i < 100; i++) await timed(durations, () => pool.query(POINT_SELECT, [1 + i]));
      await pool.query("update accounts set owner = 'dup@example.com' where aid = 1");
      for (let i = 0; i < 2; i++) {
        await expect(
          pool.query("update accounts set owner = 'dup@example.com' where aid = 2"),
        ).rejects.toThrow();
        await expect(pool.query('selec 1')).rejects.toThrow();
      }
      await agent.flush();

      const queries = 1 + 4 + 60 * 7 + 100 + 1 + 4;
      expect(await metricRow(c, 'db.queries')).toMatchObject({ total: queries });
      expect(await metricRow(c, 'db.query.errors')).toMatchObject({ total: 4 });
      expectQuantiles(await metricRow(c, 'db.query.duration'), queries, durations);
      const { errorsByClass, events } = await stored(c, trackingId);
      expect(errorsByClass).toEqual({ '23': 2, '42': 2 });
      expect(events).toEqual([
        ...Array(4).fill({ name: 'db.ddl', system: 'postgresql', action: 'create', object: 'table' }),
        { name: 'db.ddl', system: 'postgresql', action: 'create', object: 'index' },
      ]);
    },
    120_000,
  );
});
