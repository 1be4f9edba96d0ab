// The SQLite writer thread. better-sqlite3 is synchronous: on the main thread every commit would
// stop the event loop (HTTP parsing, decoding) for its whole duration. Here the write transaction
// runs on the machine's other core while the main thread keeps serving.
//
// The steps of a write are PostgreSQL's (sql/write-steps.ts); this thread runs them with cached
// prepared statements instead of Kysely: this is the hottest path of the collector, and Kysely's
// SQLite driver prepares every statement anew.
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { LEGACY_EVENT_KEYS_SETTING, LegacyBoundary } from '../legacy-event-keys.js';
import { type MemoTransaction, RollupMemo } from '../sql/rollup-memo.js';
import { type Opened, type WriteStep, writeSteps } from '../sql/write-steps.js';
import type { WriteBatch, WriteResult } from '../store.js';
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

/** The row's values in its keys' order, for a statement from insert() (bindable.ts). */
function values(row: object): unknown[] {
  return bindable(Object.values(row));
}

const legacyBoundary = new LegacyBoundary();

/** One request's writes (sql/write-steps.ts), run synchronously inside the thread's transaction. */
function writeRows(request: WriteBatch, rollups: MemoTransaction): WriteResult {
  const legacyUntil =
    request.events.length === 0
      ? null
      : legacyBoundary.readSync(() => {
          const row = prepared('select value from settings where key = ?').get(LEGACY_EVENT_KEYS_SETTING) as
            | { value: string }
            | undefined;
          return row?.value;
        });
  const steps = writeSteps(request, { legacyUntil, onlyWriter: true });
  let answer: unknown;
  for (;;) {
    const next = steps.next(answer);
    if (next.done) return next.value;
    answer = runStep(next.value, rollups);
  }
}

function runStep(step: WriteStep, rollups: MemoTransaction): unknown {
  if (step.kind === 'open') {
    // This thread is the store's only writer: nothing to lock, and the transaction's memo is
    // shared by every request it commits.
    const isBlocked = prepared('select 1 from blocked_clusters where tracking_id = ?');
    const blocked = new Set(step.trackingIds.filter((id) => isBlocked.get(id) !== undefined));
    return { blocked, rollups } satisfies Opened;
  }
  if (step.kind === 'insert') {
    const returned: unknown[] = [];
    for (const row of step.rows) {
      const statement = insert(step.table, row, step.conflict, step.returning);
      if (step.returning === undefined) statement.run(values(row));
      else {
        const stored = statement.get(values(row));
        if (stored !== undefined) returned.push(stored);
      }
    }
    return returned;
  }
  // The only writer: nobody else rewrites a day's counts.
  if (step.kind === 'lockDays') return undefined;
  if (step.kind === 'insertEach') {
    return step.rows.map((row) => insert(step.table, row, step.conflict).run(values(row)).changes > 0);
  }
  const statement = prepared(step.text);
  const parameters = bindable(step.parameters);
  if (statement.reader) return statement.all(parameters);
  statement.run(parameters);
  return [];
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
