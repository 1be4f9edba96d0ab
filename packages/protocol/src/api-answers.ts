// The JSON answers of the query API (`GET /query/...`) and of the admin routes the CLI reads, written
// once: the collector's routes are typed to return them, the dashboard and the CLI read them, so a
// renamed field fails to compile instead of showing blank at run time. Types only (no runtime code),
// so the browser bundle can import this file (`@tidewatch/protocol/api-answers`) and take nothing else.
// Each route's fastify response schema still drives serialization; answer-shapes.test.ts in the
// collector checks that every answer survives it unchanged. Times are ISO 8601 strings; days are
// UTC `YYYY-MM-DD`.
import type { MetricKind } from './native/model.js';

/** What a fleet statistic left out: clusters with reports in the range, by reason. */
export interface Excluded {
  /** Clusters all of whose reports in the range came from CI runs. */
  ci: number;
  /** Clusters an admin tagged as internal. */
  internal: number;
}

export interface NodeCounts {
  meta: number;
  compute: number;
  frontend: number;
  compactor: number;
}

/** `GET /query/active` */
export interface ActiveAnswer {
  /** Every day of the range, zero included. */
  series: { day: string; clusters: number }[];
  excluded: Excluded;
}

/** `GET /query/breakdown` */
export interface BreakdownAnswer {
  /** Largest first; `value` null: clusters whose reports do not say. */
  rows: { value: string | null; clusters: number }[];
  excluded: Excluded;
}

/** `GET /query/overview` */
export interface OverviewAnswer {
  from: string;
  to: string;
  clusters: { active: number; new: number; silent: number; total: number };
  lifetimeDays: { p50: number | null; p90: number | null };
  excluded: Excluded;
}

/** `GET /query/versions` */
export interface VersionsAnswer {
  days: string[];
  /** `clusters[i]`: active clusters on `days[i]`. */
  versions: { version: string | null; clusters: number[] }[];
  excluded: Excluded;
}

/** One RisingWave event of `GET /query/events`. */
export interface EventItem {
  trackingId: string;
  receivedAt: string;
  /** The cluster's clock (informational). */
  eventTime: string;
  stage: string | null;
  name: string;
  connector: string | null;
  catalogId: number;
  node: string;
  object: string | null;
  /** The event's JSON attributes parsed, or the text as sent when it does not round-trip. */
  attributes: unknown;
}

/** `GET /query/events` */
export interface EventsAnswer {
  events: EventItem[];
  /** The `before` cursor of the next page; null on the last. */
  next: string | null;
}

/** One agent event of `GET /query/agent-events`. */
export interface AgentEventItem {
  trackingId: string;
  receivedAt: string;
  /** The agent's clock (informational). */
  time: string;
  name: string;
  fields: unknown;
}

/** `GET /query/agent-events` */
export interface AgentEventsAnswer {
  events: AgentEventItem[];
  next: string | null;
}

/** `GET /query/event-counts` */
export interface EventCountsAnswer {
  rows: { value: string | null; events: number; clusters: number }[];
  excluded: Excluded;
}

/** `GET /query/metrics` */
export interface MetricNamesAnswer {
  metrics: { name: string; kind: string; unit: string; clusters: number }[];
}

/** A group of `GET /query/metrics/{name}`: which fields it has depends on the metric's kind. */
export interface MetricRow {
  /** The group's value; `all` without grouping; null when the grouping value is unknown. */
  value: string | null;
  clusters: number;
  total?: number;
  last?: number;
  min?: number;
  max?: number;
  avg?: number;
  count?: number;
  sum?: number;
  p50?: number | null;
  p90?: number | null;
  p99?: number | null;
  /**
   * The largest relative error of p50/p90/p99: that of the merged histogram's scale (1.08% at the
   * agent's scale 5; coarser when a merged histogram spans a very wide range of values).
   */
  relativeError?: number;
}

/** `GET /query/metrics/{name}` */
export interface MetricAnswer {
  name: string;
  from: string;
  to: string;
  /** Null: no point of the metric in the range. */
  kind: MetricKind | null;
  rows: MetricRow[];
  excluded: Excluded;
}

/** What the cluster list and a cluster's own page both say of a cluster. */
export interface ClusterBasics {
  trackingId: string;
  firstSeen: string;
  lastSeen: string;
  version: string | null;
  gitSha: string | null;
  clusterType: string | null;
  metaBackend: string | null;
}

/** `GET /query/clusters/{trackingId}` */
export interface ClusterAnswer extends ClusterBasics {
  nodeCount: NodeCounts | null;
  streamJobCount: number | null;
  objectStore: string | null;
  licenseTier: string | null;
  connectors: string[];
  /** Reports stored, all time, per node type. */
  reports: NodeCounts;
  events: number;
  /** Native reports from Tidewatch agents (all time). */
  agentReports: number;
}

/** A cluster of `GET /query/clusters`; also a row of its CSV and NDJSON exports. */
export interface ClusterListItemAnswer extends ClusterBasics {
  /** Tagged internal by an admin. */
  internal: boolean;
}

/** `GET /query/clusters` (format=json) */
export interface ClusterListAnswer {
  clusters: ClusterListItemAnswer[];
  next: string | null;
  /** Clusters in the whole filtered list, every page. */
  total: number;
}

/** A day of `GET /query/clusters/{trackingId}/history`: the facts of its latest meta report. */
export interface HistoryDay {
  day: string;
  factsAt: string;
  version: string | null;
  clusterType: string | null;
  metaBackend: string | null;
  os: string | null;
  objectStore: string | null;
  licenseTier: string | null;
  /** Bytes. */
  memoryTotal: number | null;
  nodeCount: NodeCounts | null;
  streamJobCount: number | null;
  connectors: string[];
}

/** One process of a cluster (a RisingWave node or a Tidewatch agent) between restarts. */
export interface HistorySession {
  sessionId: string;
  nodeType: string;
  source: 'risingwave' | 'agent';
  firstSeen: string;
  lastSeen: string;
  reports: number;
  memoryTotal: number | null;
  cpuAvailable: number | null;
}

/** `GET /query/clusters/{trackingId}/history` */
export interface HistoryAnswer {
  trackingId: string;
  from: string;
  to: string;
  /** Days with a meta report, oldest first. */
  days: HistoryDay[];
  /** Most recently seen first. */
  sessions: HistorySession[];
}

/** `GET /query/distribution` */
export interface DistributionAnswer {
  of: string;
  unit: 'bytes' | 'nodes' | 'jobs';
  /** Clusters with a known value. */
  clusters: number;
  /** Clusters whose reports do not say. */
  unknown: number;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  /** Inclusive bounds, in `unit`. */
  buckets: { from: number; to: number; clusters: number }[];
  excluded: Excluded;
}

/** Sources (or sinks) of one connector, format and encode in `GET /query/connectors`. */
export interface ConnectorUsageRow {
  connector: string | null;
  format: string | null;
  encode: string | null;
  /** Clusters with at least one. */
  clusters: number;
  /** How many, over those clusters. */
  count: number;
}

/** `GET /query/connectors` */
export interface ConnectorsAnswer {
  /** Clusters with a meta report in the range. */
  clusters: number;
  sources: ConnectorUsageRow[];
  sinks: ConnectorUsageRow[];
  excluded: Excluded;
}

/** How fast one release was picked up (`GET /query/adoption`). */
export interface ReleaseAdoption {
  version: string;
  /** The first day an active cluster ran it. */
  firstDay: string;
  /** Already running on the first day with data in the range: firstDay is only a bound. */
  beforeRange: boolean;
  /** Highest share of active clusters, %. */
  peakShare: number;
  peakDay: string;
  /** Share on the last day of the range, %. */
  latestShare: number;
  /** Days from firstDay until the share reached N% ("10", "25", "50"); null: not in the range. */
  daysTo: Record<string, number | null>;
}

/** `GET /query/adoption` */
export interface AdoptionAnswer {
  from: string;
  to: string;
  /** Newest release first. */
  releases: ReleaseAdoption[];
  excluded: Excluded;
}

/** `POST /admin/import` */
export interface ImportAnswer {
  /** Lines that are not blank. */
  lines: number;
  imported: { reports: number; events: number; agentReports: number };
  /** Rows already stored (a retried import). */
  duplicates: number;
  /** is_test reports and events. */
  discarded: number;
  /** Reports and events received before the retention period: not stored. */
  expired: number;
  /** Rows of erased (blocked) clusters. */
  blocked: number;
}

/** One entry of `GET /admin/audit` (and of `tidewatch audit --json`). */
export interface AuditEntryAnswer {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  /** A JSON object (counts, flags), or null. */
  details: unknown;
}

/** `GET /admin/audit` */
export interface AuditAnswer {
  entries: AuditEntryAnswer[];
  /** The `before` of the next page; null on the last. */
  next: number | null;
}
