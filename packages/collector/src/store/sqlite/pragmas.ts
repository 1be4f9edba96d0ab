import type SQLite from 'better-sqlite3';

/** The WAL file is cut back to this size whenever it starts over (after a complete checkpoint). */
export const WAL_SIZE_LIMIT = 32 * 1024 * 1024;

/**
 * WAL with synchronous=FULL: a committed batch survives a crash and a power loss before the
 * collector acknowledges it. busy_timeout: the writer thread, the main thread (tokens) and the CLI
 * share the file and may each hold the write lock briefly. journal_size_limit: without it the WAL
 * file keeps the size of the largest transaction it ever held (a 64 MiB import, a retention pass
 * deleting months) for the collector's whole life.
 */
export function configureSqlite(db: SQLite.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
}
