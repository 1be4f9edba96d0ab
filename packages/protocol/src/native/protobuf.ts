// The protobuf form of the native report (proto/tidewatch/report.proto, generated into
// src/gen/tidewatch). Encoding is deterministic (map entries sorted by key) so that the same report
// always gives the same bytes; decoding only parses, validate.ts decides what is acceptable.
import { ProtocolError } from '../errors.js';
import { MetricKind as WireKind } from '../gen/tidewatch/report_pb.js';
import type { AgentEvent, AgentReport, ExpHistogramData, MetricKind, MetricSeries } from './model.js';
import { I64, LEN, ProtoSink, VARINT } from './proto-sink.js';
import { readAgentReport } from './report-reader.js';
import '../utf8.js'; // strings keep a leading U+FEFF

const TO_WIRE_KIND: Record<MetricKind, WireKind> = {
  counter: WireKind.COUNTER,
  gauge: WireKind.GAUGE,
  histogram: WireKind.HISTOGRAM,
};

// The encoder is written out field by field on ProtoSink (a one-buffer ProtoSink, see
// proto-sink.ts) instead of going through create()/toBinary(): reflection and BigInt conversions
// made a 500-series report cost ~10 ms of CPU; this costs well under that. It writes exactly the
// bytes toBinary() would (proto3 rules: implicit fields only when not zero/empty, optional fields
// when present, map entries with key and value always, map entries sorted by key for
// determinism); the golden test pins them.

/** uint64/int64 of a non-negative safe integer: same varint bytes, without BigInt when it fits 32 bits. */
function u64(w: ProtoSink, field: number, n: number): void {
  w.tag(field, VARINT);
  if (n <= 0xffffffff) w.uint32(n);
  else w.uint64(n);
}
const u64NonZero = (w: ProtoSink, field: number, n: number) => n !== 0 && u64(w, field, n);
const stringNonEmpty = (w: ProtoSink, field: number, s: string) => s !== '' && w.tag(field, LEN).string(s);
const doubleNonZero = (w: ProtoSink, field: number, d: number) => d !== 0 && w.tag(field, I64).double(d);
const boolTrue = (w: ProtoSink, field: number, b: boolean) => b && w.tag(field, VARINT).bool(true);

const sortedKeys = (map: Record<string, unknown>) => Object.keys(map).sort();

function histogramTo(w: ProtoSink, h: ExpHistogramData): void {
  if (h.scale !== 0) w.tag(1, VARINT).sint32(h.scale);
  u64NonZero(w, 2, h.zeroCount);
  if (h.positive.offset !== 0) w.tag(3, VARINT).sint32(h.positive.offset);
  const counts = h.positive.bucketCounts;
  if (counts.length > 0) w.tag(4, LEN).packedVarints(counts);
  u64NonZero(w, 5, h.count);
  doubleNonZero(w, 6, h.sum);
  doubleNonZero(w, 7, h.min);
  doubleNonZero(w, 8, h.max);
}

interface SeriesHeader {
  name: string;
  unit: string;
  description: string;
  kind: MetricKind;
  bytes: Uint8Array;
}

/**
 * A series' identity (name, unit, description, kind, labels) is the same in every report, and the
 * agent keeps one labels object per series: its bytes are encoded once and reused, which halves a
 * report tick's encoding time. Keyed weakly by the labels object, one lookup: at a report tick every
 * table is cold, and a second level (a Map per labels object, by name) made the counters' pieces
 * ~25% slower (`bench:agent`'s tick). A labels object shared by series of different names (not
 * the agent's way) still encodes right, only without the reuse.
 */
const headers = new WeakMap<Record<string, string>, SeriesHeader>();

function seriesHeader(m: MetricSeries): Uint8Array {
  const hit = headers.get(m.labels);
  if (
    hit !== undefined &&
    hit.name === m.name &&
    hit.unit === m.unit &&
    hit.description === m.description &&
    hit.kind === m.kind
  )
    return hit.bytes;
  const w = new ProtoSink();
  stringNonEmpty(w, 1, m.name);
  stringNonEmpty(w, 2, m.unit);
  stringNonEmpty(w, 3, m.description);
  w.tag(4, VARINT).int32(TO_WIRE_KIND[m.kind]);
  for (const key of sortedKeys(m.labels)) {
    w.tag(5, LEN).fork().tag(1, LEN).string(key).tag(2, LEN).string(m.labels[key]!).join();
  }
  const bytes = w.finish();
  headers.set(m.labels, { name: m.name, unit: m.unit, description: m.description, kind: m.kind, bytes });
  return bytes;
}

function metricTo(w: ProtoSink, m: MetricSeries): void {
  w.raw(seriesHeader(m));
  doubleNonZero(w, 6, m.value);
  if (m.histogram) {
    w.tag(7, LEN).fork();
    histogramTo(w, m.histogram);
    w.join();
  }
}

function eventTo(w: ProtoSink, e: AgentEvent): void {
  stringNonEmpty(w, 1, e.name);
  if (e.timeMs !== 0) u64(w, 2, e.timeMs);
  for (const key of sortedKeys(e.fields)) {
    const v = e.fields[key]!;
    w.tag(3, LEN).fork().tag(1, LEN).string(key).tag(2, LEN).fork();
    if (typeof v === 'string') w.tag(1, LEN).string(v);
    else if (typeof v === 'number') w.tag(2, I64).double(v);
    else w.tag(3, VARINT).bool(v);
    w.join().join();
  }
}

/** Series per piece of encodeReportProtobufPieces: well under a millisecond of CPU each. */
export const SERIES_PER_PIECE = 100;

/**
 * The report's protobuf bytes in pieces whose concatenation is encodeReportProtobuf's answer: the
 * fields before the metrics, the metrics SERIES_PER_PIECE at a time, the fields after them. The
 * agent yields to its host's event loop between pieces, so a large report never holds the loop
 * for the whole encoding.
 */
export function* encodeReportProtobufPieces(r: AgentReport): Generator<Uint8Array> {
  const w = new ProtoSink();
  w.tag(1, VARINT).uint32(r.protocol);
  stringNonEmpty(w, 2, r.reportId);
  u64NonZero(w, 3, r.sequence);
  stringNonEmpty(w, 4, r.trackingId);
  stringNonEmpty(w, 5, r.sessionId);
  stringNonEmpty(w, 6, r.nodeType);
  boolTrue(w, 7, r.isLeader);
  stringNonEmpty(w, 8, r.version);
  stringNonEmpty(w, 9, r.gitSha);
  stringNonEmpty(w, 10, r.clusterType);
  boolTrue(w, 11, r.ci);
  boolTrue(w, 12, r.isTest);
  u64NonZero(w, 13, r.intervalStartMs);
  u64NonZero(w, 14, r.intervalEndMs);

  const s = r.system;
  w.tag(15, LEN).fork();
  if (s.memoryUsed !== null) u64(w, 1, s.memoryUsed);
  if (s.memoryTotal !== null) u64(w, 2, s.memoryTotal);
  stringNonEmpty(w, 3, s.osName);
  stringNonEmpty(w, 4, s.osVersion);
  stringNonEmpty(w, 5, s.osKernel);
  if (s.cpuAvailable !== null) w.tag(6, I64).double(s.cpuAvailable);
  w.join();

  const p = r.process;
  w.tag(16, LEN).fork();
  if (p.heapUsed !== null) u64(w, 1, p.heapUsed);
  if (p.eventLoopDelayP99 !== null) w.tag(2, I64).double(p.eventLoopDelayP99);
  doubleNonZero(w, 3, p.uptime);
  stringNonEmpty(w, 4, p.runtime);
  w.join();

  for (const key of sortedKeys(r.cluster)) {
    w.tag(17, LEN).fork().tag(1, LEN).string(key).tag(2, I64).double(r.cluster[key]!).join();
  }
  yield w.finish();
  for (let i = 0; i < r.metrics.length; i += SERIES_PER_PIECE) {
    for (const m of r.metrics.slice(i, i + SERIES_PER_PIECE)) {
      w.tag(18, LEN).fork();
      metricTo(w, m);
      w.join();
    }
    yield w.finish();
  }
  for (const e of r.events) {
    w.tag(19, LEN).fork();
    eventTo(w, e);
    w.join();
  }
  const d = r.drops;
  w.tag(20, LEN).fork();
  u64NonZero(w, 1, d.series);
  u64NonZero(w, 2, d.events);
  u64NonZero(w, 3, d.reports);
  u64NonZero(w, 4, d.values);
  u64NonZero(w, 5, d.errors);
  w.join();
  stringNonEmpty(w, 21, r.agentVersion);
  yield w.finish();
}

export function encodeReportProtobuf(r: AgentReport): Uint8Array {
  const w = new ProtoSink();
  for (const piece of encodeReportProtobufPieces(r)) w.raw(piece);
  return w.finish();
}

/**
 * Parses protobuf bytes into the plain shape validateReport() checks (report-reader.ts; 64-bit
 * integers past 2^49 stay bigint until then). Throws ProtocolError('undecodable') for bytes that
 * are not a valid AgentReport.
 */
export function parseReportProtobuf(bytes: Uint8Array): unknown {
  try {
    // Unknown fields (a newer v3 agent) are skipped: they carry nothing this collector can use.
    return readAgentReport(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProtocolError('undecodable', `body is not a valid protobuf AgentReport: ${reason}`);
  }
}
