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
import { createHash } from 'node:crypto';
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import {
  clusterFacts,
  clusterListItem,
  clusterSummary,
  type EventColumns,
  type FactsColumns,
  factsBreakdown,
  type MetaFacts,
  metricPoint,
  type PointColumns,
  rankEventCounts,
  sortSessions,
  storedAgentEvent,
  storedEvent,
  type TokenColumns,
  tokenColumns,
  tokenRecord,
  versionCountsOf,
} from '../answers.js';
import { type CellGrouping, foldCells, type MetricFleetAnswer, newestKind } from '../metric-cells.js';
import { foldPoints, metricRollup, type PointRow, type RollupColumns } from '../metric-rollup.js';
import {
  agentChildren,
  agentReportColumns,
  batchTrackingIds,
  eventColumns,
  ordered,
  reportColumns,
  withoutBlocked,
} from '../sql/columns.js';
import type { ClusterListItem as ClusterListRow } from '../sql/schema.js';
import type {
  AgentEventQuery,
  AuditEntry,
  BlockedCluster,
  BreakdownDimension,
  ClusterFacts,
  ClusterHistoryQuery,
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
import { seriesKey } from '../store.js';
import {
  CLUSTER_TABLES,
  checkRows,
  createTableSql,
  createViewSql,
  RETAINED_TABLES,
  ROLLUPS,
  TABLES,
  type TableName,
} from './schema.js';
import { and, ident, join, type Sql, sql } from './sql.js';

export interface ClickHouseOptions {
  /** `http://host:8123` or `https://…`. */
  url: string;
  database: string;
  username?: string;
  password?: string;
  /** How long an erase waits for its mutations (default 5 minutes). */
  mutationTimeoutMs?: number;
  /** Retry keys per dedup lookup (default KEYS_PER_LOOKUP; tests make it small). */
  keysPerLookup?: number;
}

/** `clickhouse://[user[:password]@]host[:port]/database` (HTTP; `clickhouse+https://` for TLS). */
export function parseClickHouseUrl(url: string): ClickHouseOptions {
  const parsed = new URL(
    url.replace(/^clickhouse(\+https?)?:/, (_, tls) => (tls === '+https' ? 'https:' : 'http:')),
  );
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'tidewatch';
  if (!/^[a-z_][a-z0-9_]*$/i.test(database)) {
    throw new Error(`ClickHouse database name "${database}" must be letters, digits and _`);
  }
  return {
    url: `${parsed.protocol}//${parsed.hostname}:${parsed.port || (parsed.protocol === 'https:' ? 8443 : 8123)}`,
    database,
    username: decodeURIComponent(parsed.username) || 'default',
    password: decodeURIComponent(parsed.password),
  };
}

/**
 * Keys looked up per query: with 128-character ids and their tracking ids the statement stays
 * under MAX_QUERY_SIZE. Few big lookups, not many small ones: each reads at least a granule of
 * every part of the table (measured on a bulk import into 3.5 M reports: 300-key lookups took
 * ~0.2 s of ClickHouse CPU each, whatever their size).
 */
const KEYS_PER_LOOKUP = 4_000;
/** ClickHouse's max_query_size for this store's statements (the server's default is 256 KiB). */
const MAX_QUERY_SIZE = 2 * 1024 * 1024;

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

/** The page cursor's tie-breaker for an event: 48 bits of its retry key, the same on every copy. */
export function eventId(dedupKey: string): number {
  return createHash('sha256').update(dedupKey).digest().readUIntBE(0, 6);
}

const base64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** Rows of a day range, by the raw tables' received_day or the rollups' day. */
function dayRange(
  q: { fromDay: string; toDay: string },
  column: 'received_day' | 'day' = 'received_day',
): Sql {
  return sql`${ident(column)} >= toDate(${q.fromDay}) AND ${ident(column)} <= toDate(${q.toDay})`;
}

/** Every retry key of a batch, named by its table (a report's and an event's keys never meet). */
function retryKeys(batch: WriteBatch): string[] {
  return [
    ...batch.reports.map((r) => `r ${r.dedupKey}`),
    ...batch.events.map((e) => `e ${e.dedupKey}`),
    ...(batch.agentReports ?? []).map((w) => `a ${w.report.reportId}`),
  ];
}

/** How long the first request of a start may take (ClickHouse answers it in milliseconds). */
const START_TIMEOUT_MS = 10_000;

export class ClickHouseStore implements Store {
  readonly kind = 'clickhouse' as const;
  readonly client: ClickHouseClient;
  /** Versions for ReplacingMergeTree(version) updates: µs of the clock, unique within a process. */
  private lastVersion = 0;
  /** The retry keys of the batches this process is writing, each with its batch's write (see writeBatch). */
  private readonly writing = new Map<string, Promise<unknown>>();

  constructor(private readonly options: ClickHouseOptions) {
    this.client = this.connect(options.database);
  }

  private connect(database: string | undefined, requestTimeout = 300_000): ClickHouseClient {
    return createClient({
      url: this.options.url,
      username: this.options.username ?? 'default',
      password: this.options.password ?? '',
      ...(database ? { database } : {}),
      // Long fleet scans and erases: progress headers keep the idle connection alive meanwhile.
      request_timeout: requestTimeout,
      // The server closes an idle keep-alive socket after 3 s (keep_alive_timeout before 23.11).
      // The client's timer that retires sockets idle for 2.5 s fires late when the event loop is
      // busy, and an insert on a socket the server closed fails with ECONNRESET (seen: a bulk
      // import, a 50,000-row batch built between two inserts). Checking the idle time when a
      // socket is taken does not depend on the timer.
      keep_alive: { idle_socket_ttl: 2_000, eagerly_destroy_stale_sockets: true },
      // Every failure reaches us as a thrown error, which the collector answers and logs in its
      // own words; the client's own logger printed each one again, stack and all, to the console.
      log: { level: ClickHouseLogLevel.OFF },
      clickhouse_settings: {
        output_format_json_quote_64bit_integers: 0,
        max_query_size: String(MAX_QUERY_SIZE),
        send_progress_in_http_headers: 1,
        http_headers_progress_interval_ms: '10000',
      },
    });
  }

  async rows<T = Row>(query: Sql): Promise<T[]> {
    const result = await this.client.query({ query: query.text, format: 'JSONEachRow' });
    return result.json<T>();
  }

  private async command(query: Sql): Promise<void> {
    await this.client.command({ query: query.text });
  }

  private async insert(table: TableName, values: Row[]): Promise<void> {
    if (values.length === 0) return;
    await this.client.insert({ table, values, format: 'JSONEachRow' });
  }

  private nextVersion(): number {
    this.lastVersion = Math.max(this.lastVersion + 1, Date.now() * 1000);
    return this.lastVersion;
  }

  async migrate(progress?: MigrationProgress): Promise<string[]> {
    const applied: string[] = [];
    // The first request of a start: bounded, so that a host that takes the connection and never
    // answers is reported within seconds, not after the long queries' 5 minutes.
    const admin = this.connect(undefined, START_TIMEOUT_MS);
    try {
      await admin.command({ query: sql`CREATE DATABASE IF NOT EXISTS ${ident(this.options.database)}`.text });
    } catch (error) {
      const reason = (error as Error).message || String((error as { code?: unknown }).code ?? error);
      // The server answered and refused (a password, a user, rights): not a matter of reaching it.
      if (/\bCode: \d+/.test(reason) || /^\d+$/.test(String((error as { code?: unknown }).code ?? ''))) {
        throw new Error(
          `cannot set up the store: ${reason} (the user of the store URL needs its password right, and rights to create the database, its tables and views, and to delete from them; see docs/deploy.md)`,
        );
      }
      throw new Error(
        `cannot reach the store: ${reason} (is clickhouse-server running and listening for HTTP at ${this.options.url}? Check the host and port of the store URL)`,
      );
    } finally {
      await admin.close();
    }
    const newStore = !(await this.tableExists('reports'));
    for (const table of TABLES) await this.idempotentDdl(createTableSql(table), table.name);
    for (const rollup of ROLLUPS) {
      // The collector that creates a rollup fills it from the rows stored before it existed, after
      // its views are in place: a row written meanwhile reaches it through a view, the backfill or
      // both, and both is harmless (min, max and latest do not change with a second copy). A
      // collector that dies before the backfill ends leaves it partial: drop the rollup table and
      // restart to fill it again.
      // Looked up first: a failed CREATE is logged as an error by the client, at every start.
      const created = !(await this.tableExists(rollup.name)) && (await this.claim(rollup.name, rollup.ddl));
      for (const view of rollup.views) await this.idempotentDdl(createViewSql(rollup, view), view.name);
      if (created) {
        const started = Date.now();
        progress?.({ phase: 'pending', names: [rollup.name], newStore });
        // Month by month: one statement over years of rows could outgrow the server's memory.
        for (const view of rollup.views) {
          const months = await this.rows<{ month: number }>(
            sql`SELECT DISTINCT toYYYYMM(received_day) AS month FROM ${ident(view.source)} ORDER BY month`,
          );
          for (const { month } of months) {
            const where = sql`toYYYYMM(received_day) = ${Number(month)}`;
            await this.command(sql`INSERT INTO ${ident(rollup.name)} ${view.select(where)}`);
          }
        }
        applied.push(rollup.name);
        progress?.({ phase: 'applied', name: rollup.name, ms: Date.now() - started });
      }
    }
    return applied;
  }

  /**
   * CREATE … IF NOT EXISTS, safe when several collectors start together: 18.16 may answer "is
   * creating right now" to the second one; then the table is there (or soon is).
   */
  private async idempotentDdl(ddl: Sql, table: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.command(ddl);
        return;
      } catch (error) {
        if (attempt >= 50 || !/right now|already exists/i.test((error as Error).message)) throw error;
        if (await this.tableExists(table).catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private async tableExists(table: string): Promise<boolean> {
    const [found] = await this.rows<{ n: number }>(
      sql`SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = ${table}`,
    );
    return Number(found?.n ?? 0) > 0;
  }

  /** Which of these keys are stored already (in any copy). */
  private async storedKeys(
    table: 'reports' | 'events' | 'agent_reports',
    keyColumn: 'dedup_key' | 'report_id',
    rows: readonly { trackingId: string; key: string }[],
  ): Promise<Set<string>> {
    // Chunks of neighbouring tracking ids: a lookup reads the granules of the tracking ids it
    // names (the tables are ordered by tracking id first), so a big batch of many clusters (a bulk
    // import) in chunks of random ids read the whole table once per chunk (measured at 3.5 M
    // reports: ~1.1 s of ClickHouse CPU per 300-key lookup), in sorted chunks about once in all.
    const sorted = [...rows].sort((a, b) =>
      a.trackingId < b.trackingId ? -1 : a.trackingId > b.trackingId ? 1 : 0,
    );
    const size = this.options.keysPerLookup ?? KEYS_PER_LOOKUP;
    const parts: (typeof rows)[] = [];
    for (let i = 0; i < sorted.length; i += size) parts.push(sorted.slice(i, i + size));
    const found = await Promise.all(
      parts.map((part) =>
        this.rows<{ k: string }>(
          sql`SELECT ${ident(keyColumn)} AS k FROM ${ident(table)}
              WHERE tracking_id IN (${join([...new Set(part.map((r) => r.trackingId))].map((id) => sql`${id}`))})
                AND ${ident(keyColumn)} IN (${join(part.map((r) => sql`${r.key}`))})`,
        ),
      ),
    );
    return new Set(found.flat().map((row) => row.k));
  }

  /** Which of these ids are blocked (erased and not unblocked). */
  private async blockedIds(ids: readonly string[]): Promise<Set<string>> {
    const blocked = new Set<string>();
    for (let i = 0; i < ids.length; i += KEYS_PER_LOOKUP) {
      const part = ids.slice(i, i + KEYS_PER_LOOKUP);
      const rows = await this.rows<{ tracking_id: string }>(
        sql`SELECT tracking_id FROM blocked_clusters FINAL
            WHERE blocked = 1 AND tracking_id IN (${join(part.map((id) => sql`${id}`))})`,
      );
      for (const row of rows) blocked.add(row.tracking_id);
    }
    return blocked;
  }

  /**
   * A batch holding a retry key that another batch of this process is still writing waits for that
   * one first, so that its lookup finds the key stored: without a transaction, two copies of a
   * message looked up at the same moment (a client's retry while its first attempt still waits in
   * a slow commit, with several batches in flight) would both be inserted, and the rollups (first
   * and last seen, a backdated copy's day) count every copy. Collectors racing each other still
   * can (README, ClickHouse store).
   */
  async writeBatch(request: WriteBatch): Promise<WriteResult> {
    const keys = retryKeys(request);
    for (;;) {
      const earlier = new Set<Promise<unknown>>();
      for (const key of keys) {
        const write = this.writing.get(key);
        if (write) earlier.add(write);
      }
      if (earlier.size === 0) break;
      await Promise.allSettled(earlier);
    }
    // Claimed with no await since the check above: no other batch can claim one of these keys between.
    const write = this.writeUnclaimed(request);
    for (const key of keys) this.writing.set(key, write);
    try {
      return await write;
    } finally {
      for (const key of keys) if (this.writing.get(key) === write) this.writing.delete(key);
    }
  }

  private async writeUnclaimed(request: WriteBatch): Promise<WriteResult> {
    // Every lookup at once (one round trip of latency): blocks, and keys already stored.
    const all = ordered(request);
    const agentWrites = all.agentReports ?? [];
    const [blockedIds, storedReports, storedEvents, storedAgents] = await Promise.all([
      this.blockedIds(batchTrackingIds(all)),
      this.storedKeys(
        'reports',
        'dedup_key',
        all.reports.map((r) => ({ trackingId: r.trackingId, key: r.dedupKey })),
      ),
      this.storedKeys(
        'events',
        'dedup_key',
        all.events.map((e) => ({ trackingId: e.trackingId, key: e.dedupKey })),
      ),
      this.storedKeys(
        'agent_reports',
        'report_id',
        agentWrites.map((w) => ({ trackingId: w.report.trackingId, key: w.report.reportId })),
      ),
    ]);
    const { batch } = withoutBlocked(all, blockedIds);
    // Counted as sent, like every store.
    const { blocked, blockedIds: blockedOnes } = withoutBlocked(request, blockedIds);
    const reports = batch.reports
      .filter((r) => !storedReports.has(r.dedupKey))
      .map((r) => ({ ...reportColumns(r), raw: base64(r.raw) }));
    const events = batch.events
      .filter((e) => !storedEvents.has(e.dedupKey))
      .map((e) => ({ ...eventColumns(e), id: eventId(e.dedupKey), raw: base64(e.raw) }));
    const newAgents = (batch.agentReports ?? []).filter((w) => !storedAgents.has(w.report.reportId));
    const agentReports = newAgents.map((w) => ({
      ...agentReportColumns(w.report),
      raw: base64(w.report.raw),
    }));
    const children = agentChildren(newAgents);
    const writes: [TableName, Row[]][] = [
      ['metric_points', children.points],
      ['agent_events', children.events],
      ['metric_series', children.series],
      ['events', events],
      ['reports', reports],
      ['agent_reports', agentReports],
    ];
    for (const [table, rows] of writes) checkRows(table, rows);
    // Children before their parents: an agent report's row is what tells a retry "already stored",
    // so it goes in only once its points and events are in. The rest go in together.
    await Promise.all(writes.slice(0, -1).map(([table, rows]) => this.insert(table, rows)));
    // The rollup before the parents too: a retry after a crash here recomputes it.
    await this.refreshRollup(children.points);
    await this.insert('agent_reports', agentReports);
    return {
      reportsInserted: reports.length,
      eventsInserted: events.length,
      agentReportsInserted: agentReports.length,
      blocked,
      blockedIds: blockedOnes,
    };
  }

  /**
   * Recomputes the metric_rollup rows of every (metric, day, cluster) these new points belong to
   * from the raw points stored for it (FINAL: each point once). The version is taken before the
   * read, so of two racing refreshes the later-versioned one read at least what the other did.
   * Costs one read of those cluster-days' points per write.
   */
  private async refreshRollup(points: readonly PointRow[]): Promise<void> {
    if (points.length === 0) return;
    const key = (p: { name: string; received_day: string; tracking_id: string }) =>
      `${p.name}\0${p.received_day}\0${p.tracking_id}`;
    const touched = new Set(points.map(key));
    const list = (values: Iterable<string>) => join([...new Set(values)].map((v) => sql`${v}`));
    const version = this.nextVersion();
    const stored = await this.rows<PointRow>(
      sql`SELECT report_id, tracking_id, received_at, received_day, node_type,
            version, cluster_type, ci, name, kind, labels, value, histogram
          FROM metric_points FINAL
          WHERE name IN (${list(points.map((p) => p.name))})
            AND received_day IN (${join([...new Set(points.map((p) => p.received_day))].map((d) => sql`toDate(${d})`))})
            AND tracking_id IN (${list(points.map((p) => p.tracking_id))})
          ORDER BY received_at, report_id, labels`,
    );
    const rows = foldPoints(stored.filter((p) => touched.has(key(p)))).map(({ day, ...r }) => ({
      ...r,
      received_day: day,
      rollup_version: version,
    }));
    checkRows('metric_rollup', rows);
    await this.insert('metric_rollup', rows);
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

  /** Everything stored of a cluster, with its receive time (erase checks that nothing is left). */
  private stored(where: Sql): Sql {
    return sql`(SELECT tracking_id, received_at FROM reports WHERE ${where}
      UNION ALL SELECT tracking_id, received_at FROM events WHERE ${where}
      UNION ALL SELECT tracking_id, received_at FROM agent_reports WHERE ${where})`;
  }

  /** Rows of a cluster in a raw table, each retried copy counted once. */
  private async count(table: 'reports' | 'events' | 'agent_reports', trackingId: string): Promise<number> {
    const key = ident(table === 'agent_reports' ? 'report_id' : 'dedup_key');
    const [row] = await this.rows<{ n: number }>(
      sql`SELECT uniqExact(${key}) AS n FROM ${ident(table)} WHERE tracking_id = ${trackingId}`,
    );
    return Number(row?.n ?? 0);
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
      this.count('events', trackingId),
      this.count('agent_reports', trackingId),
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
    const to = Date.parse(query.toDay) + 86_400_000;
    const sessionsOf = async (table: 'reports' | 'agent_reports', source: ClusterSession['source']) => {
      const key = ident(table === 'reports' ? 'dedup_key' : 'report_id');
      const rows = await this.rows<{
        session_id: string;
        node_type: string;
        first: number;
        last: number;
        reports: number;
        memory: number | null;
        cpus: number | null;
      }>(
        sql`SELECT session_id, node_type, min(received_at) AS first, max(received_at) AS last,
              uniqExact(${key}) AS reports, max(memory_total) AS memory, max(cpu_available) AS cpus
            FROM ${ident(table)}
            WHERE tracking_id = ${query.trackingId} AND received_at >= ${from} AND received_at < ${to}
            GROUP BY session_id, node_type`,
      );
      return rows.map(
        (r): ClusterSession => ({
          sessionId: r.session_id,
          nodeType: r.node_type,
          source,
          firstSeen: Number(r.first),
          lastSeen: Number(r.last),
          reports: Number(r.reports),
          memoryTotal: r.memory === null ? null : Number(r.memory),
          cpuAvailable: r.cpus === null ? null : Number(r.cpus),
        }),
      );
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

  async listClusters(query: ClusterListQuery): Promise<ClusterListItem[]> {
    const filters: Sql[] = [];
    const search: Sql[] = [];
    if (query.search) {
      // A plain substring (no pattern language): tracking ids are ASCII, lower() is ASCII too.
      search.push(sql`position(lower(tracking_id), ${query.search.toLowerCase()}) > 0`);
    }
    if (query.version !== undefined) filters.push(sql`version = ${query.version}`);
    if (query.clusterType !== undefined) filters.push(sql`cluster_type = ${query.clusterType}`);
    if (query.seenFromDay !== undefined) filters.push(sql`last_seen >= ${Date.parse(query.seenFromDay)}`);
    const before = query.before;
    if (before) {
      filters.push(
        sql`(last_seen < ${before.lastSeen} OR (last_seen = ${before.lastSeen} AND tracking_id < ${before.trackingId}))`,
      );
    }
    const rows = await this.rows<ClusterListRow>(
      sql`SELECT tracking_id, first_seen, last_seen, version, git_sha, cluster_type, meta_backend,
            tracking_id IN ${this.internalIds()} AS internal
          FROM (SELECT tracking_id, minMerge(first_at) AS first_seen, maxMerge(last_at) AS last_seen
                FROM cluster_days WHERE ${and(search)} GROUP BY tracking_id)
          ANY LEFT JOIN ${this.latestDayFacts(
            and(search),
            sql`tracking_id`,
            sql`version, git_sha, cluster_type, meta_backend`,
            'cluster_latest',
          )}
          USING tracking_id
          WHERE ${and(filters)}
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
    if (query.connector !== undefined) filters.push(sql`connector_name = ${query.connector}`);
    const before = query.before;
    const after = before
      ? sql`at < ${before.receivedAt} OR (at = ${before.receivedAt} AND first_id < ${before.id})`
      : sql`1`;
    // Each event's first copy (a retry stored twice before a merge is listed once, at one place of
    // the page order); the page cursor applies after that choice, so pages never repeat an event.
    // The page is chosen on narrow columns; only its rows are then read whole (PREWHERE).
    const page = sql`SELECT dedup_key FROM (
        SELECT dedup_key, min(received_at) AS at, any(id) AS first_id FROM events
        WHERE ${and(filters)} GROUP BY dedup_key)
      WHERE ${after} ORDER BY at DESC, first_id DESC LIMIT ${query.limit}`;
    const rows = await this.rows<EventColumns>(
      sql`SELECT * FROM (
            SELECT dedup_key, id, tracking_id, received_at, event_time_sec, stage, name, connector_name,
              catalog_id, attributes, node, object
            FROM events PREWHERE dedup_key IN (${page}) WHERE ${and(filters)}
            ORDER BY received_at LIMIT 1 BY dedup_key)
          ORDER BY received_at DESC, id DESC`,
    );
    return rows.map(storedEvent);
  }

  async knownSeries(trackingId: string): Promise<KnownSeries> {
    const rows = await this.rows<{ name: string; labels: string }>(
      sql`SELECT DISTINCT name, labels FROM metric_series WHERE tracking_id = ${trackingId}`,
    );
    const known: KnownSeries = { names: new Set(), series: new Set() };
    for (const row of rows) {
      known.names.add(row.name);
      known.series.add(seriesKey(row.name, row.labels));
    }
    return known;
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

  async eraseCluster(trackingId: string, at: number = Date.now()): Promise<EraseResult> {
    // Blocked first: a write that checks after this drops the cluster's rows.
    await this.insert('blocked_clusters', [
      { tracking_id: trackingId, blocked: 1, blocked_at: at, version: this.nextVersion() },
    ]);
    const counts = {
      reports: await this.count('reports', trackingId),
      events: await this.count('events', trackingId),
      agentReports: await this.count('agent_reports', trackingId),
    };
    // A write that checked the block just before it landed may insert after the first delete was
    // queued (a mutation only touches the parts that existed then): a second pass takes those.
    for (let pass = 0; pass < 2; pass++) {
      // Every table with rows of the cluster, tags and series included: erase means everywhere.
      for (const table of CLUSTER_TABLES) {
        await this.command(sql`ALTER TABLE ${ident(table)} DELETE WHERE tracking_id = ${trackingId}`);
      }
      await this.waitForMutations();
      const [left] = await this.rows<{ n: number }>(
        sql`SELECT count() AS n FROM ${this.stored(sql`tracking_id = ${trackingId}`)}`,
      );
      if (Number(left?.n ?? 0) === 0) break;
    }
    return counts;
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

  /**
   * Retention the ClickHouse way: months wholly before the cut-off are dropped as partitions (no
   * rewrite), and only the month that straddles it is deleted from by a mutation. Nothing else to
   * fix: first seen, latest facts and the daily statistics are read from the rows that remain.
   */
  async deleteBefore(fromDay: string): Promise<RetentionResult> {
    const cutoff = Date.parse(`${fromDay}T00:00:00.000Z`);
    const before = sql`received_day < toDate(${fromDay})`;
    const deleted: RetentionResult = {};
    // Clusters all of whose rows are older: forgotten (tags included).
    const forgotten = await this.rows<{ tracking_id: string }>(
      sql`SELECT tracking_id FROM cluster_days GROUP BY tracking_id HAVING maxMerge(last_at) < ${cutoff}`,
    );
    deleted.clusters = forgotten.length;
    const dropOld = async (table: string, older: Sql) => {
      const partitions = await this.rows<{ partition_id: string }>(
        sql`SELECT partition_id FROM system.parts
            WHERE database = ${this.options.database} AND table = ${table} AND active
            GROUP BY partition_id HAVING max(max_date) < toDate(${fromDay})`,
      );
      // Monthly partitions only (cluster_latest has one, 'all').
      for (const p of partitions.filter((p) => /^\d+$/.test(p.partition_id))) {
        await this.command(sql`ALTER TABLE ${ident(table)} DROP PARTITION ${Number(p.partition_id)}`);
      }
      await this.command(sql`ALTER TABLE ${ident(table)} DELETE WHERE ${older}`);
    };
    for (const table of RETAINED_TABLES) {
      const [old] = await this.rows<{ n: number }>(
        sql`SELECT count() AS n FROM ${ident(table)} FINAL WHERE ${before}`,
      );
      deleted[table] = Number(old?.n ?? 0);
      if (deleted[table] > 0) await dropOld(table, before);
    }
    // The rollups' days before the cut-off go too: first seen, activity and latest facts then come
    // from the rows that remain, as in the SQL stores.
    for (const rollup of ROLLUPS) {
      const older = sql`day < toDate(${fromDay})`;
      const [old] = await this.rows<{ n: number }>(
        sql`SELECT count() AS n FROM ${ident(rollup.name)} WHERE ${older}`,
      );
      // Counted like the SQL stores' rollup tables (rows as stored: parts not yet merged count each).
      deleted[rollup.name] = Number(old?.n ?? 0);
      if (deleted[rollup.name]! > 0) await dropOld(rollup.name, older);
    }
    // A series whose points are all gone is forgotten (it only served the per-cluster caps).
    const series = await this.rows<{ tracking_id: string; name: string; labels: string }>(
      sql`SELECT tracking_id, name, labels FROM metric_series FINAL
          WHERE first_seen < ${cutoff}
            AND (tracking_id, name, labels) NOT IN (SELECT tracking_id, name, labels FROM metric_points FINAL
              WHERE NOT (${before}))`,
    );
    deleted.metric_series = series.length;
    const [audit] = await this.rows<{ n: number }>(
      sql`SELECT count() AS n FROM audit_log WHERE at < ${cutoff}`,
    );
    deleted.audit_log = Number(audit?.n ?? 0);
    // Mutations take literal lists: 18.16 does not run subqueries inside them.
    const tuples = series.map((s) => sql`(${s.tracking_id}, ${s.name}, ${s.labels})`);
    for (let i = 0; i < tuples.length; i += KEYS_PER_LOOKUP) {
      await this.command(
        sql`ALTER TABLE metric_series DELETE WHERE (tracking_id, name, labels) IN (${join(tuples.slice(i, i + KEYS_PER_LOOKUP))})`,
      );
    }
    const ids = forgotten.map((f) => sql`${f.tracking_id}`);
    for (let i = 0; i < ids.length; i += KEYS_PER_LOOKUP) {
      await this.command(
        sql`ALTER TABLE cluster_tags DELETE WHERE tracking_id IN (${join(ids.slice(i, i + KEYS_PER_LOOKUP))})`,
      );
    }
    if (deleted.audit_log > 0) await this.command(sql`ALTER TABLE audit_log DELETE WHERE at < ${cutoff}`);
    await this.waitForMutations();
    return deleted;
  }

  /**
   * A claim that exactly one of several collectors wins: ClickHouse has no transactions or unique
   * keys, but creating a table is atomic, so of concurrent CREATEs of one name only one succeeds.
   */
  private async claim(name: string, ddl?: Sql): Promise<boolean> {
    try {
      await this.command(ddl ?? sql`CREATE TABLE ${ident(name)} (claimed_at Int64) ENGINE = TinyLog`);
      return true;
    } catch (error) {
      if (/already exists|right now/i.test((error as Error).message)) return false;
      throw error;
    }
  }

  async ensureSetting(key: string, value: string): Promise<string> {
    const read = async () =>
      (await this.rows<{ value: string }>(sql`SELECT value FROM settings FINAL WHERE key = ${key}`))[0]
        ?.value;
    const stored = await read();
    if (stored !== undefined) return stored;
    const name = `setting_claim_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    if (await this.claim(name)) {
      await this.insert('settings', [{ key, value }]);
      return value;
    }
    // Another collector won the claim: its value is on the way.
    for (let wait = 0; wait < 300; wait++) {
      const value = await read();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `setting ${key} was claimed but never written (a collector died in between): drop table ${name} and restart`,
    );
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

  /** Deletes are mutations that run in the background: answer only once none is pending. */
  private async waitForMutations(): Promise<void> {
    const deadline = Date.now() + (this.options.mutationTimeoutMs ?? 300_000);
    const tables = CLUSTER_TABLES.map((t) => sql`${t}`);
    for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
      const [pending] = await this.rows<{ n: number }>(
        sql`SELECT count() AS n FROM system.mutations
            WHERE database = ${this.options.database} AND table IN (${join(tables)}) AND is_done = 0`,
      );
      if (Number(pending?.n ?? 0) === 0) return;
      if (Date.now() > deadline) throw new Error('ClickHouse has not finished the erase mutations yet');
      await new Promise((r) => setTimeout(r, wait));
    }
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
    if (!(await this.claim(`first_admin_claim_${admins.length}`))) return false;
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
    await this.client.close();
  }
}

export function openClickHouseStore(url: string): ClickHouseStore {
  return new ClickHouseStore(parseClickHouseUrl(url));
}
