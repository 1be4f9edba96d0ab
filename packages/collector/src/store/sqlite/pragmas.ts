import type SQLite from 'better-sqlite3';

/**
 * WAL with synchronous=FULL: a committed batch survives a crash and a power loss before the
 * collector acknowledges it. busy_timeout: the writer thread, the main thread (tokens) and the CLI
 * share the file and may each hold the write lock briefly.
 */
export function configureSqlite(db: SQLite.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
}
