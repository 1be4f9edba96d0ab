// The fleet metric cells: one metric's daily rollup rows (metric-rollup.ts, one per cluster, day
// and series) folded across clusters into one cell per day and group value, so that a year of a
// fleet's counter or histogram answers reads a few hundred cells instead of tens of thousands of
// per-cluster rows (issue 4: "every route p95 ≤ 100 ms at 10M reports").
//
// Cells come in families, one per grouping a fleet question can ask for (none, version, cluster
// type, node type): a cell is (day, group value, kind, CI, internal), so every statistic can still
// leave CI and internal clusters out by leaving cells out. Every store builds cells with foldCells,
// in the same order (rows of a cell by tracking id and series, cells by day and key, compared as JS
// strings whatever the database's collation), so float sums come out bit for bit alike on
// SQLite, PostgreSQL and ClickHouse, whether a cell was stored (SQL stores, sql/metric-fleet.ts) or
// folded on the fly (ClickHouse, and the last days on the SQL stores).
//
// Distinct clusters cannot come from cells (a cluster is in a cell per day): the SQL stores count
// them from per-cluster spans (first and last day per metric, cluster and series; see
// clusterCounts in sql/metric-fleet.ts), ClickHouse with uniqExact.
import { type ExpHistogramData, HistogramMerger } from '@tidewatch/protocol';
import { compareCodeUnits } from '../text-order.js';
import { DAY_MS, utcDay } from '../utc-day.js';
import { compareLast } from './metric-rollup.js';
import type { MetricRollup } from './store.js';

/** The groupings cells are kept for; undefined is the fleet as a whole. */
export type CellGrouping = 'version' | 'clusterType' | 'nodeType' | undefined;
export const CELL_GROUPINGS = [undefined, 'version', 'clusterType', 'nodeType'] as const;
/** How a family is named in storage. */
export const familyName = (by: CellGrouping) => by ?? 'all';

/**
 * One cell: a family's group value on one day, for one kind, CI or not, internal clusters or not;
 * `total` adds the rows' totals and `histogram` merges theirs (null when none had one), in fold
 * order; (lastAt, lastReport) is the newest row's, since a metric's kind is its newest point's.
 */
export interface MetricCell
  extends Pick<MetricRollup, 'day' | 'kind' | 'ci' | 'total' | 'histogram' | 'lastAt' | 'lastReport'> {
  /** The group value (`all` for the whole fleet; null when the reports did not say). */
  value: string | null;
  internal: boolean;
}

const groupValue = (r: MetricRollup, by: CellGrouping): string | null => (by === undefined ? 'all' : r[by]);

/** The fold order of cells: day, group value (null first), kind, CI, internal (code-unit order). */
export function compareCells(a: MetricCell, b: MetricCell): number {
  if (a.day !== b.day) return a.day < b.day ? -1 : 1;
  if (a.value !== b.value) return a.value === null ? -1 : b.value === null ? 1 : a.value < b.value ? -1 : 1;
  if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
  return Number(a.ci) - Number(b.ci) || Number(a.internal) - Number(b.internal);
}

/** The order rows are folded in within a cell: tracking id, then the rest of the series. */
function compareRows(a: MetricRollup, b: MetricRollup): number {
  if (a.trackingId !== b.trackingId) return a.trackingId < b.trackingId ? -1 : 1;
  const x = seriesOf(a);
  const y = seriesOf(b);
  return compareCodeUnits(x, y);
}
const seriesOf = (r: MetricRollup) => JSON.stringify([r.nodeType, r.version, r.clusterType, r.labels]);

/**
 * Folds per-cluster rollup rows (any order, any number of days) into one family's cells, returned
 * in compareCells order. `internal` holds the tracking ids tagged internal when the cells are built.
 */
export function foldCells(
  rows: readonly MetricRollup[],
  internal: ReadonlySet<string>,
  by: CellGrouping,
): MetricCell[] {
  const groups = new Map<string, MetricRollup[]>();
  for (const r of rows) {
    const id = JSON.stringify([r.day, groupValue(r, by), r.kind, r.ci, internal.has(r.trackingId)]);
    const group = groups.get(id);
    if (group) group.push(r);
    else groups.set(id, [r]);
  }
  const cells: MetricCell[] = [];
  for (const group of groups.values()) {
    group.sort(compareRows);
    cells.push(foldCell(group, groupValue(group[0]!, by), internal.has(group[0]!.trackingId)));
  }
  return cells.sort(compareCells);
}

function foldCell(rows: readonly MetricRollup[], value: string | null, internal: boolean): MetricCell {
  const first = rows[0]!;
  let total = 0;
  let lastAt = first.lastAt;
  let lastReport = first.lastReport;
  let merger: HistogramMerger | undefined;
  for (const r of rows) {
    total += r.total;
    if (compareLast(r.lastAt, r.lastReport, lastAt, lastReport) > 0) {
      lastAt = r.lastAt;
      lastReport = r.lastReport;
    }
    if (r.histogram !== null) {
      merger ??= new HistogramMerger();
      merger.add(JSON.parse(r.histogram) as ExpHistogramData);
    }
  }
  return {
    day: first.day,
    value,
    kind: first.kind,
    ci: first.ci,
    internal,
    total,
    histogram: merger ? JSON.stringify(merger.result()) : null,
    lastAt,
    lastReport,
  };
}

/** Distinct clusters per group value, for the answer's kind. */
export interface ClusterCount {
  value: string | null;
  clusters: number;
}

/** What a store answers for a fleet counter or histogram question (Store.metricFleet). */
export interface MetricFleetAnswer {
  /** The family's cells, in compareCells order. */
  cells: MetricCell[];
  /** The kind of the newest cell (a metric's kind is its newest point's); null without cells. */
  kind: string | null;
  /** Distinct clusters per group value with points of that kind (empty for gauges). */
  clusters: ClusterCount[];
}

/** The kind of the newest cell, or null. */
export function newestKind(cells: readonly MetricCell[]): string | null {
  let newest: MetricCell | undefined;
  for (const c of cells) {
    if (!newest || compareLast(c.lastAt, c.lastReport, newest.lastAt, newest.lastReport) > 0) newest = c;
  }
  return newest?.kind ?? null;
}

/**
 * Writers mark a day's stored cells stale when they change a day before yesterday (days they
 * normally write, today and yesterday, are never marked: live ingest must not contend on it).
 */
export function writerMarksDay(day: string, now: number): boolean {
  return day < utcDay(now - DAY_MS);
}

/**
 * The last day whose stored cells a reader uses: three days back, so the days writers do not mark
 * are always folded from per-cluster rows, with a day of margin for collectors' clocks.
 */
export function lastStoredCellDay(now: number): string {
  return utcDay(now - 3 * DAY_MS);
}
