import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Deployment shape per cluster and day (distributions, connectors by format and encode,
    // license tiers), from the same latest meta report of the day as the other facts.
    for (const column of [
      'memory_total',
      'node_meta',
      'node_compute',
      'node_frontend',
      'node_compactor',
      'stream_job_count',
    ]) {
      await db.schema.alterTable('cluster_day_facts').addColumn(column, 'bigint').execute();
    }
    for (const column of ['license_tier', 'connector_usage']) {
      await db.schema.alterTable('cluster_day_facts').addColumn(column, 'text').execute();
    }
    await sql`update cluster_day_facts set
            memory_total = r.memory_total, node_meta = r.node_meta, node_compute = r.node_compute,
            node_frontend = r.node_frontend, node_compactor = r.node_compactor,
            stream_job_count = r.stream_job_count, license_tier = r.license_tier,
            connector_usage = r.connector_usage
          from (select tracking_id, received_at, memory_total, node_meta, node_compute, node_frontend,
                  node_compactor, stream_job_count, license_tier, connector_usage,
                  row_number() over (partition by tracking_id, received_at order by id desc) as rn
                from reports where node_type = 'meta') r
          where r.rn = 1 and r.tracking_id = cluster_day_facts.tracking_id
            and r.received_at = cluster_day_facts.facts_at`.execute(db);

    // Each active cluster-day knows the cluster's version that day (its latest meta facts up
    // to that day, carried forward), and day_versions counts them: active clusters per day and
    // version adoption read a few rows per day instead of every cluster-day.
    await db.schema.alterTable('cluster_days').addColumn('version', 'text').execute();
    await sql`update cluster_days set version = (
            select f.version from cluster_day_facts f
            where f.tracking_id = cluster_days.tracking_id and f.day <= cluster_days.day
            order by f.day desc limit 1)`.execute(db);
    // Per cluster: first and last day, and "any day in a range" answered by one index seek.
    await db.schema
      .createIndex('cluster_days_cluster_day')
      .on('cluster_days')
      .columns(['tracking_id', 'day', 'ci'])
      .execute();
    await db.schema
      .createTable('day_versions')
      .addColumn('day', 'text', (c) => c.notNull())
      .addColumn('version', 'text')
      .addColumn('ci', 'integer', (c) => c.notNull())
      .addColumn('clusters', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('day_versions_day').on('day_versions').columns(['day']).execute();
    await sql`insert into day_versions (day, version, ci, clusters)
          select day, version, ci, count(*) from cluster_days group by day, version, ci`.execute(db);
  },
};
