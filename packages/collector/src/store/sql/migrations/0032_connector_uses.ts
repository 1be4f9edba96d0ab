import { type Kysely, type Migration, sql } from 'kysely';
import { connectorUseCounts } from '../../connector-uses.js';
import { ROWS_PER_STATEMENT } from '../statement-chunks.js';

export const migration: Migration = {
  async up(db: Kysely<unknown>) {
    // Each facts row's connector uses, counted once when written (store/connector-uses.ts): the
    // connectors statistic adds those up instead of parsing every cluster's JSON per request.
    await db.schema.alterTable('cluster_day_facts').addColumn('connector_uses', 'text').execute();
    // Existing rows, a page at a time in key order; a JSON text seen before is not parsed again.
    const counted = new Map<string | null, string>();
    let after: { day: string; tracking_id: string } | undefined;
    for (;;) {
      const { rows } = await sql<{ day: string; tracking_id: string; connector_usage: string | null }>`
            select day, tracking_id, connector_usage from cluster_day_facts
            ${after ? sql`where (day, tracking_id) > (${after.day}, ${after.tracking_id})` : sql``}
            order by day, tracking_id limit ${ROWS_PER_STATEMENT}`.execute(db);
      if (rows.length === 0) break;
      if (counted.size > 10_000) counted.clear();
      const values = rows.map((r) => {
        let uses = counted.get(r.connector_usage);
        if (uses === undefined) {
          uses = JSON.stringify(connectorUseCounts(r.connector_usage));
          counted.set(r.connector_usage, uses);
        }
        return sql`(${r.day}, ${r.tracking_id}, ${uses})`;
      });
      // `update … from`: a key lookup per listed row (a correlated subquery over the list was
      // a scan of the list per row on PostgreSQL).
      await sql`with v(day, tracking_id, uses) as (values ${sql.join(values)})
            update cluster_day_facts set connector_uses = v.uses from v
            where v.day = cluster_day_facts.day and v.tracking_id = cluster_day_facts.tracking_id`.execute(
        db,
      );
      after = rows.at(-1);
    }
  },
};
