// Fleet aggregation of one agent metric (`GET /query/metrics/{name}`) from the daily rollup rows
// (store/metric-rollup.ts): counters add up, gauges give each cluster's latest value and the
// spread, histograms merge bucket by bucket so that quantiles are of the fleet's real
// distribution, never averages of percentiles.
import {
  type ExpHistogramData,
  HistogramMerger,
  KEY_PATTERN,
  type MetricAnswer,
  type MetricRow,
  quantile,
  relativeErrorBound,
} from '@tidewatch/protocol';
import { CollectorError } from '../errors.js';
import type { CellGrouping, MetricFleetAnswer } from '../store/metric-cells.js';
import { compareLast } from '../store/metric-rollup.js';
import type { MetricRollup } from '../store/store.js';
import { compareText } from '../text-order.js';

export const METRIC_GROUPINGS = ['version', 'clusterType', 'nodeType', 'trackingId'] as const;
/** A fixed grouping, or `label:<key>`: the value of one label (e.g. `label:sqlstate_class`). */
export type MetricGrouping = (typeof METRIC_GROUPINGS)[number] | `label:${string}`;

/** The `by` parameter, checked: one of METRIC_GROUPINGS or `label:<key>`; a bad one is a 400. */
export function metricGrouping(by: string | undefined): MetricGrouping | undefined {
  if (by === undefined) return undefined;
  if ((METRIC_GROUPINGS as readonly string[]).includes(by)) return by as MetricGrouping;
  if (by.startsWith('label:')) {
    const key = by.slice('label:'.length);
    // Label keys as the collector accepts them from agents: anything else can match no series.
    if (KEY_PATTERN.test(key)) return `label:${key}`;
    throw new CollectorError(
      'invalid_request',
      `by=label:<key> needs a label key (a letter or _, then letters, digits, _ . -; at most 64), not "${key.slice(0, 40)}"`,
    );
  }
  throw new CollectorError(
    'invalid_request',
    `by must be one of ${METRIC_GROUPINGS.join(', ')} or label:<key>, not "${by.slice(0, 40)}"`,
  );
}

/** What this module computes of `GET /query/metrics/{name}`'s answer; the route adds the rest. */
export type MetricRows = Pick<MetricAnswer, 'kind' | 'rows'>;

/** Groups rows by the requested value; labels are parsed once per distinct label set. */
function grouper(by: MetricGrouping | undefined): (row: MetricRollup) => string | null {
  if (by === undefined) return () => 'all';
  if (!by.startsWith('label:')) {
    const field = by as (typeof METRIC_GROUPINGS)[number];
    return (row) => row[field] ?? null;
  }
  const key = by.slice('label:'.length);
  const parsed = new Map<string, string | null>();
  return (row) => {
    let value = parsed.get(row.labels);
    if (value === undefined) {
      const labels = JSON.parse(row.labels) as Record<string, unknown>;
      value = typeof labels[key] === 'string' ? (labels[key] as string) : null;
      parsed.set(row.labels, value);
    }
    return value;
  };
}

/** A histogram group's answer row: count, sum and quantiles of the merged histogram. */
function histogramRow(
  value: string | null,
  clusters: number,
  histogram: HistogramMerger | undefined,
): MetricRow {
  const merged = (histogram ?? new HistogramMerger()).result();
  return {
    value,
    clusters,
    count: merged.count,
    sum: merged.sum,
    p50: quantile(merged, 0.5),
    p90: quantile(merged, 0.9),
    p99: quantile(merged, 0.99),
    relativeError: relativeErrorBound(merged.scale),
  };
}

/** Biggest groups first, then by name, so the answer is stable on every store. */
function rankRows(rows: MetricRow[]): void {
  rows.sort((a, b) => b.clusters - a.clusters || compareText(a.value, b.value));
}

/** One group's running totals: every kind's, since the metric's kind is known only at the end. */
class GroupTotals {
  readonly clusters = new Set<string>();
  total = 0;
  // Gauges: each cluster's latest report (by receive time, then report id) and the sum of that
  // report's points (one report can carry several label sets of a gauge). In a cluster with
  // several reporting nodes this is the value of the node heard from last.
  readonly latest = new Map<string, { at: number; reportId: string; sum: number }>();
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  points = 0;
  histogram: HistogramMerger | undefined;

  add(r: MetricRollup): void {
    this.clusters.add(r.trackingId);
    this.total += r.total;
    if (r.kind === 'histogram') {
      if (r.histogram !== null) {
        this.histogram ??= new HistogramMerger();
        this.histogram.add(JSON.parse(r.histogram) as ExpHistogramData);
      }
      return;
    }
    if (r.kind !== 'gauge') return;
    this.min = Math.min(this.min, r.min);
    this.max = Math.max(this.max, r.max);
    this.points += r.points;
    const seen = this.latest.get(r.trackingId);
    const order = seen ? compareLast(r.lastAt, r.lastReport, seen.at, seen.reportId) : 1;
    if (order > 0) this.latest.set(r.trackingId, { at: r.lastAt, reportId: r.lastReport, sum: r.lastValue });
    else if (order === 0) seen!.sum += r.lastValue;
  }

  row(value: string | null, kind: 'counter' | 'gauge' | 'histogram'): MetricRow {
    if (kind === 'counter') return { value, clusters: this.clusters.size, total: this.total };
    if (kind === 'gauge') {
      let last = 0;
      for (const l of this.latest.values()) last += l.sum;
      return {
        value,
        clusters: this.latest.size,
        last,
        min: this.min,
        max: this.max,
        avg: this.total / this.points,
      };
    }
    return histogramRow(value, this.clusters.size, this.histogram);
  }
}

/**
 * Folds rollup rows one at a time, in the store's order, into the answer. Nothing is kept per row
 * (histograms are merged as they come), so a year of a fleet's daily rows is not held in memory at
 * once: keeping them all made most of the cost garbage collection (CPU profile of a 55k-row
 * answer: 44% GC).
 */
export class MetricAggregator {
  private readonly groupOf: (row: MetricRollup) => string | null;
  /** Per kind, per group value. */
  private readonly groups = new Map<string, Map<string | null, GroupTotals>>();
  private newest: { at: number; reportId: string; kind: string } | undefined;

  constructor(by: MetricGrouping | undefined) {
    this.groupOf = grouper(by);
  }

  add(r: MetricRollup): void {
    // The metric's kind is the kind of its newest point (a metric's kind is fixed per report).
    if (!this.newest || compareLast(r.lastAt, r.lastReport, this.newest.at, this.newest.reportId) > 0) {
      this.newest = { at: r.lastAt, reportId: r.lastReport, kind: r.kind };
    }
    let byValue = this.groups.get(r.kind);
    if (!byValue) {
      byValue = new Map();
      this.groups.set(r.kind, byValue);
    }
    const value = this.groupOf(r);
    let totals = byValue.get(value);
    if (!totals) {
      totals = new GroupTotals();
      byValue.set(value, totals);
    }
    totals.add(r);
  }

  answer(): MetricRows {
    const kind = this.newest?.kind;
    if (kind !== 'counter' && kind !== 'gauge' && kind !== 'histogram') return { kind: null, rows: [] };
    const rows = [...(this.groups.get(kind) ?? [])].map(([value, totals]) => totals.row(value, kind));
    rankRows(rows);
    return { kind, rows };
  }
}

/** The answer for rows already in memory (tests, benchmarks). */
export function aggregateMetric(rollups: Iterable<MetricRollup>, by: MetricGrouping | undefined): MetricRows {
  const aggregator = new MetricAggregator(by);
  for (const r of rollups) aggregator.add(r);
  return aggregator.answer();
}

/** A grouping the fleet cells answer (the others need per-cluster rows: see metricFromCells). */
export function cellGrouping(by: MetricGrouping | undefined): CellGrouping | null {
  return by === undefined || by === 'version' || by === 'clusterType' || by === 'nodeType' ? by : null;
}

/**
 * The answer from a store's fleet cells (counters and histograms), or null for a gauge, whose
 * answer needs each cluster's latest value (per-cluster rows, MetricAggregator). Cells are folded
 * in the order the store gave them (compareCells), so every store adds the same numbers in the
 * same order.
 */
export function metricFromCells(fleet: MetricFleetAnswer): MetricRows | null {
  const kind = fleet.kind;
  if (kind === 'gauge') return null;
  if (kind !== 'counter' && kind !== 'histogram') return { kind: null, rows: [] };
  const groups = new Map<string | null, { total: number; histogram: HistogramMerger | undefined }>();
  for (const c of fleet.cells) {
    if (c.kind !== kind) continue;
    let group = groups.get(c.value);
    if (!group) {
      group = { total: 0, histogram: undefined };
      groups.set(c.value, group);
    }
    group.total += c.total;
    if (c.histogram !== null) {
      group.histogram ??= new HistogramMerger();
      group.histogram.add(JSON.parse(c.histogram) as ExpHistogramData);
    }
  }
  const clusters = new Map(fleet.clusters.map((c) => [c.value, c.clusters]));
  const rows = [...groups].map(([value, group]): MetricRow => {
    const n = clusters.get(value) ?? 0;
    if (kind === 'counter') return { value, clusters: n, total: group.total };
    return histogramRow(value, n, group.histogram);
  });
  rankRows(rows);
  return { kind, rows };
}
