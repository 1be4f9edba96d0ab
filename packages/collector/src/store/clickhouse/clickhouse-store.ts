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
// This class routes each question to the module that answers it: clickhouse-cluster-reads.ts,
// clickhouse-event-reads.ts, clickhouse-metric-reads.ts (their shared conditions in
// clickhouse-filters.ts), clickhouse-admin.ts (the internal tag, blocks, audit, tokens),
// clickhouse-migrate.ts (start-up), clickhouse-write.ts (ingest), clickhouse-erase.ts,
// clickhouse-retention.ts, and clickhouse-connection.ts (the client, and settings).

import type { ClickHouseClient } from '@clickhouse/client';
import type { CountedConnectorUses } from '../connector-uses.js';
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
import { ClickHouseAdmin } from './clickhouse-admin.js';
import { ClickHouseClusterReads } from './clickhouse-cluster-reads.js';
import {
  ClickHouseConnection,
  type ClickHouseOptions,
  parseClickHouseUrl,
  type Row,
} from './clickhouse-connection.js';
import { eraseCluster } from './clickhouse-erase.js';
import { ClickHouseEventReads } from './clickhouse-event-reads.js';
import { ClickHouseMetricReads } from './clickhouse-metric-reads.js';
import { migrateClickHouse } from './clickhouse-migrate.js';
import { deleteBefore } from './clickhouse-retention.js';
import { ClickHouseWriter } from './clickhouse-write.js';
import { type Sql, sql } from './sql.js';

export { type ClickHouseOptions, parseClickHouseUrl } from './clickhouse-connection.js';

export class ClickHouseStore implements Store {
  readonly kind = 'clickhouse' as const;
  private readonly ch: ClickHouseConnection;
  private readonly writer: ClickHouseWriter;
  private readonly clusters: ClickHouseClusterReads;
  private readonly eventReads: ClickHouseEventReads;
  private readonly metrics: ClickHouseMetricReads;
  private readonly admin: ClickHouseAdmin;

  constructor(options: ClickHouseOptions) {
    this.ch = new ClickHouseConnection(options);
    this.writer = new ClickHouseWriter(this.ch);
    this.clusters = new ClickHouseClusterReads(this.ch);
    this.eventReads = new ClickHouseEventReads(this.ch);
    this.metrics = new ClickHouseMetricReads(this.ch);
    this.admin = new ClickHouseAdmin(this.ch);
  }

  get client(): ClickHouseClient {
    return this.ch.client;
  }

  rows<T = Row>(query: Sql): Promise<T[]> {
    return this.ch.rows<T>(query);
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

  getCluster(trackingId: string): Promise<ClusterSummary | null> {
    return this.clusters.getCluster(trackingId);
  }

  activeClusters(query: DayRangeQuery): Promise<{ day: string; clusters: number }[]> {
    return this.clusters.activeClusters(query);
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

  leftOut(query: { fromDay: string; toDay: string }): Promise<LeftOut> {
    return this.clusters.leftOut(query);
  }

  versionCounts(query: DayRangeQuery): Promise<{ day: string; version: string | null; clusters: number }[]> {
    return this.clusters.versionCounts(query);
  }

  latestFacts(query: DayRangeQuery): Promise<ClusterFacts[]> {
    return this.clusters.latestFacts(query);
  }

  clusterHistory(query: ClusterHistoryQuery): Promise<{ days: ClusterFacts[]; sessions: ClusterSession[] }> {
    return this.clusters.clusterHistory(query);
  }

  countClusters(query: ClusterListFilter): Promise<number> {
    return this.clusters.countClusters(query);
  }

  listClusters(query: ClusterListQuery): Promise<ClusterListItem[]> {
    return this.clusters.listClusters(query);
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

  metricRollupPages(query: MetricPointQuery): AsyncGenerator<MetricRollup[]> {
    return this.metrics.metricRollupPages(query);
  }

  metricFleet(query: MetricPointQuery, by: CellGrouping): Promise<MetricFleetAnswer> {
    return this.metrics.metricFleet(query, by);
  }

  eraseCluster(trackingId: string, at: number = Date.now()): Promise<EraseResult> {
    return eraseCluster(this.ch, trackingId, at);
  }

  deleteBefore(fromDay: string): Promise<RetentionResult> {
    return deleteBefore(this.ch, fromDay);
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
    return this.ch.ensureSetting(key, value);
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
    await this.rows(sql`SELECT 1 AS ok`);
  }

  async close(): Promise<void> {
    await this.ch.close();
  }
}

export function openClickHouseStore(url: string): ClickHouseStore {
  return new ClickHouseStore(parseClickHouseUrl(url));
}
