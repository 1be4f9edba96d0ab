import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Incremented by every erase and retention pass, in their own transactions: a writer that
    // remembers which rollup rows exist (sql/rollup-memo.ts) forgets it when this moves.
    await db.schema
      .createTable('rollup_epoch')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('epoch', 'bigint', (c) => c.notNull())
      .execute();
    await sql`insert into rollup_epoch (id, epoch) values (1, 0)`.execute(db);
  },
};
