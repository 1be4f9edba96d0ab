// How the write path, erase and retention run their hand-written SQL on either dialect: `?`
// parameters numbered for PostgreSQL, small statements marked to run as named prepared statements,
// multi-row inserts written out, the day_versions recount they all need, their locks, and their
// transactions run again when PostgreSQL rolled one back to break a deadlock.
import { CompiledQuery, type Kysely, sql, type Transaction } from 'kysely';
import { PREPARE_MARK, PREPARED_MAX_ROWS } from '../postgres/prepared-pool.js';
import { ROLLUP_SQL } from './cluster-rollups.js';
import { LOCK_CLUSTER_DAYS_SQL, MARK_CLUSTER_DAYS_SQL } from './metric-fleet.js';
import type { Database } from './schema.js';
import { chunks } from './statement-chunks.js';

/** The advisory lock class of day_versions days (postgres-store.ts has the cluster locks'). */
const DAY_LOCK_CLASS = 737_045;
/** The advisory lock (class, key) that keeps retention apart from erases and internal tags. */
const ADMIN_LOCK = [737_046, 0] as const;

/**
 * SQLSTATEs of a transaction PostgreSQL rolled back whole so that others can go on: 40P01
 * deadlock detected, 40001 serialization failure.
 */
const ROLLED_BACK_SQLSTATES = new Set(['40P01', '40001']);
/** Runs of such a transaction at most; the last one's error is thrown. */
const TRANSACTION_ATTEMPTS = 5;
/** The first wait before running it again, in ms; doubled each time, jittered ±50%. */
const RETRY_BACKOFF_MS = 10;

/** A day's lock key: its number of days since 1970 (every day its own; no collisions). */
function daySlot(day: string): number {
  return Math.round(Date.parse(`${day}T00:00:00Z`) / 86_400_000);
}

export class SqlRunner {
  constructor(private readonly kind: 'sqlite' | 'postgres') {}

  /** A statement written with `?` parameters for every dialect (a rollup, a recount, a mark). */
  async raw<R>(db: Kysely<Database>, text: string, parameters: unknown[]): Promise<R[]> {
    let i = 0;
    const compiled = this.kind === 'postgres' ? text.replace(/\?/g, () => `$${++i}`) : text;
    const query = CompiledQuery.raw(this.prepared(compiled, Math.ceil(parameters.length / 2)), parameters);
    return (await db.executeQuery<R>(query)).rows;
  }

  /**
   * A multi-row `insert … on conflict …` written out by hand (conflict clauses shared with the
   * SQLite writer, sql/cluster-rollups.ts). The ingest path's inserts went through Kysely's
   * builder, which makes a node per value: with ~35 columns per report that was most of the
   * PostgreSQL path's CPU and garbage per report.
   */
  async insertRows<R = never>(
    db: Kysely<Database>,
    table: string,
    rows: readonly Record<string, unknown>[],
    conflict: string,
    returning?: string,
  ): Promise<R[]> {
    const results: R[] = [];
    for (const chunk of chunks([...rows])) {
      const columns = Object.keys(chunk[0]!);
      const parameters: unknown[] = [];
      const tuples: string[] = [];
      for (const row of chunk) {
        const marks: string[] = [];
        for (const column of columns) {
          parameters.push(row[column]);
          marks.push(this.kind === 'postgres' ? `$${parameters.length}` : '?');
        }
        tuples.push(`(${marks.join(', ')})`);
      }
      const text = this.prepared(
        `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')} on conflict ${conflict}${returning ? ` returning ${returning}` : ''}`,
        chunk.length,
      );
      for (const row of (await db.executeQuery<R>(CompiledQuery.raw(text, parameters))).rows)
        results.push(row);
    }
    return results;
  }

  /**
   * On PostgreSQL, one transaction at a time rewrites a day's day_versions rows, until it ends:
   * two that recounted one day at once each inserted their count (the second one's delete cannot
   * see the first one's new rows), and a recount beside a write's change would count it twice.
   * In day order, so two of them cannot wait on each other. SQLite has one writer at a time.
   */
  async lockDays(db: Kysely<Database>, days: readonly string[]): Promise<void> {
    if (this.kind !== 'postgres' || days.length === 0) return;
    const slots = [...new Set(days.map(daySlot))].sort((a, b) => a - b);
    await sql`select pg_advisory_xact_lock(${DAY_LOCK_CLASS}, slot)
      from (select unnest(${slots}::int[]) as slot order by slot) s`.execute(db);
  }

  /**
   * On PostgreSQL, retention runs alone (`exclusive`) and erases and internal tags beside each
   * other (`shared`), until the transaction ends. Retention deletes and updates rows of every
   * cluster in the tables' scan order, erase the rows of one in its own order: run together, each
   * could hold rows the other waits for. First in the transaction, before any other lock.
   */
  async lockAdmin(db: Kysely<Database>, mode: 'shared' | 'exclusive'): Promise<void> {
    if (this.kind !== 'postgres') return;
    const [lockClass, key] = ADMIN_LOCK;
    await (mode === 'shared'
      ? sql`select pg_advisory_xact_lock_shared(${lockClass}, ${key})`
      : sql`select pg_advisory_xact_lock(${lockClass}, ${key})`
    ).execute(db);
  }

  /**
   * `db.transaction().execute(work)`, run again (up to TRANSACTION_ATTEMPTS times, after a short
   * jittered wait) when PostgreSQL rolled the transaction back as a deadlock's victim or a
   * serialization failure: nothing of it was committed, so running it again asks for what the
   * caller asked, and the caller gets an answer instead of an error to retry. `work` must not keep
   * anything of a run that failed. Any other error is thrown as it is (a connection lost at the
   * commit, say: that transaction may have committed). SQLite never answers so.
   */
  async transaction<T>(db: Kysely<Database>, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().execute(work);
      } catch (error) {
        const code = String((error as { code?: unknown } | null)?.code ?? '');
        if (this.kind !== 'postgres' || attempt >= TRANSACTION_ATTEMPTS || !ROLLED_BACK_SQLSTATES.has(code))
          throw error;
        const wait = RETRY_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random());
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /**
   * Erase and the internal tag: the cluster's fleet days stale. On PostgreSQL their rows are
   * locked first in key order, the order writers and rebuilds lock them in: locked in the
   * update's scan order, an erase deadlocked with writes of closed days in a scratch run.
   */
  async markClusterDays(db: Kysely<Database>, trackingId: string): Promise<void> {
    if (this.kind === 'postgres') await this.raw(db, LOCK_CLUSTER_DAYS_SQL, [trackingId]);
    await this.raw(db, MARK_CLUSTER_DAYS_SQL, [trackingId]);
  }

  /**
   * On PostgreSQL a write statement small enough to keep is run as a named prepared statement
   * (postgres/prepared-pool.ts): parsed and planned once per connection instead of per batch.
   * `rows` is the statement's row count (a rollup passes half its parameters: they come in pairs).
   */
  private prepared(text: string, rows: number): string {
    return this.kind === 'postgres' && rows <= PREPARED_MAX_ROWS ? PREPARE_MARK + text : text;
  }

  /** Counts day_versions again for these days from cluster_days. */
  async recountDays(db: Kysely<Database>, days: Iterable<string>): Promise<void> {
    const sorted = [...new Set(days)].sort();
    await this.lockDays(db, sorted);
    for (const day of sorted) {
      await this.raw(db, ROLLUP_SQL.clearDay(), [day]);
      await this.raw(db, ROLLUP_SQL.countDay(), [day]);
    }
  }
}
