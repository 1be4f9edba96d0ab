// The Store on a SQL database through Kysely. SQLite and PostgreSQL share this code; what differs
// (connection, column types, the setup lock) is passed in by sqlite/ and postgres/ (dialect.ts).
// This class routes each question to the module that answers it: cluster-reads.ts,
// event-reads.ts, metric-reads.ts, sql-admin.ts (tokens, audit, settings, blocks), sql-migrate.ts
// (start-up), sql-write.ts (ingest), sql-erase.ts, sql-retention.ts, and sql-runner.ts (their
// hand-written SQL).
import { type Kysely, sql } from 'kysely';
import type { CountedConnectorUses } from '../connector-uses.js';
import { LEGACY_EVENT_KEYS_SETTING, LegacyBoundary } from '../legacy-event-keys.js';
import type { CellGrouping, MetricFleetAnswer } from '../metric-cells.js';
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
  DistributionName,
  EraseResult,
  EventCountQuery,
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
import { ClusterReads } from './cluster-reads.js';
import type { SqlDialectHooks } from './dialect.js';
import { EventReads } from './event-reads.js';
import { MetricReads } from './metric-reads.js';
import { RollupMemo } from './rollup-memo.js';
import type { Database } from './schema.js';
import { SqlAdmin } from './sql-admin.js';
import { eraseCluster } from './sql-erase.js';
import { migrateSqlStore } from './sql-migrate.js';
import { deleteBefore } from './sql-retention.js';
import { SqlRunner } from './sql-runner.js';
import { writeBatch } from './sql-write.js';

export class SqlStore implements Store {
  readonly kind: 'sqlite' | 'postgres';
  private readonly run: SqlRunner;
  private readonly clusters: ClusterReads;
  private readonly eventReads: EventReads;
  private readonly metrics: MetricReads;
  private readonly admin: SqlAdmin;

  constructor(
    readonly db: Kysely<Database>,
    private readonly hooks: SqlDialectHooks,
  ) {
    this.kind = hooks.kind;
    this.run = new SqlRunner(hooks.kind);
    this.clusters = new ClusterReads(db, hooks.kind);
    this.eventReads = new EventReads(db);
    this.metrics = new MetricReads(db);
    this.admin = new SqlAdmin(db, hooks, this.run);
  }

  migrate(progress?: MigrationProgress): Promise<string[]> {
    return migrateSqlStore(this.db, { kind: this.hooks.kind, types: this.hooks.types }, progress);
  }

  /** Which rollup rows this store's writes already committed (rollup-memo.ts). */
  private readonly rollups = new RollupMemo();

  private readonly legacyBoundary = new LegacyBoundary();

  legacyEventKeysUntil(): Promise<number | null> {
    return this.legacyBoundary.read(async () => {
      const row = await this.db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', LEGACY_EVENT_KEYS_SETTING)
        .executeTakeFirst();
      return row?.value;
    });
  }

  async writeBatch(request: WriteBatch): Promise<WriteResult> {
    const legacyUntil = request.events.length > 0 ? await this.legacyEventKeysUntil() : null;
    return writeBatch(this.db, this.hooks, this.run, this.rollups, request, legacyUntil);
  }

  getCluster(trackingId: string): Promise<ClusterSummary | null> {
    return this.clusters.getCluster(trackingId);
  }

  activeClusters(query: DayRangeQuery): Promise<{ day: string; clusters: number }[]> {
    return this.clusters.activeClusters(query);
  }

  versionCounts(query: DayRangeQuery): Promise<{ day: string; version: string | null; clusters: number }[]> {
    return this.clusters.versionCounts(query);
  }

  leftOut(query: { fromDay: string; toDay: string }): Promise<LeftOut> {
    return this.clusters.leftOut(query);
  }

  activeClusterCount(query: DayRangeQuery): Promise<number> {
    return this.clusters.activeClusterCount(query);
  }

  clusterSpans(query: {
    toDay: string;
    includeCi: boolean;
    includeInternal?: boolean | undefined;
  }): Promise<ClusterSpan[]> {
    return this.clusters.clusterSpans(query);
  }

  countClusters(query: ClusterListFilter): Promise<number> {
    return this.clusters.countClusters(query);
  }

  listClusters(query: ClusterListQuery): Promise<ClusterListItem[]> {
    return this.clusters.listClusters(query);
  }

  latestFacts(query: DayRangeQuery): Promise<ClusterFacts[]> {
    return this.clusters.latestFacts(query);
  }

  connectorUseCounts(query: DayRangeQuery): Promise<CountedConnectorUses[]> {
    return this.clusters.connectorUseCounts(query);
  }

  distributionCounts(
    of: DistributionName,
    query: DayRangeQuery,
  ): Promise<{ value: number | null; clusters: number }[]> {
    return this.clusters.distributionCounts(of, query);
  }

  breakdown(
    by: BreakdownDimension,
    query: DayRangeQuery,
  ): Promise<{ value: string | null; clusters: number }[]> {
    return this.clusters.breakdown(by, query);
  }

  clusterHistory(query: ClusterHistoryQuery): Promise<{ days: ClusterFacts[]; sessions: ClusterSession[] }> {
    return this.clusters.clusterHistory(query);
  }

  eventCounts(query: EventCountQuery): Promise<{ value: string | null; events: number; clusters: number }[]> {
    return this.eventReads.eventCounts(query);
  }

  events(query: EventQuery): Promise<StoredEvent[]> {
    return this.eventReads.events(query);
  }

  agentEvents(query: AgentEventQuery): Promise<StoredAgentEvent[]> {
    return this.eventReads.agentEvents(query);
  }

  knownSeries(trackingId: string): Promise<KnownSeries> {
    return this.metrics.knownSeries(trackingId);
  }

  metricNames(): Promise<MetricName[]> {
    return this.metrics.metricNames();
  }

  metricPoints(query: MetricPointQuery): Promise<MetricPoint[]> {
    return this.metrics.metricPoints(query);
  }

  metricRollupPages(query: MetricPointQuery, pageSize?: number): AsyncGenerator<MetricRollup[]> {
    return this.metrics.metricRollupPages(query, pageSize);
  }

  metricFleet(query: MetricPointQuery, by: CellGrouping, now?: number): Promise<MetricFleetAnswer> {
    return this.metrics.metricFleet(query, by, now);
  }

  eraseCluster(trackingId: string, at: number = Date.now()): Promise<EraseResult> {
    return eraseCluster(this.db, this.hooks, this.run, trackingId, at);
  }

  deleteBefore(fromDay: string): Promise<RetentionResult> {
    return deleteBefore(this.db, this.run, fromDay);
  }

  setInternal(trackingId: string, internal: boolean): Promise<boolean> {
    return this.admin.setInternal(trackingId, internal);
  }

  unblockCluster(trackingId: string): Promise<boolean> {
    return this.admin.unblockCluster(trackingId);
  }

  blockedClusters(): Promise<BlockedCluster[]> {
    return this.admin.blockedClusters();
  }

  ensureSetting(key: string, value: string): Promise<string> {
    return this.admin.ensureSetting(key, value);
  }

  appendAudit(entry: AuditEntry): Promise<void> {
    return this.admin.appendAudit(entry);
  }

  auditLog(query: { limit: number; before?: number | undefined }): Promise<StoredAuditEntry[]> {
    return this.admin.auditLog(query);
  }

  createFirstAdminToken(token: TokenRecord): Promise<boolean> {
    return this.admin.createFirstAdminToken(token);
  }

  putToken(token: TokenRecord): Promise<void> {
    return this.admin.putToken(token);
  }

  findTokenByHash(hash: string): Promise<TokenRecord | null> {
    return this.admin.findTokenByHash(hash);
  }

  listTokens(): Promise<TokenRecord[]> {
    return this.admin.listTokens();
  }

  revokeToken(id: string, at: number): Promise<boolean> {
    return this.admin.revokeToken(id, at);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.hooks.close?.();
  }
}
