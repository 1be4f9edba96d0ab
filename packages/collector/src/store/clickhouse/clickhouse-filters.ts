// The conditions that the ClickHouse reads share (clickhouse-cluster-reads.ts,
// clickhouse-event-reads.ts, clickhouse-metric-reads.ts): a day range, the internal clusters, and
// the filters of a statistic.
import { and, ident, type Sql, sql } from './sql.js';

/** Rows of a day range, by the raw tables' received_day or the rollups' day. */
export function dayRange(
  q: { fromDay: string; toDay: string },
  column: 'received_day' | 'day' = 'received_day',
): Sql {
  return sql`${ident(column)} >= toDate(${q.fromDay}) AND ${ident(column)} <= toDate(${q.toDay})`;
}

/** Tracking ids an admin tagged internal. */
export function internalIds(): Sql {
  return sql`(SELECT tracking_id FROM cluster_tags FINAL WHERE internal = 1)`;
}

/** Filters of a statistic on raw rows: CI reports and internal clusters unless asked for. */
export function statisticFilters(q: { includeCi: boolean; includeInternal?: boolean | undefined }): Sql[] {
  const filters: Sql[] = [];
  if (!q.includeCi) filters.push(sql`ci = 0`);
  if (!q.includeInternal) filters.push(sql`tracking_id NOT IN ${internalIds()}`);
  return filters;
}

/**
 * Conditions on cluster_days rows for the (cluster, day)s with a report (RisingWave or agent)
 * that match a statistic's filters: CI days only when asked for (a day is CI only when every
 * report of it was), internal clusters only when asked for. Each row's state is read as it is:
 * a day is active when any of its rows not merged yet says so, and every reader of these rows
 * aggregates with what a repeated (cluster, day) does not change (uniqExact, min, max).
 */
export function activeDays(
  where: Sql,
  q: { includeCi: boolean; includeInternal?: boolean | undefined },
): Sql {
  const filters = [where, sql`finalizeAggregation(reported) = 1`];
  if (!q.includeCi) filters.push(sql`finalizeAggregation(non_ci) = 1`);
  if (!q.includeInternal) filters.push(sql`tracking_id NOT IN ${internalIds()}`);
  return and(filters);
}
