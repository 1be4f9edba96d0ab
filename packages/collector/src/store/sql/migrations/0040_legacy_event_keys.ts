import { type Kysely, type Migration, sql } from 'kysely';
import { boundaryValue, LEGACY_EVENT_KEYS_SETTING } from '../../legacy-event-keys.js';

export const migration: Migration = {
  // Events stored until now may hold retry keys without their request's hash (before commit
  // b2b470f): ingest looks their old keys up up to this boundary (store/legacy-event-keys.ts).
  // One indexed row, not max() over a column a big store would read whole.
  async up(db: Kysely<unknown>): Promise<void> {
    const { rows } = await sql`select 1 from events limit 1`.execute(db);
    const value = boundaryValue(rows.length > 0, Date.now());
    await sql`insert into settings (key, value) values (${LEGACY_EVENT_KEYS_SETTING}, ${value})`.execute(db);
  },
};
