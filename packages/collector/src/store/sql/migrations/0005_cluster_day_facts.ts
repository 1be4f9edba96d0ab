import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Rollup: each cluster's facts per UTC day, from its latest meta report that day, kept in
    // the write transaction. Breakdowns and version adoption read these (clusters × days rows)
    // instead of every raw meta report.
    await db.schema
      .createTable('cluster_day_facts')
      .addColumn('day', 'text', (c) => c.notNull())
      .addColumn('tracking_id', 'text', (c) => c.notNull())
      .addColumn('facts_at', 'bigint', (c) => c.notNull())
      .addColumn('version', 'text')
      .addColumn('cluster_type', 'text')
      .addColumn('meta_backend', 'text')
      .addColumn('os_name', 'text')
      .addColumn('object_store', 'text')
      .addColumn('connectors', 'text')
      .addPrimaryKeyConstraint('cluster_day_facts_pk', ['day', 'tracking_id'])
      .execute();
    await db.schema
      .createIndex('cluster_day_facts_cluster')
      .on('cluster_day_facts')
      .columns(['tracking_id', 'day'])
      .execute();
    await sql`insert into cluster_day_facts
            (day, tracking_id, facts_at, version, cluster_type, meta_backend, os_name, object_store, connectors)
          select received_day, tracking_id, received_at, version, cluster_type, meta_backend, os_name, object_store, connectors
          from (select r.*, row_number() over (partition by tracking_id, received_day order by received_at desc, id desc) as rn
                from reports r where node_type = 'meta') m
          where rn = 1`.execute(db);
  },
};
