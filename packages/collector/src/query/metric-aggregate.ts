// Fleet aggregation of one agent metric (`GET /query/metrics/{name}`): counters add up, gauges
// give each cluster's latest value and the spread, histograms merge bucket by bucket so that
// quantiles are of the fleet's real distribution, never averages of percentiles.
import { type ExpHistogramData, mergeHistograms, quantile } from '@tidewatch/protocol';
import type { MetricPoint } from '../store/store.js';

export const METRIC_GROUPINGS = ['version', 'clusterType', 'nodeType', 'trackingId'] as const;
export type MetricGrouping = (typeof METRIC_GROUPINGS)[number];

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

function groupOf(point: MetricPoint, by: MetricGrouping | undefined): string | null {
  if (by === undefined) return 'all';
  return point[by] ?? null;
}

/** The kind the metric has in its newest point (a metric's kind is fixed per report). */
function kindOf(points: MetricPoint[]): MetricAnswer['kind'] {
  const kind = points.at(-1)?.kind;
  return kind === 'counter' || kind === 'gauge' || kind === 'histogram' ? kind : null;
}

function gaugeRow(value: string | null, points: MetricPoint[]): MetricRow {
  // Each cluster's latest report (by receive time, then report id): the sum of that report's
  // points (one report can carry several label sets of a gauge). In a cluster with several
  // reporting nodes this is the value of the node heard from last.
  const latest = new Map<string, { at: number; reportId: string; sum: number }>();
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const p of points) {
    min = Math.min(min, p.value);
    max = Math.max(max, p.value);
    sum += p.value;
    const seen = latest.get(p.trackingId);
    const newer = !seen || p.receivedAt > seen.at || (p.receivedAt === seen.at && p.reportId > seen.reportId);
    if (newer) latest.set(p.trackingId, { at: p.receivedAt, reportId: p.reportId, sum: p.value });
    else if (p.reportId === seen.reportId) seen.sum += p.value;
  }
  let last = 0;
  for (const l of latest.values()) last += l.sum;
  return { value, clusters: latest.size, last, min, max, avg: sum / points.length };
}

function histogramRow(value: string | null, points: MetricPoint[]): MetricRow {
  const histograms: ExpHistogramData[] = [];
  for (const p of points) if (p.histogram) histograms.push(JSON.parse(p.histogram) as ExpHistogramData);
  const merged = mergeHistograms(histograms);
  return {
    value,
    clusters: new Set(points.map((p) => p.trackingId)).size,
    count: merged.count,
    sum: merged.sum,
    p50: quantile(merged, 0.5),
    p90: quantile(merged, 0.9),
    p99: quantile(merged, 0.99),
  };
}

export function aggregateMetric(points: MetricPoint[], by: MetricGrouping | undefined): MetricAnswer {
  const kind = kindOf(points);
  if (kind === null) return { kind: null, rows: [] };
  const groups = new Map<string | null, MetricPoint[]>();
  for (const p of points) {
    if (p.kind !== kind) continue;
    const key = groupOf(p, by);
    const list = groups.get(key);
    if (list) list.push(p);
    else groups.set(key, [p]);
  }
  const rows = [...groups].map(([value, group]): MetricRow => {
    if (kind === 'histogram') return histogramRow(value, group);
    if (kind === 'gauge') return gaugeRow(value, group);
    return {
      value,
      clusters: new Set(group.map((p) => p.trackingId)).size,
      total: group.reduce((sum, p) => sum + p.value, 0),
    };
  });
  // Biggest groups first, then by name, so the answer is stable on every store.
  rows.sort((a, b) => b.clusters - a.clusters || String(a.value).localeCompare(String(b.value)));
  return { kind, rows };
}
