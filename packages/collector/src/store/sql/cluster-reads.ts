// The SQL store's answers about clusters: summaries, active counts and spans, the cluster list,
// latest facts and their breakdowns, and one cluster's history (sql-store.ts delegates here).
import { type Kysely, sql } from 'kysely';
import { compareCodeUnits } from '../../text-order.js';
import { DAY_MS } from '../../utc-day.js';
import {
  BREAKDOWN_COLUMNS,
  breakdownOfCounts,
  clusterFacts,
  clusterListItem,
  clusterSession,
  clusterSummary,
  DISTRIBUTION_COLUMNS,
  sortSessions,
  spanCounts,
  versionCountsOf,
} from '../answers.js';
import { type ConnectorUseCount, type CountedConnectorUses, connectorUseCounts } from '../connector-uses.js';
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
import { NO_NEXT_DAY } from './cluster-rollups.js';
import { internalIds } from './metric-fleet.js';
import type { Database } from './schema.js';

/**
 * Up to this many days between a range's end and the newest facts day, latest facts are read by
 * next_day (~3,000 rows a day at 10M); further back, by a seek per cluster.
 */
const LINKED_DAYS_AFTER = 31;

export class ClusterReads {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly kind: 'sqlite' | 'postgres',
  ) {}

  async getCluster(trackingId: string): Promise<ClusterSummary | null> {
    const cluster = await this.db
      .selectFrom('clusters')
      .selectAll()
      .where('tracking_id', '=', trackingId)
      .executeTakeFirst();
    if (!cluster) return null;
    const meta = await this.db
      .selectFrom('reports')
      .select([
        'version',
        'git_sha',
        'cluster_type',
        'meta_backend',
        'node_meta',
        'node_compute',
        'node_frontend',
        'node_compactor',
        'stream_job_count',
        'object_store',
        'license_tier',
        'connectors',
      ])
      .where('tracking_id', '=', trackingId)
      .where('node_type', '=', 'meta')
      .orderBy('received_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const perNode = await this.db
      .selectFrom('reports')
      .select(['node_type', (eb) => eb.fn.countAll().as('n')])
      .where('tracking_id', '=', trackingId)
      .groupBy('node_type')
      .execute();
    const events = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tracking_id', '=', trackingId)
      .executeTakeFirstOrThrow();
    const agent = await this.db
      .selectFrom('agent_reports')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tracking_id', '=', trackingId)
      .executeTakeFirstOrThrow();
    const latestAgent = meta
      ? undefined
      : await this.db
          .selectFrom('agent_reports')
          .select(['version', 'git_sha', 'cluster_type'])
          .where('tracking_id', '=', trackingId)
          .orderBy('received_at', 'desc')
          .orderBy('id', 'desc')
          .limit(1)
          .executeTakeFirst();
    return clusterSummary({
      trackingId,
      firstSeen: Number(cluster.first_seen),
      lastSeen: Number(cluster.last_seen),
      meta,
      latestAgent,
      perNode,
      events: Number(events.n),
      agentReports: Number(agent.n),
    });
  }

  async activeClusters(query: DayRangeQuery): Promise<{ day: string; clusters: number }[]> {
    const perDay = new Map<string, number>();
    for (const r of await this.versionCounts(query)) perDay.set(r.day, (perDay.get(r.day) ?? 0) + r.clusters);
    return [...perDay].map(([day, clusters]) => ({ day, clusters }));
  }

  async versionCounts(
    query: DayRangeQuery,
  ): Promise<{ day: string; version: string | null; clusters: number }[]> {
    // The day_versions rollup counts every cluster; the (few) internal ones are subtracted.
    let counted = this.db
      .selectFrom('day_versions')
      .select(['day', 'version', (eb) => eb.fn.sum<number>('clusters').as('clusters')])
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay);
    if (!query.includeCi) counted = counted.where('ci', '=', 0);
    const rows = await counted.groupBy(['day', 'version']).execute();
    const key = (day: string, version: string | null) => `${day}\0${version ?? '\u0001'}`;
    const counts = new Map(
      rows.map((r) => [
        key(r.day, r.version),
        { day: r.day, version: r.version, clusters: Number(r.clusters) },
      ]),
    );
    if (!query.includeInternal) {
      let internal = this.db
        .selectFrom('cluster_days')
        .select(['day', 'version', (eb) => eb.fn.countAll<number>().as('clusters')])
        .where('tracking_id', 'in', internalIds(this.db))
        .where('day', '>=', query.fromDay)
        .where('day', '<=', query.toDay);
      if (!query.includeCi) internal = internal.where('ci', '=', 0);
      for (const r of await internal.groupBy(['day', 'version']).execute()) {
        const row = counts.get(key(r.day, r.version));
        if (row) row.clusters -= Number(r.clusters);
      }
    }
    return versionCountsOf(counts.values());
  }

  async leftOut(query: { fromDay: string; toDay: string }): Promise<LeftOut> {
    // CI: clusters whose every day in the range is all-CI. Starts from the few CI-only
    // cluster-days (partial index cluster_days_ci, hence the literal), never every cluster-day.
    const ci = await this.db
      .selectFrom('cluster_days as d')
      .select((eb) => eb.fn.count('d.tracking_id').distinct().as('n'))
      .where('d.ci', '=', sql.lit(1))
      .where('d.day', '>=', query.fromDay)
      .where('d.day', '<=', query.toDay)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('cluster_days as e')
              .select(sql.lit(1).as('one'))
              .whereRef('e.tracking_id', '=', 'd.tracking_id')
              .where('e.day', '>=', query.fromDay)
              .where('e.day', '<=', query.toDay)
              .where('e.ci', '=', 0),
          ),
        ),
      )
      .executeTakeFirstOrThrow();
    // Internal: per tagged cluster, one index seek for a day in the range.
    const internal = await this.db
      .selectFrom('clusters as c')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('c.internal', '=', 1)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('cluster_days as d')
            .select(sql.lit(1).as('one'))
            .whereRef('d.tracking_id', '=', 'c.tracking_id')
            .where('d.day', '>=', query.fromDay)
            .where('d.day', '<=', query.toDay),
        ),
      )
      .executeTakeFirstOrThrow();
    return { ci: Number(ci.n), internal: Number(internal.n) };
  }

  /** The clusters columns of a cluster's first and last active day, CI days counted or not. */
  private daySpan(includeCi: boolean) {
    return includeCi
      ? ({ first: 'c.first_day', last: 'c.last_day' } as const)
      : ({ first: 'c.first_day_not_ci', last: 'c.last_day_not_ci' } as const);
  }

  async activeClusterCount(query: DayRangeQuery): Promise<number> {
    // Active in the range: its last active day is in it, or (only for clusters active after the
    // range) one index seek on cluster_days (tracking_id, day, ci) finds a day in it.
    const span = this.daySpan(query.includeCi);
    let q = this.db
      .selectFrom('clusters as c')
      .select((eb) => eb.fn.countAll().as('n'))
      .where(span.first, '<=', query.toDay)
      .where(span.last, '>=', query.fromDay)
      .where((eb) => {
        let days = eb
          .selectFrom('cluster_days as d')
          .select('d.day')
          .whereRef('d.tracking_id', '=', 'c.tracking_id')
          .where('d.day', '>=', query.fromDay)
          .where('d.day', '<=', query.toDay);
        if (!query.includeCi) days = days.where('d.ci', '=', 0);
        return eb.or([eb(span.last, '<=', query.toDay), eb.exists(days)]);
      });
    if (!query.includeInternal) q = q.where('c.internal', '=', 0);
    return Number((await q.executeTakeFirstOrThrow()).n);
  }

  async clusterSpans(query: {
    toDay: string;
    includeCi: boolean;
    includeInternal?: boolean | undefined;
  }): Promise<ClusterSpan[]> {
    // First and last day per cluster from its clusters row; only a cluster active after `toDay`
    // needs its last day up to then, by one ordered seek. Counted per pair of days in SQL, so
    // the answer has a row per pair whatever the fleet's size (at 200,000 clusters, a row per
    // cluster took most of the overview's 1.4 s).
    const span = this.daySpan(query.includeCi);
    let perCluster = this.db
      .selectFrom('clusters as c')
      .select((eb) => {
        let before = eb
          .selectFrom('cluster_days as d')
          .select('d.day')
          .whereRef('d.tracking_id', '=', 'c.tracking_id')
          .where('d.day', '<=', query.toDay);
        if (!query.includeCi) before = before.where('d.ci', '=', 0);
        return [
          sql<string>`${sql.ref(span.first)}`.as('first'),
          eb
            .case()
            .when(span.last, '<=', query.toDay)
            .then(eb.ref(span.last))
            .else(before.orderBy('d.day', 'desc').limit(1))
            .end()
            .as('last'),
        ];
      })
      .where(span.first, '<=', query.toDay);
    if (!query.includeInternal) perCluster = perCluster.where('c.internal', '=', 0);
    const rows = await this.db
      .selectFrom(perCluster.as('s'))
      .select(['s.first', 's.last', (eb) => eb.fn.countAll().as('n')])
      .groupBy(['s.first', 's.last'])
      .execute();
    return spanCounts(rows);
  }

  /** The clusters table filtered as a list asks (listClusters and countClusters). */
  private clustersMatching(query: ClusterListFilter) {
    let q = this.db.selectFrom('clusters');
    if (query.search) {
      // LIKE wildcards in the search text are matched literally.
      const pattern = `%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q = q.where(sql<boolean>`lower(tracking_id) like ${pattern} escape '\\'`);
    }
    if (query.version !== undefined) q = q.where('version', '=', query.version);
    if (query.clusterType !== undefined) q = q.where('cluster_type', '=', query.clusterType);
    if (query.seenFromDay !== undefined) q = q.where('last_seen', '>=', Date.parse(query.seenFromDay));
    return q;
  }

  async countClusters(query: ClusterListFilter): Promise<number> {
    const row = await this.clustersMatching(query)
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listClusters(query: ClusterListQuery): Promise<ClusterListItem[]> {
    let q = this.clustersMatching(query).select([
      'tracking_id',
      'first_seen',
      'last_seen',
      'version',
      'git_sha',
      'cluster_type',
      'meta_backend',
      'internal',
    ]);
    // Ties in byte order on every store (SQLite's own order): PostgreSQL would otherwise follow
    // the database's collation, and an ICU one orders tied clusters differently.
    const trackingId =
      this.kind === 'postgres' ? sql<string>`tracking_id collate "C"` : sql<string>`tracking_id`;
    const before = query.before;
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb('last_seen', '<', before.lastSeen),
          eb.and([eb('last_seen', '=', before.lastSeen), eb(trackingId, '<', before.trackingId)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('last_seen', 'desc')
      .orderBy(trackingId, 'desc')
      .limit(query.limit)
      .execute();
    return rows.map(clusterListItem);
  }

  /**
   * Each cluster's latest facts row in the range: the one with day <= to < next_day (its next
   * facts day is after the range), if day >= from. For a range ending on one of the newest days
   * that is one range of cluster_day_facts_next, whose rows past `to` are only the few days after
   * it. An older `to` has many days after it: then one seek per cluster on (tracking_id, day)
   * finds its latest day up to `to` instead.
   */
  private async latestFactsRows(query: DayRangeQuery) {
    const newest = await this.db
      .selectFrom('cluster_day_facts')
      .select((eb) => eb.fn.max('day').as('day'))
      .executeTakeFirst();
    const daysAfter = newest?.day ? (Date.parse(newest.day) - Date.parse(query.toDay)) / DAY_MS : 0;
    let q = this.db
      .selectFrom('cluster_day_facts as f')
      .where('f.day', '>=', query.fromDay)
      .where('f.day', '<=', query.toDay)
      .where('f.next_day', '>', query.toDay)
      // Always true, but a range with two ends is what makes SQLite's planner (no statistics)
      // take this index rather than the primary key's range over every day.
      .where('f.next_day', '<=', NO_NEXT_DAY);
    if (!query.includeInternal) q = q.where('f.tracking_id', 'not in', internalIds(this.db));
    if (daysAfter > LINKED_DAYS_AFTER) {
      // Driven from clusters, so that PostgreSQL seeks per cluster (a row-value `in` was a hash
      // join over every facts row of the range). The callers read only `f`.
      let seek = this.db
        .selectFrom('clusters as c')
        .innerJoin('cluster_day_facts as f', (join) =>
          join
            .onRef('f.tracking_id', '=', 'c.tracking_id')
            .on('f.day', '=', (eb) =>
              eb
                .selectFrom('cluster_day_facts as g')
                .select('g.day')
                .whereRef('g.tracking_id', '=', 'c.tracking_id')
                .where('g.day', '>=', query.fromDay)
                .where('g.day', '<=', query.toDay)
                .orderBy('g.day', 'desc')
                .limit(1),
            ),
        );
      if (!query.includeInternal) seek = seek.where('c.internal', '=', 0);
      return seek as unknown as typeof q;
    }
    return q;
  }

  async latestFacts(query: DayRangeQuery): Promise<ClusterFacts[]> {
    // Sorted here: an `order by` in SQL makes SQLite walk a tracking_id index over every row.
    const rows = await (await this.latestFactsRows(query)).selectAll('f').execute();
    return rows.sort((a, b) => compareCodeUnits(a.tracking_id, b.tracking_id)).map(clusterFacts);
  }

  async connectorUseCounts(query: DayRangeQuery): Promise<CountedConnectorUses[]> {
    // The JSON travels only for a row that has no counts (written by a collector before 0032).
    // Grouped in SQL: clusters with the same uses (most have none, or the same few) come back
    // as one row, not one row and one JSON.parse per cluster.
    const usage = sql<string | null>`case when f.connector_uses is null then f.connector_usage end`;
    const rows = await (await this.latestFactsRows(query))
      .select(['f.connector_uses', usage.as('usage'), (eb) => eb.fn.countAll().as('n')])
      .groupBy(['f.connector_uses', usage])
      .execute();
    return rows.map((r) => ({
      uses:
        r.connector_uses === null
          ? connectorUseCounts(r.usage)
          : (JSON.parse(r.connector_uses) as ConnectorUseCount[]),
      clusters: Number(r.n),
    }));
  }

  async distributionCounts(
    of: DistributionName,
    query: DayRangeQuery,
  ): Promise<{ value: number | null; clusters: number }[]> {
    // Counted in SQL, as the breakdown: a row per value, not per cluster (at 200,000 clusters,
    // reading every cluster's facts took 8 s).
    const { column, besideMeta } = DISTRIBUTION_COLUMNS[of];
    const value = besideMeta
      ? sql`case when f.node_meta is null then null else coalesce(${sql.ref(`f.${column}`)}, 0) end`
      : sql.ref(`f.${column}`);
    const rows = await (await this.latestFactsRows(query))
      .select([sql<number | string | null>`${value}`.as('value'), (eb) => eb.fn.countAll().as('n')])
      .groupBy(value)
      .execute();
    return rows.map((r) => ({ value: r.value === null ? null : Number(r.value), clusters: Number(r.n) }));
  }

  async breakdown(
    by: BreakdownDimension,
    query: DayRangeQuery,
  ): Promise<{ value: string | null; clusters: number }[]> {
    // RisingWave facts (never CI): each cluster's latest meta facts in the range, counted in SQL
    // (a connector list is a JSON array: those are counted here, per connector).
    const column = BREAKDOWN_COLUMNS[by];
    const rows = await (await this.latestFactsRows(query))
      .select([sql<string | null>`${sql.ref(`f.${column}`)}`.as('value'), (eb) => eb.fn.countAll().as('n')])
      .groupBy(sql.ref(`f.${column}`))
      .execute();
    return breakdownOfCounts(by, rows);
  }

  async clusterHistory(
    query: ClusterHistoryQuery,
  ): Promise<{ days: ClusterFacts[]; sessions: ClusterSession[] }> {
    const days = await this.db
      .selectFrom('cluster_day_facts')
      .selectAll()
      .where('tracking_id', '=', query.trackingId)
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay)
      .orderBy('day')
      .execute();
    const from = Date.parse(query.fromDay);
    const to = Date.parse(query.toDay) + DAY_MS;
    const sessions: ClusterSession[] = [];
    for (const [table, source] of [
      ['reports', 'risingwave'],
      ['agent_reports', 'agent'],
    ] as const) {
      const rows = await this.db
        .selectFrom(table)
        .select([
          'session_id',
          'node_type',
          (eb) => eb.fn.min('received_at').as('first'),
          (eb) => eb.fn.max('received_at').as('last'),
          (eb) => eb.fn.countAll().as('reports'),
          (eb) => eb.fn.max('memory_total').as('memory'),
          (eb) => eb.fn.max('cpu_available').as('cpus'),
        ])
        .where('tracking_id', '=', query.trackingId)
        .where('received_at', '>=', from)
        .where('received_at', '<', to)
        .groupBy(['session_id', 'node_type'])
        .execute();
      for (const r of rows) sessions.push(clusterSession(r, source));
    }
    return { days: days.map(clusterFacts), sessions: sortSessions(sessions) };
  }
}
