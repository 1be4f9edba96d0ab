// What a migration is told about the store it runs on: which database, and its column types (the
// `kind` and `types` of the store's SqlDialectHooks).
import type { ColumnDefinitionBuilder } from 'kysely';
import type { SqlDialectHooks } from '../dialect.js';

export type MigrationDialect = Pick<SqlDialectHooks, 'kind' | 'types'>;

/** An auto-incrementing primary key (with the column type `dialect.types.serial`). */
export function serialKey(
  dialect: MigrationDialect,
): (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder {
  return (c) => (dialect.kind === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey());
}
