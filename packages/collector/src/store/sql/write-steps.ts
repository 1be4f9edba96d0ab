// The ingest write of one batch, written once for both SQL stores: the rows first (reports,
// events, agent reports and their points, retries left out by their keys), then the rollups the
// dashboard reads, in the same transaction.
//
// A generator of statements, because PostgreSQL's statements are awaited (sql-write.ts, over
// Kysely) and the SQLite writer thread's are not (sqlite/sqlite-writer.ts, cached better-sqlite3
// statements that must run inside one synchronous transaction). Each store's driver runs the steps
// its own way and hands back what they returned; neither pays for the other's way. No Kysely
// import here: the SQLite writer thread loads this module.
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
import type { ReportRow, WriteBatch, WriteResult } from '../store.js';
import {
  CLUSTER_CONFLICT,
  CLUSTER_DAY_CONFLICT,
  type ClusterDayState,
  clusterDayPairs,
  clusterDayRows,
  clusterUpserts,
  DAY_FACTS_CONFLICT,
  DayVersionDeltas,
  type DayVersionRow,
  dayFactsRows,
  ROLLUP_SQL,
  versionRefreshes,
} from './cluster-rollups.js';
import { fleetStatements } from './metric-fleet-writes.js';
import type { MemoTransaction } from './rollup-memo.js';
import { paddedChunks } from './statement-chunks.js';

type Row = Record<string, unknown>;

/** What a driver is asked to run; what it answers is given back to the generator. */
export type WriteStep =
  /**
   * First: lock the clusters against erases (PostgreSQL), and answer `Opened`: which of them are
   * blocked (erased), and the rollup memo's view for this transaction.
   */
  | { kind: 'open'; trackingIds: string[] }
  /** `insert into table … on conflict …`; answers the `returning` rows (none without it). */
  | { kind: 'insert'; table: string; rows: readonly Row[]; conflict: string; returning?: string }
  /**
   * The same one row at a time, answering for each row whether it changed the store. Only for
   * the only writer (`onlyWriter`), which runs every row alone anyway: SQLite's RETURNING, the
   * other way to learn it, cost ~8 µs per row there.
   */
  | { kind: 'insertEach'; table: string; rows: readonly Row[]; conflict: string }
  /**
   * Until the transaction ends, no other writer rewrites these days' day_versions rows
   * (PostgreSQL; the SQLite writer is the only writer). Answers nothing.
   */
  | { kind: 'lockDays'; days: string[] }
  /** A statement with `?` parameters; answers its rows (none for one that returns none). */
  | { kind: 'statement'; text: string; parameters: unknown[] };

export interface Opened {
  blocked: ReadonlySet<string>;
  /** Null when the store has no rollup epoch to trust (nothing is skipped then). */
  rollups: MemoTransaction | null;
}

export interface WriteOptions {
  /** The legacy event keys' boundary (legacy-event-keys.ts). */
  legacyUntil: number | null;
  /**
   * The store's only writer (the SQLite writer thread): the versions the memo remembers are the
   * stored ones, so carrying versions forward is skipped for clusters whose days and facts did not
   * change. With other writers (collectors sharing a PostgreSQL store) every touched cluster is
   * carried.
   */
  onlyWriter: boolean;
}

type Steps<T> = Generator<WriteStep, T, unknown>;

function* open(trackingIds: string[]): Steps<Opened> {
  return (yield { kind: 'open', trackingIds }) as Opened;
}

function* insert<R = never>(
  table: string,
  rows: readonly Row[],
  conflict: string,
  returning?: string,
): Steps<R[]> {
  if (rows.length === 0) return [];
  return (yield { kind: 'insert', table, rows, conflict, ...(returning ? { returning } : {}) }) as R[];
}

function* insertEach(table: string, rows: readonly Row[], conflict: string): Steps<boolean[]> {
  if (rows.length === 0) return [];
  return (yield { kind: 'insertEach', table, rows, conflict }) as boolean[];
}

function* lockDays(days: string[]): Steps<void> {
  yield { kind: 'lockDays', days };
}

function* statement<R = never>(text: string, parameters: unknown[]): Steps<R[]> {
  return (yield { kind: 'statement', text, parameters }) as R[];
}

type Seen = { tracking_id: string; received_at: number };
type Stored = Seen & { ci: number };

/**
 * One batch's writes, inside the transaction its driver opened. What was a retry (its key
 * already stored) or of a blocked cluster is left out and counted.
 */
export function* writeSteps(request: WriteBatch, options: WriteOptions): Steps<WriteResult> {
  const { blocked: blockedIds, rollups } = yield* open(batchTrackingIds(request));
  const { batch: unordered, blocked, blockedIds: blockedOnes } = withoutBlocked(request, blockedIds);
  const batch = ordered(withoutLegacyCopies(unordered, yield* storedLegacyKeys(unordered, options)));

  // Every stored row moves first/last seen; stored reports (RisingWave's and agents') count days.
  const inserted: Seen[] = [];
  const insertedReports: Stored[] = [];
  const reportRows = yield* insert<Stored & { dedup_key: string }>(
    'reports',
    batch.reports.map(reportColumns),
    '(dedup_key) do nothing',
    'tracking_id, received_at, ci, dedup_key',
  );
  const storedKeys = new Set<string>();
  for (const { dedup_key, ...row } of reportRows) {
    storedKeys.add(dedup_key);
    inserted.push(row);
    insertedReports.push(row);
  }
  // Facts rollups follow stored reports only: a retried old report must not win as "latest".
  const storedReports = batch.reports.filter((r) => storedKeys.has(r.dedupKey));
  const eventRows = yield* insert<Seen>(
    'events',
    batch.events.map(eventColumns),
    '(dedup_key) do nothing',
    'tracking_id, received_at',
  );
  // A loop, not push(...rows): an import of 150,000 events overflowed the call stack as arguments.
  for (const row of eventRows) inserted.push(row);
  const agentWrites = batch.agentReports ?? [];
  const agentRows = yield* insert<Stored & { report_id: string }>(
    'agent_reports',
    agentWrites.map((w) => agentReportColumns(w.report)),
    '(report_id) do nothing',
    'report_id, tracking_id, received_at, ci',
  );
  const insertedIds = new Set<string>();
  for (const { report_id, ...row } of agentRows) {
    insertedIds.add(report_id);
    inserted.push(row);
    insertedReports.push(row);
  }
  // A retried report stores nothing new: its points and events were stored with the first copy.
  const children = agentChildren(agentWrites.filter((w) => insertedIds.has(w.report.reportId)));
  yield* insert('metric_points', children.points, 'do nothing');
  yield* insert('agent_events', children.events, 'do nothing');
  yield* foldIntoRollup(children.points);
  yield* insert('metric_series', children.series, '(tracking_id, name, labels) do nothing');

  yield* writeClusterRollups(inserted, insertedReports, storedReports, rollups, options.onlyWriter);
  return {
    reportsInserted: storedReports.length,
    eventsInserted: eventRows.length,
    agentReportsInserted: agentRows.length,
    blocked,
    blockedIds: blockedOnes,
  };
}

/** Legacy keys of the batch's events that are already stored (legacy-event-keys.ts). */
function* storedLegacyKeys(batch: WriteBatch, options: WriteOptions): Steps<Set<string>> {
  const stored = new Set<string>();
  const keys = legacyCandidates(batch.events, options.legacyUntil).map((e) => e.legacyKey!);
  // Padded chunks: a few statement texts for the SQLite writer to keep prepared.
  for (const chunk of paddedChunks(keys)) {
    const rows = yield* statement<{ dedup_key: string }>(
      `select dedup_key from events where dedup_key in (${chunk.map(() => '?').join(', ')})`,
      chunk,
    );
    for (const row of rows) stored.add(row.dedup_key);
  }
  return stored;
}

/**
 * Folds newly stored points into metric_rollup: one upsert per (metric, day, cluster, series) of
 * the batch; a histogram row that was already there gets the two histograms merged (the upsert
 * holds the row lock, so concurrent writers cannot lose an update). Then the fleet tables.
 */
function* foldIntoRollup(points: PointRow[]): Steps<void> {
  const folded = foldPoints(points);
  for (const row of folded) {
    const [stored] = yield* insert<{ points: number | string; histogram: string | null }>(
      'metric_rollup',
      [row as unknown as Row],
      METRIC_ROLLUP_CONFLICT,
      'points, histogram',
    );
    const histogram = stored && histogramAfterUpsert(row, stored);
    if (histogram) {
      yield* statement(METRIC_ROLLUP_SET_HISTOGRAM, [
        histogram,
        row.name,
        row.day,
        row.tracking_id,
        row.group_key,
      ]);
    }
  }
  for (const s of fleetStatements(folded, Date.now())) yield* statement(s.text, s.parameters);
}

/**
 * The per-cluster rollups (cluster-rollups.ts): clusters, the day's facts and their links,
 * cluster_days, the carried versions and the day_versions counts. Statements the memo knows would
 * change nothing are skipped.
 */
function* writeClusterRollups(
  inserted: readonly Seen[],
  insertedReports: readonly Stored[],
  storedReports: readonly ReportRow[],
  rollups: MemoTransaction | null,
  onlyWriter: boolean,
): Steps<void> {
  // Only rows that were really stored move first/last seen, so a cluster exists exactly when
  // something of it is stored; the facts come from the latest stored meta report. One statement
  // for all clusters of the batch, before any facts row: its row locks (taken in tracking id
  // order) serialize two PostgreSQL transactions writing one cluster's facts, so linking their
  // days cannot deadlock and the second one sees the first one's days.
  const dayRows = clusterDayRows(insertedReports);
  yield* insert('clusters', clusterUpserts(inserted, storedReports, dayRows), CLUSTER_CONFLICT);
  // Clusters whose carried versions may change: a new cluster-day, or facts of another version.
  const refresh = new Set<string>();
  const factRows = dayFactsRows(storedReports);
  // Facts rows that already existed keep their neighbours: only the others are linked.
  const newFacts = factRows.filter((f) => !rollups?.factsKnown(f));
  if (onlyWriter && rollups) {
    // The upsert writes only facts at least as new: the rows it wrote may change the version.
    const written = yield* insertEach('cluster_day_facts', factRows, DAY_FACTS_CONFLICT);
    for (const [i, f] of factRows.entries())
      if (rollups.factsWritten(f, written[i]!)) refresh.add(f.tracking_id);
  } else {
    yield* insert('cluster_day_facts', factRows, DAY_FACTS_CONFLICT);
    for (const f of factRows) rollups?.factsExist(f);
  }
  for (const pairs of clusterDayPairs(newFacts))
    yield* statement(ROLLUP_SQL.linkFacts(pairs.length / 2), pairs);
  const dayChanges = dayRows.filter((d) => !rollups?.dayUnchanged(d));
  for (const d of dayChanges) if (!rollups?.dayKnown(d)) refresh.add(d.tracking_id);
  const deltas = new DayVersionDeltas();
  yield* writeClusterDays(dayChanges, rollups, deltas);
  const touched = [...dayRows, ...factRows];
  const carried = onlyWriter && rollups ? touched.filter((r) => refresh.has(r.tracking_id)) : touched;
  for (const r of versionRefreshes(carried)) {
    const parameters = [r.fromDay, ...r.trackingIds];
    // The rows whose version moves, read before they are updated (the clusters upsert above holds
    // these clusters' row locks on PostgreSQL, so no other writer changes them in between).
    const moving = yield* statement<ClusterDayState & { carried: string | null }>(
      ROLLUP_SQL.versionChanges(r.trackingIds.length),
      parameters,
    );
    if (moving.length === 0) continue;
    yield* statement(ROLLUP_SQL.carryVersions(r.trackingIds.length), parameters);
    for (const m of moving) {
      const ci = Number(m.ci);
      deltas.move(m.day, { version: m.version, ci }, { version: m.carried, ci });
    }
  }
  yield* writeDayVersions(deltas);
}

/**
 * The cluster_days upsert of the rows that may change something (`dayChanges`: rows known to be
 * there with a ci no higher are left out), with what it changes added to `deltas`: the rows are
 * read first, and the upsert only adds rows (version unknown until carried) and lowers ci.
 */
function* writeClusterDays(
  dayChanges: readonly { day: string; tracking_id: string; ci: number }[],
  rollups: MemoTransaction | null,
  deltas: DayVersionDeltas,
): Steps<void> {
  if (dayChanges.length === 0) return;
  const before = new Map<string, { version: string | null; ci: number }>();
  for (const pairs of clusterDayPairs(dayChanges)) {
    const rows = yield* statement<ClusterDayState>(ROLLUP_SQL.clusterDays(pairs.length / 2), pairs);
    for (const r of rows) before.set(`${r.day}\0${r.tracking_id}`, { version: r.version, ci: Number(r.ci) });
  }
  yield* insert('cluster_days', dayChanges, CLUSTER_DAY_CONFLICT);
  for (const d of dayChanges) {
    const was = before.get(`${d.day}\0${d.tracking_id}`);
    if (!was) deltas.add(d.day, null, d.ci, 1);
    else if (d.ci < was.ci) deltas.move(d.day, was, { version: was.version, ci: d.ci });
    rollups?.dayWritten(d);
  }
}

/**
 * day_versions moves by what this transaction changed in cluster_days (DayVersionDeltas), not by
 * counting whole days again: a recount read every cluster-day of the day, so a day of N new
 * clusters cost O(N²), and on PostgreSQL two writers recounting one day at once each added their
 * count (4,000 clusters counted 15,824 times in a scratch run with 4 writes in flight).
 */
function* writeDayVersions(deltas: DayVersionDeltas): Steps<void> {
  const days = deltas.days();
  if (days.length === 0) return;
  // One writer at a time per day from here to the commit (PostgreSQL), as for erase and retention.
  yield* lockDays(days);
  for (const day of days) {
    const stored = yield* statement<DayVersionRow>(ROLLUP_SQL.takeDay(), [day]);
    yield* insert('day_versions', deltas.foldInto(day, stored), 'do nothing');
  }
}
