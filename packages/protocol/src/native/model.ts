// The native Tidewatch report ("protocol v3"): the typed model the agent builds and the collector
// receives. The JSON wire form is exactly this shape; the protobuf form is
// proto/tidewatch/report.proto. Every field is described in packages/agent/README.md (data catalog).

/** The major version of the native protocol this package writes. */
export const NATIVE_PROTOCOL = 3;

export const METRIC_KINDS = ['counter', 'gauge', 'histogram'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

/**
 * OpenTelemetry's base-2 exponential histogram, positive values and zero only. Bucket `offset + k`
 * counts values in (2^((offset+k) * 2^-scale), 2^((offset+k+1) * 2^-scale)]. When `count` is 0,
 * `min`, `max` and `sum` are 0.
 */
export interface ExpHistogramData {
  scale: number;
  zeroCount: number;
  positive: { offset: number; bucketCounts: number[] };
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface MetricSeries {
  name: string;
  /** UCUM-style unit: `s`, `By`, `1`, `{query}`; empty when unknown. */
  unit: string;
  description: string;
  kind: MetricKind;
  labels: Record<string, string>;
  /** Counter: increase since the previous report. Gauge: last value. Histogram: 0. */
  value: number;
  /** Histograms only: the values recorded since the previous report. */
  histogram: ExpHistogramData | null;
}

export type EventFieldValue = string | number | boolean;

export interface AgentEvent {
  name: string;
  /** The agent's clock, unix milliseconds. */
  timeMs: number;
  fields: Record<string, EventFieldValue>;
}

export interface AgentSystemData {
  memoryUsed: number | null;
  memoryTotal: number | null;
  osName: string;
  osVersion: string;
  osKernel: string;
  cpuAvailable: number | null;
}

export interface AgentProcessData {
  heapUsed: number | null;
  /** Seconds. */
  eventLoopDelayP99: number | null;
  /** Seconds since the process started. */
  uptime: number;
  runtime: string;
}

export interface AgentDrops {
  series: number;
  events: number;
  reports: number;
  values: number;
  errors: number;
}

export interface AgentReport {
  protocol: typeof NATIVE_PROTOCOL;
  /** UUID (lower-case, 8-4-4-4-12): the collector's dedup key. */
  reportId: string;
  sequence: number;
  trackingId: string;
  sessionId: string;
  nodeType: string;
  isLeader: boolean;
  version: string;
  gitSha: string;
  clusterType: string;
  ci: boolean;
  isTest: boolean;
  intervalStartMs: number;
  intervalEndMs: number;
  system: AgentSystemData;
  process: AgentProcessData;
  /** Cluster-wide facts from the leader; empty on other nodes. */
  cluster: Record<string, number>;
  metrics: MetricSeries[];
  events: AgentEvent[];
  drops: AgentDrops;
  agentVersion: string;
}

/**
 * What the decoder accepts. Larger is abuse or a bug, answered 400 (or 413 for the body), so the
 * agent enforces the same numbers before sending (it imports this table).
 */
export const NATIVE_LIMITS = {
  /** Inflated body bytes. */
  bodyMax: 4 * 1024 * 1024,
  metricsMax: 2000,
  labelsMax: 16,
  nameMax: 128,
  labelKeyMax: 64,
  labelValueMax: 256,
  unitMax: 32,
  descriptionMax: 256,
  eventsMax: 1000,
  eventFieldsMax: 32,
  eventStringMax: 1024,
  clusterFactsMax: 64,
  nodeTypeMax: 64,
  trackingIdMax: 128,
  sessionIdMax: 128,
  /** version, gitSha, clusterType, OS strings, runtime, agentVersion. */
  textMax: 256,
  /** Buckets per side of one exponential histogram. */
  bucketsMax: 2048,
  scaleMin: -10,
  scaleMax: 20,
  /**
   * Every number a report carries (metric values, histogram sums, mins and maxes, event fields,
   * cluster facts): |v| at most 1e300. Rollups add values up across reports and clusters, and two
   * values near Number.MAX_VALUE already add up to Infinity, which no store keeps (SQLite and
   * PostgreSQL turn it into NULL or refuse it); at 1e300 it takes ~10^8 values to get there.
   */
  numberMagnitudeMax: 1e300,
} as const;

/** Metric, event and cluster-fact names: OpenTelemetry instrument-name syntax, shorter. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.\-/]{0,127}$/;
/** Label and event-field keys. A leading `__` is reserved (and keeps `__proto__` out). */
export const KEY_PATTERN = /^(?!__)[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;
/**
 * `.` and `..`: printable, but no URL can address them (browsers and fetch resolve the path
 * segment away, `%2E%2E` included), so a cluster with such an id could never be opened or erased
 * from the dashboard or the CLI. Refused as tracking ids.
 */
export const DOT_SEGMENT = /^\.\.?$/;
/** NUL (no store can hold it) and lone surrogates (not representable in UTF-8). */
export const UNSTORABLE_TEXT = /[\0\uD800-\uDFFF]/u;
