// Batch shaping and row mappers shared by the stores' write paths (sql/write-steps.ts, which
// PostgreSQL and the SQLite writer thread run, and ClickHouse's), so all of them store the same rows.

import { compareCodeUnits } from '../text-order.js';
import type { AgentReportsTable, ReportsTable } from './sql/schema.js';
import type { AgentReportRow, AgentReportWrite, EventRow, ReportRow, WriteBatch } from './store.js';

export function reportColumns(r: ReportRow): Omit<ReportsTable, 'id'> {
  return {
    dedup_key: r.dedupKey,
    tracking_id: r.trackingId,
    session_id: r.sessionId,
    node_type: r.nodeType,
    protocol: r.protocol,
    received_at: r.receivedAt,
    received_day: r.receivedDay,
    report_time: r.reportTime,
    up_time: r.upTime,
    ci: r.ci ? 1 : 0,
    flags: r.flags,
    memory_used: r.memoryUsed,
    memory_total: r.memoryTotal,
    os_name: r.osName,
    os_version: r.osVersion,
    os_kernel: r.osKernel,
    cpu_available: r.cpuAvailable,
    version: r.version,
    git_sha: r.gitSha,
    meta_backend: r.metaBackend,
    cluster_type: r.clusterType,
    node_meta: r.nodeMeta,
    node_compute: r.nodeCompute,
    node_frontend: r.nodeFrontend,
    node_compactor: r.nodeCompactor,
    stream_job_count: r.streamJobCount,
    object_store: r.objectStore,
    connectors: r.connectors,
    connector_usage: r.connectorUsage,
    stream_jobs: r.streamJobs,
    license_tier: r.licenseTier,
    license_subject: r.licenseSubject,
    raw: r.raw,
  };
}

export function eventColumns(e: EventRow) {
  return {
    dedup_key: e.dedupKey,
    tracking_id: e.trackingId,
    received_at: e.receivedAt,
    received_day: e.receivedDay,
    event_time_sec: e.eventTimeSec,
    stage: e.stage,
    name: e.name,
    connector_name: e.connectorName,
    catalog_id: e.catalogId,
    attributes: e.attributes,
    node: e.node,
    object: e.object,
    flags: e.flags,
    raw: e.raw,
  };
}

export function agentReportColumns(r: AgentReportRow): Omit<AgentReportsTable, 'id'> {
  return {
    report_id: r.reportId,
    tracking_id: r.trackingId,
    session_id: r.sessionId,
    node_type: r.nodeType,
    received_at: r.receivedAt,
    received_day: r.receivedDay,
    sequence: r.sequence,
    is_leader: r.isLeader ? 1 : 0,
    version: r.version,
    git_sha: r.gitSha,
    cluster_type: r.clusterType,
    ci: r.ci ? 1 : 0,
    interval_start_ms: r.intervalStartMs,
    interval_end_ms: r.intervalEndMs,
    memory_used: r.memoryUsed,
    memory_total: r.memoryTotal,
    os_name: r.osName,
    os_version: r.osVersion,
    os_kernel: r.osKernel,
    cpu_available: r.cpuAvailable,
    heap_used: r.heapUsed,
    event_loop_delay_p99: r.eventLoopDelayP99,
    uptime: r.uptime,
    runtime: r.runtime,
    agent_version: r.agentVersion,
    cluster_facts: r.clusterFacts,
    drops: r.drops,
    flags: r.flags,
    raw: r.raw,
  };
}

/**
 * The batch without the rows of blocked (erased) clusters, and how many rows that dropped. Runs
 * inside the write transaction, so an erase and a write racing each other never leave a row behind.
 */
export function withoutBlocked(batch: WriteBatch, blocked: ReadonlySet<string>) {
  if (blocked.size === 0) return { batch, blocked: 0, blockedIds: [] };
  const keep = (trackingId: string) => !blocked.has(trackingId);
  const kept: WriteBatch = {
    reports: batch.reports.filter((r) => keep(r.trackingId)),
    events: batch.events.filter((e) => keep(e.trackingId)),
    agentReports: (batch.agentReports ?? []).filter((w) => keep(w.report.trackingId)),
  };
  const count = (b: WriteBatch) => b.reports.length + b.events.length + (b.agentReports?.length ?? 0);
  const present = new Set(batchTrackingIds(batch));
  return {
    batch: kept,
    blocked: count(batch) - count(kept),
    blockedIds: [...blocked].filter((id) => present.has(id)),
  };
}

/** Every tracking id a batch writes rows for. */
export function batchTrackingIds(batch: WriteBatch): string[] {
  const ids = new Set<string>();
  for (const r of batch.reports) ids.add(r.trackingId);
  for (const e of batch.events) ids.add(e.trackingId);
  for (const w of batch.agentReports ?? []) ids.add(w.report.trackingId);
  return [...ids];
}

/** Metric points, events and series rows of the agent reports that were really inserted. */
export function agentChildren(writes: AgentReportWrite[]) {
  const points = [];
  const events = [];
  const series = [];
  for (const { report: r, metrics, events: evs } of writes) {
    for (const m of metrics) {
      points.push({
        report_id: r.reportId,
        tracking_id: r.trackingId,
        received_at: r.receivedAt,
        received_day: r.receivedDay,
        node_type: r.nodeType,
        version: r.version,
        cluster_type: r.clusterType,
        ci: r.ci ? 1 : 0,
        name: m.name,
        kind: m.kind,
        unit: m.unit,
        labels: m.labels,
        value: m.value,
        histogram: m.histogram,
      });
      series.push({ tracking_id: r.trackingId, name: m.name, labels: m.labels, first_seen: r.receivedAt });
    }
    for (const [seq, e] of evs.entries()) {
      events.push({
        report_id: r.reportId,
        tracking_id: r.trackingId,
        received_at: r.receivedAt,
        received_day: r.receivedDay,
        name: e.name,
        time_ms: e.timeMs,
        fields: e.fields,
        seq,
      });
    }
  }
  return { points, events, series };
}

const byKey =
  <T>(key: (row: T) => string) =>
  (a: T, b: T) =>
    compareCodeUnits(key(a), key(b));

/** The first of each key, in key order. */
function uniqueSorted<T>(rows: readonly T[], key: (row: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const row of rows) if (!seen.has(key(row))) seen.set(key(row), row);
  return [...seen.values()].sort(byKey(key));
}

/**
 * The batch with one row per retry key, in key order. One copy: a report resent while its first
 * copy still waits in the same group commit must not bring its metric points and events twice.
 * Key order: two transactions that insert the same keys take their row locks in the same order
 * and cannot deadlock (PostgreSQL with several in flight).
 */
export function ordered(batch: WriteBatch): WriteBatch {
  return {
    reports: uniqueSorted(batch.reports, (r) => r.dedupKey),
    events: uniqueSorted(batch.events, (e) => e.dedupKey),
    agentReports: uniqueSorted(batch.agentReports ?? [], (w) => w.report.reportId),
  };
}
