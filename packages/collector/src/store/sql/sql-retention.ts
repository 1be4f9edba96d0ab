// Retention on a SQL store: rows received before the cut-off day go, raw and rolled up, and what
// was derived from them (first seen, day spans, carried versions, metric spans) is set again from
// what remains.
import { type Kysely, sql } from 'kysely';
import type { RetentionResult } from '../store.js';
import { DAY_SPAN_SET } from './cluster-rollups.js';
import { bumpRollupEpoch } from './rollup-memo.js';
import { type Database, RETAINED_BY_DAY } from './schema.js';
import type { SqlRunner } from './sql-runner.js';

/** Rollup tables among RETAINED_BY_DAY: their day column is `day`, not `received_day`. */
const ROLLUPS_BY_DAY = new Set<string>([
  'cluster_days',
  'cluster_day_facts',
  'metric_rollup',
  'metric_fleet',
  'metric_fleet_days',
]);

/**
 * day_versions after retention: days before the cut-off go; versions carried forward from meta
 * reports that are gone now are unknown (as in the raw rows that remain), and the days they
 * counted in are counted again.
 */
async function retainDayVersions(trx: Kysely<Database>, run: SqlRunner, fromDay: string): Promise<void> {
  await trx.deleteFrom('day_versions').where('day', '<', fromDay).execute();
  const orphaned = await trx
    .updateTable('cluster_days')
    .set({ version: null })
    .where('version', 'is not', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('cluster_day_facts as f')
            .select(sql.lit(1).as('one'))
            .whereRef('f.tracking_id', '=', 'cluster_days.tracking_id')
            .whereRef('f.day', '<=', 'cluster_days.day'),
        ),
      ),
    )
    .returning('day')
    .execute();
  await run.recountDays(trx, new Set(orphaned.map((r) => r.day)));
}

/** Retention: everything received before `fromDay` goes, raw rows and rollups alike. */
export async function deleteBefore(
  db: Kysely<Database>,
  run: SqlRunner,
  fromDay: string,
): Promise<RetentionResult> {
  const cutoff = Date.parse(`${fromDay}T00:00:00.000Z`);
  // On PostgreSQL alone among admin changes (no erase or tag beside it). Its updates of every
  // cluster's rows in scan order can still deadlock with a write; rolled back so, it runs again.
  return run.transaction(db, async (trx) => {
    await run.lockAdmin(trx, 'exclusive');
    const deleted: RetentionResult = {};
    const byDay = async (table: (typeof RETAINED_BY_DAY)[number]) => {
      const column = ROLLUPS_BY_DAY.has(table) ? 'day' : 'received_day';
      const result = await trx.deleteFrom(table).where(sql.ref(column), '<', fromDay).executeTakeFirst();
      deleted[table] = Number(result.numDeletedRows);
    };
    for (const table of RETAINED_BY_DAY) await byDay(table);
    // A series whose points are all gone is forgotten (it only served the per-cluster caps).
    const series = await trx
      .deleteFrom('metric_series')
      .where('first_seen', '<', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('metric_points as p')
              .select(sql.lit(1).as('one'))
              .whereRef('p.tracking_id', '=', 'metric_series.tracking_id')
              .whereRef('p.name', '=', 'metric_series.name')
              .whereRef('p.labels', '=', 'metric_series.labels'),
          ),
        ),
      )
      .executeTakeFirst();
    deleted.metric_series = Number(series.numDeletedRows);
    // Metric spans: gone with their last day; one that began before the cut-off begins at its
    // oldest remaining rollup row (same metric, cluster and series; nulls compared as equal).
    const spans = await trx.deleteFrom('metric_spans').where('last_day', '<', fromDay).executeTakeFirst();
    deleted.metric_spans = Number(spans.numDeletedRows);
    await sql`update metric_spans set first_day = (select min(r.day) from metric_rollup r
        where r.name = metric_spans.name and r.tracking_id = metric_spans.tracking_id
          and r.kind = metric_spans.kind and r.ci = metric_spans.ci and r.node_type = metric_spans.node_type
          and (r.version = metric_spans.version or (r.version is null and metric_spans.version is null))
          and (r.cluster_type = metric_spans.cluster_type
            or (r.cluster_type is null and metric_spans.cluster_type is null)))
      where first_day < ${fromDay}`.execute(trx);
    // First seen moves to the oldest remaining row; a cluster with nothing left is forgotten.
    await sql`update clusters set first_seen = coalesce((select min(m) from (
        select min(received_at) as m from reports where reports.tracking_id = clusters.tracking_id
        union all select min(received_at) from events where events.tracking_id = clusters.tracking_id
        union all select min(received_at) from agent_reports where agent_reports.tracking_id = clusters.tracking_id
      ) oldest), first_seen)
      where first_seen < ${cutoff}`.execute(trx);
    const clusters = await trx.deleteFrom('clusters').where('first_seen', '<', cutoff).executeTakeFirst();
    // Day spans that began before the cut-off begin at the oldest remaining day now.
    await sql`update clusters set ${sql.raw(DAY_SPAN_SET)} where first_day < ${fromDay}`.execute(trx);
    deleted.clusters = Number(clusters.numDeletedRows);
    // Latest facts whose meta report is gone: no newer one exists, so they are unknown now.
    await trx
      .updateTable('clusters')
      .set({ version: null, git_sha: null, cluster_type: null, meta_backend: null, facts_at: null })
      .where('facts_at', '<', cutoff)
      .execute();
    // Only when retention removed rollup rows: the pass runs at every start, mostly with nothing
    // to do, and must not hold the write lock longer than that. Last (before the audit log): on
    // PostgreSQL it takes the days' locks, which a write takes after its clusters' row locks; taken
    // before retention's own updates of clusters rows, the two could wait on each other.
    if ((deleted.cluster_days ?? 0) + (deleted.cluster_day_facts ?? 0) > 0) {
      await retainDayVersions(trx, run, fromDay);
      await bumpRollupEpoch(trx);
    }
    const audit = await trx.deleteFrom('audit_log').where('at', '<', cutoff).executeTakeFirst();
    deleted.audit_log = Number(audit.numDeletedRows);
    return deleted;
  });
}
