// Table shapes as Kysely sees them (snake_case columns, the same in every SQL dialect).
// Booleans are integers 0/1 and times are ms since the epoch (BIGINT), so every adapter stores
// and returns exactly the same values.
import type { Generated } from 'kysely';
import type { RollupColumns } from '../metric-rollup.js';

export interface ReportsTable {
  id: Generated<number>;
  dedup_key: string;
  tracking_id: string;
  session_id: string;
  node_type: string;
  protocol: string;
  received_at: number;
  received_day: string;
  report_time: number;
  up_time: number;
  ci: number;
  flags: string | null;
  memory_used: number | null;
  memory_total: number | null;
  os_name: string | null;
  os_version: string | null;
  os_kernel: string | null;
  cpu_available: number | null;
  version: string | null;
  git_sha: string | null;
  meta_backend: string | null;
  cluster_type: string | null;
  node_meta: number | null;
  node_compute: number | null;
  node_frontend: number | null;
  node_compactor: number | null;
  stream_job_count: number | null;
  object_store: string | null;
  connectors: string | null;
  connector_usage: string | null;
  stream_jobs: string | null;
  license_tier: string | null;
  license_subject: string | null;
  raw: Uint8Array;
}

export interface EventsTable {
  id: Generated<number>;
  dedup_key: string;
  tracking_id: string;
  received_at: number;
  received_day: string;
  event_time_sec: number;
  stage: string | null;
  name: string;
  connector_name: string | null;
  catalog_id: number;
  attributes: string | null;
  node: string;
  object: string | null;
  flags: string | null;
  raw: Uint8Array;
}

export interface ClustersTable {
  tracking_id: string;
  first_seen: number;
  last_seen: number;
  /** Latest meta facts (rollup of the most recently received meta report). */
  version: string | null;
  git_sha: string | null;
  cluster_type: string | null;
  meta_backend: string | null;
  facts_at: number | null;
  /** First and last day of its cluster_days rows, of all and of those not all-CI (0033). */
  first_day: string | null;
  last_day: string | null;
  first_day_not_ci: string | null;
  last_day_not_ci: string | null;
  /** 1 when an admin tagged the cluster as internal (left out of statistics by default). */
  internal: Generated<number>;
}

/** A cluster as the cluster list reads it (clusters columns). */
export type ClusterListItem = Omit<
  ClustersTable,
  'facts_at' | 'internal' | 'first_day' | 'last_day' | 'first_day_not_ci' | 'last_day_not_ci'
> & { internal: number };

export interface TokensTable {
  id: string;
  hash: string;
  role: string;
  label: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface AgentReportsTable {
  id: Generated<number>;
  report_id: string;
  tracking_id: string;
  session_id: string;
  node_type: string;
  received_at: number;
  received_day: string;
  sequence: number;
  is_leader: number;
  version: string | null;
  git_sha: string | null;
  cluster_type: string | null;
  ci: number;
  interval_start_ms: number;
  interval_end_ms: number;
  memory_used: number | null;
  memory_total: number | null;
  os_name: string | null;
  os_version: string | null;
  os_kernel: string | null;
  cpu_available: number | null;
  heap_used: number | null;
  event_loop_delay_p99: number | null;
  uptime: number | null;
  runtime: string | null;
  agent_version: string | null;
  cluster_facts: string | null;
  drops: string | null;
  flags: string | null;
  raw: Uint8Array;
}

export interface MetricPointsTable {
  id: Generated<number>;
  report_id: string;
  tracking_id: string;
  received_at: number;
  received_day: string;
  node_type: string;
  version: string | null;
  cluster_type: string | null;
  ci: number;
  name: string;
  kind: string;
  unit: string;
  labels: string;
  value: number;
  histogram: string | null;
}

export interface MetricSeriesTable {
  tracking_id: string;
  name: string;
  labels: string;
  first_seen: number;
}

export interface AgentEventsTable {
  id: Generated<number>;
  report_id: string;
  tracking_id: string;
  received_at: number;
  received_day: string;
  name: string;
  time_ms: number;
  fields: string;
  /** Place in its report (0026; older rows have their id, which orders them the same). */
  seq: number;
}

/** The daily metric rollup (store/metric-rollup.ts). */
export type MetricRollupTable = RollupColumns;

/** Fleet metric cells (store/metric-cells.ts, sql/metric-fleet.ts): per metric, day, family and value. */
export interface MetricFleetTable
  extends Pick<
    RollupColumns,
    'name' | 'day' | 'kind' | 'ci' | 'total' | 'last_at' | 'last_report' | 'histogram'
  > {
  /** The grouping: all, version, clusterType or nodeType. */
  family: string;
  /** JSON of value (part of the primary key, which cannot hold a null). */
  value_key: string;
  value: string | null;
  internal: number;
}

/** Per metric, cluster and series (labels left out): the first and last day with points. */
export interface MetricSpansTable
  extends Pick<
    RollupColumns,
    'name' | 'tracking_id' | 'kind' | 'ci' | 'version' | 'cluster_type' | 'node_type'
  > {
  /** JSON of [kind, ci, version, cluster_type, node_type] (part of the primary key). */
  series: string;
  first_day: string;
  last_day: string;
}

/** Per metric and day with points: are its stored cells fresh (1) or to be built again (0)? */
export interface MetricFleetDaysTable {
  name: string;
  day: string;
  fresh: number;
}

export interface ClusterDaysTable {
  day: string;
  tracking_id: string;
  ci: number;
  /** The cluster's version that day: its latest meta facts up to the day (carried forward). */
  version: string | null;
}

/** Rollup of cluster_days: active clusters per day, version and all-CI flag. */
export interface DayVersionsTable {
  day: string;
  version: string | null;
  ci: number;
  clusters: number;
}

export interface ClusterDayFactsTable {
  day: string;
  tracking_id: string;
  facts_at: number;
  version: string | null;
  cluster_type: string | null;
  meta_backend: string | null;
  os_name: string | null;
  object_store: string | null;
  connectors: string | null;
  memory_total: number | null;
  node_meta: number | null;
  node_compute: number | null;
  node_frontend: number | null;
  node_compactor: number | null;
  stream_job_count: number | null;
  license_tier: string | null;
  /** connector_usage_json_str as sent. */
  connector_usage: string | null;
  /** connectorUseCounts(connector_usage) as JSON (0032; null only on rows an older collector wrote). */
  connector_uses: string | null;
  /** The cluster's next day with facts ('9999-12-31' if none yet): see migration 0030. */
  next_day: Generated<string>;
}

/** Values a store keeps for itself (the license-subject salt). */
export interface SettingsTable {
  key: string;
  value: string;
}

/** One row: moved by every erase and retention pass (sql/rollup-memo.ts). */
export interface RollupEpochTable {
  id: number;
  epoch: number;
}

/** Erased clusters whose new reports are dropped until an admin lifts the block. */
export interface BlockedClustersTable {
  tracking_id: string;
  blocked_at: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  details: string | null;
}

export interface Database {
  settings: SettingsTable;
  rollup_epoch: RollupEpochTable;
  blocked_clusters: BlockedClustersTable;
  audit_log: AuditLogTable;
  cluster_day_facts: ClusterDayFactsTable;
  day_versions: DayVersionsTable;
  cluster_days: ClusterDaysTable;
  agent_reports: AgentReportsTable;
  metric_points: MetricPointsTable;
  metric_series: MetricSeriesTable;
  agent_events: AgentEventsTable;
  metric_rollup: MetricRollupTable;
  metric_fleet: MetricFleetTable;
  metric_fleet_days: MetricFleetDaysTable;
  metric_spans: MetricSpansTable;
  reports: ReportsTable;
  events: EventsTable;
  clusters: ClustersTable;
  tokens: TokensTable;
}

/**
 * Tables with rows of a cluster besides reports, events and agent_reports: an erase deletes from
 * each. A new table keyed by tracking_id must be added here.
 */
export const DERIVED_CLUSTER_TABLES = [
  'metric_points',
  'metric_series',
  'agent_events',
  'metric_rollup',
  'metric_spans',
  'cluster_days',
  'cluster_day_facts',
  'clusters',
] as const satisfies readonly (keyof Database)[];

/**
 * Tables whose rows retention deletes by the day they were received (`received_day`, or `day` for
 * the rollups). A new table of received data must be added here (and to docs/DATA.md).
 */
export const RETAINED_BY_DAY = [
  'reports',
  'events',
  'agent_reports',
  'metric_points',
  'agent_events',
  'metric_rollup',
  'metric_fleet',
  'metric_fleet_days',
  'cluster_days',
  'cluster_day_facts',
] as const satisfies readonly (keyof Database)[];
