// The protobuf form of the native report (proto/tidewatch/report.proto, generated into
// src/gen/tidewatch). Encoding is deterministic (map entries sorted by key) so that the same report
// always gives the same bytes; decoding only parses, validate.ts decides what is acceptable.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ProtocolError } from '../errors.js';
import {
  AgentReportSchema,
  type FieldValue as WireFieldValue,
  type ExpHistogram as WireHistogram,
  MetricKind as WireKind,
} from '../gen/tidewatch/report_pb.js';
import type { AgentReport, ExpHistogramData, MetricKind } from './model.js';

const TO_WIRE_KIND: Record<MetricKind, WireKind> = {
  counter: WireKind.COUNTER,
  gauge: WireKind.GAUGE,
  histogram: WireKind.HISTOGRAM,
};
const FROM_WIRE_KIND: Record<number, MetricKind> = { 1: 'counter', 2: 'gauge', 3: 'histogram' };

function sorted<V, W>(map: Record<string, V>, convert: (v: V) => W): Record<string, W> {
  const out: Record<string, W> = {};
  for (const key of Object.keys(map).sort()) out[key] = convert(map[key]!);
  return out;
}

const big = (n: number): bigint => BigInt(Math.trunc(n));
const optionalBig = (n: number | null): bigint | undefined => (n === null ? undefined : big(n));

function fieldValue(v: string | number | boolean): WireFieldValue['value'] {
  if (typeof v === 'string') return { case: 'stringValue', value: v };
  if (typeof v === 'number') return { case: 'numberValue', value: v };
  return { case: 'boolValue', value: v };
}

function histogramToWire(h: ExpHistogramData) {
  return {
    scale: h.scale,
    zeroCount: big(h.zeroCount),
    offset: h.positive.offset,
    bucketCounts: h.positive.bucketCounts.map(big),
    count: big(h.count),
    sum: h.sum,
    min: h.min,
    max: h.max,
  };
}

export function encodeReportProtobuf(report: AgentReport): Uint8Array {
  const message = create(AgentReportSchema, {
    protocol: report.protocol,
    reportId: report.reportId,
    sequence: big(report.sequence),
    trackingId: report.trackingId,
    sessionId: report.sessionId,
    nodeType: report.nodeType,
    isLeader: report.isLeader,
    version: report.version,
    gitSha: report.gitSha,
    clusterType: report.clusterType,
    ci: report.ci,
    isTest: report.isTest,
    intervalStartMs: big(report.intervalStartMs),
    intervalEndMs: big(report.intervalEndMs),
    system: {
      memoryUsed: optionalBig(report.system.memoryUsed),
      memoryTotal: optionalBig(report.system.memoryTotal),
      osName: report.system.osName,
      osVersion: report.system.osVersion,
      osKernel: report.system.osKernel,
      cpuAvailable: report.system.cpuAvailable ?? undefined,
    },
    process: {
      heapUsed: optionalBig(report.process.heapUsed),
      eventLoopDelayP99: report.process.eventLoopDelayP99 ?? undefined,
      uptime: report.process.uptime,
      runtime: report.process.runtime,
    },
    cluster: sorted(report.cluster, (v) => v),
    metrics: report.metrics.map((m) => ({
      name: m.name,
      unit: m.unit,
      description: m.description,
      kind: TO_WIRE_KIND[m.kind],
      labels: sorted(m.labels, (v) => v),
      value: m.value,
      histogram: m.histogram ? histogramToWire(m.histogram) : undefined,
    })),
    events: report.events.map((e) => ({
      name: e.name,
      timeMs: big(e.timeMs),
      fields: sorted(e.fields, (v) => ({ value: fieldValue(v) })),
    })),
    drops: {
      series: big(report.drops.series),
      events: big(report.drops.events),
      reports: big(report.drops.reports),
      values: big(report.drops.values),
      errors: big(report.drops.errors),
    },
    agentVersion: report.agentVersion,
  });
  return toBinary(AgentReportSchema, message);
}

function histogramFromWire(h: WireHistogram) {
  return {
    scale: h.scale,
    zeroCount: h.zeroCount,
    positive: { offset: h.offset, bucketCounts: h.bucketCounts },
    count: h.count,
    sum: h.sum,
    min: h.min,
    max: h.max,
  };
}

/**
 * Parses protobuf bytes into the plain shape validateReport() checks (64-bit integers stay bigint
 * until then). Throws ProtocolError('undecodable') for anything protobuf-es cannot parse.
 */
export function parseReportProtobuf(bytes: Uint8Array): unknown {
  let wire: ReturnType<typeof fromBinary<typeof AgentReportSchema>>;
  try {
    // Unknown fields (a newer v3 agent) are skipped: they carry nothing this collector can use.
    wire = fromBinary(AgentReportSchema, bytes, { readUnknownFields: false });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProtocolError('undecodable', `body is not a valid protobuf AgentReport: ${reason}`);
  }
  return {
    ...wire,
    system: wire.system && { ...wire.system },
    process: wire.process && { ...wire.process },
    metrics: wire.metrics.map((m) => ({
      ...m,
      kind: FROM_WIRE_KIND[m.kind] ?? `unknown kind ${m.kind}`,
      histogram: m.histogram && histogramFromWire(m.histogram),
    })),
    events: wire.events.map((e) => ({
      name: e.name,
      timeMs: e.timeMs,
      fields: Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, v.value.value])),
    })),
  };
}
