// The telemetry store: one small interface, one adapter per database (sqlite/, postgres/,
// clickhouse/), and one contract test suite (contract.test.ts) that defines "correct" for every
// adapter.

import type { ClusterAnswer } from '@tidewatch/protocol';
import type { CountedConnectorUses } from './connector-uses.js';
import type { CellGrouping, MetricFleetAnswer } from './metric-cells.js';

/** One stored node report (RisingWave v1/v2), as the ingest layer normalized it. */
export interface ReportRow {
  /** Hash of the retry key (CONTRACT.md): a resent report never makes a second row. */
  dedupKey: string;
  trackingId: string;
  sessionId: string;
  nodeType: string;
  protocol: string;
  /** The collector's clock, ms since the epoch: the only "when" that is trusted. */
  receivedAt: number;
  /** UTC calendar day of receivedAt, `YYYY-MM-DD`. */
  receivedDay: string;
  /** The client's clock, unix seconds, as sent. */
  reportTime: number;
  upTime: number;
  ci: boolean;
  /** Comma-separated ReportFlag values, or null. */
  flags: string | null;
  memoryUsed: number | null;
  memoryTotal: number | null;
  osName: string | null;
  osVersion: string | null;
  osKernel: string | null;
  cpuAvailable: number | null;
  /** Meta facts: null on non-meta reports. */
  version: string | null;
  gitSha: string | null;
  metaBackend: string | null;
  clusterType: string | null;
  nodeMeta: number | null;
  nodeCompute: number | null;
  nodeFrontend: number | null;
  nodeCompactor: number | null;
  streamJobCount: number | null;
  objectStore: string | null;
  /** JSON array of the distinct connector names in use, sorted. */
  connectors: string | null;
  /** JSON text of connector usage as sent. */
  connectorUsage: string | null;
  /** JSON array of `{tableId, connectorName}`. */
  streamJobs: string | null;
  licenseTier: string | null;
  /**
   * The license's `sub` (a customer name) as a salted hash (`hmac-sha256:…`), or in clear only when
   * the operator opted in (privacy/license-subject.ts). Null when the report has none.
   */
  licenseSubject: string | null;
  /** The body as received (after gzip), unknown fields included; the license `sub` is redacted as above. */
  raw: Uint8Array;
}

/** One stored RisingWave event. */
export interface EventRow {
  dedupKey: string;
  /**
   * The key a collector before commit b2b470f gave this event (no request hash): a store drops the
   * event if it holds this key (legacy-event-keys.ts). Absent on rows not built from a request.
   */
  legacyKey?: string;
  trackingId: string;
  receivedAt: number;
  receivedDay: string;
  eventTimeSec: number;
  stage: string | null;
  name: string;
  connectorName: string | null;
  catalogId: number;
  attributes: string | null;
  node: string;
  object: string | null;
  flags: string | null;
  raw: Uint8Array;
}

/** One native (v3) agent report. */
export interface AgentReportRow {
  /** The agent's report id: its dedup key. */
  reportId: string;
  trackingId: string;
  sessionId: string;
  nodeType: string;
  receivedAt: number;
  receivedDay: string;
  sequence: number;
  isLeader: boolean;
  version: string | null;
  gitSha: string | null;
  clusterType: string | null;
  ci: boolean;
  /** The agent's clock, ms: informational only. */
  intervalStartMs: number;
  intervalEndMs: number;
  memoryUsed: number | null;
  memoryTotal: number | null;
  osName: string | null;
  osVersion: string | null;
  osKernel: string | null;
  cpuAvailable: number | null;
  heapUsed: number | null;
  eventLoopDelayP99: number | null;
  uptime: number | null;
  runtime: string | null;
  agentVersion: string | null;
  /** JSON object of cluster-wide facts (leader only), or null. */
  clusterFacts: string | null;
  /** JSON object of the agent's drop counters. */
  drops: string | null;
  flags: string | null;
  raw: Uint8Array;
}

/** One metric series of an agent report. */
export interface MetricPointRow {
  name: string;
  kind: string;
  unit: string;
  /** Canonical JSON of the labels (keys sorted). */
  labels: string;
  value: number;
  /** JSON of the exponential histogram (histograms only). */
  histogram: string | null;
}

export interface AgentEventRow {
  name: string;
  timeMs: number;
  /** JSON object of the event's fields. */
  fields: string;
}

export interface AgentReportWrite {
  report: AgentReportRow;
  metrics: MetricPointRow[];
  events: AgentEventRow[];
}

export interface WriteBatch {
  reports: ReportRow[];
  events: EventRow[];
  agentReports?: AgentReportWrite[];
}

export interface WriteResult {
  /** Rows actually inserted; the rest were retries of rows already stored. */
  reportsInserted: number;
  eventsInserted: number;
  agentReportsInserted: number;
  /** Rows dropped because their cluster was erased and is blocked (answered 200, never stored). */
  blocked: number;
  /** The tracking ids of those rows: their senders are told `blocked` instead of `stored`. */
  blockedIds: string[];
}

/** A cluster erased by an admin: its new reports are dropped until an admin lifts the block. */
export interface BlockedCluster {
  trackingId: string;
  blockedAt: number;
}

/** What retention deleted (rows received before the cut-off day), per table. */
export type RetentionResult = Record<string, number>;

/** One admin action, as the audit log keeps it. */
export interface AuditEntry {
  /** ms since the epoch. */
  at: number;
  /** Who: a token id (`tok_…`, never the token), or `cli` / `collector` for local actions. */
  actor: string;
  /** `erase`, `unblock`, `import`, `token_create`, `token_revoke`, `tag_internal`. */
  action: string;
  /** What it acted on (a tracking id, a token id), or null. */
  target: string | null;
  /** JSON object with details (counts, flags), or null. */
  details: string | null;
}

export interface StoredAuditEntry extends AuditEntry {
  id: number;
}

/** The series a cluster already has, for the per-cluster caps. */
export interface KnownSeries {
  names: Set<string>;
  /** seriesKey(name, canonical labels JSON). */
  series: Set<string>;
}

/** A series' entry in KnownSeries.series. */
export const seriesKey = (name: string, labels: string) => `${name}\0${labels}`;

export interface MetricPointQuery extends DayRangeQuery {
  name: string;
}

/** A stored metric point with what fleet questions group by. */
export interface MetricPoint {
  /** The agent report the point came from. */
  reportId: string;
  trackingId: string;
  receivedAt: number;
  nodeType: string;
  version: string | null;
  clusterType: string | null;
  kind: string;
  value: number;
  histogram: string | null;
}

/**
 * One row of the daily metric rollup: a metric's points of one UTC day, cluster and series (node
 * type, version, cluster type, kind and labels as the reports carried them), folded at ingest.
 */
export interface MetricRollup {
  day: string;
  trackingId: string;
  nodeType: string;
  version: string | null;
  clusterType: string | null;
  /** Sent from a CI run (left out of statistics unless asked for). */
  ci: boolean;
  kind: string;
  /** Canonical JSON of the labels (keys sorted). */
  labels: string;
  /** How many points were folded in. */
  points: number;
  /** Sum, smallest and largest of the points' values. */
  total: number;
  min: number;
  max: number;
  /** The newest point (by receive time, then report id) and its value. */
  lastAt: number;
  lastReport: string;
  lastValue: number;
  /** JSON of the merged exponential histogram (histograms only). */
  histogram: string | null;
}

export interface AgentEventQuery {
  fromDay: string;
  toDay: string;
  trackingId?: string | undefined;
  name?: string | undefined;
  limit: number;
  /** Continue after this position (newest first: receive time, report id, place in the report). */
  before?: { receivedAt: number; reportId: string; seq: number } | undefined;
}

/** One event an agent sent (`agent.event(name, fields)`), e.g. the PGlite integration's db.ddl. */
export interface StoredAgentEvent {
  trackingId: string;
  reportId: string;
  /** Its place in the report. */
  seq: number;
  receivedAt: number;
  name: string;
  /** The agent's clock, ms: informational only. */
  timeMs: number;
  /** JSON object of the event's fields. */
  fields: string;
}

export interface NodeCounts {
  meta: number;
  compute: number;
  frontend: number;
  compactor: number;
}

/** `GET /query/clusters/{trackingId}` (CONTRACT.md), times as ms since the epoch. */
export interface ClusterSummary extends Omit<ClusterAnswer, 'firstSeen' | 'lastSeen'> {
  firstSeen: number;
  lastSeen: number;
}

export interface EraseResult {
  reports: number;
  events: number;
  agentReports: number;
}

export type TokenRole = 'read' | 'admin';

export interface TokenRecord {
  /** Public id, safe to show and log (`tok_…`). */
  id: string;
  /** sha256 of the secret, hex. The secret itself is never stored. */
  hash: string;
  role: TokenRole;
  label: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface DayRangeQuery {
  /** Inclusive UTC days, `YYYY-MM-DD`. */
  fromDay: string;
  toDay: string;
  includeCi: boolean;
  /** Include clusters an admin tagged as internal. */
  includeInternal?: boolean | undefined;
}

/** Clusters with reports in a range that a statistic left out, and why. */
export interface LeftOut {
  /** Clusters all of whose reports in the range came from CI runs. */
  ci: number;
  /** Clusters tagged internal by an admin. */
  internal: number;
}

export const BREAKDOWN_DIMENSIONS = [
  'version',
  'clusterType',
  'metaBackend',
  'os',
  'objectStore',
  'connector',
  'licenseTier',
] as const;
export type BreakdownDimension = (typeof BREAKDOWN_DIMENSIONS)[number];

/** The sizes whose distribution over the fleet the API answers. */
export const DISTRIBUTION_NAMES = [
  'memory',
  'metaNodes',
  'computeNodes',
  'frontendNodes',
  'compactorNodes',
  'streamJobs',
] as const;
export type DistributionName = (typeof DISTRIBUTION_NAMES)[number];

export interface EventQuery {
  fromDay: string;
  toDay: string;
  trackingId?: string | undefined;
  /** A stage name, or null for events with an unspecified stage; undefined for any. */
  stage?: string | null | undefined;
  name?: string | undefined;
  /** Events of this connector only, in any case (see eventConnectorNames). */
  connector?: string | undefined;
  limit: number;
  /** Continue after this (receivedAt, id) position (newest first). */
  before?: { receivedAt: number; id: number } | undefined;
}

export interface StoredEvent {
  id: number;
  trackingId: string;
  receivedAt: number;
  eventTimeSec: number;
  stage: string | null;
  name: string;
  connectorName: string | null;
  catalogId: number;
  attributes: string | null;
  node: string;
  object: string | null;
}

/** When a cluster reported, over all time (from the cluster_days rollup). */
/** How many clusters first and last reported on these two days. */
export interface ClusterSpan {
  firstDay: string;
  lastDay: string;
  clusters: number;
}

export interface ClusterListQuery {
  /** Case-insensitive substring of the tracking id. */
  search?: string | undefined;
  version?: string | undefined;
  clusterType?: string | undefined;
  /** Only clusters last seen on or after this day. */
  seenFromDay?: string | undefined;
  limit: number;
  /** Continue after this (lastSeen, trackingId) position (most recently seen first). */
  before?: { lastSeen: number; trackingId: string } | undefined;
}

/** The clusters a list asks for, all pages: what countClusters counts. */
export type ClusterListFilter = Omit<ClusterListQuery, 'limit' | 'before'>;

export interface ClusterListItem {
  trackingId: string;
  internal: boolean;
  firstSeen: number;
  lastSeen: number;
  version: string | null;
  gitSha: string | null;
  clusterType: string | null;
  metaBackend: string | null;
}

export const EVENT_GROUPINGS = ['day', 'stage', 'name', 'connector', 'trackingId'] as const;
export type EventGrouping = (typeof EVENT_GROUPINGS)[number];

export interface EventCountQuery {
  fromDay: string;
  toDay: string;
  includeInternal?: boolean | undefined;
  by: EventGrouping;
  stage?: string | null | undefined;
  name?: string | undefined;
  limit: number;
}

/** A cluster's facts from its latest meta report of one UTC day. */
export interface ClusterFacts {
  trackingId: string;
  day: string;
  /** Receive time of the meta report the facts come from. */
  factsAt: number;
  version: string | null;
  clusterType: string | null;
  metaBackend: string | null;
  os: string | null;
  objectStore: string | null;
  /** Distinct connector names in use, sorted. */
  connectors: string[];
  /** connector_usage_json_str as RisingWave sent it (sources and sinks with format and encode). */
  connectorUsage: string | null;
  licenseTier: string | null;
  /** Memory of the machine the meta node runs on, bytes. */
  memoryTotal: number | null;
  nodeCount: NodeCounts | null;
  streamJobCount: number | null;
}

/** One process of a cluster (a RisingWave node or a Tidewatch agent) between restarts. */
export interface ClusterSession {
  sessionId: string;
  nodeType: string;
  /** `risingwave` (v1/v2 reports) or `agent` (native reports). */
  source: 'risingwave' | 'agent';
  firstSeen: number;
  lastSeen: number;
  reports: number;
  memoryTotal: number | null;
  cpuAvailable: number | null;
}

export interface ClusterHistoryQuery {
  trackingId: string;
  fromDay: string;
  toDay: string;
}

export interface MetricName {
  name: string;
  /** Kind and unit of the newest point. */
  kind: string;
  unit: string;
  /** Clusters that ever sent the metric. */
  clusters: number;
}

/** What a migration run tells its caller: how many steps it is about to run, then each one done. */
export type MigrationProgress = (
  step:
    | { phase: 'pending'; names: string[]; newStore: boolean }
    | { phase: 'applied'; name: string; ms: number },
) => void;

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'clickhouse';
  /**
   * Runs pending migrations; safe when several collectors start together. Answers the steps it
   * applied (migration names; on ClickHouse the rollup tables it created and filled), none when the
   * schema was already current. `progress` hears about each step as it goes (a backfill over
   * millions of rows takes a while, and the operator should see that something is happening).
   */
  migrate(progress?: MigrationProgress): Promise<string[]>;
  /**
   * Writes the batch: on SQLite and PostgreSQL in one transaction (all of it or none). ClickHouse
   * has none: it checks the batch whole before its first insert and writes children before their
   * parents, so the batch's retry completes one cut short.
   */
  writeBatch(batch: WriteBatch): Promise<WriteResult>;
  getCluster(trackingId: string): Promise<ClusterSummary | null>;
  /** Days of the range with at least one stored report, and how many clusters sent one. */
  activeClusters(query: DayRangeQuery): Promise<{ day: string; clusters: number }[]>;
  /** Distinct clusters with at least one report in the range. */
  activeClusterCount(query: DayRangeQuery): Promise<number>;
  /**
   * First and last report day (up to `toDay`) of every cluster that reported on or before
   * `toDay`, counted per pair of days and sorted by them: at most one row per pair of stored days,
   * however many clusters there are.
   */
  clusterSpans(query: {
    toDay: string;
    includeCi: boolean;
    includeInternal?: boolean | undefined;
  }): Promise<ClusterSpan[]>;
  /** How many clusters with reports in the range a statistic leaves out (CI, internal). */
  leftOut(query: { fromDay: string; toDay: string }): Promise<LeftOut>;
  /** Tags a cluster as internal or not; false if nothing is stored for it. */
  setInternal(trackingId: string, internal: boolean): Promise<boolean>;
  /**
   * Active clusters per day and version (a cluster's version on a day: its latest meta report
   * known by that day); days without active clusters are left out.
   */
  versionCounts(query: DayRangeQuery): Promise<{ day: string; version: string | null; clusters: number }[]>;
  /** Each cluster's facts from its latest meta report in the range (one row per cluster). */
  latestFacts(query: DayRangeQuery): Promise<ClusterFacts[]>;
  /**
   * The connector uses of each cluster's latest facts in the range, counted (connectorUseCounts
   * of its connector JSON), one entry per distinct set of uses with how many clusters have it.
   */
  connectorUseCounts(query: DayRangeQuery): Promise<CountedConnectorUses[]>;
  /** One cluster over a range: its facts per day (oldest first) and its sessions (newest first). */
  clusterHistory(query: ClusterHistoryQuery): Promise<{ days: ClusterFacts[]; sessions: ClusterSession[] }>;
  /** Every metric name agents have sent, by name. */
  metricNames(): Promise<MetricName[]>;
  /** Clusters, most recently seen first, with their latest facts. */
  listClusters(query: ClusterListQuery): Promise<ClusterListItem[]>;
  /** How many clusters the list has with these filters, over all its pages. */
  countClusters(query: ClusterListFilter): Promise<number>;
  /** Clusters per value, by each cluster's latest meta report in the range (unsorted). */
  breakdown(
    by: BreakdownDimension,
    query: DayRangeQuery,
  ): Promise<{ value: string | null; clusters: number }[]>;
  /**
   * Clusters per value of a size, by each cluster's latest meta report in the range (unsorted;
   * null: the report did not say). Counted per value, so not a row per cluster.
   */
  distributionCounts(
    of: DistributionName,
    query: DayRangeQuery,
  ): Promise<{ value: number | null; clusters: number }[]>;
  /** Events counted per group (and the clusters they came from), largest first, `limit` rows. */
  eventCounts(query: EventCountQuery): Promise<{ value: string | null; events: number; clusters: number }[]>;
  /** Events newest first; `limit` rows at most. */
  events(query: EventQuery): Promise<StoredEvent[]>;
  /** The metric names and series stored for a cluster so far. */
  knownSeries(trackingId: string): Promise<KnownSeries>;
  /** Metric points of one metric in a day range (raw rows; fleet questions read metricRollup). */
  metricPoints(query: MetricPointQuery): Promise<MetricPoint[]>;
  /**
   * The daily rollup rows of one metric in a day range (for fleet aggregation), ordered by day,
   * cluster and series key (the primary key's order), a page at a time (see METRIC_ROLLUP_PAGE).
   */
  metricRollupPages(query: MetricPointQuery, pageSize?: number): AsyncIterable<MetricRollup[]>;
  /**
   * A fleet counter or histogram question: the metric's cells in the range (store/metric-cells.ts:
   * per day and series across clusters, CI and internal ones left out unless asked for, in
   * compareCells order) and its distinct clusters per kind and `by` value. `now` sets which days
   * are recent enough to be folded from per-cluster rows rather than read from stored cells.
   */
  metricFleet(query: MetricPointQuery, by: CellGrouping, now?: number): Promise<MetricFleetAnswer>;
  /** Agent events newest first (receive time, report id, place in the report); `limit` rows at most. */
  agentEvents(query: AgentEventQuery): Promise<StoredAgentEvent[]>;
  /**
   * Blocks the id and deletes every row of the cluster, everywhere: later writes of its rows are
   * dropped (counted in WriteResult.blocked) until unblockCluster. One transaction on SQLite and
   * PostgreSQL; ClickHouse blocks first, then deletes by mutations and answers once they are done.
   */
  eraseCluster(trackingId: string, at?: number): Promise<EraseResult>;
  /** Lifts an erase's block; false if the id was not blocked. */
  unblockCluster(trackingId: string): Promise<boolean>;
  /** Blocked (erased) clusters, most recently blocked first. */
  blockedClusters(): Promise<BlockedCluster[]>;
  /**
   * Retention: deletes every raw row and rollup row received before `fromDay` (a UTC day), and the
   * audit entries older than it; moves clusters' first seen to their oldest remaining row, forgets
   * clusters with nothing left and latest facts whose meta report is gone. Idempotent.
   */
  deleteBefore(fromDay: string): Promise<RetentionResult>;

  /** The stored value of a setting, storing `value` first if the key has none. Atomic. */
  ensureSetting(key: string, value: string): Promise<string>;
  /**
   * The legacy event keys' boundary (legacy-event-keys.ts): events up to this time (unix
   * seconds) need their legacy key; null: none do. Fixed once the store is migrated; cached.
   */
  legacyEventKeysUntil(): Promise<number | null>;

  appendAudit(entry: AuditEntry): Promise<void>;
  /** Audit entries newest first; `before` continues after an entry id. */
  auditLog(query: { limit: number; before?: number | undefined }): Promise<StoredAuditEntry[]>;

  /** Inserts the token unless an active admin token exists; true if it was inserted. Atomic. */
  createFirstAdminToken(token: TokenRecord): Promise<boolean>;
  /** Inserts the token, or re-activates it with the given role if its hash is known. */
  putToken(token: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | null>;
  listTokens(): Promise<TokenRecord[]>;
  revokeToken(id: string, at: number): Promise<boolean>;

  /** Throws if the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
