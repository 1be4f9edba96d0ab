import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // An erase blocks the id: its new reports are answered 200 and dropped until an admin lifts it.
    await db.schema
      .createTable('blocked_clusters')
      .addColumn('tracking_id', 'text', (c) => c.primaryKey())
      .addColumn('blocked_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
