import type { Kysely, Migration } from 'kysely';
import { type MigrationDialect, serialKey } from './migration-dialect.js';

export function migration(dialect: MigrationDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // Who (a token id, never a token) did which admin action, when.
      await db.schema
        .createTable('audit_log')
        .addColumn('id', dialect.types.serial, serialKey(dialect))
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text')
        .addColumn('details', 'text')
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at']).execute();
    },
  };
}
