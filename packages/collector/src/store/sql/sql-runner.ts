// How the write path, erase and retention run their hand-written SQL on either dialect: `?`
// parameters numbered for PostgreSQL, small statements marked to run as named prepared statements,
// multi-row inserts written out, and the day_versions recount they all need.
import { CompiledQuery, type Kysely } from 'kysely';
import { PREPARE_MARK, PREPARED_MAX_ROWS } from '../postgres/prepared-pool.js';
import { ROLLUP_SQL } from './cluster-rollups.js';
import type { Database } from './schema.js';
import { chunks } from './statement-chunks.js';

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
   * On PostgreSQL a write statement small enough to keep is run as a named prepared statement
   * (postgres/prepared-pool.ts): parsed and planned once per connection instead of per batch.
   * `rows` is the statement's row count (a rollup passes half its parameters: they come in pairs).
   */
  private prepared(text: string, rows: number): string {
    return this.kind === 'postgres' && rows <= PREPARED_MAX_ROWS ? PREPARE_MARK + text : text;
  }

  /** Counts day_versions again for these days from cluster_days. */
  async recountDays(db: Kysely<Database>, days: Iterable<string>): Promise<void> {
    for (const day of [...days].sort()) {
      await this.raw(db, ROLLUP_SQL.clearDay(), [day]);
      await this.raw(db, ROLLUP_SQL.countDay(), [day]);
    }
  }
}
