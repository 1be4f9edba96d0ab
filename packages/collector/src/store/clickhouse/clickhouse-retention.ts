// Retention on ClickHouse: months wholly before the cut-off are dropped as partitions, the month
// that straddles it is deleted from by a mutation.
import type { RetentionResult } from '../store.js';
import type { ClickHouseConnection } from './clickhouse-connection.js';
import { KEYS_PER_LOOKUP } from './clickhouse-write.js';
import { RETAINED_TABLES, ROLLUPS } from './schema.js';
import { ident, join, type Sql, sql } from './sql.js';

/**
 * Retention the ClickHouse way: months wholly before the cut-off are dropped as partitions (no
 * rewrite), and only the month that straddles it is deleted from by a mutation. Nothing else to
 * fix: first seen, latest facts and the daily statistics are read from the rows that remain.
 */
export async function deleteBefore(ch: ClickHouseConnection, fromDay: string): Promise<RetentionResult> {
  const cutoff = Date.parse(`${fromDay}T00:00:00.000Z`);
  const before = sql`received_day < toDate(${fromDay})`;
  const deleted: RetentionResult = {};
  // Clusters all of whose rows are older: forgotten (tags included).
  const forgotten = await ch.rows<{ tracking_id: string }>(
    sql`SELECT tracking_id FROM cluster_days GROUP BY tracking_id HAVING maxMerge(last_at) < ${cutoff}`,
  );
  deleted.clusters = forgotten.length;
  const dropOld = async (table: string, older: Sql) => {
    const partitions = await ch.rows<{ partition_id: string }>(
      sql`SELECT partition_id FROM system.parts
          WHERE database = ${ch.options.database} AND table = ${table} AND active
          GROUP BY partition_id HAVING max(max_date) < toDate(${fromDay})`,
    );
    // Monthly partitions only (cluster_latest has one, 'all').
    for (const p of partitions.filter((p) => /^\d+$/.test(p.partition_id))) {
      await ch.command(sql`ALTER TABLE ${ident(table)} DROP PARTITION ${Number(p.partition_id)}`);
    }
    await ch.command(sql`ALTER TABLE ${ident(table)} DELETE WHERE ${older}`);
  };
  for (const table of RETAINED_TABLES) {
    const [old] = await ch.rows<{ n: number }>(
      sql`SELECT count() AS n FROM ${ident(table)} FINAL WHERE ${before}`,
    );
    deleted[table] = Number(old?.n ?? 0);
    if (deleted[table] > 0) await dropOld(table, before);
  }
  // The rollups' days before the cut-off go too: first seen, activity and latest facts then come
  // from the rows that remain, as in the SQL stores.
  for (const rollup of ROLLUPS) {
    const older = sql`day < toDate(${fromDay})`;
    const [old] = await ch.rows<{ n: number }>(
      sql`SELECT count() AS n FROM ${ident(rollup.name)} WHERE ${older}`,
    );
    // Counted like the SQL stores' rollup tables (rows as stored: parts not yet merged count each).
    deleted[rollup.name] = Number(old?.n ?? 0);
    if (deleted[rollup.name]! > 0) await dropOld(rollup.name, older);
  }
  // A series whose points are all gone is forgotten (it only served the per-cluster caps).
  const series = await ch.rows<{ tracking_id: string; name: string; labels: string }>(
    sql`SELECT tracking_id, name, labels FROM metric_series FINAL
        WHERE first_seen < ${cutoff}
          AND (tracking_id, name, labels) NOT IN (SELECT tracking_id, name, labels FROM metric_points FINAL
            WHERE NOT (${before}))`,
  );
  deleted.metric_series = series.length;
  const [audit] = await ch.rows<{ n: number }>(sql`SELECT count() AS n FROM audit_log WHERE at < ${cutoff}`);
  deleted.audit_log = Number(audit?.n ?? 0);
  // Mutations take literal lists: 18.16 does not run subqueries inside them.
  const tuples = series.map((s) => sql`(${s.tracking_id}, ${s.name}, ${s.labels})`);
  for (let i = 0; i < tuples.length; i += KEYS_PER_LOOKUP) {
    await ch.command(
      sql`ALTER TABLE metric_series DELETE WHERE (tracking_id, name, labels) IN (${join(tuples.slice(i, i + KEYS_PER_LOOKUP))})`,
    );
  }
  const ids = forgotten.map((f) => sql`${f.tracking_id}`);
  for (let i = 0; i < ids.length; i += KEYS_PER_LOOKUP) {
    await ch.command(
      sql`ALTER TABLE cluster_tags DELETE WHERE tracking_id IN (${join(ids.slice(i, i + KEYS_PER_LOOKUP))})`,
    );
  }
  if (deleted.audit_log > 0) await ch.command(sql`ALTER TABLE audit_log DELETE WHERE at < ${cutoff}`);
  await ch.waitForMutations();
  return deleted;
}
