// The ClickHouse tables. One definition gives the DDL (idempotent: every collector runs it at
// start, several at once) and the row check that makes a bad batch fail before anything is sent.
//
// Layout (SQL kept to what both 18.16 and current ClickHouse accept: no LowCardinality, CODEC, TTL,
// DateTime64):
// - Raw tables are ReplacingMergeTree ordered by (tracking_id, retry key): a retried report that
//   two collectors stored at the same moment is one row after merges, and every read uses FINAL,
//   so answers count it once before merges too. Rows are partitioned by the month they were
//   received: retention drops whole partitions; a cluster page reads one key range.
// - metric_points are ordered by metric name first, for the fleet question "this metric, these days".
// - tokens and cluster_tags are ReplacingMergeTree(version): an update is a new row with a higher
//   version; FINAL reads the latest.
// - Rollups: metric_rollup (metric points per day, cluster and series; see its definition).
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
      // Stable 52-bit number from the retry key: the page cursor's tie-breaker.
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

/** Every table with rows of a cluster: an erase deletes from each (the block itself stays). */
export const CLUSTER_TABLES = TABLES.filter(
  (t) => t.name !== 'blocked_clusters' && t.columns.some((c) => c.name === 'tracking_id'),
).map((t) => t.name as TableName);

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
