import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Rollup: which clusters sent at least one report on which UTC day (maintained in the
    // write transaction), so daily active counts never scan raw reports. ci = 1 only when every
    // report of that cluster that day came from CI.
    await db.schema
      .createTable('cluster_days')
      .addColumn('day', 'text', (c) => c.notNull())
      .addColumn('tracking_id', 'text', (c) => c.notNull())
      .addColumn('ci', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('cluster_days_pk', ['day', 'tracking_id'])
      .execute();
    await db.schema.createIndex('cluster_days_cluster').on('cluster_days').columns(['tracking_id']).execute();
    // Existing data (stores created before this migration).
    await sql`insert into cluster_days (day, tracking_id, ci)
          select received_day, tracking_id, min(ci) from (
            select received_day, tracking_id, ci from reports
            union all select received_day, tracking_id, ci from agent_reports
          ) r group by received_day, tracking_id`.execute(db);
    // Breakdowns pick each cluster's latest meta report in a range.
    await db.schema
      .createIndex('reports_meta_latest')
      .on('reports')
      .columns(['node_type', 'received_day', 'tracking_id', 'received_at'])
      .execute();
  },
};
