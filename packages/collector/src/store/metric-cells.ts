// The fleet metric cells: one metric's daily rollup rows (metric-rollup.ts, one per cluster, day
// and series) folded across clusters into one cell per day and series, so that a year of a
// fleet's counter or histogram answers reads hundreds of cells instead of tens of thousands of
// per-cluster rows (issue 4: "every route p95 ≤ 100 ms at 10M reports").
//
// A cell's series is the per-cluster row's (node type, version, cluster type, CI, kind, labels)
// plus whether the cluster is tagged internal, so that every statistic can still leave CI and
// internal clusters out by leaving cells out. Every store builds cells with foldCells, in the same
// order (rows of a cell by tracking id, cells by day and key, compared as JS strings whatever the
// database's collation), so float sums come out bit for bit alike on SQLite, PostgreSQL and
// ClickHouse, whether a cell was stored (SQL stores, store/sql/metric-fleet.ts) or computed on the
// fly (ClickHouse, and the last days on the SQL stores).
import { type ExpHistogramData, HistogramMerger } from '@tidewatch/protocol';
import { compareLast } from './metric-rollup.js';
import type { MetricRollup } from './store.js';

/**
 * A cell: the rollup row's series fields, `total` (the rows' totals added in tracking-id order),
 * `histogram` (theirs merged; null when none had one) and the newest row's (lastAt, lastReport),
 * since a metric's kind is its newest point's.
 */
export interface MetricCell
  extends Pick<
    MetricRollup,
    | 'day'
    | 'nodeType'
    | 'version'
    | 'clusterType'
    | 'ci'
    | 'kind'
    | 'labels'
    | 'total'
    | 'histogram'
    | 'lastAt'
    | 'lastReport'
  > {
  /** The series: JSON of [nodeType, version, clusterType, ci, kind, labels]. */
  key: string;
  internal: boolean;
}

export function cellKey(
  r: Pick<MetricRollup, 'nodeType' | 'version' | 'clusterType' | 'ci' | 'kind' | 'labels'>,
) {
  return JSON.stringify([r.nodeType, r.version, r.clusterType, r.ci ? 1 : 0, r.kind, r.labels]);
}

/** The fold order of cells: day, series key, then internal after not (code-unit order, like ===). */
export function compareCells(a: MetricCell, b: MetricCell): number {
  if (a.day !== b.day) return a.day < b.day ? -1 : 1;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return Number(a.internal) - Number(b.internal);
}

/**
 * Folds per-cluster rollup rows (any order, any number of days) into cells, returned in
 * compareCells order. `internal` holds the tracking ids tagged internal when the cells are built.
 */
export function foldCells(rows: readonly MetricRollup[], internal: ReadonlySet<string>): MetricCell[] {
  const groups = new Map<string, MetricRollup[]>();
  for (const r of rows) {
    const id = `${r.day}\0${internal.has(r.trackingId) ? 1 : 0}\0${cellKey(r)}`;
    const group = groups.get(id);
    if (group) group.push(r);
    else groups.set(id, [r]);
  }
  const cells: MetricCell[] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => (a.trackingId < b.trackingId ? -1 : a.trackingId > b.trackingId ? 1 : 0));
    cells.push(foldCell(group, internal.has(group[0]!.trackingId)));
  }
  return cells.sort(compareCells);
}

function foldCell(rows: readonly MetricRollup[], internal: boolean): MetricCell {
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
    key: cellKey(first),
    internal,
    nodeType: first.nodeType,
    version: first.version,
    clusterType: first.clusterType,
    ci: first.ci,
    kind: first.kind,
    labels: first.labels,
    total,
    histogram: merger ? JSON.stringify(merger.result()) : null,
    lastAt,
    lastReport,
  };
}

/** The groupings whose distinct cluster counts a store answers next to the cells. */
export type CellGrouping = 'version' | 'clusterType' | 'nodeType' | undefined;

/** Distinct clusters per (kind, group value): cells cannot tell, a cluster is in many cells. */
export interface ClusterCount {
  kind: string;
  value: string | null;
  clusters: number;
}

/** What a store answers for a fleet counter or histogram question (Store.metricFleet). */
export interface MetricFleetAnswer {
  cells: MetricCell[];
  clusters: ClusterCount[];
}

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Writers mark a day's stored cells stale when they change a day before yesterday (days they
 * normally write, today and yesterday, are never marked: live ingest must not contend on it).
 */
export function writerMarksDay(day: string, now: number): boolean {
  return day < dayOf(now - DAY_MS);
}

/**
 * The last day whose stored cells a reader uses: three days back, so the days writers do not mark
 * are always folded from per-cluster rows, with a day of margin for collectors' clocks.
 */
export function lastStoredCellDay(now: number): string {
  return dayOf(now - 3 * DAY_MS);
}
