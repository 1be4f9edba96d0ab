// Erase on ClickHouse: the cluster is blocked first (a write that checks after that drops its rows),
// then every table with rows of it is deleted from by a mutation, twice if a racing write landed
// between, and the answer waits until ClickHouse says the mutations are done.
import type { EraseResult } from '../store.js';
import type { ClickHouseConnection } from './clickhouse-connection.js';
import { CLUSTER_TABLES } from './schema.js';
import { ident, type Sql, sql } from './sql.js';

/** Everything stored of a cluster, with its receive time (erase checks that nothing is left). */
export function storedOf(where: Sql): Sql {
  return sql`(SELECT tracking_id, received_at FROM reports WHERE ${where}
    UNION ALL SELECT tracking_id, received_at FROM events WHERE ${where}
    UNION ALL SELECT tracking_id, received_at FROM agent_reports WHERE ${where})`;
}

/** Rows of a cluster in a raw table, each retried copy counted once. */
export async function countOf(
  ch: ClickHouseConnection,
  table: 'reports' | 'events' | 'agent_reports',
  trackingId: string,
): Promise<number> {
  const key = ident(table === 'agent_reports' ? 'report_id' : 'dedup_key');
  const [row] = await ch.rows<{ n: number }>(
    sql`SELECT uniqExact(${key}) AS n FROM ${ident(table)} WHERE tracking_id = ${trackingId}`,
  );
  return Number(row?.n ?? 0);
}

/**
 * Deletes every row of a cluster, in every table (tags and series included: erase means
 * everywhere), and waits until ClickHouse says the mutations are done. Also what a write does when
 * it finds, after inserting, that an erase blocked the cluster meanwhile (clickhouse-write.ts).
 */
export async function deleteClusterRows(ch: ClickHouseConnection, trackingId: string): Promise<void> {
  for (const table of CLUSTER_TABLES) {
    await ch.command(sql`ALTER TABLE ${ident(table)} DELETE WHERE tracking_id = ${trackingId}`);
  }
  await ch.waitForMutations();
}

/** Blocks the cluster, then deletes its rows from every table and waits until the mutations are done. */
export async function eraseCluster(
  ch: ClickHouseConnection,
  trackingId: string,
  at: number,
): Promise<EraseResult> {
  // Blocked first: a write that checks after this drops the cluster's rows.
  await ch.insert('blocked_clusters', [
    { tracking_id: trackingId, blocked: 1, blocked_at: at, version: ch.nextVersion() },
  ]);
  const counts = {
    reports: await countOf(ch, 'reports', trackingId),
    events: await countOf(ch, 'events', trackingId),
    agentReports: await countOf(ch, 'agent_reports', trackingId),
  };
  // A write that checked the block just before it landed may insert after the first delete was
  // queued (a mutation only touches the parts that existed then): a second pass takes those.
  for (let pass = 0; pass < 2; pass++) {
    await deleteClusterRows(ch, trackingId);
    const [left] = await ch.rows<{ n: number }>(
      sql`SELECT count() AS n FROM ${storedOf(sql`tracking_id = ${trackingId}`)}`,
    );
    if (Number(left?.n ?? 0) === 0 || pass === 1) break;
    // Rows of a racing write the first pass missed: counted too before the second pass takes them.
    counts.reports += await countOf(ch, 'reports', trackingId);
    counts.events += await countOf(ch, 'events', trackingId);
    counts.agentReports += await countOf(ch, 'agent_reports', trackingId);
  }
  // Still not counted: a racing write that lands between the counts above and the first pass's
  // mutations, which delete it (the README says the counts are a lower bound on ClickHouse).
  return counts;
}
