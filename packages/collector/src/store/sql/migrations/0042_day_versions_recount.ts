import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  // Until session 33 every write recounted its days in day_versions, and on PostgreSQL two writes
  // recounting one day at once could both keep their count (a day of 4,000 new clusters read as
  // 15,824 with four writes in flight): active clusters and version adoption read too high. Writes
  // now move the counts by what they change (sql/write-steps.ts); this counts every day once more
  // from cluster_days, so a store that was counted twice reads right again. One pass over
  // cluster_days' (day, version, ci) index.
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`delete from day_versions`.execute(db);
    await sql`insert into day_versions (day, version, ci, clusters)
      select day, version, ci, count(*) from cluster_days group by day, version, ci`.execute(db);
  },
};
