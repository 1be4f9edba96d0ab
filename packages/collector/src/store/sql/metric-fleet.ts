// Stored fleet metric cells on SQLite and PostgreSQL (see store/metric-cells.ts for what a cell is),
// and the distinct cluster counts next to them.
//
// Cells are built lazily, per metric and day (every family at once), by the first question that
// needs them, and kept in `metric_fleet`; `metric_fleet_days` says per (metric, day) whether they
// are fresh:
// - Ingest adds the (metric, day) row with fresh = 0 when it first stores a point of that day
//   (`on conflict do nothing`: once the row exists no writer waits on another for it). A write
//   into a closed day (before yesterday: an import, a late retry) sets fresh = 0 again. Live
//   ingest writes only today, so it never contends on these rows (statements: metric-fleet-writes.ts).
// - Erase and the internal tag set fresh = 0 on every day of the cluster.
// - A reader uses stored cells only up to lastStoredCellDay, three days back (the days after it
//   are folded from the per-cluster rows on every question: a few days of rows). A stale
//   or never-built closed day is rebuilt in one transaction that first flips fresh to 1 (so a
//   writer that changes the day meanwhile waits for it, then sets fresh = 0 again), then reads
//   the day's per-cluster rows, folds and replaces its cells.
import { type Kysely, sql } from 'kysely';
import { addDays } from '../../utc-day.js';
import {
  CELL_GROUPINGS,
  type CellGrouping,
  type ClusterCount,
  compareCells,
  familyName,
  foldCells,
  type MetricCell,
  newestKind,
} from '../metric-cells.js';
import { METRIC_ROLLUP_PAGE, metricRollup } from '../metric-rollup.js';
import type { MetricPointQuery, MetricRollup } from '../store.js';
import type { Database } from './schema.js';
import { chunks } from './statement-chunks.js';

/**
 * Erase and the internal tag: every day the cluster has rollup rows in is built again. Stale days
 * too (no `fresh = 1`): the update locks each row until the erase or tag commits, so a rebuild
 * cannot claim the day meanwhile and fold rows read before the commit. With `fresh = 1`, a rebuild
 * claiming a stale day (or one it had claimed, not yet committed) beside an erase kept the erased
 * cluster in the day's cells for good, and one beside a tag kept it on the wrong side.
 */
export const MARK_CLUSTER_DAYS_SQL = `update metric_fleet_days set fresh = 0 where (name, day) in
  (select name, day from metric_rollup where tracking_id = ?)`;

/** PostgreSQL: MARK_CLUSTER_DAYS_SQL's rows locked in writers' order (code units: collate "C"). */
export const LOCK_CLUSTER_DAYS_SQL = `select 1 from metric_fleet_days where (name, day) in
  (select name, day from metric_rollup where tracking_id = ?) order by name collate "C", day for update`;

/** Days a rebuild folds per transaction: a year of a big fleet is built in bounded steps. */
const DAYS_PER_REBUILD = 16;

type Db = Kysely<Database>;

export class MetricFleet {
  constructor(private readonly db: Db) {}

  /**
   * The family's cells in the range (stored ones up to closedTo, built first where stale; folded
   * from per-cluster rows after it), filtered by the query's CI and internal choices, in
   * compareCells order; and the distinct clusters per group value of the newest cell's kind.
   */
  async answer(
    query: MetricPointQuery,
    by: CellGrouping,
    closedTo: string,
  ): Promise<{ cells: MetricCell[]; kind: string | null; clusters: ClusterCount[] }> {
    const cells: MetricCell[] = [];
    if (query.fromDay <= closedTo) {
      const storedTo = query.toDay < closedTo ? query.toDay : closedTo;
      await this.rebuildStale(query.name, query.fromDay, storedTo);
      let q = this.db
        .selectFrom('metric_fleet')
        .select(['day', 'value', 'kind', 'ci', 'internal', 'total', 'histogram', 'last_at', 'last_report'])
        .where('name', '=', query.name)
        .where('family', '=', familyName(by))
        .where('day', '>=', query.fromDay)
        .where('day', '<=', storedTo);
      if (!query.includeCi) q = q.where('ci', '=', 0);
      if (!query.includeInternal) q = q.where('internal', '=', 0);
      for (const r of await q.execute()) cells.push(storedCell(r));
    }
    if (query.toDay > closedTo) {
      const fromDay = query.fromDay > closedTo ? query.fromDay : addDays(closedTo, 1);
      const [open] = await this.foldDays(this.db, query.name, fromDay, query.toDay, [by]);
      for (const c of open!) {
        if ((query.includeCi || !c.ci) && (query.includeInternal || !c.internal)) cells.push(c);
      }
    }
    // Stored cells come back in the database's order (collations differ): sort as foldCells does.
    cells.sort(compareCells);
    const kind = newestKind(cells);
    const clusters = kind === null || kind === 'gauge' ? [] : await this.clusterCounts(query, by, kind);
    return { cells, kind, clusters };
  }

  /**
   * Distinct clusters per group value with points of `kind` in the range, from metric_spans (a
   * cluster's first and last day per metric and series): a span that starts or ends inside the
   * range has a day in it; one that covers the range from before to after may have a gap there,
   * and only those are looked up in the range's rollup rows.
   */
  private async clusterCounts(
    query: MetricPointQuery,
    by: CellGrouping,
    kind: string,
  ): Promise<ClusterCount[]> {
    let q = this.db
      .selectFrom('metric_spans')
      .select(['tracking_id', 'version', 'cluster_type', 'node_type', 'first_day', 'last_day'])
      .where('name', '=', query.name)
      .where('kind', '=', kind)
      .where('last_day', '>=', query.fromDay)
      .where('first_day', '<=', query.toDay);
    if (!query.includeCi) q = q.where('ci', '=', 0);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', internalIds(this.db));
    const spans = await q.execute();
    const groupOf = (r: (typeof spans)[number]) =>
      by === undefined
        ? 'all'
        : by === 'version'
          ? r.version
          : by === 'clusterType'
            ? r.cluster_type
            : r.node_type;
    const members = new Map<string | null, Set<string>>();
    const count = (value: string | null, trackingId: string) => {
      let set = members.get(value);
      if (!set) {
        set = new Set();
        members.set(value, set);
      }
      set.add(trackingId);
    };
    const covering = [];
    for (const span of spans) {
      if (span.first_day >= query.fromDay || span.last_day <= query.toDay)
        count(groupOf(span), span.tracking_id);
      else covering.push(span);
    }
    for (const ids of chunks([...new Set(covering.map((s) => s.tracking_id))])) {
      let inRange = this.db
        .selectFrom('metric_rollup')
        .select(['tracking_id', 'version', 'cluster_type', 'node_type'])
        .distinct()
        .where('name', '=', query.name)
        .where('kind', '=', kind)
        .where('day', '>=', query.fromDay)
        .where('day', '<=', query.toDay)
        .where('tracking_id', 'in', ids);
      if (!query.includeCi) inRange = inRange.where('ci', '=', 0);
      for (const r of await inRange.execute()) count(groupOf(r as never), r.tracking_id);
    }
    return [...members].map(([value, ids]) => ({ value, clusters: ids.size }));
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
        // Claim first: the row lock orders this rebuild with any writer of these days. One day at
        // a time, in day order: the order writers, erases and the internal tag lock these rows in.
        // One update of them all locked them in its scan order, and could deadlock with those.
        const claimedDays: string[] = [];
        for (const day of days) {
          const claimed = await trx
            .updateTable('metric_fleet_days')
            .set({ fresh: 1 })
            .where('name', '=', name)
            .where('day', '=', day)
            .where('fresh', '=', 0)
            .executeTakeFirst();
          if (Number(claimed.numUpdatedRows) > 0) claimedDays.push(day);
        }
        if (claimedDays.length === 0) return; // another collector rebuilt them
        await trx
          .deleteFrom('metric_fleet')
          .where('name', '=', name)
          .where('day', 'in', claimedDays)
          .execute();
        for (const day of claimedDays) {
          const families = await this.foldDays(trx, name, day, day, CELL_GROUPINGS);
          const rows = families.flatMap((cells, f) =>
            cells.map((c) => cellColumns(name, CELL_GROUPINGS[f], c)),
          );
          for (const chunk of chunks(rows)) await trx.insertInto('metric_fleet').values(chunk).execute();
        }
      });
    }
  }

  /** Each family's cells folded from the per-cluster rows of the days (CI and internal ones too). */
  private async foldDays(
    db: Db,
    name: string,
    fromDay: string,
    toDay: string,
    families: readonly CellGrouping[],
  ): Promise<MetricCell[][]> {
    const internal = new Set((await internalIds(db).execute()).map((r) => r.tracking_id));
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
    return families.map((by) => foldCells(rows, internal, by));
  }
}

function cellColumns(name: string, by: CellGrouping, c: MetricCell): Database['metric_fleet'] {
  return {
    name,
    day: c.day,
    family: familyName(by),
    value_key: JSON.stringify(c.value),
    value: c.value,
    kind: c.kind,
    ci: c.ci ? 1 : 0,
    internal: c.internal ? 1 : 0,
    total: c.total,
    histogram: c.histogram,
    last_at: c.lastAt,
    last_report: c.lastReport,
  };
}

function storedCell(
  r: Pick<
    Database['metric_fleet'],
    'day' | 'value' | 'kind' | 'ci' | 'internal' | 'total' | 'histogram' | 'last_at' | 'last_report'
  >,
): MetricCell {
  return {
    day: r.day,
    value: r.value,
    kind: r.kind,
    ci: Number(r.ci) === 1,
    internal: Number(r.internal) === 1,
    total: Number(r.total),
    histogram: r.histogram,
    lastAt: Number(r.last_at),
    lastReport: r.last_report,
  };
}

/** Tracking ids tagged internal (partial index clusters_internal), for `not in` filters. */
export function internalIds(db: Db) {
  return db.selectFrom('clusters').select('tracking_id').where('internal', '=', 1);
}

/** A rollup row's position in the primary key's order, where the next page starts. */
type RollupKey = { day: string; tracking_id: string; group_key: string };

/**
 * The per-cluster rollup rows of one metric in a day range, in keyset pages of the primary key's
 * order (an index range per page, no sort), so that a year of a fleet's rows is never all in memory.
 * The next page is asked for before this one is handed over: the store (SQLite's query thread,
 * PostgreSQL) reads it while the caller folds this one.
 */
export async function* rollupPages(
  db: Db,
  query: MetricPointQuery,
  pageSize = METRIC_ROLLUP_PAGE,
): AsyncGenerator<MetricRollup[]> {
  const page = (after: RollupKey | undefined) => {
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
    return q.orderBy('day').orderBy('tracking_id').orderBy('group_key').limit(pageSize).execute();
  };
  let next = page(undefined);
  try {
    for (;;) {
      const rows = await next;
      const full = rows.length === pageSize;
      if (full) next = page(rows[rows.length - 1]);
      if (rows.length > 0) yield rows.map(metricRollup);
      if (!full) return;
    }
  } finally {
    // A caller that stopped early (an error while folding) leaves a page in flight: its failure is
    // no one's to report.
    next.catch(() => {});
  }
}
