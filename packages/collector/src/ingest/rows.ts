// Normalizes decoded reports and events into store rows: adds the collector's receive time, the
// retry (dedup) key, and the derived columns the queries need.
import { hash } from 'node:crypto';
import type { ClusterEvent, NodeReport } from '@tidewatch/protocol';
import type { EventRow, ReportRow } from '../store/store.js';
import { utcDay } from '../utc-day.js';

/**
 * The retry key: the message's own time (fixed-width hex), then 72 bits of sha256 over all of the
 * retry key's fields; 32 characters. Time first so that the keys of one period sort together: each
 * commit then appends at the right edge of the unique index instead of writing one random index
 * page per report (bench:ingest's SQLite commits wrote about a third fewer pages), and the index
 * stays cache-friendly at millions of rows. Two messages with the same fields get the same key.
 */
function dedupKey(kind: string, time: number, fields: unknown[]): string {
  // The one-shot crypto.hash (Node >= 20.12): a third of createHash()'s cost for a short input.
  const digest = hash('sha256', JSON.stringify([kind, time, ...fields]), 'hex');
  return Math.floor(time).toString(16).padStart(14, '0') + digest.slice(0, 18);
}

/** Flags that say a key field may have been changed on the way in (clamped or cleaned). */
const CHANGED_ON_INGEST = ['number_clamped', 'nul_replaced', 'surrogate_replaced'];

/**
 * The retry key's fields, plus the message's exact bytes when a value had to be clamped or cleaned:
 * the stored value is then no longer what was sent (2^60 and 2^61 both become 2^53−1, "a\0b" and
 * "a\uFFFDb" both become "a\uFFFDb"), and two different messages must not share a key. A retry
 * sends the same bytes, so it still matches; every other message keys as before.
 */
function keyFields(fields: unknown[], flags: readonly string[], raw: Uint8Array): unknown[] {
  if (!flags.some((f) => CHANGED_ON_INGEST.includes(f))) return fields;
  return [...fields, hash('sha256', raw, 'hex')];
}

function connectorNames(report: NodeReport): string | null {
  if (!report.meta) return null;
  const names = new Set<string>();
  for (const use of report.meta.connectorUsage) if (use.connector) names.add(use.connector);
  for (const job of report.meta.streamJobs) if (job.connectorName) names.add(job.connectorName);
  return JSON.stringify([...names].sort());
}

/**
 * A RisingWave report's retry key. RisingWave reports carry no id: (tracking_id, session_id, node
 * type, report_time) (CONTRACT.md), plus the body's hash when the decoder had to change a value.
 */
export function reportKey(
  report: Pick<NodeReport, 'trackingId' | 'sessionId' | 'nodeType' | 'reportTime' | 'flags'>,
  raw: Uint8Array,
): string {
  return dedupKey(
    'rw-report',
    report.reportTime,
    keyFields([report.trackingId, report.sessionId, report.nodeType], report.flags, raw),
  );
}

export function reportRow(report: NodeReport, raw: Uint8Array, receivedAt: number): ReportRow {
  const meta = report.meta;
  return {
    dedupKey: reportKey(report, raw),
    trackingId: report.trackingId,
    sessionId: report.sessionId,
    nodeType: report.nodeType,
    protocol: report.protocol,
    receivedAt,
    receivedDay: utcDay(receivedAt),
    reportTime: report.reportTime,
    upTime: report.upTime,
    ci: false,
    flags: report.flags.length > 0 ? report.flags.join(',') : null,
    memoryUsed: report.system.memoryUsed,
    memoryTotal: report.system.memoryTotal,
    osName: report.system.osName,
    osVersion: report.system.osVersion,
    osKernel: report.system.osKernel,
    cpuAvailable: report.system.cpuAvailable,
    version: meta?.version ?? null,
    gitSha: meta?.gitSha ?? null,
    metaBackend: meta?.metaBackend ?? null,
    clusterType: meta?.clusterType ?? null,
    nodeMeta: meta?.nodeCount?.meta ?? null,
    nodeCompute: meta?.nodeCount?.compute ?? null,
    nodeFrontend: meta?.nodeCount?.frontend ?? null,
    nodeCompactor: meta?.nodeCount?.compactor ?? null,
    streamJobCount: meta?.streamJobCount ?? null,
    objectStore: meta?.objectStore ?? null,
    connectors: connectorNames(report),
    connectorUsage: meta?.connectorUsageJson ?? null,
    streamJobs: meta && meta.streamJobs.length > 0 ? JSON.stringify(meta.streamJobs) : null,
    licenseTier: meta?.licenseTier ?? null,
    // Set only by privacy/license-subject.ts, which also redacts it in `raw`.
    licenseSubject: null,
    raw,
  };
}

const unknownEnum = (n: number | null) => (n === null ? null : `#${n}`);
/**
 * How a stage or object number this version does not know (a newer RisingWave's) is stored and
 * answered, e.g. `unknown_7`: listed and counted apart from UNSPECIFIED, and filterable by stage.
 */
export const unknownName = (n: number | null) => (n === null ? null : `unknown_${n}`);

/**
 * The rows of one request's events. RisingWave events carry no id and RisingWave never retries, so
 * an identical event is usually a real repeat (a feature's `paywall` check, a recovery), yet a retry
 * (a proxy resending the request) must not store it twice. A retry resends the request byte for
 * byte: every key includes the hash of the request's (inflated) body, and the n-th copy of an event
 * within it (n ≥ 1) adds n. So a resent request matches itself, and the same events in another
 * request are stored (a busy 2.3+ node flushes a batch at every 100 events: 150 identical events in
 * one second came as batches of 100 and 50, and keys without the body kept 100).
 */
export function eventRows(
  events: readonly { event: ClusterEvent; raw: Uint8Array }[],
  receivedAt: number,
  body: Uint8Array,
  /**
   * The store's legacy keys' boundary (Store.legacyEventKeysUntil): only events up to it get a
   * `legacyKey`, the one a store may look up (a second hash per event; live events skip it).
   * Unknown: every event gets one.
   */
  legacyUntil: number | null = Number.POSITIVE_INFINITY,
) {
  const request = hash('sha256', body, 'hex').slice(0, 18);
  const seen = new Map<string, number>();
  const row = (event: ClusterEvent, raw: Uint8Array, copy: number) =>
    eventRow(
      event,
      raw,
      receivedAt,
      copy,
      request,
      legacyUntil !== null && event.eventTimeSec <= legacyUntil,
    );
  return events.map(({ event, raw }) => {
    const first = row(event, raw, 0);
    const copies = seen.get(first.dedupKey) ?? 0;
    seen.set(first.dedupKey, copies + 1);
    return copies === 0 ? first : row(event, raw, copies);
  });
}

/**
 * An event's retry key. `copy`: its n-th repeat within the request; `request`: see eventRows
 * (absent: the key of the format before commit b2b470f, which migration 0038 computes and the
 * stores look up as `legacyKey`).
 */
export function eventKey(event: ClusterEvent, raw: Uint8Array, copy = 0, request?: string): string {
  return dedupKey(
    'rw-event',
    event.eventTimeSec,
    keyFields(
      [
        event.trackingId,
        // A stage or object this version does not know keeps its number in the key (null would
        // merge two events of a newer RisingWave); known ones key as before, so retries match.
        event.stage ?? unknownEnum(event.unknownStage),
        event.name,
        event.node,
        event.catalogId,
        event.connectorName,
        event.object ?? unknownEnum(event.unknownObject),
        event.attributes,
        ...(copy > 0 ? [copy] : []),
        ...(request === undefined ? [] : [request]),
      ],
      event.flags,
      raw,
    ),
  );
}

export function eventRow(
  event: ClusterEvent,
  raw: Uint8Array,
  receivedAt: number,
  copy = 0,
  request?: string,
  withLegacyKey = request !== undefined,
): EventRow {
  return {
    dedupKey: eventKey(event, raw, copy, request),
    ...(request !== undefined && withLegacyKey ? { legacyKey: eventKey(event, raw, copy) } : {}),
    trackingId: event.trackingId,
    receivedAt,
    receivedDay: utcDay(receivedAt),
    eventTimeSec: event.eventTimeSec,
    stage: event.stage ?? unknownName(event.unknownStage),
    name: event.name,
    // Lower-case, as the connectors of reports are: CREATE SOURCE events carry the user's own
    // spelling (`Kafka`), which RisingWave itself matches without case. The key keeps it as sent.
    connectorName: event.connectorName?.toLowerCase() ?? null,
    catalogId: event.catalogId,
    attributes: event.attributes,
    node: event.node,
    object: event.object ?? unknownName(event.unknownObject),
    flags: event.flags.length > 0 ? event.flags.join(',') : null,
    raw,
  };
}
