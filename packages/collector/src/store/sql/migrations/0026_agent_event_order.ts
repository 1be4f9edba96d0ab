import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Agent events are listed newest first by (received_at, report_id, seq) on every store
    // (ClickHouse has no serial id); rows stored before keep their id as seq, which orders
    // them within their report the same way.
    await db.schema.alterTable('agent_events').addColumn('seq', 'bigint').execute();
    await sql`update agent_events set seq = id`.execute(db);
    await db.schema
      .createIndex('agent_events_received')
      .on('agent_events')
      .columns(['received_at', 'report_id', 'seq'])
      .execute();
  },
};
