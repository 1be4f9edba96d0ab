import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Rollup: each cluster's latest meta facts (from its most recently received meta report),
    // kept in the write transaction so that listing and searching clusters reads one row each.
    for (const column of ['version', 'git_sha', 'cluster_type', 'meta_backend']) {
      await db.schema.alterTable('clusters').addColumn(column, 'text').execute();
    }
    await db.schema.alterTable('clusters').addColumn('facts_at', 'bigint').execute();
    await sql`update clusters set
            version = r.version, git_sha = r.git_sha, cluster_type = r.cluster_type,
            meta_backend = r.meta_backend, facts_at = r.received_at
          from (select tracking_id, version, git_sha, cluster_type, meta_backend, received_at,
                  row_number() over (partition by tracking_id order by received_at desc, id desc) as rn
                from reports where node_type = 'meta') r
          where r.rn = 1 and r.tracking_id = clusters.tracking_id`.execute(db);
  },
};
