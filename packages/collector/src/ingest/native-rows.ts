// Normalizes a native (v3) agent report into store rows, applying the per-cluster caps on
// distinct metric names and label sets: a series beyond them is dropped and counted, so one
// misbehaving host (labels with user ids, say) cannot grow the store without bound.
import type { AgentReport, MetricSeries } from '@tidewatch/protocol';
import { type AgentReportWrite, type KnownSeries, seriesKey } from '../store/store.js';
import { utcDay } from '../utc-day.js';

export interface SeriesCaps {
  /** Distinct metric names one cluster may have. */
  namesPerCluster: number;
  /** Distinct (name, label set) series one cluster may have. */
  seriesPerCluster: number;
}

export const DEFAULT_SERIES_CAPS: SeriesCaps = { namesPerCluster: 500, seriesPerCluster: 5000 };

/** Labels as JSON with sorted keys, so the same label set is always the same text. */
export function canonicalLabels(labels: Record<string, string>): string {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) sorted[key] = labels[key]!;
  return JSON.stringify(sorted);
}

/** Each metric's canonical labels, in order: computed once per report (they are sorted and serialized). */
export function canonicalSeriesLabels(metrics: readonly MetricSeries[]): string[] {
  return metrics.map((m) => canonicalLabels(m.labels));
}

function capSeries(
  metrics: MetricSeries[],
  labelsOf: readonly string[],
  known: KnownSeries,
  caps: SeriesCaps,
) {
  const names = new Set(known.names);
  const series = new Set(known.series);
  const kept: { metric: MetricSeries; labels: string }[] = [];
  let dropped = 0;
  for (const [i, metric] of metrics.entries()) {
    const labels = labelsOf[i]!;
    const key = seriesKey(metric.name, labels);
    if (!series.has(key)) {
      const newName = !names.has(metric.name);
      if (series.size >= caps.seriesPerCluster || (newName && names.size >= caps.namesPerCluster)) {
        dropped++;
        continue;
      }
      series.add(key);
      names.add(metric.name);
    }
    kept.push({ metric, labels });
  }
  return { kept, dropped };
}

export function agentReportWrite(
  report: AgentReport,
  raw: Uint8Array,
  receivedAt: number,
  known: KnownSeries,
  caps: SeriesCaps = DEFAULT_SERIES_CAPS,
  labels: readonly string[] = canonicalSeriesLabels(report.metrics),
): { write: AgentReportWrite; droppedSeries: number } {
  const { kept, dropped } = capSeries(report.metrics, labels, known, caps);
  const emptyToNull = (s: string) => (s === '' ? null : s);
  const receivedDay = utcDay(receivedAt);
  return {
    droppedSeries: dropped,
    write: {
      report: {
        reportId: report.reportId,
        trackingId: report.trackingId,
        sessionId: report.sessionId,
        nodeType: report.nodeType,
        receivedAt,
        receivedDay,
        sequence: report.sequence,
        isLeader: report.isLeader,
        version: emptyToNull(report.version),
        gitSha: emptyToNull(report.gitSha),
        clusterType: emptyToNull(report.clusterType),
        ci: report.ci,
        intervalStartMs: report.intervalStartMs,
        intervalEndMs: report.intervalEndMs,
        memoryUsed: report.system.memoryUsed,
        memoryTotal: report.system.memoryTotal,
        osName: emptyToNull(report.system.osName),
        osVersion: emptyToNull(report.system.osVersion),
        osKernel: emptyToNull(report.system.osKernel),
        cpuAvailable: report.system.cpuAvailable,
        heapUsed: report.process.heapUsed,
        eventLoopDelayP99: report.process.eventLoopDelayP99,
        uptime: report.process.uptime,
        runtime: emptyToNull(report.process.runtime),
        agentVersion: emptyToNull(report.agentVersion),
        clusterFacts: Object.keys(report.cluster).length > 0 ? JSON.stringify(report.cluster) : null,
        drops: JSON.stringify(report.drops),
        flags: dropped > 0 ? 'series_capped' : null,
        raw,
      },
      metrics: kept.map(({ metric, labels }) => ({
        name: metric.name,
        kind: metric.kind,
        unit: metric.unit,
        labels,
        value: metric.value,
        histogram: metric.histogram ? JSON.stringify(metric.histogram) : null,
      })),
      events: report.events.map((e) => ({
        name: e.name,
        timeMs: e.timeMs,
        fields: JSON.stringify(e.fields),
      })),
    },
  };
}
