// RisingWave protocol v2: binary protobuf bodies (proto/risingwave/telemetry.proto) to
// /api/v2/report/{node}, /api/v2/report/events and /api/v2/report/event.
import { type DescMessage, fromBinary, type MessageShape } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { parseConnectorUsage, parseLicense } from '../embedded-json.js';
import { ProtocolError } from '../errors.js';
import { enumName, Flags, finite, sessionId, signed, text, trackingId, unsigned } from '../fields.js';
import { type EventMessage, EventMessageSchema } from '../gen/risingwave/telemetry_pb.js';
import { LIMITS } from '../limits.js';
import {
  CLUSTER_TYPES,
  type ClusterEvent,
  DATABASE_OBJECTS,
  EVENT_STAGES,
  META_BACKENDS,
  NODE_TYPES,
  type NodeReport,
  type NodeType,
  type SystemData,
} from '../model.js';
import {
  readNodeReport,
  TooManyStreamJobs,
  type WireNodeReport,
  type WireSystemData,
} from './node-report-reader.js';
import '../utf8.js'; // strings keep a leading U+FEFF

/** protobuf-es throws plain Errors (and RangeErrors on absurd lengths): all mean "undecodable". */
function parse<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array, what: string): MessageShape<Desc> {
  try {
    // Unknown fields (from newer RisingWave versions) are skipped here; the collector keeps the
    // raw body, so nothing a newer cluster sends is lost.
    return fromBinary(schema, bytes, { readUnknownFields: false });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProtocolError('undecodable', `body is not a valid protobuf ${what}: ${reason}`);
  }
}

/**
 * The object store in one spelling. RisingWave's native stores send `s3` and `mem`, the OpenDAL
 * ones their engine's name capitalised (`S3`, `Memory`, `Gcs`, `Hdfs`, `Minio`, …;
 * opendal_object_store.rs), and S3 goes either way (`use_opendal`): lower-cased, with `memory` as
 * `mem`, a breakdown has one row per store. The raw body keeps what was sent.
 */
export function objectStoreName(name: string | null): string | null {
  const lower = name?.toLowerCase() ?? null;
  return lower === 'memory' ? 'mem' : lower;
}

/**
 * A float field (the CPUs available) as its shortest decimal: 2.3 travels as the float32
 * 2.299999952316284, and the v1 JSON route stores 2.3 for the same machine.
 */
export function shortestFloat32(value: number | null): number | null {
  if (value === null) return null;
  for (let digits = 1; digits < 9; digits++) {
    const short = Number(value.toPrecision(digits));
    if (Math.fround(short) === value) return short;
  }
  return value;
}

function system(data: WireSystemData | undefined, flags: Flags): SystemData {
  return {
    memoryUsed: data?.memory ? unsigned(data.memory.used, 'system_data.memory.used', flags) : null,
    memoryTotal: data?.memory ? unsigned(data.memory.total, 'system_data.memory.total', flags) : null,
    osName: text(data?.os?.name, 'system_data.os.name', flags),
    osVersion: text(data?.os?.version, 'system_data.os.version', flags),
    osKernel: text(data?.os?.kernelVersion, 'system_data.os.kernel_version', flags),
    cpuAvailable: data?.cpu
      ? shortestFloat32(finite(data.cpu.available, 'system_data.cpu.available', flags))
      : null,
  };
}

/**
 * The report, built in one object literal: spreading a base object into it (`{...base, meta}`)
 * cost ~8 µs of the ~15 µs a meta report took to decode (V8 copies the spread object, then adds
 * the other properties one at a time). Properties are evaluated in order, so the base's fields are
 * checked (and flagged) before the meta report's, as before.
 */
function report(wire: WireNodeReport, pathNodeType: NodeType): NodeReport {
  const flags = new Flags();
  const common = wire.base;
  if (!common) throw new ProtocolError('invalid_report', 'report has no base (field 1)');
  const bodyNodeType = enumName(common.nodeType, NODE_TYPES);
  if (bodyNodeType !== pathNodeType) {
    throw new ProtocolError(
      'node_type_mismatch',
      `the path says ${pathNodeType} but the body's node_type is ${bodyNodeType ?? `unspecified (${common.nodeType})`}`,
    );
  }
  return {
    protocol: 'risingwave_v2',
    trackingId: trackingId(common.trackingId),
    sessionId: sessionId(common.sessionId),
    nodeType: pathNodeType,
    reportTime: unsigned(common.reportTime, 'report_time', flags),
    upTime: unsigned(common.upTime, 'up_time', flags),
    isTest: common.isTest,
    system: system(common.systemData, flags),
    meta: pathNodeType === 'meta' ? metaFacts(wire, flags) : null,
    flags: flags.list,
  };
}

/** MetaReport.license_info_json_str (RISINGWAVE-WIRE.md). */
const META_LICENSE_FIELD = 10;

function readReport(nodeType: NodeType, bytes: Uint8Array): WireNodeReport {
  try {
    // Stream jobs are counted as they are read: decoding 100,000 of them would cost a lot of CPU,
    // so an over-limit body is refused at the first one too many.
    return readNodeReport(bytes, nodeType === 'meta', LIMITS.streamJobsMax);
  } catch (error) {
    if (error instanceof TooManyStreamJobs) {
      throw new ProtocolError(
        'too_many_stream_jobs',
        `stream_jobs has more than ${LIMITS.streamJobsMax} entries`,
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProtocolError('undecodable', `body is not a valid protobuf ${nodeType} report: ${reason}`);
  }
}

/** Decodes the body of `POST /api/v2/report/{nodeType}`. */
export function decodeV2Report(nodeType: NodeType, bytes: Uint8Array): NodeReport {
  // An empty body decodes as a message without a base; say what it more likely is.
  if (bytes.length === 0) {
    throw new ProtocolError(
      'invalid_report',
      'the body is empty: a RisingWave v2 report is a protobuf message (with curl --data-binary @FILE, check that FILE exists)',
    );
  }
  return report(readReport(nodeType, bytes), nodeType);
}

/** The facts only a meta report carries. */
function metaFacts(wire: WireNodeReport, flags: Flags): NonNullable<NodeReport['meta']> {
  // No length limit but the body's (LIMITS.jsonStringMax says why).
  const connectorUsageJson = text(
    wire.connectorUsageJsonStr,
    'connector_usage_json_str',
    flags,
    Number.POSITIVE_INFINITY,
  );
  const license = parseLicense(
    text(wire.licenseInfoJsonStr, 'license_info_json_str', flags, Number.POSITIVE_INFINITY),
    flags,
  );
  return {
    version: text(wire.rwVersion?.rwVersion, 'rw_version.rw_version', flags),
    gitSha: text(wire.rwVersion?.gitSha, 'rw_version.git_sha', flags),
    metaBackend: enumName(wire.metaBackend, META_BACKENDS),
    clusterType: enumName(wire.clusterType, CLUSTER_TYPES),
    nodeCount: wire.nodeCount
      ? {
          meta: wire.nodeCount.meta,
          compute: wire.nodeCount.compute,
          frontend: wire.nodeCount.frontend,
          compactor: wire.nodeCount.compactor,
        }
      : null,
    streamJobCount: wire.streamJobCount,
    streamJobs: wire.streamJobs.map((job, i) => ({
      tableId: job.tableId,
      connectorName:
        text(job.connectorName, `stream_jobs[${i}].connector_name`, flags)?.toLowerCase() ?? null,
    })),
    objectStore: objectStoreName(text(wire.objectStoreMediaType, 'object_store_media_type', flags)),
    connectorUsage: parseConnectorUsage(connectorUsageJson, flags),
    connectorUsageJson,
    licenseTier: license.tier,
    licenseSubject: license.subject,
  };
}

function event(wire: EventMessage, field: string): ClusterEvent {
  const flags = new Flags();
  const stage = enumName(wire.eventStage, EVENT_STAGES);
  const object = wire.object === undefined ? null : enumName(wire.object, DATABASE_OBJECTS);
  return {
    trackingId: trackingId(wire.trackingId, `${field}.tracking_id`),
    eventTimeSec: unsigned(wire.eventTimeSec, `${field}.event_time_sec`, flags),
    stage,
    unknownStage: stage === null && wire.eventStage !== 0 ? wire.eventStage : null,
    name: text(wire.eventName, `${field}.event_name`, flags) ?? '',
    connectorName: text(wire.connectorName, `${field}.connector_name`, flags),
    catalogId: signed(wire.catalogId, flags),
    attributes: text(wire.attributes, `${field}.attributes`, flags, LIMITS.jsonStringMax),
    node: text(wire.node, `${field}.node`, flags) ?? '',
    object,
    unknownObject: object === null && wire.object !== undefined && wire.object !== 0 ? wire.object : null,
    isTest: wire.isTest,
    flags: flags.list,
  };
}

/** One event of a batch, with its own bytes (the raw payload the collector stores for it). */
export interface RawEvent {
  event: ClusterEvent;
  raw: Uint8Array;
}

/**
 * Decodes the body of `POST /api/v2/report/events` (a `BatchEventMessage`), keeping each event's
 * own bytes so unknown fields from newer RisingWave versions survive in the stored raw payload.
 */
export function decodeV2EventBatchRaw(bytes: Uint8Array): RawEvent[] {
  const pieces: Uint8Array[] = [];
  try {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1 && wireType !== WireType.LengthDelimited) {
        throw new Error(`field 1 (events) has wire type ${wireType}, expected length-delimited`);
      }
      if (field === 1) {
        pieces.push(reader.bytes());
        if (pieces.length > LIMITS.eventsPerBatchMax) break;
      } else {
        reader.skip(wireType, field);
      }
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProtocolError('undecodable', `body is not a valid protobuf BatchEventMessage: ${reason}`);
  }
  if (pieces.length > LIMITS.eventsPerBatchMax) {
    throw new ProtocolError(
      'too_many_events',
      `the batch has more than ${LIMITS.eventsPerBatchMax} events; the limit is ${LIMITS.eventsPerBatchMax}`,
      413,
    );
  }
  return pieces.map((raw, i) => ({
    event: event(parse(EventMessageSchema, raw, `BatchEventMessage (events[${i}])`), `events[${i}]`),
    raw,
  }));
}

/** Decodes the body of `POST /api/v2/report/events` (a `BatchEventMessage`). */
export function decodeV2EventBatch(bytes: Uint8Array): ClusterEvent[] {
  return decodeV2EventBatchRaw(bytes).map((e) => e.event);
}

/** Decodes the body of `POST /api/v2/report/event` (one `EventMessage`, RisingWave 2.0–2.2). */
export function decodeV2Event(bytes: Uint8Array): ClusterEvent {
  return event(parse(EventMessageSchema, bytes, 'EventMessage'), 'event');
}

/**
 * A meta report body with each license field (field 10, `license_info_json_str`) replaced by
 * `rewrite(licenseJson)`, or left as it is where that returns null; every other field is kept
 * (unknown ones too). With `redactLicenseJson` as the rewrite, the raw body a collector stores no
 * longer holds the license's `sub` (a customer name) in clear. The same bytes when nothing changed.
 */
export function redactV2LicenseSubject(
  bytes: Uint8Array,
  rewrite: (licenseJson: string) => string | null,
): Uint8Array {
  // Only field 10 changes, so it is spliced in place: decoding and re-encoding the whole report
  // doubled the decode cost of every meta report on the ingest path. Every occurrence of the field
  // is redacted (a decoder keeps the last; none may keep the name).
  const reader = new BinaryReader(bytes);
  const pieces: Uint8Array[] = [];
  let copiedTo = 0;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [field, wireType] = reader.tag();
    if (field !== META_LICENSE_FIELD || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field);
      continue;
    }
    const redacted = rewrite(reader.string());
    if (redacted === null) continue;
    pieces.push(bytes.subarray(copiedTo, start));
    pieces.push(
      new BinaryWriter().tag(META_LICENSE_FIELD, WireType.LengthDelimited).string(redacted).finish(),
    );
    copiedTo = reader.pos;
  }
  if (pieces.length === 0) return bytes;
  pieces.push(bytes.subarray(copiedTo));
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
