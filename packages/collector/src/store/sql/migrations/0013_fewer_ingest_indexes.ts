import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Every index is written by every report. reports_meta_latest served breakdowns that now
    // read rollups (cluster_day_facts); cluster_days_cluster is a prefix of
    // cluster_days_cluster_day. Measured: about a quarter of the pages a SQLite commit wrote.
    await db.schema.dropIndex('reports_meta_latest').ifExists().execute();
    await db.schema.dropIndex('cluster_days_cluster').ifExists().execute();
  },
};
