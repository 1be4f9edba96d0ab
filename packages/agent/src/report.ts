// Builds one report: the registry's series, the events, system and process facts, identity and the
// drop counters, in the wire model of @tidewatch/protocol (native protocol v3). Every field is
// listed, with why and an example, in the README's data catalog.
import {
  type AgentDrops,
  type AgentEvent,
  type AgentReport,
  downscale,
  type EventFieldValue,
  FITTED_BUCKETS_MIN,
  KEY_PATTERN,
  type MetricSeries,
  NAME_PATTERN,
  NATIVE_LIMITS,
  NATIVE_PROTOCOL,
  stepsToFit,
} from '@tidewatch/protocol';
import type { Collectors } from './collectors.js';
import { ownCopy, setOwn, shown } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Registry } from './registry.js';

export const AGENT_VERSION = '0.1.0';

export type EventFields = Record<string, string | number | boolean>;

const NOT_STORABLE = /[\0\uD800-\uDFFF]/gu;

/** An event as the wire accepts it, or why it cannot be one. Strings are cut, not refused. */
export function cleanEvent(
  name: string,
  fields: EventFields | undefined,
  timeMs: number,
): AgentEvent | string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    return `event name ${shown(name)} is not like backup.finished`;
  }
  const clean: Record<string, EventFieldValue> = {};
  const keys = fields && typeof fields === 'object' ? Object.keys(fields) : [];
  if (keys.length > NATIVE_LIMITS.eventFieldsMax)
    return `event ${name} has more than ${NATIVE_LIMITS.eventFieldsMax} fields`;
  for (const key of keys) {
    const value = fields![key];
    if (!KEY_PATTERN.test(key)) return `event ${name}: field key ${shown(key)} is not like rows_read`;
    if (typeof value === 'string') {
      setOwn(
        clean,
        key,
        ownCopy(value.slice(0, NATIVE_LIMITS.eventStringMax)).replace(NOT_STORABLE, '\uFFFD'),
      );
    } else if (typeof value === 'number' && wireNumber(value)) setOwn(clean, key, value);
    else if (typeof value === 'boolean') setOwn(clean, key, value);
    else return `event ${name}: field ${key} must be a string, a number within ±1e300 or a boolean`;
  }
  return { name: ownCopy(name), timeMs: Math.max(0, Math.round(timeMs)), fields: clean };
}

/**
 * About the bytes an event takes in a report, counting a UTF-16 unit as one byte (UTF-8 takes up to
 * three): the agent keeps events up to about one report's worth (at most three), not without end.
 */
export function eventBytes(event: AgentEvent): number {
  let bytes = 16 + event.name.length;
  for (const [key, value] of Object.entries(event.fields)) {
    bytes += 4 + key.length + (typeof value === 'string' ? value.length : 9);
  }
  return bytes;
}

/** A number the collector accepts: finite and within ±1e300 (its rollups add them up). */
function wireNumber(v: number): boolean {
  return Math.abs(v) <= NATIVE_LIMITS.numberMagnitudeMax;
}

/** A series whose numbers the collector would refuse (and the whole report with it). */
function unsendable(m: MetricSeries): boolean {
  const h = m.histogram;
  return (
    !wireNumber(m.value) || (h !== null && !(wireNumber(h.sum) && wireNumber(h.min) && wireNumber(h.max)))
  );
}

/**
 * One step towards a smaller report, in place, sized by `excess` (its bytes over the budget, > 1);
 * false when nothing is left to shrink. Histograms lose scales first (each halves the buckets and
 * about doubles the quantile error; counts and sums stay exact), never below the scale at which
 * they span FITTED_BUCKETS_MIN buckets (the collector refuses a coarser one); once none spans
 * more, the widest series are left out, then events (counted in drops). Each step cuts in
 * proportion to the excess, so a report is re-encoded a few times, not once per series.
 */
export function shrinkReport(report: AgentReport, excess: number): boolean {
  let lowered = false;
  const by = Math.max(1, Math.ceil(Math.log2(excess)));
  for (const m of report.metrics) {
    const steps = m.histogram === null ? 0 : stepsToFit(m.histogram, FITTED_BUCKETS_MIN);
    if (steps === 0) continue;
    m.histogram = downscale(m.histogram!, Math.min(by, steps));
    lowered = true;
  }
  if (lowered) return true;
  const share = (n: number) => Math.min(n, Math.ceil(n * (1 - 1 / excess)) + 1);
  if (report.metrics.length > 0) {
    const buckets = (m: MetricSeries) => m.histogram?.positive.bucketCounts.length ?? 0;
    const widestFirst = [...report.metrics].sort((a, b) => buckets(b) - buckets(a));
    const leftOut = new Set(widestFirst.slice(0, share(report.metrics.length)));
    report.metrics = report.metrics.filter((m) => !leftOut.has(m));
    report.drops.series += leftOut.size;
    return true;
  }
  if (report.events.length > 0) {
    const removed = report.events.splice(report.events.length - share(report.events.length));
    report.drops.events += removed.length;
    return true;
  }
  return false;
}

export const noDrops = (): AgentDrops => ({ series: 0, events: 0, reports: 0, values: 0, errors: 0 });

export interface ReportInput {
  options: ResolvedOptions;
  trackingId: string;
  sessionId: string;
  reportId: string;
  sequence: number;
  intervalStartMs: number;
  nowMs: number;
  cluster: Record<string, number>;
  events: AgentEvent[];
  /** Drops counted outside the registry (events, reports, errors). */
  drops: AgentDrops;
  registry: Registry;
  collectors: Collectors;
  /** true for a real report (counters and histograms restart); false for preview(). */
  reset: boolean;
}

export function buildReport(input: ReportInput): AgentReport {
  const { options: o, registry } = input;
  const snapshot = registry.snapshot(input.reset);
  // A counter past 1e300 (or a histogram summing past it) would get the whole report refused.
  const metrics = snapshot.metrics.filter((m) => !unsendable(m));
  const drops: AgentDrops = {
    ...input.drops,
    series: input.drops.series + registry.droppedSeries + snapshot.metrics.length - metrics.length,
    values: input.drops.values + snapshot.rejectedValues,
  };
  if (input.reset) registry.droppedSeries = 0;
  return {
    protocol: NATIVE_PROTOCOL,
    reportId: input.reportId,
    sequence: input.sequence,
    trackingId: input.trackingId,
    sessionId: input.sessionId,
    nodeType: o.nodeType,
    isLeader: o.isLeader,
    version: o.version,
    gitSha: o.gitSha,
    clusterType: o.clusterType,
    ci: o.ci,
    isTest: o.isTest,
    intervalStartMs: Math.max(0, Math.round(input.intervalStartMs)),
    intervalEndMs: Math.max(0, Math.round(input.nowMs)),
    system: input.collectors.system(),
    process: input.collectors.process(input.reset),
    cluster: input.cluster,
    metrics,
    events: input.events,
    drops,
    agentVersion: AGENT_VERSION,
  };
}

/** Cluster facts from the host's callback, kept only where the wire accepts them. */
export function cleanClusterFacts(
  raw: unknown,
  onProblem: (message: string) => void,
): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof raw !== 'object' || raw === null) {
    onProblem('clusterFacts() must return an object of numbers');
    return out;
  }
  for (const [key, value] of Object.entries(raw)) {
    if (Object.keys(out).length >= NATIVE_LIMITS.clusterFactsMax) break;
    if (NAME_PATTERN.test(key) && typeof value === 'number' && wireNumber(value)) setOwn(out, key, value);
    else
      onProblem(
        `clusterFacts(): ${JSON.stringify(key)} is not a metric-style name with a number within ±1e300`,
      );
  }
  return out;
}
