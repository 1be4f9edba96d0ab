// Migrating a SQL store at start, and saying why it failed in words an operator can act on.
import { type Kysely, type MigrationResult, Migrator } from 'kysely';
import { CollectorError } from '../../errors.js';
import type { MigrationProgress } from '../store.js';
import { storeReason } from '../store-errors.js';
import { migrationProvider } from './migrations/index.js';
import type { MigrationDialect } from './migrations/migration-dialect.js';
import type { Database } from './schema.js';

/** Runs the pending migrations one at a time, reporting each; answers the ones it applied. */
export async function migrateSqlStore(
  db: Kysely<Database>,
  dialect: MigrationDialect,
  progress?: MigrationProgress,
): Promise<string[]> {
  // Unordered: migrations are numbered in blocks per line of work, and a store may have run a
  // later block before an earlier one landed; each migration still runs once.
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    allowUnorderedMigrations: true,
  });
  let known: readonly { name: string; executedAt?: Date | undefined }[];
  try {
    known = await migrator.getMigrations();
  } catch (error) {
    throw migrationError(error, undefined);
  }
  const pending = known.filter((m) => !m.executedAt).map((m) => m.name);
  if (pending.length > 0)
    progress?.({ phase: 'pending', names: pending, newStore: pending.length === known.length });
  // One step at a time (each under Kysely's migration lock, so collectors starting together
  // still run each once), to report each as it finishes. A step another collector ran
  // meanwhile is simply not run here.
  const applied: string[] = [];
  for (;;) {
    const started = Date.now();
    const { error, results } = await migrator.migrateUp();
    if (error) throw migrationError(error, results);
    const ran = (results ?? []).filter((r) => r.status === 'Success');
    if (ran.length === 0) return applied;
    for (const r of ran) {
      applied.push(r.migrationName);
      progress?.({ phase: 'applied', name: r.migrationName, ms: Date.now() - started });
    }
  }
}

/** A failed migration run as the operator should read it: which step, a newer store, or no store at all. */
function migrationError(error: unknown, results: readonly MigrationResult[] | undefined): CollectorError {
  const reason = error instanceof Error ? error.message : String(error);
  const failed = results?.find((r) => r.status === 'Error')?.migrationName;
  if (failed)
    return new CollectorError(
      'store_migration_failed',
      `migration ${failed} failed: ${storeReason(error)}`,
      503,
    );
  // A migration this version does not have: a newer Tidewatch has run on this store.
  const unknown = /previously executed migration (\S+) is missing/.exec(reason)?.[1];
  if (unknown) {
    return new CollectorError(
      'store_newer',
      `the store was upgraded by a newer Tidewatch: its migration ${unknown} is unknown to this version. ` +
        'Run the version that upgraded it (or a later one), or restore the backup taken before that upgrade',
      503,
    );
  }
  // Reached, but the role may not create the store's tables there.
  if (/permission denied for|must be owner of|no schema has been selected to create in/.test(reason)) {
    return new CollectorError(
      'store_setup',
      `cannot set up the store: ${reason} (the collector's role must own the store's tables, or be able to create them: give it a database it owns, or a schema it owns first in its search_path; see docs/deploy.md)`,
      503,
    );
  }
  // No migration ran: the store itself could not be reached (a wrong host or port, a database
  // that does not exist yet).
  const hint = /database ".*" does not exist/.test(reason)
    ? ' (create it first: createdb NAME, or CREATE DATABASE NAME in psql)'
    : /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|timeout/i.test(reason)
      ? ' (is the database server running and listening there? Check the host and port of the store URL)'
      : '';
  return new CollectorError('store_unreachable', `cannot reach the store: ${reason}${hint}`, 503);
}
