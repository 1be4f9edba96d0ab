// Row models to table columns, and the steps every SQL write takes: shared by the Kysely path
// (sql-store.ts) and the SQLite writer thread (sqlite/sqlite-writer.ts), so both store the same.
import { connectorUseCounts } from '../connector-uses.js';
import { writerMarksDay } from '../metric-cells.js';
import type { RollupColumns } from '../metric-rollup.js';
import type { AgentReportRow, AgentReportWrite, EventRow, ReportRow, WriteBatch } from '../store.js';
import type { AgentReportsTable, ReportsTable } from './schema.js';

/** Rows per INSERT statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
export const ROWS_PER_STATEMENT = 500;

/**
 * Prefix of a statement text that PostgreSQL may keep as a named prepared statement
 * (postgres/prepared-pool.ts removes it before sending), and the largest multi-row insert marked:
 * row counts 1..16 give 16 shapes per table.
 */
export const PREPARE_MARK = '/*tw:prepare*/';
export const PREPARED_MAX_ROWS = 16;

export function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(rows.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/**
 * chunks() with each chunk's length rounded up to a power of two (at most ROWS_PER_STATEMENT) by
 * repeating its last item, for statements whose text holds one placeholder group per item and
 * where a repeated item changes nothing. The SQLite writer keeps a prepared statement per text:
 * with a text per length, imports and bursts made it keep up to 1,000 of them (~67 MB); now ~10.
 */
export function paddedChunks<T>(rows: T[]): T[][] {
  return chunks(rows).map((chunk) => {
    let size = 1;
    while (size < chunk.length) size *= 2;
    size = Math.min(size, ROWS_PER_STATEMENT);
    const last = chunk.at(-1)!;
    while (chunk.length < size) chunk.push(last);
    return chunk;
  });
}

export function reportColumns(r: ReportRow): Omit<ReportsTable, 'id'> {
  return {
    dedup_key: r.dedupKey,
    tracking_id: r.trackingId,
    session_id: r.sessionId,
    node_type: r.nodeType,
    protocol: r.protocol,
    received_at: r.receivedAt,
    received_day: r.receivedDay,
    report_time: r.reportTime,
    up_time: r.upTime,
    ci: r.ci ? 1 : 0,
    flags: r.flags,
    memory_used: r.memoryUsed,
    memory_total: r.memoryTotal,
    os_name: r.osName,
    os_version: r.osVersion,
    os_kernel: r.osKernel,
    cpu_available: r.cpuAvailable,
    version: r.version,
    git_sha: r.gitSha,
    meta_backend: r.metaBackend,
    cluster_type: r.clusterType,
    node_meta: r.nodeMeta,
    node_compute: r.nodeCompute,
    node_frontend: r.nodeFrontend,
    node_compactor: r.nodeCompactor,
    stream_job_count: r.streamJobCount,
    object_store: r.objectStore,
    connectors: r.connectors,
    connector_usage: r.connectorUsage,
    stream_jobs: r.streamJobs,
    license_tier: r.licenseTier,
    license_subject: r.licenseSubject,
    raw: r.raw,
  };
}

export function eventColumns(e: EventRow) {
  return {
    dedup_key: e.dedupKey,
    tracking_id: e.trackingId,
    received_at: e.receivedAt,
    received_day: e.receivedDay,
    event_time_sec: e.eventTimeSec,
    stage: e.stage,
    name: e.name,
    connector_name: e.connectorName,
    catalog_id: e.catalogId,
    attributes: e.attributes,
    node: e.node,
    object: e.object,
    flags: e.flags,
    raw: e.raw,
  };
}

export function agentReportColumns(r: AgentReportRow): Omit<AgentReportsTable, 'id'> {
  return {
    report_id: r.reportId,
    tracking_id: r.trackingId,
    session_id: r.sessionId,
    node_type: r.nodeType,
    received_at: r.receivedAt,
    received_day: r.receivedDay,
    sequence: r.sequence,
    is_leader: r.isLeader ? 1 : 0,
    version: r.version,
    git_sha: r.gitSha,
    cluster_type: r.clusterType,
    ci: r.ci ? 1 : 0,
    interval_start_ms: r.intervalStartMs,
    interval_end_ms: r.intervalEndMs,
    memory_used: r.memoryUsed,
    memory_total: r.memoryTotal,
    os_name: r.osName,
    os_version: r.osVersion,
    os_kernel: r.osKernel,
    cpu_available: r.cpuAvailable,
    heap_used: r.heapUsed,
    event_loop_delay_p99: r.eventLoopDelayP99,
    uptime: r.uptime,
    runtime: r.runtime,
    agent_version: r.agentVersion,
    cluster_facts: r.clusterFacts,
    drops: r.drops,
    flags: r.flags,
    raw: r.raw,
  };
}

/**
 * The batch without the rows of blocked (erased) clusters, and how many rows that dropped. Runs
 * inside the write transaction, so an erase and a write racing each other never leave a row behind.
 */
export function withoutBlocked(batch: WriteBatch, blocked: ReadonlySet<string>) {
  if (blocked.size === 0) return { batch, blocked: 0, blockedIds: [] };
  const keep = (trackingId: string) => !blocked.has(trackingId);
  const kept: WriteBatch = {
    reports: batch.reports.filter((r) => keep(r.trackingId)),
    events: batch.events.filter((e) => keep(e.trackingId)),
    agentReports: (batch.agentReports ?? []).filter((w) => keep(w.report.trackingId)),
  };
  const count = (b: WriteBatch) => b.reports.length + b.events.length + (b.agentReports?.length ?? 0);
  const present = new Set(batchTrackingIds(batch));
  return {
    batch: kept,
    blocked: count(batch) - count(kept),
    blockedIds: [...blocked].filter((id) => present.has(id)),
  };
}

/** Every tracking id a batch writes rows for. */
export function batchTrackingIds(batch: WriteBatch): string[] {
  const ids = new Set<string>();
  for (const r of batch.reports) ids.add(r.trackingId);
  for (const e of batch.events) ids.add(e.trackingId);
  for (const w of batch.agentReports ?? []) ids.add(w.report.trackingId);
  return [...ids];
}

/** Metric points, events and series rows of the agent reports that were really inserted. */
export function agentChildren(writes: AgentReportWrite[]) {
  const points = [];
  const events = [];
  const series = [];
  for (const { report: r, metrics, events: evs } of writes) {
    for (const m of metrics) {
      points.push({
        report_id: r.reportId,
        tracking_id: r.trackingId,
        received_at: r.receivedAt,
        received_day: r.receivedDay,
        node_type: r.nodeType,
        version: r.version,
        cluster_type: r.clusterType,
        ci: r.ci ? 1 : 0,
        name: m.name,
        kind: m.kind,
        unit: m.unit,
        labels: m.labels,
        value: m.value,
        histogram: m.histogram,
      });
      series.push({ tracking_id: r.trackingId, name: m.name, labels: m.labels, first_seen: r.receivedAt });
    }
    for (const [seq, e] of evs.entries()) {
      events.push({
        report_id: r.reportId,
        tracking_id: r.trackingId,
        received_at: r.receivedAt,
        received_day: r.receivedDay,
        name: e.name,
        time_ms: e.timeMs,
        fields: e.fields,
        seq,
      });
    }
  }
  return { points, events, series };
}

/** first/last seen per cluster over the rows a batch actually inserted. */
export function seenRanges(rows: readonly { tracking_id: string; received_at: number }[]) {
  const ranges = new Map<string, { first: number; last: number }>();
  for (const row of rows) {
    const at = Number(row.received_at);
    const range = ranges.get(row.tracking_id);
    if (!range) ranges.set(row.tracking_id, { first: at, last: at });
    else {
      if (at < range.first) range.first = at;
      if (at > range.last) range.last = at;
    }
  }
  return ranges;
}

/** Cluster upsert rows for what a batch inserted, sorted so concurrent writers lock in one order. */
export function clusterRows(inserted: readonly { tracking_id: string; received_at: number }[]) {
  return [...seenRanges(inserted)]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([trackingId, range]) => ({
      tracking_id: trackingId,
      first_seen: range.first,
      last_seen: range.last,
    }));
}

const byKey =
  <T>(key: (row: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/** The first of each key, in key order. */
function uniqueSorted<T>(rows: readonly T[], key: (row: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const row of rows) if (!seen.has(key(row))) seen.set(key(row), row);
  return [...seen.values()].sort(byKey(key));
}

/**
 * The batch with one row per retry key, in key order. One copy: a report resent while its first
 * copy still waits in the same group commit must not bring its metric points and events twice.
 * Key order: two transactions that insert the same keys take their row locks in the same order
 * and cannot deadlock (PostgreSQL with several in flight).
 */
export function ordered(batch: WriteBatch): WriteBatch {
  return {
    reports: uniqueSorted(batch.reports, (r) => r.dedupKey),
    events: uniqueSorted(batch.events, (e) => e.dedupKey),
    agentReports: uniqueSorted(batch.agentReports ?? [], (w) => w.report.reportId),
  };
}

/** Rollup rows (day, cluster, all-CI) for the reports a batch inserted. */
export function clusterDayRows(
  inserted: readonly { tracking_id: string; received_at: number; ci: number }[],
) {
  const days = new Map<string, { day: string; tracking_id: string; ci: number }>();
  for (const row of inserted) {
    const day = new Date(Number(row.received_at)).toISOString().slice(0, 10);
    const key = `${day}\0${row.tracking_id}`;
    const seen = days.get(key);
    if (!seen) days.set(key, { day, tracking_id: row.tracking_id, ci: Number(row.ci) });
    else seen.ci = Math.min(seen.ci, Number(row.ci));
  }
  return [...days.values()].sort((a, b) =>
    a.day === b.day ? (a.tracking_id < b.tracking_id ? -1 : 1) : a.day < b.day ? -1 : 1,
  );
}

/**
 * A cluster-day stays CI only while every report of it is (ci only goes down). The `where` makes
 * `returning` name only rows that were new or changed: the days whose counts need a recount.
 */
export const CLUSTER_DAY_CONFLICT =
  '(day, tracking_id) do update set ci = excluded.ci where excluded.ci < cluster_days.ci';

/** Per cluster, the facts of the batch's most recently received meta report. */
function latestFacts(reports: readonly ReportRow[]): Map<string, ReportRow> {
  const latest = new Map<string, ReportRow>();
  for (const r of reports) {
    if (r.nodeType !== 'meta') continue;
    const seen = latest.get(r.trackingId);
    if (!seen || r.receivedAt >= seen.receivedAt) latest.set(r.trackingId, r);
  }
  return latest;
}

/**
 * One `clusters` row per cluster of the batch: first/last seen from everything stored, and the
 * facts of its latest stored meta report (all null when the batch has none for it). One upsert
 * (CLUSTER_UPSERT_SET) writes both, instead of an upsert plus an UPDATE per cluster.
 */
export function clusterUpserts(
  inserted: readonly { tracking_id: string; received_at: number }[],
  storedReports: readonly ReportRow[],
  dayRows: readonly { day: string; tracking_id: string; ci: number }[],
) {
  const facts = latestFacts(storedReports);
  const spans = daySpans(dayRows);
  return clusterRows(inserted).map((c) => {
    const f = facts.get(c.tracking_id);
    return {
      ...c,
      ...(spans.get(c.tracking_id) ?? NO_DAYS),
      version: f?.version ?? null,
      git_sha: f?.gitSha ?? null,
      cluster_type: f?.clusterType ?? null,
      meta_backend: f?.metaBackend ?? null,
      facts_at: f ? f.receivedAt : null,
    };
  });
}

const NO_DAYS = { first_day: null, last_day: null, first_day_not_ci: null, last_day_not_ci: null };
export const DAY_SPAN_COLUMNS = Object.keys(NO_DAYS) as (keyof typeof NO_DAYS)[];

/** `set` list recomputing a clusters row's day span from cluster_days (backfill, retention). */
export const DAY_SPAN_SET = DAY_SPAN_COLUMNS.map((column) => {
  const fn = column.startsWith('first') ? 'min' : 'max';
  const ci = column.endsWith('not_ci') ? ' and d.ci = 0' : '';
  return `${column} = (select ${fn}(d.day) from cluster_days d where d.tracking_id = clusters.tracking_id${ci})`;
}).join(', ');

/**
 * Per cluster, the first and last of its cluster_days rows in `days`, of all and of those not
 * all-CI: the clusters row keeps the span over everything stored (overview, active count).
 */
function daySpans(days: readonly { day: string; tracking_id: string; ci: number }[]) {
  const spans = new Map<string, Record<keyof typeof NO_DAYS, string | null>>();
  const earlier = (a: string | null, b: string) => (a === null || b < a ? b : a);
  const later = (a: string | null, b: string) => (a === null || b > a ? b : a);
  for (const d of days) {
    const span = spans.get(d.tracking_id) ?? { ...NO_DAYS };
    span.first_day = earlier(span.first_day, d.day);
    span.last_day = later(span.last_day, d.day);
    if (Number(d.ci) === 0) {
      span.first_day_not_ci = earlier(span.first_day_not_ci, d.day);
      span.last_day_not_ci = later(span.last_day_not_ci, d.day);
    }
    spans.set(d.tracking_id, span);
  }
  return spans;
}

/** Newer facts only: a backdated import or a retried old report never overwrites what a later report said. */
const newerFacts =
  'excluded.facts_at is not null and (clusters.facts_at is null or excluded.facts_at >= clusters.facts_at)';

/**
 * The `on conflict (tracking_id) do update set` of a clusters upsert, the same on every dialect:
 * CASE instead of GREATEST/MAX, and the facts columns only from newer facts.
 */
export const CLUSTER_UPSERT_SET: Record<string, string> = {
  first_seen:
    'case when excluded.first_seen < clusters.first_seen then excluded.first_seen else clusters.first_seen end',
  last_seen:
    'case when excluded.last_seen > clusters.last_seen then excluded.last_seen else clusters.last_seen end',
  ...Object.fromEntries(
    DAY_SPAN_COLUMNS.map((column) => [
      column,
      `case when excluded.${column} ${column.startsWith('first') ? '<' : '>'} clusters.${column} or clusters.${column} is null then excluded.${column} else clusters.${column} end`,
    ]),
  ),
  ...Object.fromEntries(
    ['version', 'git_sha', 'cluster_type', 'meta_backend', 'facts_at'].map((column) => [
      column,
      `case when ${newerFacts} then excluded.${column} else clusters.${column} end`,
    ]),
  ),
};

/** The whole `on conflict …` clause of the clusters upsert (rows from clusterUpserts). */
export const CLUSTER_CONFLICT = `(tracking_id) do update set ${Object.entries(CLUSTER_UPSERT_SET)
  .map(([column, value]) => `${column} = ${value}`)
  .join(', ')}`;

/** Per cluster and UTC day, the facts of the batch's latest meta report of that day. */
export function dayFactsRows(reports: readonly ReportRow[]) {
  const latest = new Map<string, ReportRow>();
  for (const r of reports) {
    if (r.nodeType !== 'meta') continue;
    const key = `${r.receivedDay}\0${r.trackingId}`;
    const seen = latest.get(key);
    if (!seen || r.receivedAt >= seen.receivedAt) latest.set(key, r);
  }
  return [...latest.values()]
    .sort((a, b) =>
      a.receivedDay === b.receivedDay
        ? a.trackingId < b.trackingId
          ? -1
          : 1
        : a.receivedDay < b.receivedDay
          ? -1
          : 1,
    )
    .map((r) => ({
      day: r.receivedDay,
      tracking_id: r.trackingId,
      facts_at: r.receivedAt,
      version: r.version,
      cluster_type: r.clusterType,
      meta_backend: r.metaBackend,
      os_name: r.osName,
      object_store: r.objectStore,
      connectors: r.connectors,
      memory_total: r.memoryTotal,
      node_meta: r.nodeMeta,
      node_compute: r.nodeCompute,
      node_frontend: r.nodeFrontend,
      node_compactor: r.nodeCompactor,
      stream_job_count: r.streamJobCount,
      license_tier: r.licenseTier,
      connector_usage: r.connectorUsage,
      connector_uses: JSON.stringify(connectorUseCounts(r.connectorUsage)),
    }));
}

/** Newer facts of the same day win; an older (backdated) report never overwrites them. */
export const DAY_FACTS_CONFLICT = `(day, tracking_id) do update set facts_at = excluded.facts_at,
  version = excluded.version, cluster_type = excluded.cluster_type, meta_backend = excluded.meta_backend,
  os_name = excluded.os_name, object_store = excluded.object_store, connectors = excluded.connectors,
  memory_total = excluded.memory_total, node_meta = excluded.node_meta, node_compute = excluded.node_compute,
  node_frontend = excluded.node_frontend, node_compactor = excluded.node_compactor,
  stream_job_count = excluded.stream_job_count, license_tier = excluded.license_tier,
  connector_usage = excluded.connector_usage, connector_uses = excluded.connector_uses
  where excluded.facts_at >= cluster_day_facts.facts_at`;

/**
 * The day_versions rollup after a write: the clusters the batch touched get their carried-forward
 * version recomputed from the batch's earliest day on (in live ingest that is today's row only; a
 * backdated import recomputes more, which is still right), then the counts of every day whose rows
 * were updated are recomputed from cluster_days (idempotent: retries and dedup cannot count twice).
 * Returns the statements' parameters: the first day and the tracking ids, in chunks.
 */
export function versionRefreshes(
  rows: readonly { day: string; tracking_id: string }[],
): { fromDay: string; trackingIds: string[] }[] {
  if (rows.length === 0) return [];
  let fromDay = rows[0]!.day;
  for (const r of rows) if (r.day < fromDay) fromDay = r.day;
  const ids = [...new Set(rows.map((r) => r.tracking_id))].sort();
  // A repeated id in `tracking_id in (…)` changes nothing.
  return paddedChunks(ids).map((trackingIds) => ({ fromDay, trackingIds }));
}

/** A cluster-day's version: the cluster's latest meta facts up to that day. */
const CARRIED_VERSION = `select f.version from cluster_day_facts f
      where f.tracking_id = cluster_days.tracking_id and f.day <= cluster_days.day
      order by f.day desc limit 1`;

/** next_day of a cluster's newest facts row: after every real day, so `next_day > to` holds. */
export const NO_NEXT_DAY = '9999-12-31';

/** A facts row's next_day: the cluster's next facts day after it. */
const NEXT_FACTS_DAY = `coalesce((select min(g.day) from cluster_day_facts g
      where g.tracking_id = cluster_day_facts.tracking_id and g.day > cluster_day_facts.day), '${NO_NEXT_DAY}')`;

/**
 * Parameters of ROLLUP_SQL.linkFacts for a batch's facts rows: (tracking_id, day) pairs, in
 * chunks. The clusters upsert runs first: its row lock serializes two transactions writing the
 * same cluster, so the second one links its days to the first one's (PostgreSQL, read committed).
 */
export function factsLinks(rows: readonly { day: string; tracking_id: string }[]): string[][] {
  // A repeated pair links the same row again: the update is idempotent.
  return paddedChunks([...rows]).map((chunk) => chunk.flatMap((r) => [r.tracking_id, r.day]));
}

/** Rollup statements with `?` parameters, the same on every dialect (see versionRefreshes). */
export const ROLLUP_SQL = {
  /** Parameters: first day, then `ids` tracking ids. Returns the days it updated. */
  // Only rows whose version really changes are written and returned: in steady ingest (same
  // clusters, same versions) no day needs a recount, and each commit stays cheap.
  carryVersions: (ids: number) => `update cluster_days set version = (${CARRIED_VERSION})
    where day >= ? and tracking_id in (${new Array(ids).fill('?').join(', ')})
      and version is distinct from (${CARRIED_VERSION}) returning day`,
  /**
   * Parameters: `pairs` (tracking_id, day) of facts rows just written. Sets next_day on those rows
   * and on the row before each (a new day in between changes its next day). Idempotent, and writes
   * only rows whose next_day changes: a second meta report of the same day writes nothing.
   */
  linkFacts: (
    pairs: number,
  ) => `with v(tracking_id, day) as (values ${new Array(pairs).fill('(?, ?)').join(', ')}),
    touched(tracking_id, day) as (
      select tracking_id, day from v
      union select v.tracking_id, (select max(p.day) from cluster_day_facts p
        where p.tracking_id = v.tracking_id and p.day < v.day) from v)
    update cluster_day_facts set next_day = ${NEXT_FACTS_DAY}
    where (tracking_id, day) in (select tracking_id, day from touched)
      and next_day <> ${NEXT_FACTS_DAY}`,
  /** Parameter: day. */
  clearDay: () => 'delete from day_versions where day = ?',
  /** Parameter: day. */
  countDay: () => `insert into day_versions (day, version, ci, clusters)
    select day, version, ci, count(*) from cluster_days where day = ? group by day, version, ci`,
} as const;

/** A statement with `?` parameters, for the Kysely path and the SQLite writer alike. */
export interface Statement {
  text: string;
  parameters: (string | number | null)[];
}

/**
 * What a batch's new rollup rows change besides metric_rollup (sql/metric-fleet.ts): per (metric,
 * day), metric_fleet_days (a day writers do not normally write, writerMarksDay, is marked stale;
 * any other only gets its row if it has none yet); per (metric, cluster, series without labels),
 * the span of days in metric_spans. In key order, so that concurrent PostgreSQL writers take row
 * locks in one order.
 */
export function fleetStatements(
  rows: readonly Pick<
    RollupColumns,
    'name' | 'day' | 'tracking_id' | 'kind' | 'ci' | 'version' | 'cluster_type' | 'node_type'
  >[],
  now: number,
): Statement[] {
  const days = new Map<string, [string, string]>();
  const spans = new Map<
    string,
    { row: (typeof rows)[number]; series: string; first: string; last: string }
  >();
  for (const r of rows) {
    days.set(`${r.name}\0${r.day}`, [r.name, r.day]);
    const series = spanSeries(r);
    const key = `${r.name}\0${r.tracking_id}\0${series}`;
    const span = spans.get(key);
    if (!span) spans.set(key, { row: r, series, first: r.day, last: r.day });
    else {
      if (r.day < span.first) span.first = r.day;
      if (r.day > span.last) span.last = r.day;
    }
  }
  const byKey = <T>(entries: Map<string, T>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    ...byKey(days).map(([, parameters]) => ({
      text: writerMarksDay(parameters[1], now) ? MARK_STALE : MARK_SEEN,
      parameters,
    })),
    ...byKey(spans).map(([, { row: r, series, first, last }]) => ({
      text: SPAN_UPSERT,
      parameters: [
        r.name,
        r.tracking_id,
        series,
        r.kind,
        r.ci,
        r.version,
        r.cluster_type,
        r.node_type,
        first,
        last,
      ],
    })),
  ];
}

/** A span's series: the rollup row's series without its labels (a cluster counts once per value). */
export function spanSeries(
  r: Pick<RollupColumns, 'kind' | 'ci' | 'version' | 'cluster_type' | 'node_type'>,
): string {
  return JSON.stringify([r.kind, Number(r.ci), r.version, r.cluster_type, r.node_type]);
}

const MARK_STALE =
  'insert into metric_fleet_days (name, day, fresh) values (?, ?, 0) on conflict (name, day) do update set fresh = 0';
const MARK_SEEN =
  'insert into metric_fleet_days (name, day, fresh) values (?, ?, 0) on conflict (name, day) do nothing';
const SPAN_UPSERT = `insert into metric_spans (name, tracking_id, series, kind, ci, version, cluster_type, node_type,
    first_day, last_day) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  on conflict (name, tracking_id, series) do update set
    first_day = case when excluded.first_day < metric_spans.first_day then excluded.first_day else metric_spans.first_day end,
    last_day = case when excluded.last_day > metric_spans.last_day then excluded.last_day else metric_spans.last_day end`;
