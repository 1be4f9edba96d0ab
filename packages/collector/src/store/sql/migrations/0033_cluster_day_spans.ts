import { type Kysely, type Migration, sql } from 'kysely';
import { DAY_SPAN_COLUMNS, DAY_SPAN_SET } from '../cluster-rollups.js';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Each cluster's first and last active day (of all, and of those not all-CI), kept by the
    // clusters upsert: the overview and the active count read one row per cluster, and seek
    // into cluster_days only for clusters active after the range.
    for (const column of DAY_SPAN_COLUMNS) {
      await db.schema.alterTable('clusters').addColumn(column, 'text').execute();
    }
    await sql`update clusters set ${sql.raw(DAY_SPAN_SET)}`.execute(db);
  },
};
