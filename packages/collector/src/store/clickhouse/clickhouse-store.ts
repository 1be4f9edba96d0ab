// The Store on ClickHouse (18.16 and later) through @clickhouse/client over HTTP: for fleets that
// outgrow one PostgreSQL. What ClickHouse does not give, and what stands in for it here:
// - No transactions: a batch is checked whole before its first insert (schema.ts checkRows), and
//   children go in before their parents, so a batch cut short by a crash is completed by the retry
//   without duplicates (the parent's key is what marks a report stored).
// - No unique keys: keys already stored are looked up before inserting (the counts a write
//   answers), and two collectors racing with the same report are made one by ReplacingMergeTree
//   at its next merge. Until then reads dedup themselves, without FINAL (which merges every part of
//   the range at read time, on one thread in 18.16): fleet answers come from rollups that a second
//   copy cannot change (min, max, latest; schema.ts ROLLUPS), counts are uniqExact of the retry
//   key, and event lists keep one copy per key.
// - No server-side parameters on 18.16: values go through the one escaping function (sql.ts).
// - Deletes are asynchronous mutations: an erase waits until system.mutations says they are done.
// This file holds the reads, tokens and settings; each other job has its own file:
// clickhouse-connection.ts (the client), clickhouse-migrate.ts, clickhouse-write.ts,
// clickhouse-erase.ts and clickhouse-retention.ts.
import type { ClickHouseClient } from '@clickhouse/client';
import { DAY_MS } from '../../utc-day.js';
import {
  clusterFacts,
  clusterListItem,
  clusterSession,
  clusterSummary,
  type EventColumns,
  type FactsColumns,
  factsBreakdown,
  knownSeriesOf,
  type MetaFacts,
  metricPoint,
  type PointColumns,
  rankEventCounts,
  type SessionColumns,
  sortSessions,
  storedAgentEvent,
  storedEvent,
  type TokenColumns,
  tokenColumns,
  tokenRecord,
  versionCountsOf,
} from '../answers.js';
import { eventConnectorNames } from '../connector-uses.js';
import { type CellGrouping, foldCells, type MetricFleetAnswer, newestKind } from '../metric-cells.js';
import { metricRollup, type RollupColumns } from '../metric-rollup.js';
import type { ClusterListItem as ClusterListRow } from '../sql/schema.js';
import type {
  AgentEventQuery,
  AuditEntry,
  BlockedCluster,
  BreakdownDimension,
  ClusterFacts,
  ClusterHistoryQuery,
  ClusterListFilter,
  ClusterListItem,
  ClusterListQuery,
  ClusterSession,
  ClusterSpan,
  ClusterSummary,
  DayRangeQuery,
  EraseResult,
  EventCountQuery,
  EventGrouping,
  EventQuery,
  KnownSeries,
  LeftOut,
  MetricName,
  MetricPoint,
  MetricPointQuery,
  MetricRollup,
  MigrationProgress,
  RetentionResult,
  Store,
  StoredAgentEvent,
  StoredAuditEntry,
  StoredEvent,
  TokenRecord,
  WriteBatch,
  WriteResult,
} from '../store.js';
import { ClickHouseConnection, type ClickHouseOptions, parseClickHouseUrl } from './clickhouse-connection.js';
import { countOf, eraseCluster } from './clickhouse-erase.js';
import { migrateClickHouse } from './clickhouse-migrate.js';
import { deleteBefore } from './clickhouse-retention.js';
import { ClickHouseWriter } from './clickhouse-write.js';
import type { TableName } from './schema.js';
import { and, ident, join, type Sql, sql } from './sql.js';

export { type ClickHouseOptions, parseClickHouseUrl } from './clickhouse-connection.js';

type Row = Record<string, unknown>;

const EVENT_GROUP_COLUMNS = {
  day: 'toString(received_day)',
  stage: 'stage',
  name: 'name',
  connector: 'connector_name',
  trackingId: 'tracking_id',
} as const satisfies Record<EventGrouping, string>;

/** A fixed expression of this file (never user text). */
function expression(e: (typeof EVENT_GROUP_COLUMNS)[EventGrouping]): Sql {
  return e === 'toString(received_day)' ? sql`toString(received_day)` : ident(e);
}

/** Rows of a day range, by the raw tables' received_day or the rollups' day. */
function dayRange(
  q: { fromDay: string; toDay: string },
  column: 'received_day' | 'day' = 'received_day',
): Sql {
  return sql`${ident(column)} >= toDate(${q.fromDay}) AND ${ident(column)} <= toDate(${q.toDay})`;
}

export class ClickHouseStore implements Store {
  readonly kind = 'clickhouse' as const;
  private readonly ch: ClickHouseConnection;
  private readonly writer: ClickHouseWriter;

  constructor(options: ClickHouseOptions) {
    this.ch = new ClickHouseConnection(options);
    this.writer = new ClickHouseWriter(this.ch);
  }

  get client(): ClickHouseClient {
    return this.ch.client;
  }

  rows<T = Row>(query: Sql): Promise<T[]> {
    return this.ch.rows<T>(query);
  }

  private insert(table: TableName, values: Row[]): Promise<void> {
    return this.ch.insert(table, values);
  }

  private nextVersion(): number {
    return this.ch.nextVersion();
  }

  migrate(progress?: MigrationProgress): Promise<string[]> {
    return migrateClickHouse(this.ch, progress);
  }

  writeBatch(request: WriteBatch): Promise<WriteResult> {
    return this.writer.write(request);
  }

  legacyEventKeysUntil(): Promise<number | null> {
    return this.writer.legacyEventKeysUntil();
  }

  /** Tracking ids an admin tagged internal. */
  private internalIds(): Sql {
    return sql`(SELECT tracking_id FROM cluster_tags FINAL WHERE internal = 1)`;
  }

  /** Filters of a statistic on raw rows: CI reports and internal clusters unless asked for. */
  private statisticFilters(q: { includeCi: boolean; includeInternal?: boolean | undefined }): Sql[] {
    const filters: Sql[] = [];
    if (!q.includeCi) filters.push(sql`ci = 0`);
    if (!q.includeInternal) filters.push(sql`tracking_id NOT IN ${this.internalIds()}`);
    return filters;
  }

  /**
   * Conditions on cluster_days rows for the (cluster, day)s with a report (RisingWave or agent)
   * that match a statistic's filters: CI days only when asked for (a day is CI only when every
   * report of it was), internal clusters only when asked for. Each row's state is read as it is:
   * a day is active when any of its rows not merged yet says so, and every reader of these rows
   * aggregates with what a repeated (cluster, day) does not change (uniqExact, min, max).
   */
  private activeDays(where: Sql, q: { includeCi: boolean; includeInternal?: boolean | undefined }): Sql {
    const filters = [where, sql`finalizeAggregation(reported) = 1`];
    if (!q.includeCi) filters.push(sql`finalizeAggregation(non_ci) = 1`);
    if (!q.includeInternal) filters.push(sql`tracking_id NOT IN ${this.internalIds()}`);
    return and(filters);
  }

  async getCluster(trackingId: string): Promise<ClusterSummary | null> {
    const mine = sql`tracking_id = ${trackingId}`;
    // Independent reads, sent together; each reads the cluster's key range only.
    const [[seen], [meta], perNode, [latestAgent], events, agentReports] = await Promise.all([
      this.rows<{ first: number; last: number; n: number }>(
        sql`SELECT minMerge(first_at) AS first, maxMerge(last_at) AS last, count() AS n
            FROM cluster_days WHERE ${mine}`,
      ),
      // The latest meta report's facts, from its copy in cluster_latest.
      this.rows<MetaFacts>(
        sql`SELECT * FROM ${this.latestDayFacts(
          mine,
          sql`tracking_id`,
          sql`version, git_sha, cluster_type, meta_backend, node_meta, node_compute, node_frontend,
            node_compactor, stream_job_count, object_store, license_tier, connectors`,
          'cluster_latest',
        )}`,
      ),
      this.rows<{ node_type: string; n: number }>(
        sql`SELECT node_type, uniqExact(dedup_key) AS n FROM reports WHERE ${mine} GROUP BY node_type`,
      ),
      this.rows<{ version: string | null; git_sha: string | null; cluster_type: string | null }>(
        sql`SELECT version, git_sha, cluster_type FROM agent_reports WHERE ${mine}
            ORDER BY received_at DESC, sequence DESC LIMIT 1`,
      ),
      countOf(this.ch, 'events', trackingId),
      countOf(this.ch, 'agent_reports', trackingId),
    ]);
    if (!seen || Number(seen.n) === 0) return null;
    return clusterSummary({
      trackingId,
      firstSeen: Number(seen.first),
      lastSeen: Number(seen.last),
      meta,
      // A meta report's facts win over an agent's (as in every store).
      latestAgent: meta ? undefined : latestAgent,
      perNode,
      events,
      agentReports,
    });
  }

  async activeClusters(query: DayRangeQuery): Promise<{ day: string; clusters: number }[]> {
    const rows = await this.rows<{ day: string; clusters: number }>(
      sql`SELECT toString(active_day) AS day, uniqExact(tracking_id) AS clusters
          FROM (SELECT day AS active_day, tracking_id FROM cluster_days
                WHERE ${this.activeDays(dayRange(query, 'day'), query)})
          GROUP BY active_day ORDER BY active_day`,
    );
    return rows.map((r) => ({ day: r.day, clusters: Number(r.clusters) }));
  }

  async activeClusterCount(query: DayRangeQuery): Promise<number> {
    const [row] = await this.rows<{ n: number }>(
      sql`SELECT uniqExact(tracking_id) AS n FROM cluster_days
          WHERE ${this.activeDays(dayRange(query, 'day'), query)}`,
    );
    return Number(row?.n ?? 0);
  }

  async clusterSpans(query: {
    toDay: string;
    includeCi: boolean;
    includeInternal?: boolean | undefined;
  }): Promise<ClusterSpan[]> {
    const rows = await this.rows<{ tracking_id: string; first: string; last: string }>(
      sql`SELECT tracking_id, toString(min(day)) AS first, toString(max(day)) AS last
          FROM cluster_days WHERE ${this.activeDays(sql`day <= toDate(${query.toDay})`, query)}
          GROUP BY tracking_id`,
    );
    return rows.map((r) => ({ trackingId: r.tracking_id, firstDay: r.first, lastDay: r.last }));
  }

  async leftOut(query: { fromDay: string; toDay: string }): Promise<LeftOut> {
    const [row] = await this.rows<{ ci: number; internal: number }>(
      sql`SELECT countIf(non_ci = 0) AS ci, countIf(tracking_id IN ${this.internalIds()}) AS internal
          FROM (SELECT tracking_id, maxMerge(reported) AS reported, maxMerge(non_ci) AS non_ci
                FROM cluster_days WHERE ${dayRange(query, 'day')} GROUP BY tracking_id)
          WHERE reported = 1`,
    );
    return { ci: Number(row?.ci ?? 0), internal: Number(row?.internal ?? 0) };
  }

  async setInternal(trackingId: string, internal: boolean): Promise<boolean> {
    const [seen] = await this.rows<{ n: number }>(
      sql`SELECT count() AS n FROM cluster_days WHERE tracking_id = ${trackingId}`,
    );
    if (!seen || Number(seen.n) === 0) return false;
    await this.insert('cluster_tags', [
      { tracking_id: trackingId, internal: internal ? 1 : 0, version: this.nextVersion() },
    ]);
    return true;
  }

  /**
   * The latest row of a facts rollup per `by` among those matching `where`: the latest meta
   * report, as ReplacingMergeTree keeps it at merges (rows not merged yet are picked from here).
   * The winners are found on the narrow key columns first; only their rows are read whole
   * (PREWHERE). `then` filters the winners.
   */
  private latestDayFacts(
    where: Sql,
    by: Sql,
    columns: Sql = ClickHouseStore.FACTS,
    table: 'cluster_day_facts' | 'cluster_latest' = 'cluster_day_facts',
    then: Sql = sql`1`,
  ): Sql {
    return sql`(SELECT tracking_id, day AS fact_day, ${columns} FROM ${ident(table)}
      PREWHERE dedup_key IN (SELECT argMax(dedup_key, (facts_at, dedup_key)) FROM ${ident(table)}
        WHERE ${where} GROUP BY ${by})
      WHERE ${where} AND ${then} ORDER BY facts_at DESC, dedup_key DESC LIMIT 1 BY ${by})`;
  }

  async versionCounts(
    query: DayRangeQuery,
  ): Promise<{ day: string; version: string | null; clusters: number }[]> {
    // A cluster's day carries the version of its latest facts by then. Per cluster, one array of
    // its rollup rows up to the last day (facts rows and active-day rows, copies not merged yet
    // included), sorted by day with a day's facts rows (oldest first) before its active rows (one
    // number per row says where: day, kind, receive time; two meta reports of a cluster received
    // in the same millisecond keep no order, as on any store that did not see them in turn); a
    // running count of facts rows numbers groups that each start at one facts row, and the active
    // days of a group carry its version. One grouping by cluster (text) and one by numbers; no
    // window functions or ASOF JOIN in 18.16, and no lambda here captures an array (that copies
    // it per element). Versions travel as text and a null flag: 18.16 mixes up Nullable values
    // inside arrays.
    // Days before the range count only through the latest facts before it (one row per cluster).
    const clusters = query.includeInternal ? sql`1` : sql`tracking_id NOT IN ${this.internalIds()}`;
    const key = sql`(facts_at, dedup_key)`;
    const rows = await this.rows<{ day: string; version: string | null; clusters: number }>(
      sql`SELECT toString(active_day) AS day,
            if(grp = 0 OR grp_no_version = 1, NULL, grp_version) AS version, count() AS clusters
          FROM (
            SELECT cluster, grp, maxIf(v, f = 1) AS grp_version, maxIf(nv, f = 1) AS grp_no_version,
              groupUniqArrayIf(d, f = 0) AS active_days
            FROM (
              SELECT rowNumberInAllBlocks() AS cluster,
                arraySort((x, position) -> position, marks, positions) AS sorted,
                arrayMap(x -> tupleElement(x, 1), sorted) AS ds,
                arrayMap(x -> tupleElement(x, 2), sorted) AS fs,
                arrayMap(x -> tupleElement(x, 3), sorted) AS vs,
                arrayMap(x -> tupleElement(x, 4), sorted) AS nvs,
                arrayCumSum(arrayMap(x -> toUInt32(x), fs)) AS groups
              FROM (
                SELECT tracking_id, groupArray((day, f, v, nv)) AS marks,
                  groupArray((toInt64(toUInt16(day)) * 2 + 1 - f) * 4398046511104 + at) AS positions
                FROM (
                  SELECT tracking_id, day, toUInt8(0) AS f, '' AS v, toUInt8(0) AS nv, toInt64(0) AS at
                  FROM cluster_days WHERE ${this.activeDays(dayRange(query, 'day'), query)}
                  UNION ALL
                  SELECT tracking_id, day, toUInt8(1) AS f, ifNull(version, '') AS v,
                    toUInt8(isNull(version)) AS nv, facts_at AS at
                  FROM cluster_day_facts WHERE ${clusters} AND ${dayRange(query, 'day')}
                  UNION ALL
                  SELECT tracking_id, last_day AS day, toUInt8(1) AS f, last_v AS v, last_nv AS nv,
                    last_at AS at
                  FROM (SELECT tracking_id, argMax(day, ${key}) AS last_day,
                          argMax(ifNull(version, ''), ${key}) AS last_v,
                          argMax(toUInt8(isNull(version)), ${key}) AS last_nv, max(facts_at) AS last_at
                        FROM cluster_day_facts WHERE ${clusters} AND day < toDate(${query.fromDay})
                        GROUP BY tracking_id))
                GROUP BY tracking_id))
            ARRAY JOIN ds AS d, fs AS f, vs AS v, nvs AS nv, groups AS grp
            GROUP BY cluster, grp)
          ARRAY JOIN active_days AS active_day
          GROUP BY active_day, grp = 0 OR grp_no_version = 1, grp_version`,
    );
    return versionCountsOf(rows.map((r) => ({ ...r, clusters: Number(r.clusters) })));
  }

  /** The facts columns of the SQL stores' cluster_day_facts. */
  private static readonly FACTS = sql`facts_at, version, cluster_type, meta_backend,
    os_name, object_store, connectors, memory_total, node_meta, node_compute, node_frontend, node_compactor,
    stream_job_count, license_tier, connector_usage`;

  async latestFacts(query: DayRangeQuery): Promise<ClusterFacts[]> {
    const clusters = query.includeInternal ? sql`1` : sql`tracking_id NOT IN ${this.internalIds()}`;
    // A cluster's latest facts of all time are its latest in the range when they fall in it (the
    // usual range ends today); only clusters with facts after the range read their days.
    const later = sql`tracking_id IN (SELECT tracking_id FROM cluster_latest
      GROUP BY tracking_id HAVING max(day) > toDate(${query.toDay}))`;
    const rows = await this.rows<FactsColumns>(
      sql`SELECT *, toString(fact_day) AS day FROM (
            SELECT * FROM ${this.latestDayFacts(
              clusters,
              sql`tracking_id`,
              ClickHouseStore.FACTS,
              'cluster_latest',
              dayRange(query, 'day'),
            )}
            UNION ALL
            SELECT * FROM ${this.latestDayFacts(and([clusters, later, dayRange(query, 'day')]), sql`tracking_id`)})
          ORDER BY tracking_id`,
    );
    return rows.map(clusterFacts);
  }

  async clusterHistory(
    query: ClusterHistoryQuery,
  ): Promise<{ days: ClusterFacts[]; sessions: ClusterSession[] }> {
    const from = Date.parse(query.fromDay);
    const to = Date.parse(query.toDay) + DAY_MS;
    const sessionsOf = async (table: 'reports' | 'agent_reports', source: ClusterSession['source']) => {
      const key = ident(table === 'reports' ? 'dedup_key' : 'report_id');
      const rows = await this.rows<SessionColumns>(
        sql`SELECT session_id, node_type, min(received_at) AS first, max(received_at) AS last,
              uniqExact(${key}) AS reports, max(memory_total) AS memory, max(cpu_available) AS cpus
            FROM ${ident(table)}
            WHERE tracking_id = ${query.trackingId} AND received_at >= ${from} AND received_at < ${to}
            GROUP BY session_id, node_type`,
      );
      return rows.map((r) => clusterSession(r, source));
    };
    // Independent reads, sent together.
    const [days, risingwave, agent] = await Promise.all([
      this.rows<FactsColumns>(
        sql`SELECT *, toString(fact_day) AS day FROM ${this.latestDayFacts(
          sql`tracking_id = ${query.trackingId} AND ${dayRange(query, 'day')}`,
          sql`day`,
        )} ORDER BY fact_day`,
      ),
      sessionsOf('reports', 'risingwave'),
      sessionsOf('agent_reports', 'agent'),
    ]);
    return { days: days.map(clusterFacts), sessions: sortSessions([...risingwave, ...agent]) };
  }

  async metricNames(): Promise<MetricName[]> {
    const rows = await this.rows<MetricName>(
      sql`SELECT name, kind, unit, clusters FROM
            (SELECT name, uniqExact(tracking_id) AS clusters FROM metric_series FINAL GROUP BY name)
          ANY INNER JOIN
            (SELECT name, kind, unit FROM metric_points FINAL
             ORDER BY received_at DESC, report_id DESC LIMIT 1 BY name)
          USING name ORDER BY name`,
    );
    return rows.map((r) => ({ ...r, clusters: Number(r.clusters) }));
  }

  /**
   * The clusters a list asks for, one row each with its latest facts (listClusters and
   * countClusters); `more` adds conditions (a page's cursor).
   */
  private clustersMatching(query: ClusterListFilter, more: Sql[] = []): Sql {
    const filters: Sql[] = [...more];
    const search: Sql[] = [];
    if (query.search) {
      // A plain substring (no pattern language): tracking ids are ASCII, lower() is ASCII too.
      search.push(sql`position(lower(tracking_id), ${query.search.toLowerCase()}) > 0`);
    }
    if (query.version !== undefined) filters.push(sql`version = ${query.version}`);
    if (query.clusterType !== undefined) filters.push(sql`cluster_type = ${query.clusterType}`);
    if (query.seenFromDay !== undefined) filters.push(sql`last_seen >= ${Date.parse(query.seenFromDay)}`);
    return sql`(SELECT tracking_id, first_seen, last_seen, version, git_sha, cluster_type, meta_backend
          FROM (SELECT tracking_id, minMerge(first_at) AS first_seen, maxMerge(last_at) AS last_seen
                FROM cluster_days WHERE ${and(search)} GROUP BY tracking_id)
          ANY LEFT JOIN ${this.latestDayFacts(
            and(search),
            sql`tracking_id`,
            sql`version, git_sha, cluster_type, meta_backend`,
            'cluster_latest',
          )}
          USING tracking_id
          WHERE ${and(filters)})`;
  }

  async countClusters(query: ClusterListFilter): Promise<number> {
    const rows = await this.rows<{ n: number }>(
      sql`SELECT count() AS n FROM ${this.clustersMatching(query)}`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  async listClusters(query: ClusterListQuery): Promise<ClusterListItem[]> {
    const before = query.before;
    const cursor = before
      ? [
          sql`(last_seen < ${before.lastSeen} OR (last_seen = ${before.lastSeen} AND tracking_id < ${before.trackingId}))`,
        ]
      : [];
    const rows = await this.rows<ClusterListRow>(
      sql`SELECT tracking_id, first_seen, last_seen, version, git_sha, cluster_type, meta_backend,
            tracking_id IN ${this.internalIds()} AS internal
          FROM ${this.clustersMatching(query, cursor)}
          ORDER BY last_seen DESC, tracking_id DESC LIMIT ${query.limit}`,
    );
    return rows.map(clusterListItem);
  }

  async breakdown(
    by: BreakdownDimension,
    query: DayRangeQuery,
  ): Promise<{ value: string | null; clusters: number }[]> {
    // RisingWave facts (never CI): each cluster's latest meta facts in the range, as in every store.
    return factsBreakdown(by, await this.latestFacts(query));
  }

  /** Filters shared by the event routes. */
  private eventFilters(query: {
    fromDay: string;
    toDay: string;
    stage?: string | null | undefined;
    name?: string | undefined;
  }): Sql[] {
    const filters = [dayRange(query)];
    if (query.stage === null) filters.push(sql`stage IS NULL`);
    else if (query.stage !== undefined) filters.push(sql`stage = ${query.stage}`);
    if (query.name !== undefined) filters.push(sql`name = ${query.name}`);
    return filters;
  }

  async eventCounts(
    query: EventCountQuery,
  ): Promise<{ value: string | null; events: number; clusters: number }[]> {
    const filters = this.eventFilters(query);
    if (!query.includeInternal) filters.push(sql`tracking_id NOT IN ${this.internalIds()}`);
    // One row per retry key (its first copy) before counting: two copies not merged yet are one event.
    const rows = await this.rows<{ value: string | null; events: number; clusters: number }>(
      sql`SELECT value, count() AS events, uniqExact(cluster) AS clusters
          FROM (SELECT argMin(${expression(EVENT_GROUP_COLUMNS[query.by])}, received_at) AS value,
                  any(tracking_id) AS cluster
                FROM events WHERE ${and(filters)} GROUP BY dedup_key)
          GROUP BY value`,
    );
    return rankEventCounts(query, rows);
  }

  async events(query: EventQuery): Promise<StoredEvent[]> {
    const filters = this.eventFilters(query);
    if (query.trackingId !== undefined) filters.push(sql`tracking_id = ${query.trackingId}`);
    if (query.connector !== undefined) {
      filters.push(
        sql`connector_name IN (${join(eventConnectorNames(query.connector).map((n) => sql`${n}`))})`,
      );
    }
    const before = query.before;
    const after = before
      ? sql`at < ${before.receivedAt} OR (at = ${before.receivedAt} AND first_id < ${before.id})`
      : sql`1`;
    // Each event's first copy by (received_at, id) (a retry stored twice before a merge is listed
    // once, at one place of the page order; each copy has its own id); the page cursor applies
    // after that choice, so pages never repeat an event. The page is chosen on narrow columns;
    // only its rows are then read whole (PREWHERE).
    const page = sql`SELECT dedup_key FROM (
        SELECT dedup_key, min(received_at) AS at, argMin(id, (received_at, id)) AS first_id FROM events
        WHERE ${and(filters)} GROUP BY dedup_key)
      WHERE ${after} ORDER BY at DESC, first_id DESC LIMIT ${query.limit}`;
    const rows = await this.rows<EventColumns>(
      sql`SELECT * FROM (
            SELECT dedup_key, id, tracking_id, received_at, event_time_sec, stage, name, connector_name,
              catalog_id, attributes, node, object
            FROM events PREWHERE dedup_key IN (${page}) WHERE ${and(filters)}
            ORDER BY received_at, id LIMIT 1 BY dedup_key)
          ORDER BY received_at DESC, id DESC`,
    );
    return rows.map(storedEvent);
  }

  async knownSeries(trackingId: string): Promise<KnownSeries> {
    const rows = await this.rows<{ name: string; labels: string }>(
      sql`SELECT DISTINCT name, labels FROM metric_series WHERE tracking_id = ${trackingId}`,
    );
    return knownSeriesOf(rows);
  }

  async metricPoints(query: MetricPointQuery): Promise<MetricPoint[]> {
    const rows = await this.rows<PointColumns>(
      sql`SELECT report_id, tracking_id, received_at, node_type, version, cluster_type, kind, value, histogram
          FROM metric_points FINAL
          WHERE name = ${query.name} AND ${and([dayRange(query), ...this.statisticFilters(query)])}
          ORDER BY received_at, report_id, labels`,
    );
    return rows.map(metricPoint);
  }

  async *metricRollupPages(query: MetricPointQuery): AsyncGenerator<MetricRollup[]> {
    // One page: FINAL merges the whole range in one pass, so keyset pages would each read it again.
    const rows = await this.rows<RollupColumns>(
      sql`SELECT toString(received_day) AS day, tracking_id, node_type, version, cluster_type, ci, kind, labels,
            points, total, min_value, max_value, last_at, last_report, last_value, histogram
          FROM metric_rollup FINAL
          WHERE name = ${query.name} AND ${and([dayRange(query), ...this.statisticFilters(query)])}
          ORDER BY received_day, tracking_id, group_key`,
    );
    yield rows.map(metricRollup);
  }

  async metricFleet(query: MetricPointQuery, by: CellGrouping): Promise<MetricFleetAnswer> {
    // No stored cells here: every question folds them from the per-cluster rows (one read), as
    // the SQL stores fold their recent days, so that the answers match theirs bit for bit.
    const everything = { ...query, includeCi: true, includeInternal: true };
    const rows: MetricRollup[] = [];
    for await (const page of this.metricRollupPages(everything)) rows.push(...page);
    const internal = await this.rows<{ tracking_id: string }>(
      sql`SELECT tracking_id FROM ${this.internalIds()}`,
    );
    const cells = foldCells(rows, new Set(internal.map((r) => r.tracking_id)), by).filter(
      (c) => (query.includeCi || !c.ci) && (query.includeInternal || !c.internal),
    );
    const kind = newestKind(cells);
    if (kind === null || kind === 'gauge') return { cells, kind, clusters: [] };
    const column =
      by === 'version'
        ? sql`version`
        : by === 'clusterType'
          ? sql`cluster_type`
          : by === 'nodeType'
            ? sql`node_type`
            : sql`'all'`;
    const clusters = await this.rows<{ value: string | null; clusters: number | string }>(
      sql`SELECT ${column} AS value, uniqExact(tracking_id) AS clusters
          FROM metric_rollup
          WHERE name = ${query.name} AND kind = ${kind} AND ${and([dayRange(query), ...this.statisticFilters(query)])}
          GROUP BY value`,
    );
    return { cells, kind, clusters: clusters.map((r) => ({ value: r.value, clusters: Number(r.clusters) })) };
  }

  async agentEvents(query: AgentEventQuery): Promise<StoredAgentEvent[]> {
    const filters = [dayRange(query)];
    if (query.trackingId !== undefined) filters.push(sql`tracking_id = ${query.trackingId}`);
    if (query.name !== undefined) filters.push(sql`name = ${query.name}`);
    const b = query.before;
    if (b) {
      filters.push(
        sql`(received_at < ${b.receivedAt} OR (received_at = ${b.receivedAt} AND (report_id < ${b.reportId}
          OR (report_id = ${b.reportId} AND seq < ${b.seq}))))`,
      );
    }
    const rows = await this.rows<Parameters<typeof storedAgentEvent>[0]>(
      sql`SELECT tracking_id, report_id, seq, received_at, name, time_ms, fields
          FROM agent_events FINAL WHERE ${and(filters)}
          ORDER BY received_at DESC, report_id DESC, seq DESC LIMIT ${query.limit}`,
    );
    return rows.map(storedAgentEvent);
  }

  eraseCluster(trackingId: string, at: number = Date.now()): Promise<EraseResult> {
    return eraseCluster(this.ch, trackingId, at);
  }

  async unblockCluster(trackingId: string): Promise<boolean> {
    const [row] = await this.rows(
      sql`SELECT 1 FROM blocked_clusters FINAL WHERE tracking_id = ${trackingId} AND blocked = 1`,
    );
    if (!row) return false;
    await this.insert('blocked_clusters', [
      { tracking_id: trackingId, blocked: 0, blocked_at: 0, version: this.nextVersion() },
    ]);
    return true;
  }

  async blockedClusters(): Promise<BlockedCluster[]> {
    const rows = await this.rows<{ tracking_id: string; blocked_at: number }>(
      sql`SELECT tracking_id, blocked_at FROM blocked_clusters FINAL WHERE blocked = 1
          ORDER BY blocked_at DESC, tracking_id`,
    );
    return rows.map((r) => ({ trackingId: r.tracking_id, blockedAt: Number(r.blocked_at) }));
  }

  deleteBefore(fromDay: string): Promise<RetentionResult> {
    return deleteBefore(this.ch, fromDay);
  }

  ensureSetting(key: string, value: string): Promise<string> {
    return this.ch.ensureSetting(key, value);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.insert('audit_log', [{ id: this.nextVersion(), ...entry }]);
  }

  async auditLog(query: { limit: number; before?: number | undefined }): Promise<StoredAuditEntry[]> {
    const rows = await this.rows<StoredAuditEntry>(
      sql`SELECT id, at, actor, action, target, details FROM audit_log
          WHERE ${query.before === undefined ? sql`1` : sql`id < ${query.before}`}
          ORDER BY id DESC LIMIT ${query.limit}`,
    );
    return rows.map((r) => ({ ...r, id: Number(r.id), at: Number(r.at) }));
  }

  private async tokens(where: Sql): Promise<(TokenColumns & { version: number })[]> {
    return this.rows(
      sql`SELECT id, hash, role, label, created_at, expires_at, revoked_at, version
          FROM tokens FINAL WHERE ${where} ORDER BY created_at, id`,
    );
  }

  private async writeToken(columns: TokenColumns): Promise<void> {
    await this.insert('tokens', [{ ...columns, version: this.nextVersion() }]);
  }

  async createFirstAdminToken(token: TokenRecord): Promise<boolean> {
    const admins = await this.tokens(sql`role = 'admin'`);
    if (admins.some((t) => t.revoked_at === null)) return false;
    // Of the collectors that start together, the one that wins the claim creates the token. The
    // claim is numbered by the admin tokens ever made, so a start after all were revoked claims anew.
    if (!(await this.ch.claim(`first_admin_claim_${admins.length}`))) return false;
    await this.writeToken(tokenColumns(token));
    return true;
  }

  async putToken(token: TokenRecord): Promise<void> {
    const [known] = await this.tokens(sql`hash = ${token.hash}`);
    await this.writeToken(
      known
        ? { ...known, role: token.role, revoked_at: null, expires_at: token.expiresAt }
        : tokenColumns(token),
    );
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const [row] = await this.tokens(sql`hash = ${hash}`);
    return row ? tokenRecord(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.tokens(sql`1`)).map(tokenRecord);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const [active] = await this.tokens(sql`id = ${id} AND revoked_at IS NULL`);
    if (!active) return false;
    await this.writeToken({ ...active, revoked_at: at });
    return true;
  }

  async ping(): Promise<void> {
    await this.rows(sql`SELECT 1 AS ok`);
  }

  async close(): Promise<void> {
    await this.ch.close();
  }
}

export function openClickHouseStore(url: string): ClickHouseStore {
  return new ClickHouseStore(parseClickHouseUrl(url));
}
