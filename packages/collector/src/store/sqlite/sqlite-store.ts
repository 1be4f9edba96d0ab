// The embedded default store: SQLite through better-sqlite3, on threads so that neither a commit
// nor a long read stops the event loop. Reads, migrations, tokens, erase and retention go through
// Kysely to a query thread (sqlite-thread-dialect.ts); report writes go to a writer thread
// (sqlite-writer.ts); a third thread checkpoints the WAL. An in-memory store, which threads cannot
// share, runs all of it on the main thread.
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { CollectorError } from '../../errors.js';
import type { Database } from '../sql/schema.js';
import { SqlStore } from '../sql/sql-store.js';
import type { EraseResult, WriteBatch, WriteResult } from '../store.js';
import { configureSqlite } from './pragmas.js';
import { RequestThread } from './request-thread.js';
import { SqliteThreadDialect } from './sqlite-thread-dialect.js';
import type { WriterRequest, WriterResponse } from './sqlite-writer.js';

/**
 * A thread's module. Under the test runner this file runs from its TypeScript source, which a
 * worker cannot load: it then uses the compiled module (the test setup builds dist/).
 */
function threadModule(name: 'sqlite-writer' | 'sqlite-checkpointer' | 'sqlite-query-thread'): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL(`../../../dist/store/sqlite/${name}.js`, import.meta.url)
    : new URL(`./${name}.js`, import.meta.url);
}

/**
 * Owns the writer thread (restarted on the next write if it ever dies) and the checkpointer thread
 * beside it (sqlite-checkpointer.ts; started with the writer, best effort).
 */
class WriterThread {
  private readonly thread: RequestThread<WriterRequest, WriterResponse>;
  private checkpointer: Worker | null = null;

  constructor(private readonly path: string) {
    this.thread = new RequestThread(threadModule('sqlite-writer'), path, 'the SQLite writer thread');
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    this.checkpointer ??= this.startCheckpointer();
    const { batch: own, transfer } = detached(batch);
    const response = await this.thread.request({ batch: own }, transfer);
    if ('error' in response) {
      throw Object.assign(new Error(response.error), response.code ? { code: response.code } : {});
    }
    return response.result;
  }

  async stop(): Promise<void> {
    await this.thread.stop();
    const checkpointer = this.checkpointer;
    this.checkpointer = null;
    if (checkpointer) {
      // A last checkpoint, then it closes its connection and exits.
      const exited = new Promise((resolve) => checkpointer.once('exit', resolve));
      checkpointer.ref(); // awaited: it keeps the process alive until it is done
      checkpointer.postMessage('stop');
      await exited;
    }
  }

  private startCheckpointer(): Worker {
    const checkpointer = new Worker(threadModule('sqlite-checkpointer'), { workerData: { path: this.path } });
    // Should it fail, the writer's own automatic checkpoint takes over; it starts again with the
    // next write.
    checkpointer.on('error', () => {});
    checkpointer.on('exit', () => {
      if (this.checkpointer === checkpointer) this.checkpointer = null;
    });
    checkpointer.unref();
    return checkpointer;
  }
}

/**
 * Copies each raw payload into its own exact-size buffer and moves (transfers) those buffers to
 * the thread instead of cloning them: posting a view into Node's shared 8 KiB buffer pool would
 * clone the whole pool for every report.
 */
function detached(batch: WriteBatch): { batch: WriteBatch; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const own = (raw: Uint8Array) => {
    const copy = new Uint8Array(raw);
    transfer.push(copy.buffer);
    return copy;
  };
  return {
    batch: {
      reports: batch.reports.map((r) => ({ ...r, raw: own(r.raw) })),
      events: batch.events.map((e) => ({ ...e, raw: own(e.raw) })),
      agentReports: batch.agentReports?.map((w) => ({
        ...w,
        report: { ...w.report, raw: own(w.report.raw) },
      })),
    },
    transfer,
  };
}

class SqliteStore extends SqlStore {
  private readonly writer: WriterThread | null;

  constructor(db: Kysely<Database>, path: string) {
    super(db, {
      kind: 'sqlite',
      types: { serial: 'integer', blob: 'blob' },
      // SQLite has one writer at a time; the check-then-insert runs inside one write transaction.
      lockForSetup: async () => {},
    });
    // An in-memory database cannot be shared with a thread: it writes on the main thread.
    this.writer = path === ':memory:' ? null : new WriterThread(path);
  }

  override writeBatch(batch: WriteBatch): Promise<WriteResult> {
    return this.writer ? this.writer.write(batch) : super.writeBatch(batch);
  }

  /**
   * An erase must not leave the cluster's rows readable in the file (a stolen disk, a backup):
   * the query thread's connection deletes with secure_delete on, which zeroes what it frees,
   * and the WAL, which still holds the pages as they were before, is checkpointed into the file
   * and truncated right after (best effort: a busy checkpoint leaves it to the next ones).
   */
  override async eraseCluster(trackingId: string, at?: number): Promise<EraseResult> {
    const result = await super.eraseCluster(trackingId, at);
    try {
      await sql`pragma wal_checkpoint(TRUNCATE)`.execute(this.db);
    } catch {
      // Busy: the checkpointer thread copies the WAL within 100 ms, and writes overwrite it.
    }
    return result;
  }

  override async close(): Promise<void> {
    await this.writer?.stop();
    await super.close();
  }
}

/**
 * Threads for the selects outside a transaction (sqlite-thread-dialect.ts): two, so that a cheap
 * read does not wait for a long one (the heaviest metric questions already run one at a time).
 */
const READER_THREADS = 2;

/**
 * Refuses, before serving, a store file (or its WAL and shared-memory files, or their directory)
 * that this user may not write: reads worked, so the collector started, and the first write (its
 * admin token) failed with SQLite's bare "attempt to write a readonly database", naming no file.
 */
export function assertWritableSqliteFile(path: string): void {
  const notWritable = [path, `${path}-wal`, `${path}-shm`, dirname(path)].find((file) => {
    if (!existsSync(file)) return false;
    try {
      accessSync(file, constants.W_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (notWritable === undefined) return;
  const user = process.getuid?.();
  throw new CollectorError(
    'store_unusable_file',
    `cannot serve the SQLite store at ${path}: ${notWritable} is not writable by this user${user === undefined ? '' : ` (uid ${user})`}; the collector writes to the file, its -wal and -shm files and their directory: run it as their owner, or chown them to its user`,
    503,
  );
}

export function openSqliteStore(path: string): SqlStore {
  if (path !== ':memory:') {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      // EEXIST (a file where a directory should be), EACCES, EROFS: say which store and why.
      throw unusableFile(path, error);
    }
  }
  const sqlite = openDatabase(path);
  let foreign: Error | null;
  try {
    foreign = foreignDatabase(sqlite, path);
    if (!foreign) configureSqlite(sqlite);
  } catch (error) {
    sqlite.close();
    throw unusableFile(path, error);
  }
  if (foreign) {
    sqlite.close();
    throw foreign;
  }
  if (path === ':memory:') {
    sqlite.pragma('secure_delete = ON');
    return new SqliteStore(new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }), path);
  }
  // The file is checked and in WAL mode: from here on the query threads have their own connections.
  sqlite.close();
  const queryThread = threadModule('sqlite-query-thread');
  const dialect = new SqliteThreadDialect(
    new RequestThread(queryThread, path, 'the SQLite query thread'),
    Array.from(
      { length: READER_THREADS },
      (_, i) => new RequestThread(queryThread, path, `the SQLite reader thread ${i + 1}`, { readOnly: true }),
    ),
  );
  return new SqliteStore(new Kysely<Database>({ dialect }), path);
}

/**
 * A file that already holds another application's tables: refused before anything is written to
 * it, WAL mode included (a mistyped path must not add twenty tables to someone else's database).
 */
function foreignDatabase(sqlite: SQLite.Database, path: string): Error | null {
  const objects = (
    sqlite
      .prepare(
        "select name from sqlite_master where type in ('table', 'view', 'trigger') and name not like 'sqlite_%' order by name",
      )
      .all() as { name: string }[]
  ).map((t) => t.name);
  if (objects.length === 0) return null;
  // A Tidewatch store: its migration table, empty (a first start cut short) or holding our first.
  if (objects.includes('kysely_migration')) {
    const names = sqlite.prepare('select name from kysely_migration').pluck().all() as string[];
    if (names.length === 0 || names.includes('0001_initial')) return null;
  }
  const shown = objects.slice(0, 5).join(', ') + (objects.length > 5 ? `, … (${objects.length} in all)` : '');
  return new CollectorError(
    'store_foreign_file',
    `the SQLite file at ${path} is another application's database (it holds ${shown} and no Tidewatch schema); nothing was written to it. sqlite:PATH must name a new file or a Tidewatch store`,
    503,
  );
}

/** The error for a path SQLite cannot use as a database (a directory, /proc, another kind of file). */
function unusableFile(path: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new CollectorError(
    'store_unusable_file',
    `cannot open the SQLite store at ${path}: ${message} (sqlite:PATH must name a file, new or a Tidewatch store, in a directory the collector can write to)`,
    503,
  );
}

/**
 * better-sqlite3 loads its native module on first use. npm 11 skips dependencies' install scripts
 * unless package.json's allowScripts names them (ours does), and `--ignore-scripts` skips them all:
 * either way the module was never built, and its own error lists thirteen paths without a word on
 * why. Say what to run instead.
 */
function openDatabase(path: string): SQLite.Database {
  try {
    return new SQLite(path);
  } catch (error) {
    if (error instanceof Error && /bindings file/.test(error.message)) {
      throw new CollectorError(
        'sqlite_not_built',
        "better-sqlite3's native module is not built (its install script did not run: npm's " +
          'ignore-scripts, or an npm that blocks install scripts not listed in allowScripts). ' +
          'Run `npm rebuild better-sqlite3`, or use another store with --store postgres://…',
        503,
      );
    }
    throw unusableFile(path, error);
  }
}
