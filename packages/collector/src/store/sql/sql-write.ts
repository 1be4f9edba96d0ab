// The ingest write path on a SQL store: one transaction per batch from the write batcher. The rows
// first (reports, events, agent reports and their points, retries left out by their keys), then
// the rollups the dashboard reads, kept in the same transaction. The SQLite writer thread runs the
// same steps with its own cached statements (sqlite/sqlite-writer.ts).
import { type Kysely, sql } from 'kysely';
import {
  agentChildren,
  agentReportColumns,
  batchTrackingIds,
  eventColumns,
  ordered,
  reportColumns,
  withoutBlocked,
} from '../batch-rows.js';
import { legacyCandidates, withoutLegacyCopies } from '../legacy-event-keys.js';
import {
  foldPoints,
  histogramAfterUpsert,
  METRIC_ROLLUP_CONFLICT,
  METRIC_ROLLUP_SET_HISTOGRAM,
  type PointRow,
} from '../metric-rollup.js';
import type { WriteBatch, WriteResult } from '../store.js';
import {
  CLUSTER_CONFLICT,
  CLUSTER_DAY_CONFLICT,
  clusterDayRows,
  clusterUpserts,
  DAY_FACTS_CONFLICT,
  dayFactsRows,
  factsLinks,
  ROLLUP_SQL,
  versionRefreshes,
} from './cluster-rollups.js';
import type { SqlDialectHooks } from './dialect.js';
import { fleetStatements } from './metric-fleet-writes.js';
import type { RollupMemo } from './rollup-memo.js';
import type { Database } from './schema.js';
import type { SqlRunner } from './sql-runner.js';
import { chunks } from './statement-chunks.js';

/**
 * One batch of ingest writes in one transaction: the rows, then the rollups the dashboard reads.
 * What was a retry (its key already stored) or of a blocked cluster is left out and counted.
 */
export async function writeBatch(
  db: Kysely<Database>,
  hooks: SqlDialectHooks,
  run: SqlRunner,
  memo: RollupMemo,
  request: WriteBatch,
  /** The legacy event keys' boundary (legacy-event-keys.ts). */
  legacyUntil: number | null,
): Promise<WriteResult> {
  const { result, rollups } = await db.transaction().execute(async (trx) => {
    const ids = batchTrackingIds(request);
    await hooks.lockClusters?.(trx, ids, 'write');
    // The blocked ids, and the rollup epoch read after the locks (so no erase of these clusters
    // can commit before this transaction ends), in one round trip.
    const checked =
      ids.length === 0
        ? []
        : await trx
            .selectFrom('blocked_clusters')
            .select([sql<string | null>`tracking_id`.as('tracking_id'), sql<number | null>`null`.as('epoch')])
            .where('tracking_id', 'in', ids)
            .unionAll(
              trx
                .selectFrom('rollup_epoch')
                .select([sql<string | null>`null`.as('tracking_id'), sql<number | null>`epoch`.as('epoch')]),
            )
            .execute();
    const blockedRows = checked.flatMap((r) =>
      r.tracking_id === null ? [] : [{ tracking_id: r.tracking_id }],
    );
    const epoch = checked.find((r) => r.tracking_id === null)?.epoch;
    const memoTransaction = epoch === undefined || epoch === null ? null : memo.begin(Number(epoch));
    const {
      batch: unordered,
      blocked,
      blockedIds,
    } = withoutBlocked(request, new Set(blockedRows.map((r) => r.tracking_id)));
    const legacyKeys = legacyCandidates(unordered.events, legacyUntil).map((e) => e.legacyKey!);
    const storedLegacy = new Set<string>();
    for (const keys of chunks(legacyKeys)) {
      const rows = await trx
        .selectFrom('events')
        .select('dedup_key')
        .where('dedup_key', 'in', keys)
        .execute();
      for (const row of rows) storedLegacy.add(row.dedup_key);
    }
    const batch = ordered(withoutLegacyCopies(unordered, storedLegacy));
    const inserted: { tracking_id: string; received_at: number }[] = [];
    const insertedReports: { tracking_id: string; received_at: number; ci: number }[] = [];
    const storedKeys = new Set<string>();
    type Stored = { tracking_id: string; received_at: number; ci: number };
    const reportRows = await run.insertRows<Stored & { dedup_key: string }>(
      trx,
      'reports',
      batch.reports.map(reportColumns),
      '(dedup_key) do nothing',
      'tracking_id, received_at, ci, dedup_key',
    );
    const reportsInserted = reportRows.length;
    for (const { dedup_key, ...row } of reportRows) {
      storedKeys.add(dedup_key);
      inserted.push(row);
      insertedReports.push(row);
    }
    // Facts rollups follow stored reports only: a retried old report must not win as "latest".
    const storedReports = batch.reports.filter((r) => storedKeys.has(r.dedupKey));
    const eventRows = await run.insertRows<{ tracking_id: string; received_at: number }>(
      trx,
      'events',
      batch.events.map(eventColumns),
      '(dedup_key) do nothing',
      'tracking_id, received_at',
    );
    const eventsInserted = eventRows.length;
    // A loop, not push(...rows): an import of 150,000 events overflowed the call stack as arguments.
    for (const row of eventRows) inserted.push(row);
    const agentWrites = batch.agentReports ?? [];
    const insertedIds = new Set<string>();
    const agentRows = await run.insertRows<Stored & { report_id: string }>(
      trx,
      'agent_reports',
      agentWrites.map((w) => agentReportColumns(w.report)),
      '(report_id) do nothing',
      'report_id, tracking_id, received_at, ci',
    );
    const agentReportsInserted = agentRows.length;
    for (const { report_id, ...row } of agentRows) {
      insertedIds.add(report_id);
      inserted.push(row);
      insertedReports.push(row);
    }
    // A retried report stores nothing new: its points and events were stored with the first copy.
    const children = agentChildren(agentWrites.filter((w) => insertedIds.has(w.report.reportId)));
    await run.insertRows(trx, 'metric_points', children.points, 'do nothing');
    await run.insertRows(trx, 'agent_events', children.events, 'do nothing');
    await foldIntoRollup(trx, run, children.points);
    await run.insertRows(trx, 'metric_series', children.series, '(tracking_id, name, labels) do nothing');
    // Only rows that were really stored move first/last seen, so a cluster exists exactly when
    // something of it is stored; the facts come from the latest stored meta report. One
    // statement for all clusters of the batch, before any facts row: its row locks (taken in
    // tracking id order) serialize two transactions writing one cluster's facts, so linking
    // their days cannot deadlock and the second one sees the first one's days.
    const dayRows = clusterDayRows(insertedReports);
    await run.insertRows(trx, 'clusters', clusterUpserts(inserted, storedReports, dayRows), CLUSTER_CONFLICT);
    const factRows = dayFactsRows(storedReports);
    // Facts rows that already existed keep their neighbours: only the others are linked.
    const newFacts = factRows.filter((f) => !memoTransaction?.factsKnown(f));
    await run.insertRows(trx, 'cluster_day_facts', factRows, DAY_FACTS_CONFLICT);
    for (const pairs of factsLinks(newFacts)) {
      await run.raw(trx, ROLLUP_SQL.linkFacts(pairs.length / 2), pairs);
    }
    for (const f of factRows) memoTransaction?.factsExist(f);
    const days = new Set<string>();
    // `returning` names only rows that were new or whose ci went down: their days need a recount.
    // Rows known to be there with a ci no higher are left out: they would change nothing.
    const dayChanges = dayRows.filter((d) => !memoTransaction?.dayUnchanged(d));
    const changed = await run.insertRows<{ day: string }>(
      trx,
      'cluster_days',
      dayChanges,
      CLUSTER_DAY_CONFLICT,
      'day',
    );
    for (const d of dayChanges) memoTransaction?.dayWritten(d);
    for (const row of changed) days.add(row.day);
    for (const r of versionRefreshes([...dayRows, ...factRows])) {
      const updated = await run.raw<{ day: string }>(trx, ROLLUP_SQL.carryVersions(r.trackingIds.length), [
        r.fromDay,
        ...r.trackingIds,
      ]);
      for (const row of updated) days.add(row.day);
    }
    await run.recountDays(trx, days);
    const result: WriteResult = {
      reportsInserted,
      eventsInserted,
      agentReportsInserted,
      blocked,
      blockedIds,
    };
    return { result, rollups: memoTransaction };
  });
  // Committed: what the transaction wrote to the rollups is now known.
  rollups?.commit();
  return result;
}

/**
 * Folds newly stored points into metric_rollup: one upsert per (metric, day, cluster, series) of
 * the batch; a histogram row that was already there gets the two histograms merged (the upsert
 * holds the row lock, so concurrent writers cannot lose an update).
 */
async function foldIntoRollup(trx: Kysely<Database>, run: SqlRunner, points: PointRow[]): Promise<void> {
  const folded = foldPoints(points);
  for (const row of folded) {
    const columns = Object.keys(row) as (keyof typeof row)[];
    const [stored] = await run.raw<{ points: number | string; histogram: string | null }>(
      trx,
      `insert into metric_rollup (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})
        on conflict ${METRIC_ROLLUP_CONFLICT} returning points, histogram`,
      columns.map((c) => row[c]),
    );
    const histogram = stored && histogramAfterUpsert(row, stored);
    if (histogram) {
      await run.raw(trx, METRIC_ROLLUP_SET_HISTOGRAM, [
        histogram,
        row.name,
        row.day,
        row.tracking_id,
        row.group_key,
      ]);
    }
  }
  for (const s of fleetStatements(folded, Date.now())) await run.raw(trx, s.text, s.parameters);
}
