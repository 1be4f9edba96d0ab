// The daily Tidewatch agent report of a simulated cluster (simulate --agents, bench:query).
import { type AgentReport, histogramOf, type MetricSeries } from '@tidewatch/protocol';
import type { ClusterPlan, Release } from './fleet.js';

/** The median query latency of a cluster's agent on a release (the release's, give or take 20%). */
export function agentLatencyMedian(plan: ClusterPlan, release: Release): number {
  return release.latencyMedian * (0.8 + ((plan.index * 7919) % 40) / 100);
}

/** What one daily Tidewatch agent report of a simulated cluster says (random draws made by the caller). */
export interface AgentDay {
  plan: ClusterPlan;
  release: Release;
  /** When the report is sent (the end of its interval). */
  at: number;
  reportId: string;
  sequence: number;
  sessionId: string;
  intervalStartMs: number;
  memoryUsed: number;
  process: AgentReport['process'];
  cluster: AgentReport['cluster'];
  queries: number;
  errors: number;
  connections: number;
  /** Query durations, seconds: the latency histogram. */
  latencies: number[];
}

/**
 * A day's errors split by SQLSTATE class as the pg and PGlite integrations label them: about half
 * constraint violations (23), a third syntax or unknown names (42), the rest serialization
 * failures (40). A fixed split, not a random draw: the rest of the simulation stays as it was.
 */
function errorsByClass(errors: number): [string, number][] {
  const constraint = Math.round(errors * 0.5);
  const syntax = Math.round(errors * 0.3);
  const split: [string, number][] = [
    ['23', constraint],
    ['42', syntax],
    ['40', errors - constraint - syntax],
  ];
  return split.filter(([, n]) => n > 0);
}

/** A simulated agent report: query count, errors by SQLSTATE class, connections and a latency histogram. */
export function agentReportOf(d: AgentDay): AgentReport {
  const metric = (name: string, unit: string, kind: MetricSeries['kind'], value: number): MetricSeries => ({
    name,
    unit,
    description: name,
    kind,
    labels: {},
    value,
    histogram: null,
  });
  return {
    protocol: 3,
    reportId: d.reportId,
    sequence: d.sequence,
    trackingId: d.plan.trackingId,
    sessionId: d.sessionId,
    nodeType: 'frontend',
    isLeader: true,
    version: d.release.version,
    gitSha: d.release.gitSha,
    clusterType: d.plan.clusterType,
    ci: false,
    isTest: d.plan.isTest,
    intervalStartMs: d.intervalStartMs,
    intervalEndMs: d.at,
    system: {
      memoryUsed: d.memoryUsed,
      memoryTotal: d.plan.memoryTotal,
      osName: d.plan.os.name,
      osVersion: d.plan.os.version,
      osKernel: d.plan.os.kernel,
      cpuAvailable: d.plan.cpus,
    },
    process: d.process,
    cluster: d.cluster,
    metrics: [
      metric('db.queries', '{query}', 'counter', d.queries),
      ...errorsByClass(d.errors).map(([sqlstateClass, n]) => ({
        ...metric('db.query.errors', '{query}', 'counter', n),
        labels: { sqlstate_class: sqlstateClass },
      })),
      metric('db.connections', '{connection}', 'gauge', d.connections),
      { ...metric('db.query.duration', 's', 'histogram', 0), histogram: histogramOf(d.latencies, 5, 160) },
    ],
    events: [],
    drops: { series: 0, events: 0, reports: 0, values: 0, errors: 0 },
    agentVersion: '0.1.0',
  };
}
