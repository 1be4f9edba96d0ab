import { type Kysely, type Migration, sql } from 'kysely';
import { NO_NEXT_DAY } from '../cluster-rollups.js';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Each facts row knows the cluster's next facts day (NO_NEXT_DAY if none): the cluster's
    // latest facts in [from, to] are the rows with from <= day <= to < next_day, one index
    // range instead of a seek per cluster (sql/cluster-rollups.ts keeps it at ingest).
    await db.schema
      .alterTable('cluster_day_facts')
      .addColumn('next_day', 'text', (c) => c.notNull().defaultTo(NO_NEXT_DAY))
      .execute();
    await sql`update cluster_day_facts set next_day = n.next_day
          from (select tracking_id, day,
                  lead(day) over (partition by tracking_id order by day) as next_day
                from cluster_day_facts) n
          where n.next_day is not null and n.tracking_id = cluster_day_facts.tracking_id
            and n.day = cluster_day_facts.day`.execute(db);
    await db.schema
      .createIndex('cluster_day_facts_next')
      .on('cluster_day_facts')
      .columns(['next_day', 'day'])
      .execute();
    // CI-only cluster-days are few (RisingWave never sends CI): "left out as CI" reads them
    // alone instead of every cluster-day of the range. The literal `ci = 1` must be in the query.
    await db.schema
      .createIndex('cluster_days_ci')
      .on('cluster_days')
      .columns(['day', 'tracking_id'])
      .where(sql.ref('ci'), '=', sql.lit(1))
      .execute();
  },
};
