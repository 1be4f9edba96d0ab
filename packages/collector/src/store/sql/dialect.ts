// What differs between SQLite and PostgreSQL, as the SQL store's modules are given it (by
// sqlite/sqlite-store.ts and postgres/postgres-store.ts).
import type { Transaction } from 'kysely';
import type { Database } from './schema.js';

export interface DialectTypes {
  /** An auto-incrementing 64-bit primary key column type. */
  serial: 'integer' | 'bigserial';
  blob: 'blob' | 'bytea';
}

export interface SqlDialectHooks {
  kind: 'sqlite' | 'postgres';
  types: DialectTypes;
  /** Serializes first-start token creation across processes (inside the transaction). */
  lockForSetup(trx: Transaction<Database>): Promise<void>;
  /**
   * Orders a write against an erase or internal tag of the same clusters (inside the transaction,
   * first): a write shares the clusters' locks, an erase or tag takes its cluster's alone. Without
   * it, on PostgreSQL a write that read "not blocked" before an erase committed stored its rows
   * after the erase had deleted, and the two transactions' row locks could deadlock (a tag too:
   * it locks its clusters row, which a write of a closed day locks after that day's fleet row).
   * SQLite has one writer at a time.
   */
  lockClusters?(
    trx: Transaction<Database>,
    trackingIds: readonly string[],
    mode: 'write' | 'alone',
  ): Promise<void>;
  /** Closes connections that Kysely does not own. */
  close?(): Promise<void>;
}
