import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Events newest first: the newest page is the end of this index, not a sort of every event
    // of the range. Keys grow at the right edge, so ingest pays little for it.
    await db.schema.createIndex('events_received').on('events').columns(['received_at', 'id']).execute();
  },
};
