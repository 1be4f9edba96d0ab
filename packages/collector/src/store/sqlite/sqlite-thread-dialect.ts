// Kysely on a SQLite connection that lives on a thread of its own (sqlite-query-thread.ts): the
// same SQL as Kysely's SqliteDialect (its compiler, adapter and introspector), but each statement
// is posted to the thread and awaited, so a long read no longer stops the event loop. Kysely has
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

/** Kysely's connection: each statement posted to the thread and its answer awaited. */
class QueryThreadConnection implements DatabaseConnection {
  constructor(private readonly thread: RequestThread<QueryRequest, QueryResponse>) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const response = await this.thread.request({
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

  // biome-ignore lint/correctness/useYield: nothing here streams; Kysely's interface asks for it
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite store does not stream query results');
  }
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

/** One connection, so one user at a time (a transaction holds it from begin to commit), as in Kysely's SqliteDriver. */
class QueryThreadDriver implements Driver {
  private readonly connection: QueryThreadConnection;
  private held: Promise<void> | null = null;
  private release: (() => void) | null = null;

  constructor(private readonly thread: RequestThread<QueryRequest, QueryResponse>) {
    this.connection = new QueryThreadConnection(thread);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    while (this.held) await this.held;
    this.held = new Promise((resolve) => {
      this.release = resolve;
    });
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.held = null;
    this.release = null;
    release?.();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    await this.thread.stop();
  }
}

/** Kysely's SQLite dialect with its connection on a thread running sqlite-query-thread.ts. */
export class SqliteThreadDialect implements Dialect {
  constructor(private readonly thread: RequestThread<QueryRequest, QueryResponse>) {}

  createDriver(): Driver {
    return new QueryThreadDriver(this.thread);
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createAdapter() {
    return new SqliteAdapter();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's Dialect interface takes Kysely<any>
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}
