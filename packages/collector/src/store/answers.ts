// Turning query rows into the Store's answers: shared by every adapter (sql/ and clickhouse/), so
// that they answer alike once their queries return the same rows.

import { compareCodeUnits, compareText } from '../text-order.js';
import type {
  ClusterDayFactsTable,
  ClusterListItem as ClusterListRow,
  EventsTable,
  MetricPointsTable,
  ReportsTable,
  TokensTable,
} from './sql/schema.js';
import type {
  BreakdownDimension,
  ClusterFacts,
  ClusterListItem,
  ClusterSession,
  ClusterSpan,
  ClusterSummary,
  DistributionName,
  EventCountQuery,
  KnownSeries,
  MetricPoint,
  NodeCounts,
  StoredAgentEvent,
  StoredEvent,
  TokenRecord,
  TokenRole,
} from './store.js';
import { seriesKey } from './store.js';

/** A tokens row as every store keeps it (snake_case, times in ms). */

export type TokenColumns = TokensTable;

/** The column (of reports and their rollups) behind each breakdown dimension: a fixed list. */
export const BREAKDOWN_COLUMNS = {
  version: 'version',
  clusterType: 'cluster_type',
  metaBackend: 'meta_backend',
  os: 'os_name',
  objectStore: 'object_store',
  connector: 'connectors',
  licenseTier: 'license_tier',
} as const satisfies Record<BreakdownDimension, string>;

type Numeric = number | string | bigint;
type Loose<T> = { [K in keyof T]: T[K] extends number ? Numeric : T[K] };

/** An events row as the event list reads it. */
export type EventColumns = Omit<EventsTable, 'id' | 'dedup_key' | 'received_day' | 'flags' | 'raw'> & {
  id: number;
};

export function storedEvent(r: Loose<EventColumns>): StoredEvent {
  return {
    id: Number(r.id),
    trackingId: r.tracking_id,
    receivedAt: Number(r.received_at),
    eventTimeSec: Number(r.event_time_sec),
    stage: r.stage,
    name: r.name,
    connectorName: r.connector_name,
    catalogId: Number(r.catalog_id),
    attributes: r.attributes,
    node: r.node,
    object: r.object,
  };
}

/** A metric_points row as fleet questions read it. */
export type PointColumns = Pick<
  MetricPointsTable,
  | 'report_id'
  | 'tracking_id'
  | 'received_at'
  | 'node_type'
  | 'version'
  | 'cluster_type'
  | 'kind'
  | 'value'
  | 'histogram'
>;

export function metricPoint(r: Loose<PointColumns>): MetricPoint {
  return {
    reportId: r.report_id,
    trackingId: r.tracking_id,
    receivedAt: Number(r.received_at),
    nodeType: r.node_type,
    version: r.version,
    clusterType: r.cluster_type,
    kind: r.kind,
    value: Number(r.value),
    histogram: r.histogram,
  };
}

export function storedAgentEvent(r: {
  tracking_id: string;
  report_id: string;
  seq: number | string | null;
  received_at: number | string;
  name: string;
  time_ms: number | string;
  fields: string;
}): StoredAgentEvent {
  return {
    trackingId: r.tracking_id,
    reportId: r.report_id,
    seq: Number(r.seq),
    receivedAt: Number(r.received_at),
    name: r.name,
    timeMs: Number(r.time_ms),
    fields: r.fields,
  };
}

/** Rows of (first day, last day, clusters) as clusterSpans answers them, sorted by the days. */
export function spanCounts(
  rows: Iterable<{ first: unknown; last: unknown; n: number | string | bigint }>,
): ClusterSpan[] {
  const spans: ClusterSpan[] = [];
  for (const r of rows) {
    if (r.first === null || r.last === null) continue;
    spans.push({ firstDay: String(r.first), lastDay: String(r.last), clusters: Number(r.n) });
  }
  return spans.sort(
    (a, b) => compareCodeUnits(a.firstDay, b.firstDay) || compareCodeUnits(a.lastDay, b.lastDay),
  );
}

export function clusterListItem(r: Loose<ClusterListRow>): ClusterListItem {
  return {
    trackingId: r.tracking_id,
    internal: Number(r.internal) === 1,
    firstSeen: Number(r.first_seen),
    lastSeen: Number(r.last_seen),
    version: r.version,
    gitSha: r.git_sha,
    clusterType: r.cluster_type,
    metaBackend: r.meta_backend,
  };
}

export function tokenRecord(row: TokenColumns): TokenRecord {
  return {
    id: row.id,
    hash: row.hash,
    role: row.role as TokenRole,
    label: row.label,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

export function tokenColumns(t: TokenRecord): TokenColumns {
  return {
    id: t.id,
    hash: t.hash,
    role: t.role,
    label: t.label,
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    revoked_at: t.revokedAt,
  };
}

/** The facts of a cluster's latest meta report (reports columns). */
export type MetaFacts = Pick<
  ReportsTable,
  | 'version'
  | 'git_sha'
  | 'cluster_type'
  | 'meta_backend'
  | 'node_meta'
  | 'node_compute'
  | 'node_frontend'
  | 'node_compactor'
  | 'stream_job_count'
  | 'object_store'
  | 'license_tier'
  | 'connectors'
>;

export interface ClusterParts {
  trackingId: string;
  firstSeen: number;
  lastSeen: number;
  meta: MetaFacts | undefined;
  /** The latest agent report's facts (read only when there is no meta report). */
  latestAgent: { version: string | null; git_sha: string | null; cluster_type: string | null } | undefined;
  perNode: { node_type: string; n: number | string | bigint }[];
  events: number;
  agentReports: number;
}

export function clusterSummary(p: ClusterParts): ClusterSummary {
  const { meta, latestAgent } = p;
  const reports: NodeCounts = { meta: 0, compute: 0, frontend: 0, compactor: 0 };
  for (const row of p.perNode) {
    if (row.node_type in reports) reports[row.node_type as keyof NodeCounts] = Number(row.n);
  }
  // A cluster that only has agents (a database on Node.js) takes its version from the latest
  // agent report; a RisingWave meta report, when there is one, always wins.
  return {
    trackingId: p.trackingId,
    firstSeen: Number(p.firstSeen),
    lastSeen: Number(p.lastSeen),
    version: meta?.version ?? latestAgent?.version ?? null,
    gitSha: meta?.git_sha ?? latestAgent?.git_sha ?? null,
    clusterType: meta?.cluster_type ?? latestAgent?.cluster_type ?? null,
    metaBackend: meta?.meta_backend ?? null,
    nodeCount: meta ? nodeCountOf(meta) : null,
    streamJobCount: meta?.stream_job_count == null ? null : Number(meta.stream_job_count),
    objectStore: meta?.object_store ?? null,
    licenseTier: meta?.license_tier ?? null,
    connectors: meta?.connectors ? (JSON.parse(meta.connectors) as string[]) : [],
    reports,
    events: p.events,
    agentReports: p.agentReports,
  };
}

/** Node counts as a meta report gave them (null when it gave none). */
function nodeCountOf(
  r: Record<'node_meta' | 'node_compute' | 'node_frontend' | 'node_compactor', Numeric | null>,
): NodeCounts | null {
  return r.node_meta === null
    ? null
    : {
        meta: Number(r.node_meta),
        compute: Number(r.node_compute),
        frontend: Number(r.node_frontend),
        compactor: Number(r.node_compactor),
      };
}

/** Event counts ordered alike in every store (by day ascending, otherwise largest first), cut. */
export function rankEventCounts(
  query: EventCountQuery,
  rows: readonly {
    value: string | null;
    events: number | string | bigint;
    clusters: number | string | bigint;
  }[],
): { value: string | null; events: number; clusters: number }[] {
  const counted = rows.map((r) => ({
    value: r.value,
    events: Number(r.events),
    clusters: Number(r.clusters),
  }));
  counted.sort((a, b) =>
    query.by === 'day' ? compareText(a.value, b.value) : b.events - a.events || compareText(a.value, b.value),
  );
  return counted.slice(0, query.limit);
}

/** A cluster's facts of one day (the cluster_day_facts columns, whichever store they come from). */
export type FactsColumns = Omit<ClusterDayFactsTable, 'next_day' | 'connector_uses'>;

export function clusterFacts(r: Loose<FactsColumns>): ClusterFacts {
  const n = (v: Numeric | null) => (v === null ? null : Number(v));
  return {
    trackingId: r.tracking_id,
    day: r.day,
    factsAt: Number(r.facts_at),
    version: r.version,
    clusterType: r.cluster_type,
    metaBackend: r.meta_backend,
    os: r.os_name,
    objectStore: r.object_store,
    connectors: r.connectors ? (JSON.parse(r.connectors) as string[]) : [],
    connectorUsage: r.connector_usage,
    licenseTier: r.license_tier,
    memoryTotal: n(r.memory_total),
    nodeCount: nodeCountOf(r),
    streamJobCount: n(r.stream_job_count),
  };
}

/**
 * A breakdown from clusters counted per stored value of the dimension's column: a connector list
 * is a JSON array, counted here once per connector it names.
 */
export function breakdownOfCounts(
  by: BreakdownDimension,
  rows: readonly { value: string | null; n: Numeric }[],
): { value: string | null; clusters: number }[] {
  if (by !== 'connector') return rows.map((r) => ({ value: r.value, clusters: Number(r.n) }));
  const counts = new Map<string | null, number>();
  for (const r of rows) {
    for (const name of r.value ? (JSON.parse(r.value) as string[]) : []) {
      counts.set(name, (counts.get(name) ?? 0) + Number(r.n));
    }
  }
  return [...counts].map(([value, clusters]) => ({ value, clusters }));
}

/**
 * The facts column of each size, for stores that count them in SQL. `beside meta`: a node count
 * that reads as clusterFacts reads it, unknown when the meta count is, 0 when missing beside it.
 */
export const DISTRIBUTION_COLUMNS: Record<DistributionName, { column: string; besideMeta: boolean }> = {
  memory: { column: 'memory_total', besideMeta: false },
  metaNodes: { column: 'node_meta', besideMeta: false },
  computeNodes: { column: 'node_compute', besideMeta: true },
  frontendNodes: { column: 'node_frontend', besideMeta: true },
  compactorNodes: { column: 'node_compactor', besideMeta: true },
  streamJobs: { column: 'stream_job_count', besideMeta: false },
};

/** Each size of a cluster's facts, as the distributions read it. */
export const DISTRIBUTION_VALUES: Record<DistributionName, (f: ClusterFacts) => number | null> = {
  memory: (f) => f.memoryTotal,
  metaNodes: (f) => f.nodeCount?.meta ?? null,
  computeNodes: (f) => f.nodeCount?.compute ?? null,
  frontendNodes: (f) => f.nodeCount?.frontend ?? null,
  compactorNodes: (f) => f.nodeCount?.compactor ?? null,
  streamJobs: (f) => f.streamJobCount,
};

/** Clusters per value of a size, from each cluster's latest facts (unsorted). */
export function factsDistributionCounts(
  of: DistributionName,
  facts: readonly ClusterFacts[],
): { value: number | null; clusters: number }[] {
  const counts = new Map<number | null, number>();
  for (const f of facts) {
    const value = DISTRIBUTION_VALUES[of](f);
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return [...counts].map(([value, clusters]) => ({ value, clusters }));
}

/** Active clusters per (day, version), in day then version order, zero rows left out. */
export function versionCountsOf(
  rows: Iterable<{ day: string; version: string | null; clusters: number }>,
): { day: string; version: string | null; clusters: number }[] {
  return [...rows]
    .filter((r) => r.clusters > 0)
    .sort((a, b) => (a.day !== b.day ? (a.day < b.day ? -1 : 1) : compareText(a.version, b.version)));
}

/** A cluster's metric_series rows as the names and series it has reported. */
export function knownSeriesOf(rows: Iterable<{ name: string; labels: string }>): KnownSeries {
  const known: KnownSeries = { names: new Set(), series: new Set() };
  for (const row of rows) {
    known.names.add(row.name);
    known.series.add(seriesKey(row.name, row.labels));
  }
  return known;
}

/** A session's aggregate over its reports or agent reports, as every store reads it. */
export interface SessionColumns {
  session_id: string;
  node_type: string;
  first: Numeric;
  last: Numeric;
  reports: Numeric;
  memory: Numeric | null;
  cpus: Numeric | null;
}

export function clusterSession(r: SessionColumns, source: ClusterSession['source']): ClusterSession {
  return {
    sessionId: r.session_id,
    nodeType: r.node_type,
    source,
    firstSeen: Number(r.first),
    lastSeen: Number(r.last),
    reports: Number(r.reports),
    memoryTotal: r.memory === null ? null : Number(r.memory),
    cpuAvailable: r.cpus === null ? null : Number(r.cpus),
  };
}

/** Sessions most recently seen first (then node type, session id): the same order everywhere. */
export function sortSessions(sessions: ClusterSession[]): ClusterSession[] {
  return sessions.sort(
    (a, b) =>
      b.lastSeen - a.lastSeen ||
      compareCodeUnits(a.nodeType, b.nodeType) ||
      compareCodeUnits(a.sessionId, b.sessionId),
  );
}
