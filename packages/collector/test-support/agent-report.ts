// Native (v3) agent reports for collector tests, built from the protocol model.
import { randomUUID } from 'node:crypto';
import { type AgentReport, histogramOf, type MetricSeries } from '@tidewatch/protocol';

export function counter(name: string, value: number, labels: Record<string, string> = {}): MetricSeries {
  return {
    name,
    unit: '{query}',
    description: `${name} (test)`,
    kind: 'counter',
    labels,
    value,
    histogram: null,
  };
}

export function gauge(name: string, value: number, labels: Record<string, string> = {}): MetricSeries {
  return {
    name,
    unit: '{connection}',
    description: `${name} (test)`,
    kind: 'gauge',
    labels,
    value,
    histogram: null,
  };
}

export function histogram(name: string, values: number[], labels: Record<string, string> = {}): MetricSeries {
  return {
    name,
    unit: 's',
    description: `${name} (test)`,
    kind: 'histogram',
    labels,
    value: 0,
    histogram: histogramOf(values, 8, 1024),
  };
}

export function agentReport(o: Partial<AgentReport> = {}): AgentReport {
  return {
    protocol: 3,
    reportId: randomUUID(),
    sequence: 1,
    trackingId: o.trackingId ?? randomUUID(),
    sessionId: randomUUID(),
    nodeType: 'pglite',
    isLeader: true,
    version: '0.2.0',
    gitSha: 'abc1234',
    clusterType: 'single_node',
    ci: false,
    isTest: false,
    intervalStartMs: 1_764_000_000_000,
    intervalEndMs: 1_764_086_400_000,
    system: {
      memoryUsed: 1_000_000,
      memoryTotal: 8_000_000,
      osName: 'Linux',
      osVersion: 'Debian 12',
      osKernel: '6.1.0',
      cpuAvailable: 2,
    },
    process: { heapUsed: 40_000_000, eventLoopDelayP99: 0.01, uptime: 3600, runtime: 'node v20.20.2' },
    cluster: {},
    metrics: [],
    events: [],
    drops: { series: 0, events: 0, reports: 0, values: 0, errors: 0 },
    agentVersion: '0.1.0',
    ...o,
  };
}
