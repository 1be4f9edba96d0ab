import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  // Until session 33 an erase or an internal tag left days already stale unlocked, and on
  // PostgreSQL a rebuild of such a day running beside it stored cells folded from the rows before
  // it committed: the erased cluster stayed in that day's fleet cells (the tagged one on its old
  // side) until the next write into the day. Every day is built again at its next question.
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`update metric_fleet_days set fresh = 0 where fresh = 1`.execute(db);
  },
};
