// Kysely on SQLite connections that live on threads of their own (sqlite-query-thread.ts): the
// same SQL as Kysely's SqliteDialect (its compiler, adapter and introspector), but each statement
// is posted to a thread and awaited, so a long read no longer stops the event loop. Kysely has
// no such driver; better-sqlite3 has no asynchronous API.
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type { RequestThread } from './request-thread.js';
import type { QueryRequest, QueryResponse, QueryRows } from './sqlite-query-thread.js';

/** An error SQLite raised on the thread, with better-sqlite3's code (store-errors.ts reads it). */
export class SqliteThreadError extends Error {
  override readonly name = 'SqliteError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Kysely's connection: hands each statement to the driver, which picks the thread. */
class ThreadConnection implements DatabaseConnection {
  /** Set from begin to commit or rollback, while this connection holds the read-write thread. */
  inTransaction = false;

  constructor(private readonly driver: QueryThreadDriver) {}

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute<R>(compiled, this.inTransaction);
  }

  // biome-ignore lint/correctness/useYield: nothing here streams; Kysely's interface asks for it
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite store does not stream query results');
  }
}

type QueryThread = RequestThread<QueryRequest, QueryResponse>;

/** One statement posted to a thread and its answer awaited. */
async function run<R>(thread: QueryThread, compiled: CompiledQuery): Promise<QueryResult<R>> {
  const response = await thread.request({
    sql: compiled.sql,
    parameters: compiled.parameters.map(ownBytes),
  });
  if ('error' in response) throw new SqliteThreadError(response.error.message, response.error.code);
  if ('read' in response) return { rows: unpacked(response.read) as R[] };
  return {
    rows: [],
    numAffectedRows: BigInt(response.changes),
    insertId: BigInt(response.lastInsertRowid),
  };
}

/**
 * A parameter's bytes in a buffer of their own: posting a Buffer cut from Node's shared 8 KiB
 * pool would copy the whole pool.
 */
function ownBytes(value: unknown): unknown {
  return value instanceof Uint8Array ? new Uint8Array(value) : value;
}

/** Rows as objects again, each blob a Buffer (as better-sqlite3 gives) over the one posted buffer. */
function unpacked({ columns, rows, bytes, blobs }: QueryRows): Record<string, unknown>[] {
  for (let i = 0; i < blobs.length; i += 4) {
    rows[blobs[i]!]![blobs[i + 1]!] = Buffer.from(bytes, blobs[i + 2]!, blobs[i + 3]!);
  }
  return rows.map((row) => {
    const record: Record<string, unknown> = {};
    for (let c = 0; c < columns.length; c++) record[columns[c]!] = row[c];
    return record;
  });
}

/** A first-come, first-served lock. */
class Lock {
  private tail: Promise<void> = Promise.resolve();

  /** Waits for the lock; the function it resolves to releases it. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const acquired = this.tail.then(() => release);
    this.tail = this.tail.then(() => released);
    return acquired;
  }
}

/**
 * Kysely's driver over the query threads. Selects outside a transaction go to a reader thread (the
 * one with the fewest statements in flight), so a dashboard read waits neither for a transaction
 * (an erase, retention, a token) nor for a write that waits for SQLite's write lock, nor, with two
 * readers, for a long read. Everything else runs on the read-write thread, one user at a time: a
 * transaction holds it from begin to commit or rollback, as Kysely's own SqliteDriver does with its
 * one connection.
 */
class QueryThreadDriver implements Driver {
  private readonly lock = new Lock();
  /** What releases the read-write thread, while a transaction holds it. */
  private release: (() => void) | null = null;

  constructor(
    private readonly primary: QueryThread,
    private readonly readers: readonly QueryThread[],
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new ThreadConnection(this);
  }

  async releaseConnection(): Promise<void> {}

  async execute<R>(compiled: CompiledQuery, inTransaction: boolean): Promise<QueryResult<R>> {
    if (inTransaction) return run<R>(this.primary, compiled);
    // A select built by Kysely only reads; raw SQL might not, so it goes to the read-write thread.
    if (compiled.query.kind === 'SelectQueryNode' && this.readers.length > 0) {
      let reader = this.readers[0]!;
      for (const r of this.readers) if (r.inFlight < reader.inFlight) reader = r;
      return run<R>(reader, compiled);
    }
    const release = await this.lock.acquire();
    try {
      return await run<R>(this.primary, compiled);
    } finally {
      release();
    }
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    this.release = await this.lock.acquire();
    (connection as ThreadConnection).inTransaction = true;
    try {
      await run(this.primary, CompiledQuery.raw('begin'));
    } catch (error) {
      // Kysely does not roll back a transaction that did not begin: release the thread here.
      this.endTransaction(connection);
      throw error;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    // A failed commit keeps the thread: Kysely rolls back next.
    await run(this.primary, CompiledQuery.raw('commit'));
    this.endTransaction(connection);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await run(this.primary, CompiledQuery.raw('rollback'));
    } finally {
      this.endTransaction(connection);
    }
  }

  private endTransaction(connection: DatabaseConnection): void {
    (connection as ThreadConnection).inTransaction = false;
    const release = this.release;
    this.release = null;
    release?.();
  }

  async destroy(): Promise<void> {
    await Promise.all([this.primary.stop(), ...this.readers.map((r) => r.stop())]);
  }
}

/**
 * Kysely's SQLite adapter, but saying what is true of SQLite: DDL is transactional. Kysely's own
 * says not, so its migrator ran each migration's statements one by one, and a start stopped by a
 * signal or a full disk halfway through one left tables created and the migration unrecorded:
 * every later start then failed at "table already exists". Now each migration commits whole or
 * not at all.
 */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * Kysely's SQLite dialect with its connections on threads running sqlite-query-thread.ts: one
 * read-write (`primary`) and any number of read-only ones (`readers`).
 */
export class SqliteThreadDialect implements Dialect {
  constructor(
    private readonly primary: QueryThread,
    private readonly readers: readonly QueryThread[] = [],
  ) {}

  createDriver(): Driver {
    return new QueryThreadDriver(this.primary, this.readers);
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createAdapter() {
    return new TransactionalSqliteAdapter();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's Dialect interface takes Kysely<any>
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}
