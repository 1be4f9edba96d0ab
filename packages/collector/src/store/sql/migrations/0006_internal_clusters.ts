import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // An admin's tag for the team's own and cloud-hosted clusters: left out of statistics
    // unless asked for, like CI.
    await db.schema
      .alterTable('clusters')
      .addColumn('internal', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
