// The one validator of native reports. Both wire forms (JSON, protobuf) are first turned into plain
// values and then checked here, field by field: either a complete, typed AgentReport comes out, or
// a ProtocolError naming the field. Nothing else is ever thrown, whatever the input.
import { ProtocolError } from '../errors.js';
import { checkLength, dotSegment } from '../fields.js';
import { bucketIndex, FITTED_BUCKETS_MIN, SCALE_FOR_2_PERCENT, spanOneScaleFiner } from './exp-histogram.js';
import {
  type AgentDrops,
  type AgentEvent,
  type AgentProcessData,
  type AgentReport,
  type AgentSystemData,
  DOT_SEGMENT,
  type EventFieldValue,
  type ExpHistogramData,
  KEY_PATTERN,
  NATIVE_LIMITS as L,
  METRIC_KINDS,
  type MetricKind,
  type MetricSeries,
  NAME_PATTERN,
  NATIVE_PROTOCOL,
  PRINTABLE_ASCII,
  UNSTORABLE_TEXT,
  UUID_PATTERN,
} from './model.js';

type Plain = Record<string, unknown>;

function invalid(field: string, what: string): ProtocolError {
  return new ProtocolError('invalid_field', `${field} ${what}`);
}

function object(value: unknown, field: string): Plain {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(field, 'must be an object');
  }
  return value as Plain;
}

function optionalObject(value: unknown, field: string): Plain {
  return value === undefined || value === null ? {} : object(value, field);
}

function array(value: unknown, field: string, max: number): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(field, 'must be an array');
  if (value.length > max) {
    throw new ProtocolError('too_many', `${field} has ${value.length} entries; the limit is ${max}`);
  }
  return value;
}

/** Entries of a string-keyed map, bounded before anything is copied. */
function entries(value: unknown, field: string, max: number): [string, unknown][] {
  const map = optionalObject(value, field);
  const keys = Object.keys(map);
  if (keys.length > max) {
    throw new ProtocolError('too_many', `${field} has ${keys.length} entries; the limit is ${max}`);
  }
  return keys.map((k) => [k, map[k]]);
}

function text(value: unknown, field: string, max: number): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  checkLength(value, field, max);
  if (UNSTORABLE_TEXT.test(value)) throw invalid(field, 'contains NUL or an unpaired surrogate');
  return value;
}

function matching(value: unknown, field: string, pattern: RegExp, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(field, `must be ${rule}`);
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw invalid(field, 'must be a boolean');
  return value;
}

function finite(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !(Math.abs(value) <= L.numberMagnitudeMax)) {
    throw invalid(field, `must be a finite number from -${L.numberMagnitudeMax} to ${L.numberMagnitudeMax}`);
  }
  return value;
}

function nullableFinite(value: unknown, field: string): number | null {
  return value === undefined || value === null ? null : finite(value, field);
}

/** A non-negative integer up to 2^53-1; bigint (protobuf uint64) is accepted. */
const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

function count(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'bigint' && value <= MAX_SAFE_BIGINT ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw invalid(field, 'must be an integer from 0 to 2^53-1');
  }
  return n;
}

/** The largest time a JavaScript Date holds: a later one would be read back as this one. */
const MAX_DATE_MS = 8.64e15;

/** Milliseconds since the epoch that a date can hold (0: not given). */
function eventTime(value: unknown, field: string): number {
  const ms = count(value, field);
  if (ms > MAX_DATE_MS) throw invalid(field, `must be ms since the epoch, at most ${MAX_DATE_MS}`);
  return ms;
}

function nullableCount(value: unknown, field: string): number | null {
  return value === undefined || value === null ? null : count(value, field);
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function system(value: unknown): AgentSystemData {
  const s = optionalObject(value, 'system');
  return {
    memoryUsed: nullableCount(s['memoryUsed'], 'system.memoryUsed'),
    memoryTotal: nullableCount(s['memoryTotal'], 'system.memoryTotal'),
    osName: text(s['osName'], 'system.osName', L.textMax),
    osVersion: text(s['osVersion'], 'system.osVersion', L.textMax),
    osKernel: text(s['osKernel'], 'system.osKernel', L.textMax),
    cpuAvailable: nullableFinite(s['cpuAvailable'], 'system.cpuAvailable'),
  };
}

function processData(value: unknown): AgentProcessData {
  const p = optionalObject(value, 'process');
  return {
    heapUsed: nullableCount(p['heapUsed'], 'process.heapUsed'),
    eventLoopDelayP99: nullableFinite(p['eventLoopDelayP99'], 'process.eventLoopDelayP99'),
    uptime: finite(p['uptime'], 'process.uptime'),
    runtime: text(p['runtime'], 'process.runtime', L.textMax),
  };
}

function cluster(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, v] of entries(value, 'cluster', L.clusterFactsMax)) {
    matching(key, `cluster key ${JSON.stringify(key.slice(0, 40))}`, NAME_PATTERN, 'a metric-style name');
    out[key] = finite(v, `cluster.${key}`);
  }
  return out;
}

function labels(value: unknown, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of entries(value, field, L.labelsMax)) {
    matching(key, `${field} key ${JSON.stringify(key.slice(0, 40))}`, KEY_PATTERN, 'a label key');
    if (typeof v !== 'string') throw invalid(`${field}.${key}`, 'must be a string');
    out[key] = text(v, `${field}.${key}`, L.labelValueMax);
  }
  return out;
}

/**
 * The first and last populated buckets must be those of min and max (one bucket either way, for
 * producers that compute boundaries in floating point). Buckets anywhere else (an offset of -2^31
 * at scale 20 lies below the smallest double) describe values that were never recorded, and
 * would drag every fleet merge they join down to a coarse scale.
 */
function checkBucketsHoldMinMax(h: ExpHistogramData, field: string): void {
  const counts = h.positive.bucketCounts;
  const first = counts.findIndex((n) => n > 0);
  if (first === -1) return;
  let last = counts.length - 1;
  while (counts[last] === 0) last--;
  const near = (index: number, value: number) =>
    value > 0 && Math.abs(index - bucketIndex(value, h.scale)) <= 1;
  if (!near(h.positive.offset + last, h.max) || (h.min > 0 && !near(h.positive.offset + first, h.min))) {
    throw new ProtocolError(
      'inconsistent_histogram',
      `${field}: the populated buckets (${h.positive.offset + first} to ${h.positive.offset + last} at scale ${h.scale}) do not hold min ${h.min} and max ${h.max}`,
    );
  }
}

/**
 * A histogram's counts as numbers, converted in place: the list is the decoder's own, fresh from
 * parsing, and a report can carry ~650,000 counts, whose copy was most of validation's garbage.
 * Each element's field name is built only when it is refused (a template string per element made
 * validating a 1 MiB report take ~100 ms).
 */
function bucketCounts(value: unknown, field: string): number[] {
  const list = array(value, field, L.bucketsMax);
  for (let i = 0; i < list.length; i++) {
    const n = list[i];
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) continue;
    // Protobuf's uint64 past 2^49 arrive as bigint.
    list[i] =
      typeof n === 'bigint' && n >= 0n && n <= MAX_SAFE_BIGINT ? Number(n) : count(n, `${field}[${i}]`);
  }
  return list as number[];
}

/** See FITTED_BUCKETS_MIN: no agent makes a histogram this coarse, and merges would inherit it. */
function checkNotNeedlesslyCoarse(h: ExpHistogramData, field: string): void {
  if (h.scale >= SCALE_FOR_2_PERCENT) return;
  const span = spanOneScaleFiner(h);
  if (span === 0 || span > FITTED_BUCKETS_MIN) return;
  throw new ProtocolError(
    'coarse_histogram',
    `${field} is at scale ${h.scale}, coarser than its values need: from min ${h.min} to max ${h.max} they fit in ${span} buckets at scale ${h.scale + 1}. Agents lower a histogram's scale only while it spans more than ${FITTED_BUCKETS_MIN} buckets, and a needlessly coarse one would make every fleet merge of this metric as coarse`,
  );
}

export function validateHistogram(value: unknown, field: string): ExpHistogramData {
  const h = object(value, field);
  const positive = optionalObject(h['positive'], `${field}.positive`);
  const buckets = bucketCounts(positive['bucketCounts'], `${field}.positive.bucketCounts`);
  // Indexes are shifted as 32-bit integers when merging: keep the whole range inside int32.
  const offset = integer(
    positive['offset'],
    `${field}.positive.offset`,
    -(2 ** 31),
    2 ** 31 - 1 - L.bucketsMax,
  );
  const data: ExpHistogramData = {
    scale: integer(h['scale'], `${field}.scale`, L.scaleMin, L.scaleMax),
    zeroCount: count(h['zeroCount'], `${field}.zeroCount`),
    positive: { offset, bucketCounts: buckets },
    count: count(h['count'], `${field}.count`),
    sum: finite(h['sum'], `${field}.sum`),
    min: finite(h['min'], `${field}.min`),
    max: finite(h['max'], `${field}.max`),
  };
  let total = data.zeroCount;
  for (const n of buckets) total += n;
  if (total !== data.count) {
    throw new ProtocolError(
      'inconsistent_histogram',
      `${field}.count is ${data.count} but zeroCount plus the buckets add up to ${total}`,
    );
  }
  if (data.count > 0 && !(data.min >= 0 && data.min <= data.max)) {
    throw new ProtocolError('inconsistent_histogram', `${field} needs 0 <= min <= max`);
  }
  checkBucketsHoldMinMax(data, field);
  checkNotNeedlesslyCoarse(data, field);
  return data;
}

function metric(value: unknown, i: number): MetricSeries {
  const field = `metrics[${i}]`;
  const m = object(value, field);
  const kind = m['kind'];
  if (typeof kind !== 'string' || !(METRIC_KINDS as readonly string[]).includes(kind)) {
    throw invalid(`${field}.kind`, `must be one of ${METRIC_KINDS.join(', ')}`);
  }
  const series: MetricSeries = {
    name: matching(m['name'], `${field}.name`, NAME_PATTERN, 'a metric name like query.duration'),
    unit: text(m['unit'], `${field}.unit`, L.unitMax),
    description: text(m['description'], `${field}.description`, L.descriptionMax),
    kind: kind as MetricKind,
    labels: labels(m['labels'], `${field}.labels`),
    value: finite(m['value'], `${field}.value`),
    histogram: null,
  };
  if (series.kind === 'histogram') {
    series.histogram = validateHistogram(m['histogram'], `${field}.histogram`);
  } else if (m['histogram'] !== undefined && m['histogram'] !== null) {
    throw invalid(`${field}.histogram`, `is only allowed on histograms, not on a ${series.kind}`);
  }
  if (series.kind === 'counter' && series.value < 0) throw invalid(`${field}.value`, 'must not be negative');
  return series;
}

function event(value: unknown, i: number): AgentEvent {
  const field = `events[${i}]`;
  const e = object(value, field);
  const fields: Record<string, EventFieldValue> = {};
  for (const [key, v] of entries(e['fields'], `${field}.fields`, L.eventFieldsMax)) {
    matching(key, `${field}.fields key ${JSON.stringify(key.slice(0, 40))}`, KEY_PATTERN, 'a field key');
    if (typeof v === 'string') fields[key] = text(v, `${field}.fields.${key}`, L.eventStringMax);
    else if (typeof v === 'number') fields[key] = finite(v, `${field}.fields.${key}`);
    else if (typeof v === 'boolean') fields[key] = v;
    else throw invalid(`${field}.fields.${key}`, 'must be a string, a finite number or a boolean');
  }
  return {
    name: matching(e['name'], `${field}.name`, NAME_PATTERN, 'an event name like backup.finished'),
    timeMs: eventTime(e['timeMs'], `${field}.timeMs`),
    fields,
  };
}

function drops(value: unknown): AgentDrops {
  const d = optionalObject(value, 'drops');
  return {
    series: count(d['series'], 'drops.series'),
    events: count(d['events'], 'drops.events'),
    reports: count(d['reports'], 'drops.reports'),
    values: count(d['values'], 'drops.values'),
    errors: count(d['errors'], 'drops.errors'),
  };
}

/** Reads the major version first, so that a later collector can route to the right validator. */
function protocolVersion(value: unknown): number {
  const protocol = object(value, 'report')['protocol'];
  if (protocol !== NATIVE_PROTOCOL) {
    throw new ProtocolError(
      'unsupported_protocol',
      `protocol ${JSON.stringify(protocol) ?? 'missing'} is not supported; this collector reads protocol ${NATIVE_PROTOCOL}`,
    );
  }
  return protocol;
}

/** Validates a decoded (plain) native report. Throws ProtocolError and nothing else. */
export function validateReport(value: unknown): AgentReport {
  protocolVersion(value);
  const r = object(value, 'report');
  const trackingId = r['trackingId'];
  if (
    typeof trackingId !== 'string' ||
    trackingId.length > L.trackingIdMax ||
    !PRINTABLE_ASCII.test(trackingId)
  ) {
    throw new ProtocolError(
      'invalid_tracking_id',
      `trackingId must be 1-${L.trackingIdMax} printable ASCII characters`,
    );
  }
  if (DOT_SEGMENT.test(trackingId)) throw dotSegment('trackingId', trackingId);
  const sessionId = text(r['sessionId'], 'sessionId', L.sessionIdMax);
  if (sessionId !== '' && !PRINTABLE_ASCII.test(sessionId)) {
    throw invalid('sessionId', 'must be printable ASCII');
  }
  const nodeType = text(r['nodeType'], 'nodeType', L.nodeTypeMax);
  if (nodeType === '') throw invalid('nodeType', 'must not be empty');

  const metrics = array(r['metrics'], 'metrics', L.metricsMax).map(metric);
  const kinds = new Map<string, MetricKind>();
  const seen = new Set<string>();
  for (const m of metrics) {
    const kind = kinds.get(m.name);
    if (kind !== undefined && kind !== m.kind) {
      throw new ProtocolError('kind_conflict', `metric ${m.name} is sent as both a ${kind} and a ${m.kind}`);
    }
    kinds.set(m.name, m.kind);
    const key = JSON.stringify([m.name, Object.entries(m.labels).sort(([a], [b]) => (a < b ? -1 : 1))]);
    if (seen.has(key)) {
      throw new ProtocolError('duplicate_series', `metric ${m.name} has two series with the same labels`);
    }
    seen.add(key);
  }

  return {
    protocol: NATIVE_PROTOCOL,
    reportId: matching(r['reportId'], 'reportId', UUID_PATTERN, 'a lower-case UUID'),
    sequence: count(r['sequence'], 'sequence'),
    trackingId,
    sessionId,
    nodeType,
    isLeader: bool(r['isLeader'], 'isLeader'),
    version: text(r['version'], 'version', L.textMax),
    gitSha: text(r['gitSha'], 'gitSha', L.textMax),
    clusterType: text(r['clusterType'], 'clusterType', L.textMax),
    ci: bool(r['ci'], 'ci'),
    isTest: bool(r['isTest'], 'isTest'),
    intervalStartMs: count(r['intervalStartMs'], 'intervalStartMs'),
    intervalEndMs: count(r['intervalEndMs'], 'intervalEndMs'),
    system: system(r['system']),
    process: processData(r['process']),
    cluster: cluster(r['cluster']),
    metrics,
    events: array(r['events'], 'events', L.eventsMax).map(event),
    drops: drops(r['drops']),
    agentVersion: text(r['agentVersion'], 'agentVersion', L.textMax),
  };
}
