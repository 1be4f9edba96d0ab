import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Values the store keeps for itself: the salt of the license-subject hash, generated once
    // per store so every collector sharing it hashes alike.
    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    // The license's `sub` (a customer name) as a salted hash, or in clear if the operator opted in.
    await db.schema.alterTable('reports').addColumn('license_subject', 'text').execute();
  },
};
