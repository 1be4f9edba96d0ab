// The embedded default store: SQLite through better-sqlite3, in WAL mode with synchronous=FULL so
// that a committed batch survives power loss before the collector acknowledges it.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from '../sql/schema.js';
import { SqlStore } from '../sql/sql-store.js';

export function openSqliteStore(path: string): SqlStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  // Another process (the CLI minting a token, a second collector) may hold the write lock briefly.
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return new SqlStore(db, {
    kind: 'sqlite',
    types: { serial: 'integer', blob: 'blob' },
    // SQLite has one writer at a time; the check-then-insert runs inside one write transaction.
    lockForSetup: async () => {},
  });
}
