// The SQLite writer thread. better-sqlite3 is synchronous: on the main thread every commit would
// stop the event loop (HTTP parsing, decoding) for its whole duration. Here the write transaction
// runs on the machine's other core while the main thread keeps serving.
//
// Hand-written SQL with cached prepared statements instead of Kysely: this is the hottest path of
// the collector, and Kysely's SQLite driver prepares every statement anew. The column lists come
// from the same mappers the Kysely path uses (batch-rows.ts), so both store the same rows.
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
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
import {
  foldPoints,
  histogramAfterUpsert,
  METRIC_ROLLUP_CONFLICT,
  METRIC_ROLLUP_SET_HISTOGRAM,
} from '../metric-rollup.js';
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
} from '../sql/cluster-rollups.js';
import { fleetStatements } from '../sql/metric-fleet-writes.js';
import { type MemoTransaction, RollupMemo } from '../sql/rollup-memo.js';
import type { EventRow, ReportRow, WriteBatch, WriteResult } from '../store.js';
import { bindable } from './bindable.js';
import { configureSqlite } from './pragmas.js';

export interface WriterRequest {
  id: number;
  batch: WriteBatch;
}

export type WriterResponse =
  | { id: number; result: WriteResult }
  | { id: number; error: string; code?: string };

const db = new SQLite((workerData as { path: string }).path);
configureSqlite(db);
// Checkpoints run on their own thread (sqlite-checkpointer.ts); this connection checkpoints only if
// the WAL reaches 8,192 pages (32 MiB), which that thread keeps it far below.
db.pragma('wal_autocheckpoint = 8192');

type Row = Record<string, unknown>;
const statements = new Map<string, SQLite.Statement>();

interface InsertShape {
  columns: string[];
  conflict: string;
  returning: string | undefined;
  statement: SQLite.Statement;
}
const insertsByTable = new Map<string, InsertShape[]>();

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `INSERT … ON CONFLICT … RETURNING …` for a table, prepared once per column set, with positional
 * parameters: better-sqlite3 binds an array by index, while binding an object looks up every named
 * parameter by its string key (those lookups and their string hashing showed in this thread's
 * profile under bench:ingest). Run it with `values(row)`: the row's values in its keys' order.
 */
function insert(table: string, row: Row, conflict: string, returning?: string): SQLite.Statement {
  const columns = Object.keys(row);
  // Found by comparing column lists (interned strings) rather than by a joined key: joining and
  // hashing a fresh ~400-character key per row showed in this thread's profile.
  let shapes = insertsByTable.get(table);
  if (!shapes) {
    shapes = [];
    insertsByTable.set(table, shapes);
  }
  for (const shape of shapes) {
    if (shape.conflict === conflict && shape.returning === returning && sameColumns(shape.columns, columns))
      return shape.statement;
  }
  const names = columns.map((c) => `"${c}"`).join(', ');
  const params = columns.map(() => '?').join(', ');
  const statement = db.prepare(
    `insert into "${table}" (${names}) values (${params}) on conflict ${conflict}${returning ? ` returning ${returning}` : ''}`,
  );
  shapes.push({ columns, conflict, returning, statement });
  return statement;
}

/** A statement prepared once per text. */
function prepared(text: string): SQLite.Statement {
  let statement = statements.get(text);
  if (!statement) {
    statement = db.prepare(text);
    statements.set(text, statement);
  }
  return statement;
}

const upsertCluster = db.prepare(
  `insert into clusters (tracking_id, first_seen, last_seen, first_day, last_day, first_day_not_ci,
     last_day_not_ci, version, git_sha, cluster_type, meta_backend, facts_at)
   values (@tracking_id, @first_seen, @last_seen, @first_day, @last_day, @first_day_not_ci,
     @last_day_not_ci, @version, @git_sha, @cluster_type, @meta_backend, @facts_at)
   on conflict ${CLUSTER_CONFLICT}`,
);

/** The row's values in its keys' order, for a statement from insert() (bindable.ts). */
function values(row: object): unknown[] {
  return bindable(Object.values(row));
}

let isBlocked: SQLite.Statement | undefined;
let setHistogram: SQLite.Statement | undefined;

const legacyBoundary = new LegacyBoundary();
let hasEvent: SQLite.Statement | undefined;

function storedLegacyKeys(events: readonly EventRow[]): Set<string> {
  const stored = new Set<string>();
  if (events.length === 0) return stored;
  const legacyUntil = legacyBoundary.readSync(() => {
    const row = db.prepare('select value from settings where key = ?').get(LEGACY_EVENT_KEYS_SETTING) as
      | { value: string }
      | undefined;
    return row?.value;
  });
  hasEvent ??= db.prepare('select 1 from events where dedup_key = ?');
  for (const e of legacyCandidates(events, legacyUntil)) {
    if (hasEvent.get(e.legacyKey) !== undefined) stored.add(e.legacyKey!);
  }
  return stored;
}

/** The rows of one request; runs inside a transaction. */
function writeRows(request: WriteBatch, rollups: MemoTransaction): WriteResult {
  isBlocked ??= db.prepare('select 1 from blocked_clusters where tracking_id = ?');
  const blockedIds = new Set(batchTrackingIds(request).filter((id) => isBlocked!.get(id) !== undefined));
  const { batch: unordered, blocked, blockedIds: blockedOnes } = withoutBlocked(request, blockedIds);
  const batch = ordered(withoutLegacyCopies(unordered, storedLegacyKeys(unordered.events)));
  type Stored = { tracking_id: string; received_at: number; ci: number };
  const inserted: Stored[] = [];
  const insertedReports: Stored[] = [];
  const run = (table: string, rows: Row[], returning: string, into: Stored[][]) => {
    let n = 0;
    for (const row of rows) {
      const stored = insert(table, row, '(dedup_key) do nothing', returning).get(values(row)) as
        | Stored
        | undefined;
      if (stored) {
        for (const list of into) list.push(stored);
        n++;
      }
    }
    return n;
  };
  const storedReports: ReportRow[] = [];
  for (const r of batch.reports) {
    const row = reportColumns(r);
    const stored = insert('reports', row, '(dedup_key) do nothing', 'tracking_id, received_at, ci').get(
      values(row),
    ) as Stored | undefined;
    if (!stored) continue;
    inserted.push(stored);
    insertedReports.push(stored);
    storedReports.push(r);
  }
  const reportsInserted = storedReports.length;
  const eventsInserted = run('events', batch.events.map(eventColumns), 'tracking_id, received_at', [
    inserted,
  ]);
  const agentWrites = batch.agentReports ?? [];
  const insertedIds = new Set<string>();
  for (const w of agentWrites) {
    const row = agentReportColumns(w.report);
    const stored = insert('agent_reports', row, '(report_id) do nothing', 'tracking_id, received_at, ci').get(
      values(row),
    ) as Stored | undefined;
    if (stored) {
      inserted.push(stored);
      insertedReports.push(stored);
      insertedIds.add(w.report.reportId);
    }
  }
  const children = agentChildren(agentWrites.filter((w) => insertedIds.has(w.report.reportId)));
  for (const p of children.points) insert('metric_points', p, 'do nothing').run(values(p));
  for (const e of children.events) insert('agent_events', e, 'do nothing').run(values(e));
  // The daily metric rollup: one upsert per (metric, day, cluster, series) of the batch, and for a
  // histogram row that was already there one more update with the merged histogram.
  const folded = foldPoints(children.points);
  for (const row of folded) {
    const stored = insert(
      'metric_rollup',
      row as unknown as Row,
      METRIC_ROLLUP_CONFLICT,
      'points, histogram',
    ).get(values(row)) as { points: number; histogram: string | null } | undefined;
    const histogram = stored && histogramAfterUpsert(row, stored);
    if (histogram) {
      setHistogram ??= db.prepare(METRIC_ROLLUP_SET_HISTOGRAM);
      setHistogram.run(histogram, row.name, row.day, row.tracking_id, row.group_key);
    }
  }
  for (const s of fleetStatements(folded, Date.now())) prepared(s.text).run(...s.parameters);
  for (const s of children.series)
    insert('metric_series', s, '(tracking_id, name, labels) do nothing').run(values(s));
  const dayRows = clusterDayRows(insertedReports);
  const days = new Set<string>();
  // Clusters whose carried versions may change: a new cluster-day, or new facts of another version.
  const refresh = new Set<string>();
  for (const d of dayRows) {
    if (rollups.dayUnchanged(d)) continue;
    if (!rollups.dayKnown(d)) refresh.add(d.tracking_id);
    // Returns the row only if it was new or its ci changed: that day's counts move.
    const changed = insert('cluster_days', d, CLUSTER_DAY_CONFLICT, 'day').get(values(d)) as
      | { day: string }
      | undefined;
    rollups.dayWritten(d);
    if (changed) days.add(changed.day);
  }
  // Clusters, then their facts rows, as in sql-write.ts. cluster_days come first here, not last:
  // the order there is for PostgreSQL's row locks, and this thread is SQLite's only writer.
  for (const c of clusterUpserts(inserted, storedReports, dayRows)) upsertCluster.run(c);
  // Facts rollups follow stored reports only: a retried old report must not win as "latest".
  const factRows = dayFactsRows(storedReports);
  // A facts row that already existed keeps its neighbours: only new ones are linked.
  const newFacts: typeof factRows = [];
  for (const f of factRows) {
    if (!rollups.factsKnown(f)) newFacts.push(f);
    const written = insert('cluster_day_facts', f, DAY_FACTS_CONFLICT).run(values(f)).changes > 0;
    if (rollups.factsWritten(f, written)) refresh.add(f.tracking_id);
  }
  for (const pairs of factsLinks(newFacts)) prepared(ROLLUP_SQL.linkFacts(pairs.length / 2)).run(...pairs);
  const refreshed = [...dayRows, ...factRows].filter((r) => refresh.has(r.tracking_id));
  for (const r of versionRefreshes(refreshed)) {
    const updated = prepared(ROLLUP_SQL.carryVersions(r.trackingIds.length)).all(r.fromDay, ...r.trackingIds);
    for (const row of updated as { day: string }[]) days.add(row.day);
  }
  for (const day of [...days].sort()) {
    prepared(ROLLUP_SQL.clearDay()).run(day);
    prepared(ROLLUP_SQL.countDay()).run(day);
  }
  return {
    reportsInserted,
    eventsInserted,
    agentReportsInserted: insertedIds.size,
    blocked,
    blockedIds: blockedOnes,
  };
}

/**
 * What this thread already wrote to the day rollups (sql/rollup-memo.ts). Its epoch is the
 * connection's data_version, which moves whenever another connection committed (an erase,
 * retention, a token, the CLI).
 */
const memo = new RollupMemo();
const dataVersion = db.prepare('pragma data_version').pluck();

// Several requests in one transaction, each with its own insert counts. Begun IMMEDIATE (in
// writeAll): the transaction reads (the blocked-cluster check) before it writes; begun deferred, a
// commit by the main thread in between (an audit entry) makes its first write fail at once with
// SQLITE_BUSY instead of waiting for busy_timeout. It also keeps every other commit out between
// the memo's data_version check and the writes.
const writeAllTransaction = db.transaction((requests: WriterRequest[]) => {
  const rollups = memo.begin(dataVersion.get() as number);
  return { results: requests.map((request) => writeRows(request.batch, rollups)), rollups };
});

/** Once the transaction committed, the memo keeps what it learned. */
function writeAll(requests: WriterRequest[]): WriteResult[] {
  const { results, rollups } = writeAllTransaction.immediate(requests);
  rollups.commit();
  return results;
}
const write = (request: WriterRequest) => writeAll([request])[0]!;

/**
 * Requests that arrived while a transaction ran are committed together in the next one (group
 * commit inside the thread): every commit writes and fsyncs the pages it dirtied, so fewer, larger
 * commits are what makes durable writes fast. If the shared transaction fails, each request is
 * retried alone so that only the one at fault is refused.
 */
let queue: WriterRequest[] = [];

function respond(request: WriterRequest, run: () => WriteResult): void {
  let response: WriterResponse;
  try {
    response = { id: request.id, result: run() };
  } catch (error) {
    // The code goes along (SQLITE_BUSY, SQLITE_FULL…): it tells a store outage (503) from a bug (500).
    const code = (error as { code?: unknown } | null)?.code;
    response = {
      id: request.id,
      error: error instanceof Error ? error.message : String(error),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  parentPort!.postMessage(response);
}

function drain(): void {
  const requests = queue;
  queue = [];
  let results: WriteResult[];
  try {
    results = writeAll(requests);
  } catch (error) {
    if (requests.length === 1) {
      respond(requests[0]!, () => {
        throw error;
      });
      return;
    }
    for (const request of requests) respond(request, () => write(request));
    return;
  }
  for (const [i, request] of requests.entries()) respond(request, () => results[i]!);
}

parentPort!.on('message', (request: WriterRequest | 'stop') => {
  if (request === 'stop') {
    // SqliteStore.close, once the batcher is flushed; a write posted before it still commits.
    if (queue.length > 0) drain();
    db.close();
    parentPort!.close();
    return;
  }
  queue.push(request);
  // Messages that are already waiting are delivered before setImmediate runs: they join.
  if (queue.length === 1) setImmediate(drain);
});
