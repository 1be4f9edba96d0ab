// The SQLite checkpointer thread: copies committed WAL pages into the database file beside the
// writer thread, so that a commit never pays for a checkpoint. With SQLite's default (an automatic
// checkpoint in the committing connection once the WAL holds 1,000 pages) a third of the writer's
// time went to checkpoints under load, and every report waited for them: `bench:ingest` measured
// 3.5k reports/s with it and 5.1k/s without (the same run, the same machine). A PASSIVE checkpoint
// takes no write lock, so the writer keeps committing while this thread copies; the writer keeps a
// larger automatic checkpoint as the safety net should this thread fall behind or die
// (sqlite-writer.ts).
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { configureSqlite } from './pragmas.js';

/** How often the WAL is copied: ~1–2 MB of WAL at a few thousand reports a second. */
const CHECKPOINT_MS = 100;

const db = new SQLite((workerData as { path: string }).path);
configureSqlite(db);
// This connection never writes; it must not start automatic checkpoints of its own either.
db.pragma('wal_autocheckpoint = 0');

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or a transient I/O error: the next tick tries again, the writer's own checkpoint is
    // the safety net.
  }
}, CHECKPOINT_MS);

parentPort?.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } finally {
    db.close();
    parentPort?.close();
  }
});
