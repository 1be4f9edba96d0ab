// Fleet aggregation of one agent metric (`GET /query/metrics/{name}`) from the daily rollup rows
// (store/metric-rollup.ts): counters add up, gauges give each cluster's latest value and the
// spread, histograms merge bucket by bucket so that quantiles are of the fleet's real
// distribution, never averages of percentiles.
import { type ExpHistogramData, KEY_PATTERN, mergeHistograms, quantile } from '@tidewatch/protocol';
import { CollectorError } from '../errors.js';
import { compareLast } from '../store/metric-rollup.js';
import type { MetricRollup } from '../store/store.js';

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

export interface MetricRow {
  /** The group's value; `all` without grouping; null when the grouping value is unknown. */
  value: string | null;
  clusters: number;
  total?: number;
  last?: number;
  min?: number;
  max?: number;
  avg?: number;
  count?: number;
  sum?: number;
  p50?: number | null;
  p90?: number | null;
  p99?: number | null;
}

export interface MetricAnswer {
  kind: 'counter' | 'gauge' | 'histogram' | null;
  rows: MetricRow[];
}

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

/** The kind the metric has in its newest point (a metric's kind is fixed per report). */
function kindOf(rows: MetricRollup[]): MetricAnswer['kind'] {
  let newest: MetricRollup | undefined;
  for (const r of rows) {
    if (!newest || compareLast(r.lastAt, r.lastReport, newest.lastAt, newest.lastReport) > 0) newest = r;
  }
  const kind = newest?.kind;
  return kind === 'counter' || kind === 'gauge' || kind === 'histogram' ? kind : null;
}

function gaugeRow(value: string | null, rows: MetricRollup[]): MetricRow {
  // Each cluster's latest report (by receive time, then report id): the sum of that report's
  // points (one report can carry several label sets of a gauge). In a cluster with several
  // reporting nodes this is the value of the node heard from last.
  const latest = new Map<string, { at: number; reportId: string; sum: number }>();
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let points = 0;
  for (const r of rows) {
    min = Math.min(min, r.min);
    max = Math.max(max, r.max);
    sum += r.total;
    points += r.points;
    const seen = latest.get(r.trackingId);
    const order = seen ? compareLast(r.lastAt, r.lastReport, seen.at, seen.reportId) : 1;
    if (order > 0) latest.set(r.trackingId, { at: r.lastAt, reportId: r.lastReport, sum: r.lastValue });
    else if (order === 0) seen!.sum += r.lastValue;
  }
  let last = 0;
  for (const l of latest.values()) last += l.sum;
  return { value, clusters: latest.size, last, min, max, avg: sum / points };
}

function histogramRow(value: string | null, rows: MetricRollup[]): MetricRow {
  const histograms: ExpHistogramData[] = [];
  for (const r of rows) if (r.histogram) histograms.push(JSON.parse(r.histogram) as ExpHistogramData);
  const merged = mergeHistograms(histograms);
  return {
    value,
    clusters: new Set(rows.map((r) => r.trackingId)).size,
    count: merged.count,
    sum: merged.sum,
    p50: quantile(merged, 0.5),
    p90: quantile(merged, 0.9),
    p99: quantile(merged, 0.99),
  };
}

export function aggregateMetric(rollups: MetricRollup[], by: MetricGrouping | undefined): MetricAnswer {
  const kind = kindOf(rollups);
  if (kind === null) return { kind: null, rows: [] };
  const groupOf = grouper(by);
  const groups = new Map<string | null, MetricRollup[]>();
  for (const r of rollups) {
    if (r.kind !== kind) continue;
    const key = groupOf(r);
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  const rows = [...groups].map(([value, group]): MetricRow => {
    if (kind === 'histogram') return histogramRow(value, group);
    if (kind === 'gauge') return gaugeRow(value, group);
    return {
      value,
      clusters: new Set(group.map((r) => r.trackingId)).size,
      total: group.reduce((sum, r) => sum + r.total, 0),
    };
  });
  // Biggest groups first, then by name, so the answer is stable on every store.
  rows.sort((a, b) => b.clusters - a.clusters || String(a.value).localeCompare(String(b.value)));
  return { kind, rows };
}
