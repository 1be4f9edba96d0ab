// Rows in every table the ingest routes write: tests compare them before and after a request to
// prove that a refused request wrote nothing (no partial rows). One query on the SQL stores; on
// ClickHouse each raw table is counted with FINAL (retries counted once), and the rollup tables it
// does not have count as 0.
import { sql } from 'kysely';
import type { ClickHouseStore } from '../src/store/clickhouse/clickhouse-store.js';
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

/** Rollup tables of the SQL stores; ClickHouse has none of them. */
const ROLLUPS: readonly string[] = ['clusters', 'cluster_days', 'cluster_day_facts'];
const CLICKHOUSE_TABLES = INGEST_TABLES.filter((t) => !ROLLUPS.includes(t));

export async function rowCounts(store: Store): Promise<RowCounts> {
  if (store.kind === 'clickhouse') {
    const counts = Object.fromEntries(INGEST_TABLES.map((t) => [t, 0])) as RowCounts;
    await Promise.all(
      CLICKHOUSE_TABLES.map(async (t) => {
        const [row] = await (store as ClickHouseStore).rows<{ n: number | string }>(
          chSql`SELECT count() AS n FROM ${ident(t)} FINAL`,
        );
        counts[t] = Number(row?.n ?? 0);
      }),
    );
    return counts;
  }
  const selects = sql.join(
    INGEST_TABLES.map((t) => sql`(select count(*) from ${sql.table(t)}) as ${sql.ref(t)}`),
  );
  const { rows } = await sql<Record<string, string | number>>`select ${selects}`.execute(
    (store as SqlStore).db,
  );
  const row = rows[0]!;
  return Object.fromEntries(INGEST_TABLES.map((t) => [t, Number(row[t])])) as RowCounts;
}
