// The ClickHouse store's answers about clusters: summaries, active counts and spans, what a
// statistic left out, versions by day, latest facts and their breakdowns, one cluster's history
// and the cluster list (clickhouse-store.ts delegates here).
import { DAY_MS } from '../../utc-day.js';
import {
  BREAKDOWN_COLUMNS,
  breakdownOfCounts,
  clusterFacts,
  clusterListItem,
  clusterSession,
  clusterSummary,
  DISTRIBUTION_COLUMNS,
  type FactsColumns,
  type MetaFacts,
  type SessionColumns,
  sortSessions,
  spanCounts,
  versionCountsOf,
} from '../answers.js';
import { type CountedConnectorUses, connectorUseCounts } from '../connector-uses.js';
import type { ClusterListItem as ClusterListRow } from '../sql/schema.js';
import type {
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
  DistributionName,
  LeftOut,
} from '../store.js';
import type { ClickHouseConnection } from './clickhouse-connection.js';
import { countOf } from './clickhouse-erase.js';
import { activeDays, dayRange, internalIds } from './clickhouse-filters.js';
import { and, ident, type Sql, sql } from './sql.js';

export class ClickHouseClusterReads {
  constructor(private readonly ch: ClickHouseConnection) {}

  async getCluster(trackingId: string): Promise<ClusterSummary | null> {
    const mine = sql`tracking_id = ${trackingId}`;
    // Independent reads, sent together; each reads the cluster's key range only.
    const [[seen], [meta], perNode, [latestAgent], events, agentReports] = await Promise.all([
      this.ch.rows<{ first: number; last: number; n: number }>(
        sql`SELECT minMerge(first_at) AS first, maxMerge(last_at) AS last, count() AS n
            FROM cluster_days WHERE ${mine}`,
      ),
      // The latest meta report's facts, from its copy in cluster_latest.
      this.ch.rows<MetaFacts>(
        sql`SELECT * FROM ${this.latestDayFacts(
          mine,
          sql`tracking_id`,
          sql`version, git_sha, cluster_type, meta_backend, node_meta, node_compute, node_frontend,
            node_compactor, stream_job_count, object_store, license_tier, connectors`,
          'cluster_latest',
        )}`,
      ),
      this.ch.rows<{ node_type: string; n: number }>(
        sql`SELECT node_type, uniqExact(dedup_key) AS n FROM reports WHERE ${mine} GROUP BY node_type`,
      ),
      this.ch.rows<{ version: string | null; git_sha: string | null; cluster_type: string | null }>(
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
    const rows = await this.ch.rows<{ day: string; clusters: number }>(
      sql`SELECT toString(active_day) AS day, uniqExact(tracking_id) AS clusters
          FROM (SELECT day AS active_day, tracking_id FROM cluster_days
                WHERE ${activeDays(dayRange(query, 'day'), query)})
          GROUP BY active_day ORDER BY active_day`,
    );
    return rows.map((r) => ({ day: r.day, clusters: Number(r.clusters) }));
  }

  async activeClusterCount(query: DayRangeQuery): Promise<number> {
    const [row] = await this.ch.rows<{ n: number }>(
      sql`SELECT uniqExact(tracking_id) AS n FROM cluster_days
          WHERE ${activeDays(dayRange(query, 'day'), query)}`,
    );
    return Number(row?.n ?? 0);
  }

  async clusterSpans(query: {
    toDay: string;
    includeCi: boolean;
    includeInternal?: boolean | undefined;
  }): Promise<ClusterSpan[]> {
    // Counted per pair of days here, so that a row per cluster never leaves the server.
    const rows = await this.ch.rows<{ first: string; last: string; n: string }>(
      sql`SELECT first, last, count() AS n FROM
            (SELECT toString(min(day)) AS first, toString(max(day)) AS last
             FROM cluster_days WHERE ${activeDays(sql`day <= toDate(${query.toDay})`, query)}
             GROUP BY tracking_id)
          GROUP BY first, last`,
    );
    return spanCounts(rows);
  }

  async leftOut(query: { fromDay: string; toDay: string }): Promise<LeftOut> {
    const [row] = await this.ch.rows<{ ci: number; internal: number }>(
      sql`SELECT countIf(non_ci = 0) AS ci, countIf(tracking_id IN ${internalIds()}) AS internal
          FROM (SELECT tracking_id, maxMerge(reported) AS reported, maxMerge(non_ci) AS non_ci
                FROM cluster_days WHERE ${dayRange(query, 'day')} GROUP BY tracking_id)
          WHERE reported = 1`,
    );
    return { ci: Number(row?.ci ?? 0), internal: Number(row?.internal ?? 0) };
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
    columns: Sql = ClickHouseClusterReads.FACTS,
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
    const clusters = query.includeInternal ? sql`1` : sql`tracking_id NOT IN ${internalIds()}`;
    const key = sql`(facts_at, dedup_key)`;
    const rows = await this.ch.rows<{ day: string; version: string | null; clusters: number }>(
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
                  FROM cluster_days WHERE ${activeDays(dayRange(query, 'day'), query)}
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

  /** Each cluster's latest facts in the range: a row per cluster, for the callers to read or count. */
  private latestFactsRows(query: DayRangeQuery): Sql {
    const clusters = query.includeInternal ? sql`1` : sql`tracking_id NOT IN ${internalIds()}`;
    // A cluster's latest facts of all time are its latest in the range when they fall in it (the
    // usual range ends today); only clusters with facts after the range read their days.
    const later = sql`tracking_id IN (SELECT tracking_id FROM cluster_latest
      GROUP BY tracking_id HAVING max(day) > toDate(${query.toDay}))`;
    return sql`(SELECT * FROM ${this.latestDayFacts(
      clusters,
      sql`tracking_id`,
      ClickHouseClusterReads.FACTS,
      'cluster_latest',
      dayRange(query, 'day'),
    )}
      UNION ALL
      SELECT * FROM ${this.latestDayFacts(and([clusters, later, dayRange(query, 'day')]), sql`tracking_id`)})`;
  }

  async latestFacts(query: DayRangeQuery): Promise<ClusterFacts[]> {
    const rows = await this.ch.rows<FactsColumns>(
      sql`SELECT *, toString(fact_day) AS day FROM ${this.latestFactsRows(query)} ORDER BY tracking_id`,
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
      const rows = await this.ch.rows<SessionColumns>(
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
      this.ch.rows<FactsColumns>(
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
    const rows = await this.ch.rows<{ n: number }>(
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
    const rows = await this.ch.rows<ClusterListRow>(
      sql`SELECT tracking_id, first_seen, last_seen, version, git_sha, cluster_type, meta_backend,
            tracking_id IN ${internalIds()} AS internal
          FROM ${this.clustersMatching(query, cursor)}
          ORDER BY last_seen DESC, tracking_id DESC LIMIT ${query.limit}`,
    );
    return rows.map(clusterListItem);
  }

  async distributionCounts(
    of: DistributionName,
    query: DayRangeQuery,
  ): Promise<{ value: number | null; clusters: number }[]> {
    // Counted by the server, as on SQL: a row per value leaves it, not a row per cluster.
    const { column, besideMeta } = DISTRIBUTION_COLUMNS[of];
    const value = besideMeta
      ? sql`if(node_meta IS NULL, NULL, coalesce(${ident(column)}, 0))`
      : ident(column);
    const rows = await this.ch.rows<{ value: string | number | null; n: string | number }>(
      sql`SELECT ${value} AS value, count() AS n FROM ${this.latestFactsRows(query)} GROUP BY value`,
    );
    return rows.map((r) => ({ value: r.value === null ? null : Number(r.value), clusters: Number(r.n) }));
  }

  async breakdown(
    by: BreakdownDimension,
    query: DayRangeQuery,
  ): Promise<{ value: string | null; clusters: number }[]> {
    // RisingWave facts (never CI): each cluster's latest meta facts in the range, as in every
    // store, counted by the server.
    const rows = await this.ch.rows<{ value: string | null; n: string }>(
      sql`SELECT ${ident(BREAKDOWN_COLUMNS[by])} AS value, count() AS n
          FROM ${this.latestFactsRows(query)} GROUP BY value`,
    );
    return breakdownOfCounts(by, rows);
  }

  async connectorUseCounts(query: DayRangeQuery): Promise<CountedConnectorUses[]> {
    // Counted per distinct connector JSON by the server; each distinct one is counted here once.
    const rows = await this.ch.rows<{ usage: string | null; n: string }>(
      sql`SELECT connector_usage AS usage, count() AS n FROM ${this.latestFactsRows(query)} GROUP BY usage`,
    );
    return rows.map((r) => ({ uses: connectorUseCounts(r.usage), clusters: Number(r.n) }));
  }
}
