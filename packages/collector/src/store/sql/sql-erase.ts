// Erase on a SQL store: every row of a cluster goes, rollups included, and the id is blocked in
// the same transaction, so a write racing the erase either commits before it (and is erased) or
// sees the block (and is dropped).
import type { Kysely } from 'kysely';
import type { EraseResult } from '../store.js';
import type { SqlDialectHooks } from './dialect.js';
import { bumpRollupEpoch } from './rollup-memo.js';
import { type Database, DERIVED_CLUSTER_TABLES } from './schema.js';
import type { SqlRunner } from './sql-runner.js';

/** Every row of a cluster, rollups included, in one transaction; the id is blocked in the same one. */
export async function eraseCluster(
  db: Kysely<Database>,
  hooks: SqlDialectHooks,
  run: SqlRunner,
  trackingId: string,
  at: number,
): Promise<EraseResult> {
  // Lock order on PostgreSQL, as in writes and the internal tag: the admin lock (never beside
  // retention), the cluster's lock slot, the fleet days' rows in key order, the cluster's own rows,
  // and the days' locks last. Rolled back as a deadlock's victim anyway, it runs again.
  return run.transaction(db, async (trx) => {
    await run.lockAdmin(trx, 'shared');
    // Writes of this cluster in flight commit first; those that start later wait for this
    // transaction and then see the block.
    await hooks.lockClusters?.(trx, [trackingId], 'alone');
    // Blocked first, in the same transaction: a write racing the erase either commits before it
    // (and is erased) or sees the block (and is dropped).
    await trx
      .insertInto('blocked_clusters')
      .values({ tracking_id: trackingId, blocked_at: at })
      .onConflict((oc) => oc.column('tracking_id').doUpdateSet({ blocked_at: at }))
      .execute();
    const days = await trx
      .selectFrom('cluster_days')
      .select('day')
      .where('tracking_id', '=', trackingId)
      .execute();
    const reports = await trx.deleteFrom('reports').where('tracking_id', '=', trackingId).executeTakeFirst();
    const events = await trx.deleteFrom('events').where('tracking_id', '=', trackingId).executeTakeFirst();
    const agentReports = await trx
      .deleteFrom('agent_reports')
      .where('tracking_id', '=', trackingId)
      .executeTakeFirst();
    // Its metric cells are built again without it (before its rollup rows go).
    await run.markClusterDays(trx, trackingId);
    // Every other table that holds rows of a cluster (rollups included): erase means everywhere.
    for (const table of DERIVED_CLUSTER_TABLES) {
      await trx.deleteFrom(table).where('tracking_id', '=', trackingId).execute();
    }
    await run.recountDays(
      trx,
      days.map((d) => d.day),
    );
    await bumpRollupEpoch(trx);
    return {
      reports: Number(reports.numDeletedRows),
      events: Number(events.numDeletedRows),
      agentReports: Number(agentReports.numDeletedRows),
    };
  });
}
