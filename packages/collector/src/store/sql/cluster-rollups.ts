// The per-cluster rollups every SQL write keeps (clusters, cluster_days, cluster_day_facts,
// day_versions): their rows from a batch and their statements, for the write steps both SQL
// stores run (write-steps.ts) and for the backfills and retention that recompute them.

import { compareCodeUnits } from '../../text-order.js';
import { utcDay } from '../../utc-day.js';
import { connectorUseCounts } from '../connector-uses.js';
import type { ReportRow } from '../store.js';
import { paddedChunks } from './statement-chunks.js';

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
    .sort(([a], [b]) => compareCodeUnits(a, b))
    .map(([trackingId, range]) => ({
      tracking_id: trackingId,
      first_seen: range.first,
      last_seen: range.last,
    }));
}

/** Rollup rows (day, cluster, all-CI) for the reports a batch inserted. */
export function clusterDayRows(
  inserted: readonly { tracking_id: string; received_at: number; ci: number }[],
) {
  const days = new Map<string, { day: string; tracking_id: string; ci: number }>();
  for (const row of inserted) {
    const day = utcDay(Number(row.received_at));
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
 * The carried versions after a write: the clusters the batch touched get their carried-forward
 * version recomputed from the batch's earliest day on (in live ingest that is today's row only; a
 * backdated import recomputes more, which is still right). Returns the statements' parameters:
 * the first day and the tracking ids, in chunks.
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
 * Parameters of ROLLUP_SQL.linkFacts and ROLLUP_SQL.clusterDays for a batch's rows: (tracking_id,
 * day) pairs, in padded chunks (a repeated pair changes neither: the link is idempotent, the read
 * matches the same row). For linkFacts the clusters upsert runs first: its row lock serializes two
 * transactions writing the same cluster, so the second one links its days to the first one's
 * (PostgreSQL, read committed).
 */
export function clusterDayPairs(rows: readonly { day: string; tracking_id: string }[]): string[][] {
  return paddedChunks([...rows]).map((chunk) => chunk.flatMap((r) => [r.tracking_id, r.day]));
}

/** Rollup statements with `?` parameters, the same on every dialect (see versionRefreshes). */
export const ROLLUP_SQL = {
  /** Parameters: first day, then `ids` tracking ids. */
  // Only rows whose version really changes are written (versionChanges reads them first): in
  // steady ingest (same clusters, same versions) nothing is, and each commit stays cheap.
  carryVersions: (ids: number) => `update cluster_days set version = (${CARRIED_VERSION})
    where day >= ? and tracking_id in (${new Array(ids).fill('?').join(', ')})
      and version is distinct from (${CARRIED_VERSION})`,
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
  /** Parameters: first day, then `ids` tracking ids. The rows carryVersions would change. */
  versionChanges: (ids: number) => `select day, tracking_id, version, ci, (${CARRIED_VERSION}) as carried
    from cluster_days where day >= ? and tracking_id in (${new Array(ids).fill('?').join(', ')})
      and version is distinct from (${CARRIED_VERSION})`,
  /** Parameters: `pairs` (tracking_id, day). Those cluster_days rows that exist. */
  clusterDays: (pairs: number) => `select day, tracking_id, version, ci from cluster_days
    where (tracking_id, day) in (values ${new Array(pairs).fill('(?, ?)').join(', ')})`,
  /** Parameter: day. Its day_versions rows, deleted and returned, to be written back folded. */
  takeDay: () => 'delete from day_versions where day = ? returning version, ci, clusters',
  /** Parameter: day. */
  clearDay: () => 'delete from day_versions where day = ?',
  /** Parameter: day. */
  countDay: () => `insert into day_versions (day, version, ci, clusters)
    select day, version, ci, count(*) from cluster_days where day = ? group by day, version, ci`,
} as const;

/** A cluster_days row as the write steps read it (ci is 0 or 1). */
export interface ClusterDayState {
  day: string;
  tracking_id: string;
  version: string | null;
  ci: number;
}

/** A day_versions row of one day (PostgreSQL reads the bigint count as text). */
export interface DayVersionRow {
  version: string | null;
  ci: number;
  clusters: number | string;
}

/**
 * How a write changes day_versions: per (day, version, ci), clusters added minus removed. Each
 * changed cluster_days row moves one cluster from its old group to its new one.
 */
export class DayVersionDeltas {
  private readonly byDay = new Map<string, Map<string, { version: string | null; ci: number; n: number }>>();

  add(day: string, version: string | null, ci: number, n: number): void {
    let groups = this.byDay.get(day);
    if (!groups) {
      groups = new Map();
      this.byDay.set(day, groups);
    }
    const key = `${version === null ? '\u0001' : `v${version}`}\0${ci}`;
    const group = groups.get(key);
    if (group) group.n += n;
    else groups.set(key, { version, ci, n });
  }

  move(
    day: string,
    from: { version: string | null; ci: number },
    to: { version: string | null; ci: number },
  ): void {
    this.add(day, from.version, from.ci, -1);
    this.add(day, to.version, to.ci, 1);
  }

  /** Days with a change, in order (PostgreSQL locks them in this order). */
  days(): string[] {
    return [...this.byDay]
      .filter(([, groups]) => [...groups.values()].some((g) => g.n !== 0))
      .map(([day]) => day)
      .sort();
  }

  /**
   * The day's rows to write back: what was stored (several rows of one group are summed, as the
   * reads do) plus this write's changes, without groups that come to zero.
   */
  foldInto(day: string, stored: readonly DayVersionRow[]) {
    const folded = new DayVersionDeltas();
    for (const r of stored) folded.add(day, r.version, Number(r.ci), Number(r.clusters));
    for (const g of this.byDay.get(day)?.values() ?? []) folded.add(day, g.version, g.ci, g.n);
    return [...(folded.byDay.get(day)?.values() ?? [])]
      .filter((g) => g.n !== 0)
      .map((g) => ({ day, version: g.version, ci: g.ci, clusters: g.n }));
  }
}
