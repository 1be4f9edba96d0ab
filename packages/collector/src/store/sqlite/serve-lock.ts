// One collector per SQLite file (docs/deploy.md: SQLite serves one process). Two collectors
// started on one file both ran and both wrote, each with its own in-memory rollup memo and rate
// limits (found by an operator walkthrough). The lock is SQLite's own: an exclusive lock on a
// small file beside the store, held by a connection that stays open for the collector's life.
// The operating system drops it when the process ends, however it ends, so a kill -9 leaves no
// stale lock and no process id can be mistaken for a live collector. Only `serve` takes it:
// `tidewatch token` and `audit` still work beside a running collector.
import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { CollectorError } from '../../errors.js';

export interface ServeLock {
  release(): void;
}

const NO_LOCK: ServeLock = { release() {} };

/**
 * The lock file of a SQLite store file (its absolute path), beside the file that path leads to:
 * a collector started through a symbolic link to the store, or to its directory, takes the same
 * lock as one started on the file itself (both ran before). A store not created yet: beside its
 * name in its directory's real place. (A hard link is another name for the file that nothing
 * leads back from; it still gets a lock of its own.)
 */
export function serveLockPath(file: string): string {
  return `${realFile(file)}.serve-lock`;
}

function realFile(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    try {
      return join(realpathSync(dirname(file)), basename(file));
    } catch {
      return file;
    }
  }
}

/**
 * Takes the store's serve lock, or throws `store_in_use` when another process holds it. A lock
 * file that cannot be created (a read-only directory) is no reason to refuse: the store's own
 * open then says what is wrong, or it opens read-write elsewhere and was never shared.
 */
export function takeServeLock(file: string): ServeLock {
  const lockPath = serveLockPath(file);
  let db: Database.Database;
  try {
    db = new Database(lockPath, { timeout: 0 });
  } catch {
    return NO_LOCK;
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE'); // never committed: the lock lasts as long as the connection
  } catch (error) {
    db.close();
    if ((error as { code?: unknown }).code !== 'SQLITE_BUSY') return NO_LOCK;
    throw new CollectorError(
      'store_in_use',
      `another collector already serves ${file} (it holds ${lockPath}): a SQLite store serves one process. Stop that one, or start this one with another --store (several collectors can share a PostgreSQL or ClickHouse store)`,
    );
  }
  return { release: () => db.close() };
}
