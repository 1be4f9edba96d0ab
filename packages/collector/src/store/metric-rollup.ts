// The daily metric rollup (issue 4: "merged daily histograms"): one row per metric, UTC day,
// cluster and series, kept at ingest, so `GET /query/metrics/{name}` reads clusters × days × series
// rows instead of every point. A series here is everything a fleet question can group by (node
// type, version, cluster type, CI, kind, labels), so answers from the rollup equal answers from the
// raw points. Per row: the count, sum, min and max of the values, the newest point (gauges' "latest
// value") and the merged histogram. Folding is associative (mergeHistograms is), so the answers are
// the same however reports were batched: folded in SQL upserts (sql/write-steps.ts) or
// recomputed from the raw points of a cluster-day (clickhouse/clickhouse-write.ts). (A row of one point keeps
// its histogram as sent, possibly with zero buckets at the ends; merging makes no difference.)
import { type ExpHistogramData, mergeHistograms } from '@tidewatch/protocol';
import { compareCodeUnits } from '../text-order.js';
import type { MetricPointsTable } from './sql/schema.js';
import type { MetricRollup } from './store.js';

/**
 * Rollup rows read per page by a fleet question: big enough that the per-query cost is small next
 * to the rows', small enough that a page dies young in the garbage collector.
 */
export const METRIC_ROLLUP_PAGE = 5_000;

/** A metric point row as stored (batch-rows.ts agentChildren, or read back from metric_points). */
export type PointRow = Omit<MetricPointsTable, 'id' | 'unit'>;

/** A rollup row as stored (SQL table metric_rollup; ClickHouse names `day` received_day). */
export interface RollupColumns {
  name: string;
  day: string;
  tracking_id: string;
  /** The series within the cluster-day: the columns below, as one text (part of the primary key). */
  group_key: string;
  node_type: string;
  version: string | null;
  cluster_type: string | null;
  ci: number;
  kind: string;
  labels: string;
  points: number;
  total: number;
  min_value: number;
  max_value: number;
  last_at: number;
  last_report: string;
  last_value: number;
  histogram: string | null;
}

/** Newest first by (receive time, report id): >0 when a is newer. Report ids compare as bytes. */
export function compareLast(aAt: number, aReport: string, bAt: number, bReport: string): number {
  if (aAt !== bAt) return aAt - bAt;
  return compareCodeUnits(aReport, bReport);
}

function seriesKey(p: PointRow): string {
  return JSON.stringify([p.node_type, p.version, p.cluster_type, p.ci, p.kind, p.labels]);
}

/**
 * Folds points into rollup rows, one per (name, day, cluster, series), in key order (so
 * concurrent PostgreSQL writers lock rows in one order). Histograms are merged once per row.
 */
export function foldPoints(points: readonly PointRow[]): RollupColumns[] {
  // Histogram texts are parsed only for rows that fold several (a row of one point keeps the text
  // it came with: parsing, merging and printing it again is most of the cost, and the read merges
  // every row anyway).
  const rows = new Map<string, { row: RollupColumns; histograms: string[] }>();
  for (const p of points) {
    const group_key = seriesKey(p);
    const key = `${p.name}\0${p.received_day}\0${p.tracking_id}\0${group_key}`;
    const at = Number(p.received_at);
    const value = Number(p.value);
    const seen = rows.get(key);
    if (!seen) {
      rows.set(key, {
        row: {
          name: p.name,
          day: p.received_day,
          tracking_id: p.tracking_id,
          group_key,
          node_type: p.node_type,
          version: p.version,
          cluster_type: p.cluster_type,
          ci: Number(p.ci),
          kind: p.kind,
          labels: p.labels,
          points: 1,
          total: value,
          min_value: value,
          max_value: value,
          last_at: at,
          last_report: p.report_id,
          last_value: value,
          histogram: null,
        },
        histograms: p.histogram === null ? [] : [p.histogram],
      });
      continue;
    }
    const row = seen.row;
    row.points += 1;
    row.total += value;
    row.min_value = Math.min(row.min_value, value);
    row.max_value = Math.max(row.max_value, value);
    const order = compareLast(at, p.report_id, row.last_at, row.last_report);
    if (order > 0) {
      row.last_at = at;
      row.last_report = p.report_id;
      row.last_value = value;
    } else if (order === 0) row.last_value += value;
    if (p.histogram !== null) seen.histograms.push(p.histogram);
  }
  const out: RollupColumns[] = [];
  for (const key of [...rows.keys()].sort()) {
    const { row, histograms } = rows.get(key)!;
    if (histograms.length === 1) row.histogram = histograms[0]!;
    else if (histograms.length > 1) {
      row.histogram = JSON.stringify(
        mergeHistograms(histograms.map((t) => JSON.parse(t) as ExpHistogramData)),
      );
    }
    out.push(row);
  }
  return out;
}

/** Two merged histograms (JSON) as one, for an upsert that found a row already there. */
export function mergeHistogramText(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return JSON.stringify(
    mergeHistograms([JSON.parse(a) as ExpHistogramData, JSON.parse(b) as ExpHistogramData]),
  );
}

/**
 * The upsert of a folded row onto a stored one (same SQL on SQLite and PostgreSQL; SET expressions
 * read the old row). The histogram is merged by the caller: `returning points, histogram` tells it
 * whether the row was already there (more points than it brought) and what it held.
 */
const NEWER = `(excluded.last_at > metric_rollup.last_at or (excluded.last_at = metric_rollup.last_at
    and excluded.last_report > metric_rollup.last_report))`;
export const METRIC_ROLLUP_CONFLICT = `(name, day, tracking_id, group_key) do update set
  points = metric_rollup.points + excluded.points,
  total = metric_rollup.total + excluded.total,
  min_value = case when excluded.min_value < metric_rollup.min_value then excluded.min_value else metric_rollup.min_value end,
  max_value = case when excluded.max_value > metric_rollup.max_value then excluded.max_value else metric_rollup.max_value end,
  last_value = case when ${NEWER} then excluded.last_value
    when excluded.last_at = metric_rollup.last_at and excluded.last_report = metric_rollup.last_report
    then metric_rollup.last_value + excluded.last_value else metric_rollup.last_value end,
  last_report = case when ${NEWER} then excluded.last_report else metric_rollup.last_report end,
  last_at = case when ${NEWER} then excluded.last_at else metric_rollup.last_at end`;

export const METRIC_ROLLUP_SET_HISTOGRAM =
  'update metric_rollup set histogram = ? where name = ? and day = ? and tracking_id = ? and group_key = ?';

/** The histogram a stored row must get after an upsert answered `stored`; null: nothing to do. */
export function histogramAfterUpsert(
  row: RollupColumns,
  stored: { points: number | string; histogram: string | null },
): string | null {
  if (row.histogram === null || Number(stored.points) === row.points) return null;
  return mergeHistogramText(stored.histogram, row.histogram);
}

export function metricRollup(r: {
  day: string;
  tracking_id: string;
  node_type: string;
  version: string | null;
  cluster_type: string | null;
  ci: number | string | boolean;
  kind: string;
  labels: string;
  points: number | string;
  total: number | string;
  min_value: number | string;
  max_value: number | string;
  last_at: number | string;
  last_report: string;
  last_value: number | string;
  histogram: string | null;
}): MetricRollup {
  return {
    day: r.day,
    trackingId: r.tracking_id,
    nodeType: r.node_type,
    version: r.version,
    clusterType: r.cluster_type,
    ci: Number(r.ci) === 1 || r.ci === true,
    kind: r.kind,
    labels: r.labels,
    points: Number(r.points),
    total: Number(r.total),
    min: Number(r.min_value),
    max: Number(r.max_value),
    lastAt: Number(r.last_at),
    lastReport: r.last_report,
    lastValue: Number(r.last_value),
    histogram: r.histogram,
  };
}
