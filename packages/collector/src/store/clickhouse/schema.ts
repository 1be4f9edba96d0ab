// The ClickHouse tables. One definition gives the DDL (idempotent: every collector runs it at
// start, several at once) and the row check that makes a bad batch fail before anything is sent.
//
// Layout (SQL kept to what both 18.16 and current ClickHouse accept: no LowCardinality, CODEC, TTL,
// DateTime64):
// - Raw tables are ReplacingMergeTree ordered by (tracking_id, retry key): a retried report that
//   two collectors stored at the same moment is one row after merges; before that, reads dedup
//   by the key themselves (clickhouse-*-reads.ts). Rows are partitioned by the month they were
//   received: retention drops whole partitions; a cluster page reads one key range.
// - metric_points are ordered by metric name first, for the fleet question "this metric, these days".
// - tokens and cluster_tags are ReplacingMergeTree(version): an update is a new row with a higher
//   version; FINAL reads the latest (small tables).
// - Rollups (ROLLUPS below) answer the fleet questions without reading raw rows: materialized views
//   fill them as rows reach the raw tables, and they hold only what a duplicate cannot change (min,
//   max, the latest row), so a retried report stored twice before a merge changes no answer.
// - metric_rollup: metric points per day, cluster and series (see its definition).
import { ident, join, type Sql, sql } from './sql.js';

type ColumnType = 'String' | 'Int64' | 'UInt8' | 'UInt64' | 'Float64' | 'Date';

interface Column {
  name: string;
  type: ColumnType;
  nullable?: boolean;
}

export interface TableDef {
  name: string;
  columns: Column[];
  engine: Sql;
}

const s = (name: string): Column => ({ name, type: 'String' });
const ns = (name: string): Column => ({ name, type: 'String', nullable: true });
const i64 = (name: string): Column => ({ name, type: 'Int64' });
const ni64 = (name: string): Column => ({ name, type: 'Int64', nullable: true });
const nf64 = (name: string): Column => ({ name, type: 'Float64', nullable: true });
const f64 = (name: string): Column => ({ name, type: 'Float64' });
const u8 = (name: string): Column => ({ name, type: 'UInt8' });
const day = (name: string): Column => ({ name, type: 'Date' });

/** Monthly partitions of raw rows, ordered by the key that identifies a row. */
const monthly = (...key: string[]) =>
  sql`ReplacingMergeTree PARTITION BY toYYYYMM(received_day) ORDER BY (${join(key.map(ident))})`;

const received = [i64('received_at'), day('received_day')];
const system = [ns('os_name'), ns('os_version'), ns('os_kernel'), nf64('cpu_available')];

export const TABLES: readonly TableDef[] = [
  {
    name: 'reports',
    columns: [
      s('dedup_key'),
      s('tracking_id'),
      s('session_id'),
      s('node_type'),
      s('protocol'),
      ...received,
      i64('report_time'),
      i64('up_time'),
      u8('ci'),
      ns('flags'),
      ni64('memory_used'),
      ni64('memory_total'),
      ...system,
      ns('version'),
      ns('git_sha'),
      ns('meta_backend'),
      ns('cluster_type'),
      ni64('node_meta'),
      ni64('node_compute'),
      ni64('node_frontend'),
      ni64('node_compactor'),
      ni64('stream_job_count'),
      ns('object_store'),
      ns('connectors'),
      ns('connector_usage'),
      ns('stream_jobs'),
      ns('license_tier'),
      ns('license_subject'),
      // base64 of the body: JSON (the insert format) carries text, not bytes.
      s('raw'),
    ],
    engine: monthly('tracking_id', 'dedup_key'),
  },
  {
    name: 'events',
    columns: [
      s('dedup_key'),
      // The page cursor's tie-breaker: rises in retry-key order within a batch and from batch to
      // batch, like the SQL stores' row ids (rows stored before session 30: 48 bits of the key's hash).
      { name: 'id', type: 'UInt64' },
      s('tracking_id'),
      ...received,
      i64('event_time_sec'),
      ns('stage'),
      s('name'),
      ns('connector_name'),
      i64('catalog_id'),
      ns('attributes'),
      s('node'),
      ns('object'),
      ns('flags'),
      s('raw'),
    ],
    engine: monthly('tracking_id', 'dedup_key'),
  },
  {
    name: 'agent_reports',
    columns: [
      s('report_id'),
      s('tracking_id'),
      s('session_id'),
      s('node_type'),
      ...received,
      i64('sequence'),
      u8('is_leader'),
      ns('version'),
      ns('git_sha'),
      ns('cluster_type'),
      u8('ci'),
      i64('interval_start_ms'),
      i64('interval_end_ms'),
      ni64('memory_used'),
      ni64('memory_total'),
      ...system,
      ni64('heap_used'),
      nf64('event_loop_delay_p99'),
      nf64('uptime'),
      ns('runtime'),
      ns('agent_version'),
      ns('cluster_facts'),
      ns('drops'),
      ns('flags'),
      s('raw'),
    ],
    engine: monthly('tracking_id', 'report_id'),
  },
  {
    name: 'metric_points',
    columns: [
      s('report_id'),
      s('tracking_id'),
      ...received,
      s('node_type'),
      ns('version'),
      ns('cluster_type'),
      u8('ci'),
      s('name'),
      s('kind'),
      s('unit'),
      s('labels'),
      { name: 'value', type: 'Float64' },
      ns('histogram'),
    ],
    engine: monthly('name', 'tracking_id', 'report_id', 'labels'),
  },
  {
    name: 'agent_events',
    columns: [
      s('report_id'),
      // Position in its report: two identical events of one report stay two rows.
      { name: 'seq', type: 'UInt64' },
      s('tracking_id'),
      ...received,
      s('name'),
      i64('time_ms'),
      s('fields'),
    ],
    engine: monthly('tracking_id', 'report_id', 'seq'),
  },
  {
    // The daily metric rollup (store/metric-rollup.ts), recomputed from the raw points of each
    // (metric, day, cluster) a write touched: a new row with a higher version replaces the old
    // one, so a retry or two collectors racing write the same answer again, never a double count.
    name: 'metric_rollup',
    columns: [
      s('name'),
      day('received_day'),
      s('tracking_id'),
      s('group_key'),
      s('node_type'),
      ns('version'),
      ns('cluster_type'),
      u8('ci'),
      s('kind'),
      s('labels'),
      i64('points'),
      f64('total'),
      f64('min_value'),
      f64('max_value'),
      i64('last_at'),
      s('last_report'),
      f64('last_value'),
      ns('histogram'),
      { name: 'rollup_version', type: 'UInt64' },
    ],
    engine: sql`ReplacingMergeTree(rollup_version) PARTITION BY toYYYYMM(received_day)
      ORDER BY (name, received_day, tracking_id, group_key)`,
  },
  {
    name: 'metric_series',
    columns: [s('tracking_id'), s('name'), s('labels'), i64('first_seen')],
    engine: sql`ReplacingMergeTree ORDER BY (tracking_id, name, labels)`,
  },
  {
    name: 'cluster_tags',
    columns: [s('tracking_id'), u8('internal'), { name: 'version', type: 'UInt64' }],
    engine: sql`ReplacingMergeTree(version) ORDER BY tracking_id`,
  },
  {
    // An erase blocks the id; lifting the block writes blocked = 0.
    name: 'blocked_clusters',
    columns: [s('tracking_id'), u8('blocked'), i64('blocked_at'), { name: 'version', type: 'UInt64' }],
    engine: sql`ReplacingMergeTree(version) ORDER BY tracking_id`,
  },
  {
    name: 'settings',
    columns: [s('key'), s('value')],
    engine: sql`ReplacingMergeTree ORDER BY key`,
  },
  {
    // id: µs of the writing collector's clock (unique per process), so newest first is id order.
    name: 'audit_log',
    columns: [
      { name: 'id', type: 'UInt64' },
      i64('at'),
      s('actor'),
      s('action'),
      ns('target'),
      ns('details'),
    ],
    engine: sql`MergeTree ORDER BY id`,
  },
  {
    name: 'tokens',
    columns: [
      s('id'),
      s('hash'),
      s('role'),
      s('label'),
      i64('created_at'),
      ni64('expires_at'),
      ni64('revoked_at'),
      { name: 'version', type: 'UInt64' },
    ],
    engine: sql`ReplacingMergeTree(version) ORDER BY hash`,
  },
];

export type TableName =
  | 'reports'
  | 'events'
  | 'agent_reports'
  | 'metric_points'
  | 'agent_events'
  | 'metric_series'
  | 'metric_rollup'
  | 'cluster_tags'
  | 'blocked_clusters'
  | 'settings'
  | 'audit_log'
  | 'tokens';

export interface Rollup {
  name: 'cluster_days' | 'cluster_day_facts' | 'cluster_latest';
  ddl: Sql;
  /** Materialized views that fill it, each with the SELECT that also backfills it from its source. */
  /**
   * Materialized views that fill it: each from a source table, with the SELECT that also
   * backfills it from that table (`where` narrows it to a part of the source; the view uses `1`).
   */
  views: { name: string; source: 'reports' | 'agent_reports' | 'events'; select(where: Sql): Sql }[];
}

/** The facts columns of a meta report, as the SQL stores' cluster_day_facts keeps them. */
const FACT_COLUMNS = [
  'version',
  'git_sha',
  'cluster_type',
  'meta_backend',
  'os_name',
  'object_store',
  'connectors',
  'memory_total',
  'node_meta',
  'node_compute',
  'node_frontend',
  'node_compactor',
  'stream_job_count',
  'license_tier',
  'connector_usage',
] as const;

/** A cluster-day from each row of a raw table; events make a cluster seen, not active. */
const clusterDaysFrom = (table: 'reports' | 'agent_reports' | 'events', where: Sql) => {
  const reported = table === 'events' ? sql`toUInt8(0)` : sql`toUInt8(1)`;
  const nonCi = table === 'events' ? sql`toUInt8(0)` : sql`toUInt8(ci = 0)`;
  return sql`SELECT received_day AS day, tracking_id, minState(received_at) AS first_at,
    maxState(received_at) AS last_at, maxState(${reported}) AS reported, maxState(${nonCi}) AS non_ci
    FROM ${ident(table)} WHERE ${where} GROUP BY day, tracking_id`;
};

/** A facts rollup: the facts of the latest meta report per `by` (see ROLLUPS). */
function facts(name: 'cluster_day_facts' | 'cluster_latest', layout: Sql, by: Sql): Rollup {
  const columns = FACT_COLUMNS.map((c) => {
    const column = TABLES[0]!.columns.find((t) => t.name === c)!;
    return sql`${ident(c)} Nullable(${ident(column.type)})`;
  });
  return {
    name,
    ddl: sql`CREATE TABLE ${ident(name)} (day Date, tracking_id String, facts_at Int64, dedup_key String,
      ${join(columns)}) ENGINE = ReplacingMergeTree(facts_at) ${layout}`,
    views: [
      {
        name: `${name}_from_reports`,
        source: 'reports',
        // The latest meta report of each key in the inserted block.
        select: (where) => sql`SELECT received_day AS day, tracking_id, received_at AS facts_at, dedup_key,
          ${join(FACT_COLUMNS.map(ident))}
          FROM reports WHERE node_type = 'meta' AND ${where}
          ORDER BY received_at DESC, dedup_key DESC LIMIT 1 BY ${by}`,
      },
    ],
  };
}

/**
 * - cluster_days: per (cluster, UTC day), first and last receive time of any row, whether a report
 *   (RisingWave or agent) came (active that day) and whether one was not from CI. Aggregate states
 *   of numbers only: 18.16 mangles Nullable values inside aggregate states.
 * - cluster_day_facts: per (cluster, day), the facts of the latest meta report. ReplacingMergeTree
 *   on facts_at keeps that row at merges; reads pick it among the rows not merged yet.
 * - cluster_latest: the same per cluster over all time (a row per cluster once merged): the facts
 *   of a range that ends after a cluster's last meta report, without reading every day of it (the
 *   connector usage text makes a facts row about a kilobyte).
 * All are ordered by cluster first (a cluster page reads one key range); the daily ones are
 * partitioned by month (retention drops partitions, as on the raw tables).
 */
export const ROLLUPS: readonly Rollup[] = [
  {
    name: 'cluster_days',
    ddl: sql`CREATE TABLE cluster_days (day Date, tracking_id String,
      first_at AggregateFunction(min, Int64), last_at AggregateFunction(max, Int64),
      reported AggregateFunction(max, UInt8), non_ci AggregateFunction(max, UInt8))
      ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (tracking_id, day)`,
    views: (['reports', 'agent_reports', 'events'] as const).map((table) => ({
      name: `cluster_days_from_${table}`,
      source: table,
      select: (where: Sql) => clusterDaysFrom(table, where),
    })),
  },
  facts(
    'cluster_day_facts',
    sql`PARTITION BY toYYYYMM(day) ORDER BY (tracking_id, day)`,
    sql`tracking_id, received_day`,
  ),
  facts('cluster_latest', sql`ORDER BY tracking_id`, sql`tracking_id`),
];

export function createViewSql(rollup: Rollup, view: Rollup['views'][number]): Sql {
  return sql`CREATE MATERIALIZED VIEW IF NOT EXISTS ${ident(view.name)} TO ${ident(rollup.name)} AS ${view.select(sql`1`)}`;
}

/** Every table with rows of a cluster: an erase deletes from each (the block itself stays). */
export const CLUSTER_TABLES = [
  ...TABLES.filter(
    (t) => t.name !== 'blocked_clusters' && t.columns.some((c) => c.name === 'tracking_id'),
  ).map((t) => t.name as TableName),
  ...ROLLUPS.map((r) => r.name),
];

/** Raw tables with a received_day, partitioned by its month: what retention deletes. */
export const RETAINED_TABLES = [
  'reports',
  'events',
  'agent_reports',
  'metric_points',
  'agent_events',
  'metric_rollup',
] as const satisfies readonly TableName[];

export function createTableSql(table: TableDef): Sql {
  const columns = table.columns.map((c) => {
    const type = c.nullable ? sql`Nullable(${ident(c.type)})` : ident(c.type);
    return sql`${ident(c.name)} ${type}`;
  });
  return sql`CREATE TABLE IF NOT EXISTS ${ident(table.name)} (${join(columns)}) ENGINE = ${table.engine}`;
}

/**
 * Throws when a row would not fit its table (a missing required value, a wrong type): checked for
 * the whole batch before the first insert, because ClickHouse cannot roll back the tables written
 * before a failing one.
 */
export function checkRows(tableName: TableName, rows: readonly Record<string, unknown>[]): void {
  const table = TABLES.find((t) => t.name === tableName);
  if (!table) throw new Error(`unknown table ${tableName}`);
  for (const row of rows) {
    for (const column of table.columns) {
      const value = row[column.name];
      if (value === null || value === undefined) {
        if (column.nullable) continue;
        throw new TypeError(`${tableName}.${column.name} must not be null`);
      }
      const ok =
        column.type === 'String' || column.type === 'Date'
          ? typeof value === 'string'
          : typeof value === 'number' && Number.isFinite(value);
      if (!ok) throw new TypeError(`${tableName}.${column.name}: ${typeof value} is not a ${column.type}`);
    }
  }
}
