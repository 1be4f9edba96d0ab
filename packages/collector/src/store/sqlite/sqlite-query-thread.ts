// A SQLite query thread: a connection behind the store's Kysely. better-sqlite3 is synchronous, so
// on the main thread a 400-day metric question on a big store (0.5–1 s) stopped everything else for
// its whole length, report ingest and /healthz included. Here it runs on the machine's other core
// while the main thread keeps serving. One statement at a time, posted by sqlite-thread-dialect.ts.
// The store runs one read-write thread (tokens, settings, erase, retention, migrations and every
// transaction; report writes have their own thread, sqlite-writer.ts) and, with `readOnly`, reader
// threads for the selects outside a transaction.
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { bindable } from './bindable.js';
import { configureSqlite } from './pragmas.js';

export interface QueryRequest {
  id: number;
  sql: string;
  parameters: readonly unknown[];
}

/**
 * A read's rows as arrays of cells under one list of column names, with every blob cell moved into
 * one shared buffer: `blobs` holds (row, column, offset, length) for each. Posting rows as objects
 * copied every column name once per row, and each blob as a buffer of its own; a 117k-row metric
 * question spent more time in that copy than in SQLite.
 */
export interface QueryRows {
  columns: string[];
  rows: unknown[][];
  bytes: ArrayBuffer;
  blobs: Int32Array<ArrayBuffer>;
}

export type QueryResponse =
  | { id: number; read: QueryRows }
  | { id: number; changes: number; lastInsertRowid: number | bigint }
  | { id: number; error: { message: string; code: string | undefined } };

/** Prepared statements kept by text: Kysely's own SQLite driver prepares every statement anew. */
const STATEMENT_CACHE_SIZE = 256;

const { path, readOnly } = workerData as { path: string; readOnly?: boolean };
const db = new SQLite(path);
configureSqlite(db);
// Only the read-write connection deletes (erase, retention; the writer thread inserts): what it
// deletes is overwritten with zeros, not left in free space (SqliteStore.eraseCluster).
db.pragma('secure_delete = ON');
// A reader refuses to write (SQLITE_READONLY) rather than take the write lock by mistake.
if (readOnly) db.pragma('query_only = ON');

interface Prepared {
  statement: SQLite.Statement;
  /** A read's column names; null for a statement that returns no rows. */
  columns: string[] | null;
}

const statements = new Map<string, Prepared>();

function prepared(sql: string): Prepared {
  let entry = statements.get(sql);
  if (entry) {
    // Most recently used last: the map's first key is the one to evict.
    statements.delete(sql);
  } else {
    const statement = db.prepare(sql);
    const columns = statement.reader ? statement.columns().map((c) => c.name) : null;
    // Rows as arrays: cheaper to build here and to post than objects (QueryRows).
    if (statement.reader) statement.raw(true);
    entry = { statement, columns };
    if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
  }
  statements.set(sql, entry);
  return entry;
}

/** Moves the rows' blob cells into one buffer (QueryRows). */
function packed(columns: string[], rows: unknown[][]): QueryRows {
  const found: number[] = [];
  let total = 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let c = 0; c < row.length; c++) {
      const cell = row[c];
      if (cell instanceof Uint8Array) {
        found.push(r, c, total, cell.byteLength);
        total += cell.byteLength;
      }
    }
  }
  const bytes = new Uint8Array(total);
  for (let i = 0; i < found.length; i += 4) {
    const row = rows[found[i]!]!;
    bytes.set(row[found[i + 1]!] as Uint8Array, found[i + 2]!);
    row[found[i + 1]!] = null;
  }
  return { columns, rows, bytes: bytes.buffer, blobs: Int32Array.from(found) };
}

function run({ id, sql, parameters }: QueryRequest): QueryResponse {
  try {
    const { statement, columns } = prepared(sql);
    const values = bindable([...parameters]);
    if (columns) return { id, read: packed(columns, statement.all(values) as unknown[][]) };
    const { changes, lastInsertRowid } = statement.run(values);
    return { id, changes, lastInsertRowid };
  } catch (error) {
    const { message, code } = error as { message?: unknown; code?: unknown };
    return {
      id,
      error: { message: String(message ?? error), code: typeof code === 'string' ? code : undefined },
    };
  }
}

parentPort?.on('message', (message: QueryRequest | 'stop') => {
  if (message === 'stop') {
    db.close();
    parentPort?.close();
    return;
  }
  const response = run(message);
  parentPort?.postMessage(
    response,
    'read' in response ? [response.read.bytes, response.read.blobs.buffer] : [],
  );
});
