// The ingest write path on ClickHouse: no transactions and no unique keys, so a batch is checked
// whole before its first insert, keys already stored are looked up first, children go in before
// their parents (a batch cut short by a crash is completed by its retry without duplicates), and
// two batches of this process holding one retry key are written one after the other.

import { compareCodeUnits } from '../../text-order.js';
import {
  agentChildren,
  agentReportColumns,
  batchTrackingIds,
  eventColumns,
  ordered,
  reportColumns,
  withoutBlocked,
} from '../batch-rows.js';
import {
  LEGACY_EVENT_KEYS_SETTING,
  LegacyBoundary,
  legacyCandidates,
  withoutLegacyCopies,
} from '../legacy-event-keys.js';
import { foldPoints, type PointRow } from '../metric-rollup.js';
import type { WriteBatch, WriteResult } from '../store.js';
import type { ClickHouseConnection, Row } from './clickhouse-connection.js';
import { deleteClusterRows } from './clickhouse-erase.js';
import { checkRows, type TableName } from './schema.js';
import { ident, join, sql } from './sql.js';

/**
 * Keys looked up per query: with 128-character ids and their tracking ids the statement stays
 * under MAX_QUERY_SIZE. Few big lookups, not many small ones: each reads at least a granule of
 * every part of the table (measured on a bulk import into 3.5 M reports: 300-key lookups took
 * ~0.2 s of ClickHouse CPU each, whatever their size).
 */
export const KEYS_PER_LOOKUP = 4_000;

const base64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** Every retry key of a batch, named by its table (a report's and an event's keys never meet). */
function retryKeys(batch: WriteBatch): string[] {
  return [
    ...batch.reports.map((r) => `r ${r.dedupKey}`),
    ...batch.events.map((e) => `e ${e.dedupKey}`),
    ...(batch.agentReports ?? []).map((w) => `a ${w.report.reportId}`),
  ];
}

export class ClickHouseWriter {
  /** The retry keys of the batches this process is writing, each with its batch's write (see write). */
  private readonly writing = new Map<string, Promise<unknown>>();

  constructor(private readonly ch: ClickHouseConnection) {}

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
    const sorted = [...rows].sort((a, b) => compareCodeUnits(a.trackingId, b.trackingId));
    const size = this.ch.options.keysPerLookup ?? KEYS_PER_LOOKUP;
    const parts: (typeof rows)[] = [];
    for (let i = 0; i < sorted.length; i += size) parts.push(sorted.slice(i, i + size));
    const found = await Promise.all(
      parts.map((part) =>
        this.ch.rows<{ k: string }>(
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
      const rows = await this.ch.rows<{ tracking_id: string }>(
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
  async write(request: WriteBatch): Promise<WriteResult> {
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

  private readonly legacyBoundary = new LegacyBoundary();

  legacyEventKeysUntil(): Promise<number | null> {
    return this.legacyBoundary.read(async () => {
      const [row] = await this.ch.rows<{ value: string }>(
        sql`SELECT value FROM settings FINAL WHERE key = ${LEGACY_EVENT_KEYS_SETTING}`,
      );
      return row?.value;
    });
  }

  private async writeUnclaimed(request: WriteBatch): Promise<WriteResult> {
    const legacyUntil = request.events.length > 0 ? await this.legacyEventKeysUntil() : null;
    // Every lookup at once (one round trip of latency): blocks, and keys already stored (an
    // event's legacy key among them).
    const all = ordered(request);
    const agentWrites = all.agentReports ?? [];
    const [blockedIds, storedReports, storedEvents, storedAgents] = await Promise.all([
      this.blockedIds(batchTrackingIds(all)),
      this.storedKeys(
        'reports',
        'dedup_key',
        all.reports.map((r) => ({ trackingId: r.trackingId, key: r.dedupKey })),
      ),
      this.storedKeys('events', 'dedup_key', [
        ...all.events.map((e) => ({ trackingId: e.trackingId, key: e.dedupKey })),
        ...legacyCandidates(all.events, legacyUntil).map((e) => ({
          trackingId: e.trackingId,
          key: e.legacyKey!,
        })),
      ]),
      this.storedKeys(
        'agent_reports',
        'report_id',
        agentWrites.map((w) => ({ trackingId: w.report.trackingId, key: w.report.reportId })),
      ),
    ]);
    const { batch } = withoutBlocked(withoutLegacyCopies(all, storedEvents), blockedIds);
    // Counted as sent, like every store.
    const { blocked, blockedIds: blockedOnes } = withoutBlocked(request, blockedIds);
    const reports = batch.reports
      .filter((r) => !storedReports.has(r.dedupKey))
      .map((r) => ({ ...reportColumns(r), raw: base64(r.raw) }));
    // Ids rise in retry-key order within a batch and from batch to batch, as the SQL stores'
    // row ids do: events received together are listed in the same order on every store.
    const events = batch.events
      .filter((e) => !storedEvents.has(e.dedupKey))
      .map((e) => ({ ...eventColumns(e), id: this.ch.nextVersion(), raw: base64(e.raw) }));
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
    await Promise.all(writes.slice(0, -1).map(([table, rows]) => this.ch.insert(table, rows)));
    // The rollup before the parents too: a retry after a crash here recomputes it.
    await this.refreshRollup(children.points);
    await this.ch.insert('agent_reports', agentReports);
    const result = {
      reportsInserted: reports.length,
      eventsInserted: events.length,
      agentReportsInserted: agentReports.length,
      blocked,
      blockedIds: blockedOnes,
    };
    return this.undoIfErased(result, reports, events, agentReports);
  }

  /**
   * No transaction holds an erase off while a write is between its block check and its inserts:
   * an erase that blocked one of these clusters meanwhile may have made its passes before these
   * rows landed (a slow insert), and they would stay. So the block is checked again once they are
   * in: if an erase got there first, this write deletes the cluster's rows as its erase would
   * have (every table) and answers it blocked. An erase that blocks after this check finds the
   * rows in its own passes.
   */
  private async undoIfErased(
    result: WriteResult,
    reports: readonly { tracking_id: string }[],
    events: readonly { tracking_id: string }[],
    agentReports: readonly { tracking_id: string }[],
  ): Promise<WriteResult> {
    const written = new Set([...reports, ...events, ...agentReports].map((r) => r.tracking_id));
    if (written.size === 0) return result;
    const erased = await this.blockedIds([...written]);
    if (erased.size === 0) return result;
    for (const id of erased) await deleteClusterRows(this.ch, id);
    const of = (rows: readonly { tracking_id: string }[]) =>
      rows.filter((r) => erased.has(r.tracking_id)).length;
    const undone = { reports: of(reports), events: of(events), agentReports: of(agentReports) };
    return {
      reportsInserted: result.reportsInserted - undone.reports,
      eventsInserted: result.eventsInserted - undone.events,
      agentReportsInserted: result.agentReportsInserted - undone.agentReports,
      blocked: result.blocked + undone.reports + undone.events + undone.agentReports,
      blockedIds: [...new Set([...result.blockedIds, ...erased])],
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
    const version = this.ch.nextVersion();
    const stored = await this.ch.rows<PointRow>(
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
    await this.ch.insert('metric_rollup', rows);
  }
}
