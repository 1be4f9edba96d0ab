// Deployment shape from each cluster's latest facts: distributions of sizes (buckets and
// percentiles, never only an average) and connectors by kind, format and encode.
import type { ConnectorUsageRow, DistributionAnswer, ReleaseAdoption } from '@tidewatch/protocol';
import { type CountedConnectorUses, connectorUseCounts } from '../store/connector-uses.js';
import type { ClusterFacts, DistributionName } from '../store/store.js';
import { compareCodeUnits } from '../text-order.js';
import { DAY_MS } from '../utc-day.js';
import { type CountedValue, countedPercentile } from './counted-percentile.js';

/** The unit of each size the distributions answer. */
export const DISTRIBUTION_UNITS: Record<DistributionName, DistributionAnswer['unit']> = {
  memory: 'bytes',
  metaNodes: 'nodes',
  computeNodes: 'nodes',
  frontendNodes: 'nodes',
  compactorNodes: 'nodes',
  streamJobs: 'jobs',
};

const GIB = 1024 ** 3;

export interface Bucket {
  /** Inclusive bounds of the bucket, in the distribution's unit. */
  from: number;
  to: number;
  clusters: number;
}

/**
 * Power-of-two buckets: 0, 1, 2, 3-4, 5-8, … (counts) or ≤1 GiB, 1-2 GiB, 2-4 GiB, … (memory,
 * bounds in bytes). Fleet sizes span orders of magnitude: equal-width buckets would put nearly
 * every cluster in the first one.
 */
function bucketOf(value: number, memory: boolean): { from: number; to: number } {
  const unit = memory ? GIB : 1;
  const scaled = value / unit;
  if (!memory && scaled <= 1) return { from: scaled, to: scaled };
  if (memory && scaled <= 1) return { from: 0, to: unit };
  const upper = 2 ** Math.ceil(Math.log2(scaled));
  return memory ? { from: (upper / 2) * unit + 1, to: upper * unit } : { from: upper / 2 + 1, to: upper };
}

/** A size's distribution from clusters counted per value (null: not reported). */
export function distribution(
  counted: readonly { value: number | null; clusters: number }[],
  name: DistributionName,
): Omit<DistributionAnswer, 'excluded'> {
  const values: CountedValue[] = [];
  let unknown = 0;
  for (const c of counted) {
    if (c.value === null) unknown += c.clusters;
    else values.push({ value: c.value, count: c.clusters });
  }
  values.sort((a, b) => a.value - b.value);
  const buckets = new Map<number, Bucket>();
  for (const { value, count } of values) {
    const b = bucketOf(value, name === 'memory');
    const seen = buckets.get(b.from);
    if (seen) seen.clusters += count;
    else buckets.set(b.from, { ...b, clusters: count });
  }
  return {
    of: name,
    unit: DISTRIBUTION_UNITS[name],
    clusters: values.reduce((n, v) => n + v.count, 0),
    unknown,
    min: values[0]?.value ?? null,
    p50: countedPercentile(values, 0.5),
    p90: countedPercentile(values, 0.9),
    p99: countedPercentile(values, 0.99),
    max: values.at(-1)?.value ?? null,
    buckets: [...buckets.values()].sort((a, b) => a.from - b.from),
  };
}

const order = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;

/** Sources and sinks by connector, format and encode, from connector_usage_json_str. */
export function connectorUsage(facts: ClusterFacts[]): {
  sources: ConnectorUsageRow[];
  sinks: ConnectorUsageRow[];
} {
  return connectorTables(facts.map((f) => ({ uses: connectorUseCounts(f.connectorUsage), clusters: 1 })));
}

/** The same tables from counted uses (each set of uses with how many clusters have it). */
export function connectorTables(counted: Iterable<CountedConnectorUses>): {
  sources: ConnectorUsageRow[];
  sinks: ConnectorUsageRow[];
} {
  const tables = { source: new Map<string, ConnectorUsageRow>(), sink: new Map<string, ConnectorUsageRow>() };
  for (const { uses, clusters } of counted) {
    for (const [kind, connector, format, encode, count] of uses) {
      const key = JSON.stringify([connector, format, encode]);
      const table = tables[kind];
      const row = table.get(key) ?? { connector, format, encode, clusters: 0, count: 0 };
      row.clusters += clusters;
      row.count += count * clusters;
      table.set(key, row);
    }
  }
  const rows = (table: Map<string, ConnectorUsageRow>) =>
    [...table.values()].sort(
      (a, b) =>
        b.clusters - a.clusters ||
        b.count - a.count ||
        order(a.connector, b.connector) ||
        order(a.format, b.format) ||
        order(a.encode, b.encode),
    );
  return { sources: rows(tables.source), sinks: rows(tables.sink) };
}

/** Shares of active clusters a release is timed to reach (percent). */
export const ADOPTION_SHARES = [10, 25, 50] as const;

/**
 * Newest first by semantic version: numeric parts compared as numbers (1.10.1 after 1.8.2), a
 * release after its own pre-releases and nightlies (2.5.0 after 2.5.0-rc.1), versions that do not
 * start with a number last; then by text, so the order is total.
 */
export function compareVersionsNewestFirst(a: string, b: string): number {
  const parse = (v: string) => {
    const match = /^v?(\d+(?:\.\d+)*)(.*)$/.exec(v);
    return match ? { core: match[1]!.split('.').map(Number), rest: match[2]! } : null;
  };
  const [x, y] = [parse(a), parse(b)];
  if (!x || !y) return x ? -1 : y ? 1 : compareCodeUnits(a, b);
  for (let i = 0; i < Math.max(x.core.length, y.core.length); i++) {
    const d = (y.core[i] ?? 0) - (x.core[i] ?? 0);
    if (d !== 0) return d;
  }
  if ((x.rest === '') !== (y.rest === '')) return x.rest === '' ? -1 : 1;
  // Suffixes (rc.2, nightly-20261101): numbers in them compared as numbers, newest first.
  return y.rest.localeCompare(x.rest, 'en', { numeric: true }) || compareCodeUnits(a, b);
}

/**
 * How fast each release was picked up: from the first day an active cluster ran it, the days until
 * it ran on 10/25/50% of that day's active clusters (null: not reached in the range), and its peak.
 * Newest release first (compareVersionsNewestFirst).
 */
export function adoption(days: string[], perVersion: Map<string | null, number[]>): ReleaseAdoption[] {
  const totals = days.map((_, i) => {
    let sum = 0;
    for (const counts of perVersion.values()) sum += counts[i]!;
    return sum;
  });
  // The first day with any active cluster: a release running then may have come out earlier (the
  // range, or the stored data, starts there), so its first day is only a bound.
  const dataStart = totals.findIndex((t) => t > 0);
  const rows: ReleaseAdoption[] = [];
  for (const [version, counts] of perVersion) {
    if (version === null) continue;
    const first = counts.findIndex((c) => c > 0);
    if (first < 0) continue;
    const shares = counts.map((c, i) => (totals[i]! > 0 ? (100 * c) / totals[i]! : 0));
    let peak = first;
    for (let i = first; i < days.length; i++) if (shares[i]! > shares[peak]!) peak = i;
    const daysTo: Record<string, number | null> = {};
    for (const target of ADOPTION_SHARES) {
      const reached = shares.findIndex((s, i) => i >= first && s >= target);
      daysTo[String(target)] =
        reached < 0 ? null : (Date.parse(days[reached]!) - Date.parse(days[first]!)) / DAY_MS;
    }
    rows.push({
      version,
      firstDay: days[first]!,
      // Running on the first day with data: it came out earlier, so its pickup is not fully seen.
      beforeRange: first === dataStart,
      peakShare: Math.round(shares[peak]! * 10) / 10,
      peakDay: days[peak]!,
      latestShare: Math.round(shares.at(-1)! * 10) / 10,
      daysTo,
    });
  }
  return rows.sort((a, b) => compareVersionsNewestFirst(a.version, b.version));
}
