// Plausibility checks on decoded reports (CONTRACT.md): an odd value (a client clock far off, a
// count no real cluster has) is stored as received, flagged on its row and counted in /metrics,
// never rejected: RisingWave never retries, so a refused report is lost for good.
import type { AgentReport, ClusterEvent, NodeReport } from '@tidewatch/protocol';

/** Where "odd" starts. Generous: only values no real deployment produces are flagged. */
export const PLAUSIBLE = {
  /** A client clock this far from the collector's receive time (either way). */
  clockSkewMs: 24 * 3600_000,
  /** Events older than this when received (RisingWave flushes every 10 s; it never resends). */
  eventAgeMs: 7 * 24 * 3600_000,
  /** Agents spool reports while the collector is away; the spool keeps about this long. */
  agentReportAgeMs: 30 * 24 * 3600_000,
  /** Nodes of one type in one cluster. */
  nodesPerType: 10_000,
  streamJobs: 1_000_000,
  /** Memory of one node, bytes (64 TiB). */
  memoryBytes: 2 ** 46,
  cpus: 4096,
  /** Node uptime, seconds (20 years). */
  upTimeSec: 20 * 365 * 86_400,
} as const;

/** What a check found: the flags stored on the row and counted in `tidewatch_reports_flagged_total`. */
export type PlausibilityFlag = 'clock_skew' | 'implausible_count' | 'implausible_size';

function skewed(clientMs: number, receivedAt: number, maxAgeMs: number): boolean {
  return clientMs > receivedAt + PLAUSIBLE.clockSkewMs || clientMs < receivedAt - maxAgeMs;
}

function systemFlags(
  system: { memoryUsed: number | null; memoryTotal: number | null; cpuAvailable: number | null },
  flags: Set<PlausibilityFlag>,
) {
  const memory = Math.max(system.memoryUsed ?? 0, system.memoryTotal ?? 0);
  const cpus = system.cpuAvailable ?? 0;
  // A negative CPU count is as impossible as a huge one (memory is unsigned on every wire).
  if (memory > PLAUSIBLE.memoryBytes || cpus > PLAUSIBLE.cpus || cpus < 0) flags.add('implausible_size');
}

export function reportFlags(report: NodeReport, receivedAt: number): PlausibilityFlag[] {
  const flags = new Set<PlausibilityFlag>();
  if (skewed(report.reportTime * 1000, receivedAt, PLAUSIBLE.clockSkewMs)) flags.add('clock_skew');
  if (report.upTime > PLAUSIBLE.upTimeSec) flags.add('implausible_count');
  systemFlags(report.system, flags);
  const meta = report.meta;
  if (meta) {
    const nodes = meta.nodeCount ? Object.values(meta.nodeCount) : [];
    if (nodes.some((n) => n > PLAUSIBLE.nodesPerType) || (meta.streamJobCount ?? 0) > PLAUSIBLE.streamJobs)
      flags.add('implausible_count');
  }
  return [...flags];
}

export function eventFlags(event: ClusterEvent, receivedAt: number): PlausibilityFlag[] {
  return skewed(event.eventTimeSec * 1000, receivedAt, PLAUSIBLE.eventAgeMs) ? ['clock_skew'] : [];
}

export function agentReportFlags(report: AgentReport, receivedAt: number): PlausibilityFlag[] {
  const flags = new Set<PlausibilityFlag>();
  if (skewed(report.intervalEndMs, receivedAt, PLAUSIBLE.agentReportAgeMs)) flags.add('clock_skew');
  systemFlags(report.system, flags);
  return [...flags];
}

/** A row's comma-separated flags with more added (null when there are none). */
export function withFlags(stored: string | null, extra: readonly string[]): string | null {
  if (extra.length === 0) return stored;
  const all = new Set([...(stored ? stored.split(',') : []), ...extra]);
  return [...all].join(',');
}
