// Rows in every table the ingest routes write, in one query: tests compare them before and after a
// request to prove that a refused request wrote nothing (no partial rows).
import { sql } from 'kysely';
import { ClickHouseStore } from '../src/store/clickhouse/clickhouse-store.js';
import { sql as chSql, ident } from '../src/store/clickhouse/sql.js';
import type { SqlStore } from '../src/store/sql/sql-store.js';
import type { Store } from '../src/store/store.js';

export const INGEST_TABLES = [
  'reports',
  'events',
  'agent_reports',
  'metric_points',
  'metric_series',
  'agent_events',
  'clusters',
  'cluster_days',
  'cluster_day_facts',
] as const;

export type RowCounts = Record<(typeof INGEST_TABLES)[number], number>;

/** ClickHouse has the raw tables only (its statistics need no rollups): counted as every read sees them. */
async function clickhouseCounts(store: ClickHouseStore): Promise<RowCounts> {
  const raw = INGEST_TABLES.filter((t) => !['clusters', 'cluster_days', 'cluster_day_facts'].includes(t));
  const counts = Object.fromEntries(INGEST_TABLES.map((t) => [t, 0])) as RowCounts;
  for (const table of raw) {
    const [row] = await store.rows<{ n: number }>(chSql`SELECT count() AS n FROM ${ident(table)} FINAL`);
    counts[table] = Number(row?.n ?? 0);
  }
  return counts;
}

export async function rowCounts(store: Store): Promise<RowCounts> {
  if (store instanceof ClickHouseStore) return clickhouseCounts(store);
  const selects = sql.join(
    INGEST_TABLES.map((t) => sql`(select count(*) from ${sql.table(t)}) as ${sql.ref(t)}`),
  );
  const { rows } = await sql<Record<string, string | number>>`select ${selects}`.execute(
    (store as SqlStore).db,
  );
  const row = rows[0]!;
  return Object.fromEntries(INGEST_TABLES.map((t) => [t, Number(row[t])])) as RowCounts;
}
