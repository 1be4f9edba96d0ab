// Stored fleet metric cells on SQLite and PostgreSQL (see store/metric-cells.ts for what a cell is).
//
// Cells are built lazily, per metric and day, by the first question that needs them, and kept in
// `metric_fleet`; `metric_fleet_days` says per (metric, day) whether they are fresh:
// - Ingest adds the (metric, day) row with fresh = 0 when it first stores a point of that day
//   (`on conflict do nothing`: once the row exists no writer waits on another for it). A write
//   into a closed day (before yesterday: an import, a late retry) sets fresh = 0 again. Live
//   ingest writes only today, so it never contends on these rows.
// - Erase and the internal tag set fresh = 0 on every day of the cluster.
// - A reader uses stored cells only up to lastStoredCellDay, three days back (the days after it
//   are folded from the per-cluster rows on every question: a few days of rows). A stale
//   or never-built closed day is rebuilt in one transaction that first flips fresh to 1 (so a
//   writer that changes the day meanwhile waits for it, then sets fresh = 0 again), then reads
//   the day's per-cluster rows, folds and replaces its cells.
import { type Kysely, sql } from 'kysely';
import {
  type CellGrouping,
  type ClusterCount,
  compareCells,
  foldCells,
  type MetricCell,
} from '../metric-cells.js';
import { METRIC_ROLLUP_PAGE, metricRollup } from '../metric-rollup.js';
import type { MetricPointQuery, MetricRollup } from '../store.js';
import { chunks } from './columns.js';
import type { Database } from './schema.js';

/** Erase and the internal tag: every day the cluster has rollup rows in is built again. */
export const MARK_CLUSTER_DAYS_SQL = `update metric_fleet_days set fresh = 0 where fresh = 1 and (name, day) in
  (select name, day from metric_rollup where tracking_id = ?)`;

/** Days a rebuild folds per transaction: a year of a big fleet is built in bounded steps. */
const DAYS_PER_REBUILD = 16;

type Db = Kysely<Database>;

export class MetricFleet {
  constructor(private readonly db: Db) {}

  /**
   * The metric's cells in the range (stored ones up to closedTo, built first where stale; folded
   * from per-cluster rows after it), filtered by the query's CI and internal choices, in
   * compareCells order.
   */
  async cells(query: MetricPointQuery, closedTo: string): Promise<MetricCell[]> {
    const cells: MetricCell[] = [];
    if (query.fromDay <= closedTo) {
      const storedTo = query.toDay < closedTo ? query.toDay : closedTo;
      await this.rebuildStale(query.name, query.fromDay, storedTo);
      let q = this.db
        .selectFrom('metric_fleet')
        .selectAll()
        .where('name', '=', query.name)
        .where('day', '>=', query.fromDay)
        .where('day', '<=', storedTo);
      if (!query.includeCi) q = q.where('ci', '=', 0);
      if (!query.includeInternal) q = q.where('internal', '=', 0);
      for (const r of await q.execute()) cells.push(storedCell(r));
    }
    if (query.toDay > closedTo) {
      const fromDay = query.fromDay > closedTo ? query.fromDay : nextDay(closedTo);
      const open = await this.foldDays(this.db, query.name, fromDay, query.toDay);
      for (const c of open)
        if ((query.includeCi || !c.ci) && (query.includeInternal || !c.internal)) cells.push(c);
    }
    // Stored cells come back in the database's order (collations differ): sort as foldCells does.
    return cells.sort(compareCells);
  }

  /** Distinct clusters per kind and group value (a covering index over the per-cluster rows). */
  async clusterCounts(query: MetricPointQuery, by: CellGrouping): Promise<ClusterCount[]> {
    const column =
      by === 'version'
        ? 'version'
        : by === 'clusterType'
          ? 'cluster_type'
          : by === 'nodeType'
            ? 'node_type'
            : null;
    let q = this.db
      .selectFrom('metric_rollup')
      .select((eb) => [
        'kind',
        column ? eb.ref(column).as('value') : sql<string | null>`'all'`.as('value'),
        eb.fn.count<number>('tracking_id').distinct().as('clusters'),
      ])
      .where('name', '=', query.name)
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay);
    if (!query.includeCi) q = q.where('ci', '=', 0);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', internalIds(this.db));
    q = column ? q.groupBy(['kind', column]) : q.groupBy('kind');
    const rows = await q.execute();
    return rows.map((r) => ({ kind: r.kind, value: r.value, clusters: Number(r.clusters) }));
  }

  /** Rebuilds the closed days in the range whose cells are missing or stale. */
  private async rebuildStale(name: string, fromDay: string, toDay: string): Promise<void> {
    const stale = await this.db
      .selectFrom('metric_fleet_days')
      .select('day')
      .where('name', '=', name)
      .where('day', '>=', fromDay)
      .where('day', '<=', toDay)
      .where('fresh', '=', 0)
      .orderBy('day')
      .execute();
    for (let i = 0; i < stale.length; i += DAYS_PER_REBUILD) {
      const days = stale.slice(i, i + DAYS_PER_REBUILD).map((r) => r.day);
      await this.db.transaction().execute(async (trx) => {
        // Claim first: the row lock orders this rebuild with any writer of these days.
        const claimed = await trx
          .updateTable('metric_fleet_days')
          .set({ fresh: 1 })
          .where('name', '=', name)
          .where('day', 'in', days)
          .where('fresh', '=', 0)
          .returning('day')
          .execute();
        if (claimed.length === 0) return; // another collector rebuilt them
        const claimedDays = claimed.map((r) => r.day).sort();
        const cells: MetricCell[] = [];
        for (const day of claimedDays) cells.push(...(await this.foldDays(trx, name, day, day)));
        await trx
          .deleteFrom('metric_fleet')
          .where('name', '=', name)
          .where('day', 'in', claimedDays)
          .execute();
        for (const chunk of chunks(cells)) {
          await trx
            .insertInto('metric_fleet')
            .values(chunk.map((c) => cellColumns(name, c)))
            .execute();
        }
      });
    }
  }

  /** Cells folded from the per-cluster rows of the days (all of them: CI and internal too). */
  private async foldDays(db: Db, name: string, fromDay: string, toDay: string): Promise<MetricCell[]> {
    const internal = await internalIds(db).execute();
    const rows: MetricRollup[] = [];
    for await (const page of rollupPages(db, {
      name,
      fromDay,
      toDay,
      includeCi: true,
      includeInternal: true,
    })) {
      rows.push(...page);
    }
    return foldCells(rows, new Set(internal.map((r) => r.tracking_id)));
  }
}

/** Tracking ids tagged internal (partial index clusters_internal). */
function internalIds(db: Db) {
  return db.selectFrom('clusters').select('tracking_id').where('internal', '=', 1);
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

function cellColumns(name: string, c: MetricCell): Database['metric_fleet'] {
  return {
    name,
    day: c.day,
    cell_key: c.key,
    internal: c.internal ? 1 : 0,
    node_type: c.nodeType,
    version: c.version,
    cluster_type: c.clusterType,
    ci: c.ci ? 1 : 0,
    kind: c.kind,
    labels: c.labels,
    total: c.total,
    last_at: c.lastAt,
    last_report: c.lastReport,
    histogram: c.histogram,
  };
}

function storedCell(r: Database['metric_fleet']): MetricCell {
  return {
    day: r.day,
    key: r.cell_key,
    internal: Number(r.internal) === 1,
    nodeType: r.node_type,
    version: r.version,
    clusterType: r.cluster_type,
    ci: Number(r.ci) === 1,
    kind: r.kind,
    labels: r.labels,
    total: Number(r.total),
    histogram: r.histogram,
    lastAt: Number(r.last_at),
    lastReport: r.last_report,
  };
}

/**
 * The per-cluster rollup rows of one metric in a day range, in keyset pages of the primary key's
 * order (an index range per page, no sort), so that a year of a fleet's rows is never all in memory.
 */
export async function* rollupPages(
  db: Db,
  query: MetricPointQuery,
  pageSize = METRIC_ROLLUP_PAGE,
): AsyncGenerator<MetricRollup[]> {
  let after: { day: string; tracking_id: string; group_key: string } | undefined;
  for (;;) {
    let q = db
      .selectFrom('metric_rollup')
      .select([
        'day',
        'tracking_id',
        'group_key',
        'node_type',
        'version',
        'cluster_type',
        'ci',
        'kind',
        'labels',
        'points',
        'total',
        'min_value',
        'max_value',
        'last_at',
        'last_report',
        'last_value',
        'histogram',
      ])
      .where('name', '=', query.name)
      .where('day', '>=', query.fromDay)
      .where('day', '<=', query.toDay);
    if (after) {
      const { day, tracking_id, group_key } = after;
      q = q.where(sql<boolean>`(day, tracking_id, group_key) > (${day}, ${tracking_id}, ${group_key})`);
    }
    if (!query.includeCi) q = q.where('ci', '=', 0);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', internalIds(db));
    const rows = await q.orderBy('day').orderBy('tracking_id').orderBy('group_key').limit(pageSize).execute();
    if (rows.length > 0) yield rows.map(metricRollup);
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!;
  }
}
