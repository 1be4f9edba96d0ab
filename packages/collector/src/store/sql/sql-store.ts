// The Store on a SQL database through Kysely. SQLite and PostgreSQL share this code; what differs
// (connection, column types, the setup lock) is passed in by sqlite/ and postgres/.
import { type CompiledQuery, type Kysely, Migrator, sql, type Transaction } from 'kysely';
import {
  BREAKDOWN_COLUMNS,
  breakdownCounts,
  carryVersions,
  clusterListItem,
  clusterSummary,
  metricPoint,
  rankEventCounts,
  storedEvent,
  tokenColumns,
  tokenRecord,
} from '../answers.js';
import type {
  AuditEntry,
  BlockedCluster,
  BreakdownDimension,
  ClusterListItem,
  ClusterListQuery,
  ClusterSpan,
  ClusterSummary,
  DayRangeQuery,
  EraseResult,
  EventCountQuery,
  EventGrouping,
  EventQuery,
  KnownSeries,
  LeftOut,
  MetricPoint,
  MetricPointQuery,
  RetentionResult,
  Store,
  StoredAuditEntry,
  StoredEvent,
  TokenRecord,
  WriteBatch,
  WriteResult,
} from '../store.js';
import {
  agentChildren,
  agentReportColumns,
  batchTrackingIds,
  chunks,
  clusterDayRows,
  clusterRows,
  dayFactsRows,
  eventColumns,
  latestFacts,
  ordered,
  reportColumns,
  withoutBlocked,
} from './columns.js';
import { type DialectTypes, migrationProvider } from './migrations.js';
import { type Database, DERIVED_CLUSTER_TABLES, RETAINED_BY_DAY } from './schema.js';

export interface SqlDialectHooks {
  kind: 'sqlite' | 'postgres';
  types: DialectTypes;
  /** Serializes first-start token creation across processes (inside the transaction). */
  lockForSetup(trx: Transaction<Database>): Promise<void>;
  /** Closes connections that Kysely does not own. */
  close?(): Promise<void>;
}

/** The events column behind each grouping (a fixed list: never user text in SQL). */
const EVENT_GROUP_COLUMNS = {
  day: 'received_day',
  stage: 'stage',
  name: 'name',
  connector: 'connector_name',
  trackingId: 'tracking_id',
} as const satisfies Record<EventGrouping, string>;

/**
 * Retention's statements, in order (Store.deleteBefore), compiled for one database. `counts` names
 * the RetentionResult entry a statement's affected rows go to.
 */
export function retentionSteps(
  db: Kysely<Database>,
  fromDay: string,
): { counts: string | null; query: CompiledQuery }[] {
  const cutoff = Date.parse(`${fromDay}T00:00:00.000Z`);
  const steps: { counts: string | null; query: CompiledQuery }[] = RETAINED_BY_DAY.map((table) => {
    const column = table === 'cluster_days' || table === 'cluster_day_facts' ? 'day' : 'received_day';
    return { counts: table, query: db.deleteFrom(table).where(sql.ref(column), '<', fromDay).compile() };
  });
  // A series whose points are all gone is forgotten (it only served the per-cluster caps).
  steps.push({
    counts: 'metric_series',
    query: db
      .deleteFrom('metric_series')
      .where('first_seen', '<', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('metric_points as p')
              .select(sql.lit(1).as('one'))
              .whereRef('p.tracking_id', '=', 'metric_series.tracking_id')
              .whereRef('p.name', '=', 'metric_series.name')
              .whereRef('p.labels', '=', 'metric_series.labels'),
          ),
        ),
      )
      .compile(),
  });
  // First seen moves to the oldest remaining row; a cluster with nothing left is forgotten.
  steps.push({
    counts: null,
    query: sql`update clusters set first_seen = coalesce((select min(m) from (
        select min(received_at) as m from reports where reports.tracking_id = clusters.tracking_id
        union all select min(received_at) from events where events.tracking_id = clusters.tracking_id
        union all select min(received_at) from agent_reports where agent_reports.tracking_id = clusters.tracking_id
      ) oldest), first_seen)
      where first_seen < ${cutoff}`.compile(db),
  });
  steps.push({
    counts: 'clusters',
    query: db.deleteFrom('clusters').where('first_seen', '<', cutoff).compile(),
  });
  // Latest facts whose meta report is gone: no newer one exists, so they are unknown now.
  steps.push({
    counts: null,
    query: db
      .updateTable('clusters')
      .set({ version: null, git_sha: null, cluster_type: null, meta_backend: null, facts_at: null })
      .where('facts_at', '<', cutoff)
      .compile(),
  });
  steps.push({ counts: 'audit_log', query: db.deleteFrom('audit_log').where('at', '<', cutoff).compile() });
  return steps;
}

export class SqlStore implements Store {
  readonly kind: 'sqlite' | 'postgres';

  constructor(
    readonly db: Kysely<Database>,
    private readonly hooks: SqlDialectHooks,
  ) {
    this.kind = hooks.kind;
  }

  async migrate(): Promise<void> {
    // Unordered: migrations are numbered in blocks per line of work, and a store may have run a
    // later block before an earlier one landed; each migration still runs once.
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider(this.hooks.types),
      allowUnorderedMigrations: true,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(
        `migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async writeBatch(request: WriteBatch): Promise<WriteResult> {
    return this.db.transaction().execute(async (trx) => {
      const ids = batchTrackingIds(request);
      const blockedRows =
        ids.length === 0
          ? []
          : await trx
              .selectFrom('blocked_clusters')
              .select('tracking_id')
              .where('tracking_id', 'in', ids)
              .execute();
      const { batch: unordered, blocked } = withoutBlocked(
        request,
        new Set(blockedRows.map((r) => r.tracking_id)),
      );
      const batch = ordered(unordered);
      const inserted: { tracking_id: string; received_at: number }[] = [];
      const insertedReports: { tracking_id: string; received_at: number; ci: number }[] = [];
      let reportsInserted = 0;
      let eventsInserted = 0;
      const storedKeys = new Set<string>();
      for (const chunk of chunks(batch.reports)) {
        const rows = await trx
          .insertInto('reports')
          .values(chunk.map(reportColumns))
          .onConflict((oc) => oc.column('dedup_key').doNothing())
          .returning(['tracking_id', 'received_at', 'ci', 'dedup_key'])
          .execute();
        reportsInserted += rows.length;
        for (const { dedup_key, ...row } of rows) {
          storedKeys.add(dedup_key);
          inserted.push(row);
          insertedReports.push(row);
        }
      }
      // Facts rollups follow stored reports only: a retried old report must not win as "latest".
      const storedReports = batch.reports.filter((r) => storedKeys.has(r.dedupKey));
      for (const chunk of chunks(batch.events)) {
        const rows = await trx
          .insertInto('events')
          .values(chunk.map(eventColumns))
          .onConflict((oc) => oc.column('dedup_key').doNothing())
          .returning(['tracking_id', 'received_at'])
          .execute();
        eventsInserted += rows.length;
        inserted.push(...rows);
      }
      let agentReportsInserted = 0;
      const agentWrites = batch.agentReports ?? [];
      const insertedIds = new Set<string>();
      for (const chunk of chunks(agentWrites)) {
        const rows = await trx
          .insertInto('agent_reports')
          .values(chunk.map((w) => agentReportColumns(w.report)))
          .onConflict((oc) => oc.column('report_id').doNothing())
          .returning(['report_id', 'tracking_id', 'received_at', 'ci'])
          .execute();
        agentReportsInserted += rows.length;
        for (const row of rows) {
          insertedIds.add(row.report_id);
          inserted.push(row);
          insertedReports.push(row);
        }
      }
      // A retried report stores nothing new: its points and events were stored with the first copy.
      const children = agentChildren(agentWrites.filter((w) => insertedIds.has(w.report.reportId)));
      for (const chunk of chunks(children.points))
        await trx.insertInto('metric_points').values(chunk).execute();
      for (const chunk of chunks(children.events))
        await trx.insertInto('agent_events').values(chunk).execute();
      for (const chunk of chunks(children.series)) {
        await trx
          .insertInto('metric_series')
          .values(chunk)
          .onConflict((oc) => oc.columns(['tracking_id', 'name', 'labels']).doNothing())
          .execute();
      }
      // Only rows that were really stored move first/last seen, so a cluster exists exactly when
      // something of it is stored. One statement for all clusters of the batch; CASE instead of
      // GREATEST/MAX: the same SQL on every dialect.
      for (const chunk of chunks(clusterRows(inserted))) {
        await trx
          .insertInto('clusters')
          .values(chunk)
          .onConflict((oc) =>
            oc.column('tracking_id').doUpdateSet({
              first_seen: sql`case when excluded.first_seen < clusters.first_seen then excluded.first_seen else clusters.first_seen end`,
              last_seen: sql`case when excluded.last_seen > clusters.last_seen then excluded.last_seen else clusters.last_seen end`,
            }),
          )
          .execute();
      }
      for (const chunk of chunks(dayFactsRows(storedReports))) {
        await trx
          .insertInto('cluster_day_facts')
          .values(chunk)
          .onConflict((oc) =>
            oc
              .columns(['day', 'tracking_id'])
              .doUpdateSet((eb) => ({
                facts_at: eb.ref('excluded.facts_at'),
                version: eb.ref('excluded.version'),
                cluster_type: eb.ref('excluded.cluster_type'),
                meta_backend: eb.ref('excluded.meta_backend'),
                os_name: eb.ref('excluded.os_name'),
                object_store: eb.ref('excluded.object_store'),
                connectors: eb.ref('excluded.connectors'),
              }))
              .where((eb) => eb('excluded.facts_at', '>=', eb.ref('cluster_day_facts.facts_at'))),
          )
          .execute();
      }
      for (const f of latestFacts(storedReports)) {
        await trx
          .updateTable('clusters')
          .set({
            version: f.version,
            git_sha: f.git_sha,
            cluster_type: f.cluster_type,
            meta_backend: f.meta_backend,
            facts_at: f.facts_at,
          })
          .where('tracking_id', '=', f.tracking_id)
          .where((eb) => eb.or([eb('facts_at', 'is', null), eb('facts_at', '<=', f.facts_at)]))
          .execute();
      }
      for (const chunk of chunks(clusterDayRows(insertedReports))) {
        await trx
          .insertInto('cluster_days')
          .values(chunk)
          .onConflict((oc) =>
            oc.columns(['day', 'tracking_id']).doUpdateSet({
              ci: sql`case when excluded.ci < cluster_days.ci then excluded.ci else cluster_days.ci end`,
            }),
          )
          .execute();
      }
      return { reportsInserted, eventsInserted, agentReportsInserted, blocked };
    });
  }

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
    let q = this.db
      .selectFrom('cluster_days')
      .select(['day', (eb) => eb.fn.countAll().as('clusters')])
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay);
    if (!query.includeCi) q = q.where('ci', '=', 0);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', this.internalIds());
    const rows = await q.groupBy('day').orderBy('day').execute();
    return rows.map((r) => ({ day: r.day, clusters: Number(r.clusters) }));
  }

  /** Tracking ids tagged internal, for `not in` filters. */
  private internalIds() {
    return this.db.selectFrom('clusters').select('tracking_id').where('internal', '=', 1);
  }

  async leftOut(query: { fromDay: string; toDay: string }): Promise<LeftOut> {
    const inRange = this.db
      .selectFrom('cluster_days')
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay);
    const ci = await inRange
      .select((eb) => eb.fn.count('tracking_id').distinct().as('n'))
      .where('ci', '=', 1)
      .where('tracking_id', 'not in', inRange.select('tracking_id').where('ci', '=', 0))
      .executeTakeFirstOrThrow();
    const internal = await inRange
      .select((eb) => eb.fn.count('tracking_id').distinct().as('n'))
      .where('tracking_id', 'in', this.internalIds())
      .executeTakeFirstOrThrow();
    return { ci: Number(ci.n), internal: Number(internal.n) };
  }

  async setInternal(trackingId: string, internal: boolean): Promise<boolean> {
    const result = await this.db
      .updateTable('clusters')
      .set({ internal: internal ? 1 : 0 })
      .where('tracking_id', '=', trackingId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async activeClusterCount(query: DayRangeQuery): Promise<number> {
    let q = this.db
      .selectFrom('cluster_days')
      .select((eb) => eb.fn.count('tracking_id').distinct().as('n'))
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay);
    if (!query.includeCi) q = q.where('ci', '=', 0);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', this.internalIds());
    return Number((await q.executeTakeFirstOrThrow()).n);
  }

  async clusterSpans(query: {
    toDay: string;
    includeCi: boolean;
    includeInternal?: boolean | undefined;
  }): Promise<ClusterSpan[]> {
    let q = this.db
      .selectFrom('cluster_days')
      .select(['tracking_id', (eb) => eb.fn.min('day').as('first'), (eb) => eb.fn.max('day').as('last')])
      .where('day', '<=', query.toDay);
    if (!query.includeCi) q = q.where('ci', '=', 0);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', this.internalIds());
    const rows = await q.groupBy('tracking_id').execute();
    return rows.map((r) => ({
      trackingId: r.tracking_id,
      firstDay: String(r.first),
      lastDay: String(r.last),
    }));
  }

  async versionsByDay(
    query: DayRangeQuery,
  ): Promise<{ day: string; trackingId: string; version: string | null }[]> {
    let active = this.db
      .selectFrom('cluster_days')
      .select(['day', 'tracking_id'])
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay);
    if (!query.includeCi) active = active.where('ci', '=', 0);
    if (!query.includeInternal) active = active.where('tracking_id', 'not in', this.internalIds());
    const days = await active.orderBy('day').execute();
    if (days.length === 0) return [];
    // Each cluster's version per day with a meta report, up to the range's end (the rollup);
    // carried forward below so a day with only compute reports still knows the cluster's version.
    const metas = await this.db
      .selectFrom('cluster_day_facts')
      .select(['tracking_id', 'day', 'version'])
      .where('day', '<=', query.toDay)
      .orderBy('day')
      .execute();
    return carryVersions(days, metas);
  }

  async listClusters(query: ClusterListQuery): Promise<ClusterListItem[]> {
    let q = this.db
      .selectFrom('clusters')
      .select([
        'tracking_id',
        'first_seen',
        'last_seen',
        'version',
        'git_sha',
        'cluster_type',
        'meta_backend',
        'internal',
      ]);
    if (query.search) {
      // LIKE wildcards in the search text are matched literally.
      const pattern = `%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q = q.where(sql<boolean>`lower(tracking_id) like ${pattern} escape '\\'`);
    }
    if (query.version !== undefined) q = q.where('version', '=', query.version);
    if (query.clusterType !== undefined) q = q.where('cluster_type', '=', query.clusterType);
    if (query.seenFromDay !== undefined) q = q.where('last_seen', '>=', Date.parse(query.seenFromDay));
    const before = query.before;
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb('last_seen', '<', before.lastSeen),
          eb.and([eb('last_seen', '=', before.lastSeen), eb('tracking_id', '<', before.trackingId)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('last_seen', 'desc')
      .orderBy('tracking_id', 'desc')
      .limit(query.limit)
      .execute();
    return rows.map(clusterListItem);
  }

  async breakdown(
    by: BreakdownDimension,
    query: DayRangeQuery,
  ): Promise<{ value: string | null; clusters: number }[]> {
    // Each cluster's latest meta facts in the range, from the per-day rollup (RisingWave facts;
    // never CI).
    let latest = this.db
      .selectFrom('cluster_day_facts')
      .select([
        'tracking_id',
        BREAKDOWN_COLUMNS[by],
        sql<number>`row_number() over (partition by tracking_id order by day desc)`.as('rn'),
      ])
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay);
    if (!query.includeInternal) latest = latest.where('tracking_id', 'not in', this.internalIds());
    const rows = await this.db
      .selectFrom(latest.as('latest'))
      .select(sql<string | null>`${sql.ref(BREAKDOWN_COLUMNS[by])}`.as('value'))
      .where('rn', '=', 1)
      .execute();
    return breakdownCounts(by, rows);
  }

  async eventCounts(
    query: EventCountQuery,
  ): Promise<{ value: string | null; events: number; clusters: number }[]> {
    const column = EVENT_GROUP_COLUMNS[query.by];
    let q = this.db
      .selectFrom('events')
      .select([
        sql<string | null>`${sql.ref(column)}`.as('value'),
        (eb) => eb.fn.countAll().as('events'),
        (eb) => eb.fn.count('tracking_id').distinct().as('clusters'),
      ])
      .where('received_day', '>=', query.fromDay)
      .where('received_day', '<=', query.toDay);
    if (query.stage === null) q = q.where('stage', 'is', null);
    else if (query.stage !== undefined) q = q.where('stage', '=', query.stage);
    if (query.name !== undefined) q = q.where('name', '=', query.name);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', this.internalIds());
    const rows = await q.groupBy(sql.ref(column)).execute();
    return rankEventCounts(query, rows);
  }

  async events(query: EventQuery): Promise<StoredEvent[]> {
    let q = this.db
      .selectFrom('events')
      .select([
        'id',
        'tracking_id',
        'received_at',
        'event_time_sec',
        'stage',
        'name',
        'connector_name',
        'catalog_id',
        'attributes',
        'node',
        'object',
      ])
      .where('received_day', '>=', query.fromDay)
      .where('received_day', '<=', query.toDay);
    if (query.trackingId !== undefined) q = q.where('tracking_id', '=', query.trackingId);
    if (query.stage === null) q = q.where('stage', 'is', null);
    else if (query.stage !== undefined) q = q.where('stage', '=', query.stage);
    if (query.name !== undefined) q = q.where('name', '=', query.name);
    const before = query.before;
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb('received_at', '<', before.receivedAt),
          eb.and([eb('received_at', '=', before.receivedAt), eb('id', '<', before.id)]),
        ]),
      );
    }
    const rows = await q.orderBy('received_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
    return rows.map(storedEvent);
  }

  async knownSeries(trackingId: string): Promise<KnownSeries> {
    const rows = await this.db
      .selectFrom('metric_series')
      .select(['name', 'labels'])
      .where('tracking_id', '=', trackingId)
      .execute();
    const known: KnownSeries = { names: new Set(), series: new Set() };
    for (const row of rows) {
      known.names.add(row.name);
      known.series.add(`${row.name}\0${row.labels}`);
    }
    return known;
  }

  async metricPoints(query: MetricPointQuery): Promise<MetricPoint[]> {
    let q = this.db
      .selectFrom('metric_points')
      .select([
        'report_id',
        'tracking_id',
        'received_at',
        'node_type',
        'version',
        'cluster_type',
        'kind',
        'value',
        'histogram',
      ])
      .where('name', '=', query.name)
      .where('received_day', '>=', query.fromDay)
      .where('received_day', '<=', query.toDay);
    if (!query.includeCi) q = q.where('ci', '=', 0);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', this.internalIds());
    const rows = await q.orderBy('received_at').orderBy('id').execute();
    return rows.map(metricPoint);
  }

  async eraseCluster(trackingId: string, at: number = Date.now()): Promise<EraseResult> {
    return this.db.transaction().execute(async (trx) => {
      // Blocked first, in the same transaction: a write racing the erase either commits before it
      // (and is erased) or sees the block (and is dropped).
      await trx
        .insertInto('blocked_clusters')
        .values({ tracking_id: trackingId, blocked_at: at })
        .onConflict((oc) => oc.column('tracking_id').doUpdateSet({ blocked_at: at }))
        .execute();
      const reports = await trx
        .deleteFrom('reports')
        .where('tracking_id', '=', trackingId)
        .executeTakeFirst();
      const events = await trx.deleteFrom('events').where('tracking_id', '=', trackingId).executeTakeFirst();
      const agentReports = await trx
        .deleteFrom('agent_reports')
        .where('tracking_id', '=', trackingId)
        .executeTakeFirst();
      // Every other table that holds rows of a cluster (rollups included): erase means everywhere.
      for (const table of DERIVED_CLUSTER_TABLES) {
        await trx.deleteFrom(table).where('tracking_id', '=', trackingId).execute();
      }
      return {
        reports: Number(reports.numDeletedRows),
        events: Number(events.numDeletedRows),
        agentReports: Number(agentReports.numDeletedRows),
      };
    });
  }

  async unblockCluster(trackingId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('blocked_clusters')
      .where('tracking_id', '=', trackingId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async blockedClusters(): Promise<BlockedCluster[]> {
    const rows = await this.db
      .selectFrom('blocked_clusters')
      .selectAll()
      .orderBy('blocked_at', 'desc')
      .orderBy('tracking_id')
      .execute();
    return rows.map((r) => ({ trackingId: r.tracking_id, blockedAt: Number(r.blocked_at) }));
  }

  async deleteBefore(fromDay: string): Promise<RetentionResult> {
    return this.db.transaction().execute(async (trx) => {
      const deleted: RetentionResult = {};
      for (const step of retentionSteps(trx, fromDay)) {
        const result = await trx.executeQuery(step.query);
        if (step.counts) deleted[step.counts] = Number(result.numAffectedRows ?? 0n);
      }
      return deleted;
    });
  }

  async ensureSetting(key: string, value: string): Promise<string> {
    await this.db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const row = await this.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    return row.value;
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.db.insertInto('audit_log').values(entry).execute();
  }

  async auditLog(query: { limit: number; before?: number | undefined }): Promise<StoredAuditEntry[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (query.before !== undefined) q = q.where('id', '<', query.before);
    const rows = await q.orderBy('id', 'desc').limit(query.limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      actor: r.actor,
      action: r.action,
      target: r.target,
      details: r.details,
    }));
  }

  async createFirstAdminToken(token: TokenRecord): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await this.hooks.lockForSetup(trx);
      const existing = await trx
        .selectFrom('tokens')
        .select('id')
        .where('role', '=', 'admin')
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (existing) return false;
      await trx.insertInto('tokens').values(tokenColumns(token)).execute();
      return true;
    });
  }

  async putToken(token: TokenRecord): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values(tokenColumns(token))
      .onConflict((oc) =>
        oc.column('hash').doUpdateSet({ role: token.role, revoked_at: null, expires_at: token.expiresAt }),
      )
      .execute();
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row ? tokenRecord(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = await this.db.selectFrom('tokens').selectAll().orderBy('created_at').execute();
    return rows.map(tokenRecord);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.hooks.close?.();
  }
}
