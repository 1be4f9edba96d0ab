// RisingWave wire messages for tests, built with the generated protobuf code (the protocol
// package's golden tests prove that code matches the real wire format byte for byte).
import { randomUUID } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { risingwaveWire as rw } from '@tidewatch/protocol';

type NodeName = 'meta' | 'compute' | 'frontend' | 'compactor';

const NODE_ENUM: Record<NodeName, rw.TelemetryNodeType> = {
  meta: rw.TelemetryNodeType.META,
  compute: rw.TelemetryNodeType.COMPUTE,
  frontend: rw.TelemetryNodeType.FRONTEND,
  compactor: rw.TelemetryNodeType.COMPACTOR,
};

export interface BaseOptions {
  /** Bytes of memory of the node's machine. */
  memoryTotal?: number;
  trackingId?: string;
  sessionId?: string;
  reportTime?: number;
  upTime?: number;
  isTest?: boolean;
  nodeType?: rw.TelemetryNodeType;
}

function base(node: NodeName, o: BaseOptions) {
  return create(rw.ReportBaseSchema, {
    trackingId: o.trackingId ?? randomUUID(),
    sessionId: o.sessionId ?? randomUUID(),
    upTime: BigInt(o.upTime ?? 3600),
    reportTime: BigInt(o.reportTime ?? 1_764_000_000),
    nodeType: o.nodeType ?? NODE_ENUM[node],
    isTest: o.isTest ?? false,
    systemData: {
      memory: { used: 3_221_225_472n, total: BigInt(o.memoryTotal ?? 8_589_934_592) },
      os: { name: 'Ubuntu', version: '22.04', kernelVersion: '5.15.0-1051-aws' },
      cpu: { available: 4 },
    },
  });
}

export const CONNECTOR_USAGE = JSON.stringify({
  source: [{ '7': { connector: 'kafka', format: 'plain', encode: 'json' } }],
  sink: [{ '9': { connector: 'iceberg', format: 'upsert', encode: 'parquet' } }],
});

export interface MetaOptions extends BaseOptions {
  version?: string;
  computeNodes?: number;
  streamJobCount?: number;
  licenseTier?: string;
  connectorUsage?: string;
  /** license_info_json_str as sent, instead of the usual paid license of ACME Corp. */
  licenseJson?: string;
}

export function metaReport(o: MetaOptions = {}): Uint8Array {
  return toBinary(
    rw.MetaReportSchema,
    create(rw.MetaReportSchema, {
      base: base('meta', o),
      metaBackend: rw.MetaBackend.RDB,
      nodeCount: { meta: 1, compute: o.computeNodes ?? 3, frontend: 2, compactor: 1 },
      rwVersion: { rwVersion: o.version ?? '2.4.1', gitSha: 'a1b2c3d4e5f6' },
      streamJobCount: o.streamJobCount ?? 5,
      streamJobs: [
        { tableId: 7, connectorName: 'kafka' },
        { tableId: 8, connectorName: 'postgres-cdc' },
        { tableId: 10 },
      ],
      clusterType: rw.TelemetryClusterType.KUBERNETES,
      objectStoreMediaType: 's3',
      connectorUsageJsonStr: o.connectorUsage ?? CONNECTOR_USAGE,
      licenseInfoJsonStr:
        o.licenseJson ??
        JSON.stringify({
          sub: 'ACME Corp',
          iss: 'prod.risingwave.com',
          tier: o.licenseTier ?? 'paid',
          exp: 1_900_000_000,
        }),
    }),
  );
}

export function nodeReport(node: Exclude<NodeName, 'meta'>, o: BaseOptions = {}): Uint8Array {
  const message = { base: base(node, o) };
  if (node === 'compute') return toBinary(rw.ComputeReportSchema, create(rw.ComputeReportSchema, message));
  if (node === 'frontend') return toBinary(rw.FrontendReportSchema, create(rw.FrontendReportSchema, message));
  return toBinary(rw.CompactorReportSchema, create(rw.CompactorReportSchema, message));
}

export interface EventOptions {
  trackingId: string;
  name?: string;
  eventTimeSec?: number;
  stage?: rw.TelemetryEventStage;
  isTest?: boolean;
  catalogId?: number;
  /** null: none (a license check or a connection has no connector). */
  connectorName?: string | null;
  /** TelemetryDatabaseObject's number (any, known to this version or not). */
  object?: number;
  /** The sending part of RisingWave (default `meta`; license checks say `paywall`). */
  node?: string;
}

function eventMessage(o: EventOptions) {
  return create(rw.EventMessageSchema, {
    trackingId: o.trackingId,
    eventTimeSec: BigInt(o.eventTimeSec ?? 1_764_000_000),
    eventStage: o.stage ?? rw.TelemetryEventStage.CREATE_STREAM_JOB,
    eventName: o.name ?? 'source',
    connectorName: o.connectorName === null ? undefined : (o.connectorName ?? 'kafka'),
    catalogId: BigInt(o.catalogId ?? 42),
    attributes: '{"format":"plain","encode":"json"}',
    node: o.node ?? 'meta',
    object: o.object ?? rw.TelemetryDatabaseObject.SOURCE,
    isTest: o.isTest ?? false,
  });
}

export function event(o: EventOptions): Uint8Array {
  return toBinary(rw.EventMessageSchema, eventMessage(o));
}

/** One event with its attributes (a JSON text RisingWave embeds) as given. */
export function eventMessageWith(o: EventOptions & { attributes: string }): Uint8Array {
  const message = eventMessage(o);
  message.attributes = o.attributes;
  return toBinary(rw.EventMessageSchema, message);
}

export function eventBatch(events: EventOptions[]): Uint8Array {
  return toBinary(
    rw.BatchEventMessageSchema,
    create(rw.BatchEventMessageSchema, { events: events.map(eventMessage) }),
  );
}

/** The v1 example of RISINGWAVE-WIRE.md. */
export function v1MetaReport(
  o: { trackingId?: string; sessionId?: string; timeStamp?: number; isTest?: boolean } = {},
) {
  return JSON.stringify({
    tracking_id: o.trackingId ?? '5c0a7e8d-1f0b-4c1e-9a55-3d2f0c9e7b11',
    session_id: o.sessionId ?? '0d6f2b8e-7a3c-4f5d-8e21-6b9c1a2d3e4f',
    system_data: {
      memory: { used: 3221225472, total: 8589934592 },
      os: { name: 'Ubuntu', kernel_version: '5.15.0-1051-aws', version: '22.04' },
      cpu: { available: 4.0 },
    },
    up_time: 21600,
    time_stamp: o.timeStamp ?? 1709280000,
    node_type: 'Meta',
    node_count: { meta_count: 1, compute_count: 2, frontend_count: 1, compactor_count: 1 },
    meta_backend: 'Etcd',
    ...(o.isTest ? { is_test: true } : {}),
  });
}
