// The exact bytes a simulated node sends: RisingWave v2 protobuf (generated schemas), v1 JSON,
// v2 events, and the Tidewatch agent's native report. Which fields a version sends is decided by
// its Release (RISINGWAVE-WIRE.md: fields were added over time).
import { create, toBinary } from '@bufbuild/protobuf';
import {
  type AgentReport,
  encodeReportJson,
  encodeReportProtobuf,
  risingwaveWire as rw,
} from '@tidewatch/protocol';
import type { ClusterType, MetaBackend, Nodes, Release } from './fleet.js';

export type NodeName = 'meta' | 'compute' | 'frontend' | 'compactor';

export interface Job {
  id: number;
  kind: 'source' | 'sink' | 'mv' | 'table';
  connector: string | null;
  format: string | null;
  encode: string | null;
}

export interface BaseFacts {
  trackingId: string;
  sessionId: string;
  node: NodeName;
  /** Unix seconds, the node's clock. */
  reportTime: number;
  upTime: number;
  isTest: boolean;
  memoryUsed: number;
  memoryTotal: number;
  os: { name: string; version: string; kernel: string };
  cpus: number;
}

export interface MetaFacts {
  release: Release;
  metaBackend: MetaBackend;
  nodes: Nodes;
  jobs: readonly Job[];
  clusterType: ClusterType;
  objectStore: string;
  licenseJson: string;
}

const NODE = {
  meta: rw.TelemetryNodeType.META,
  compute: rw.TelemetryNodeType.COMPUTE,
  frontend: rw.TelemetryNodeType.FRONTEND,
  compactor: rw.TelemetryNodeType.COMPACTOR,
} as const;
const BACKEND = {
  etcd: rw.MetaBackend.ETCD,
  rdb: rw.MetaBackend.RDB,
  memory: rw.MetaBackend.MEMORY,
} as const;
const CLUSTER_TYPE = {
  kubernetes: rw.TelemetryClusterType.KUBERNETES,
  docker_compose: rw.TelemetryClusterType.DOCKER_COMPOSE,
  single_node: rw.TelemetryClusterType.SINGLE_NODE,
  cloud_hosted: rw.TelemetryClusterType.CLOUD_HOSTED,
} as const;

/** `{"source":[{"<id>":{connector,format,encode}}],"sink":[...]}` as RisingWave writes it. */
function connectorUsage(jobs: readonly Job[]): string {
  const entry = (j: Job) => ({
    [String(j.id)]: { connector: j.connector, format: j.format, encode: j.encode },
  });
  return JSON.stringify({
    source: jobs.filter((j) => j.kind === 'source').map(entry),
    sink: jobs.filter((j) => j.kind === 'sink').map(entry),
  });
}

export function v2Report(b: BaseFacts, meta: MetaFacts | null): Uint8Array {
  const base = create(rw.ReportBaseSchema, {
    trackingId: b.trackingId,
    sessionId: b.sessionId,
    upTime: BigInt(b.upTime),
    reportTime: BigInt(b.reportTime),
    nodeType: NODE[b.node],
    isTest: b.isTest,
    systemData: {
      memory: { used: BigInt(b.memoryUsed), total: BigInt(b.memoryTotal) },
      os: { name: b.os.name, version: b.os.version, kernelVersion: b.os.kernel },
      cpu: { available: b.cpus },
    },
  });
  if (b.node === 'compute') return toBinary(rw.ComputeReportSchema, create(rw.ComputeReportSchema, { base }));
  if (b.node === 'frontend')
    return toBinary(rw.FrontendReportSchema, create(rw.FrontendReportSchema, { base }));
  if (b.node === 'compactor')
    return toBinary(rw.CompactorReportSchema, create(rw.CompactorReportSchema, { base }));
  if (!meta) throw new Error('a meta report needs its meta facts');
  const r = meta.release;
  return toBinary(
    rw.MetaReportSchema,
    create(rw.MetaReportSchema, {
      base,
      metaBackend: BACKEND[meta.metaBackend],
      nodeCount: meta.nodes,
      rwVersion: { rwVersion: r.version, gitSha: r.gitSha },
      streamJobCount: meta.jobs.length,
      streamJobs: meta.jobs.map((j) => ({
        tableId: j.id,
        ...(j.kind === 'source' && j.connector ? { connectorName: j.connector } : {}),
      })),
      clusterType: r.hasClusterType ? CLUSTER_TYPE[meta.clusterType] : rw.TelemetryClusterType.UNSPECIFIED,
      objectStoreMediaType: r.hasObjectStore ? meta.objectStore : '',
      connectorUsageJsonStr: r.hasConnectorUsage ? connectorUsage(meta.jobs) : '',
      licenseInfoJsonStr: r.hasLicense ? meta.licenseJson : '',
    }),
  );
}

const V1_NODE = { meta: 'Meta', compute: 'Compute', frontend: 'Frontend', compactor: 'Compactor' } as const;
const V1_BACKEND = { etcd: 'Etcd', rdb: 'Sql', memory: 'Mem' } as const;

/** Legacy v1 JSON (RisingWave ≤ 1.7): flattened base, enums as strings, no version. */
export function v1Report(b: BaseFacts, meta: MetaFacts | null, legacyMemory: boolean): Uint8Array {
  const body: Record<string, unknown> = {
    tracking_id: b.trackingId,
    session_id: b.sessionId,
    system_data: {
      // Up to 1.4, `available` held the machine's memory (1.5 renamed it `total`) and `total` was
      // used + available, an over-count (the collector keeps `available` as the total).
      memory: legacyMemory
        ? { available: b.memoryTotal, used: b.memoryUsed, total: b.memoryUsed + b.memoryTotal }
        : { used: b.memoryUsed, total: b.memoryTotal },
      os: { name: b.os.name, kernel_version: b.os.kernel, version: b.os.version },
      cpu: { available: b.cpus },
    },
    up_time: b.upTime,
    time_stamp: b.reportTime,
    node_type: V1_NODE[b.node],
  };
  if (meta) {
    body.node_count = {
      meta_count: legacyMemory ? 0 : meta.nodes.meta,
      compute_count: meta.nodes.compute,
      frontend_count: meta.nodes.frontend,
      compactor_count: meta.nodes.compactor,
    };
    body.meta_backend = V1_BACKEND[meta.metaBackend];
  }
  if (b.isTest) body.is_test = true;
  return new TextEncoder().encode(JSON.stringify(body));
}

export interface EventFacts {
  trackingId: string;
  timeSec: number;
  stage: 'create_stream_job' | 'drop_stream_job' | 'recovery' | 'unspecified';
  name: string;
  node: string;
  catalogId: number;
  connector?: string | undefined;
  attributes?: string | undefined;
  object?: 'source' | 'sink' | undefined;
  isTest: boolean;
}

const STAGE = {
  create_stream_job: rw.TelemetryEventStage.CREATE_STREAM_JOB,
  drop_stream_job: rw.TelemetryEventStage.DROP_STREAM_JOB,
  recovery: rw.TelemetryEventStage.RECOVERY,
  unspecified: rw.TelemetryEventStage.UNSPECIFIED,
} as const;
const OBJECT = { source: rw.TelemetryDatabaseObject.SOURCE, sink: rw.TelemetryDatabaseObject.SINK } as const;

function eventMessage(e: EventFacts) {
  return create(rw.EventMessageSchema, {
    trackingId: e.trackingId,
    eventTimeSec: BigInt(e.timeSec),
    eventStage: STAGE[e.stage],
    eventName: e.name,
    catalogId: BigInt(e.catalogId),
    node: e.node,
    isTest: e.isTest,
    ...(e.connector === undefined ? {} : { connectorName: e.connector }),
    ...(e.attributes === undefined ? {} : { attributes: e.attributes }),
    ...(e.object === undefined ? {} : { object: OBJECT[e.object] }),
  });
}

/** One EventMessage: RisingWave 2.0/2.1 post each event alone to /api/v2/report/event. */
export function v2Event(e: EventFacts): Uint8Array {
  return toBinary(rw.EventMessageSchema, eventMessage(e));
}

/** A BatchEventMessage for /api/v2/report/events (2.2 and later). */
export function v2EventBatch(events: readonly EventFacts[]): Uint8Array {
  return toBinary(
    rw.BatchEventMessageSchema,
    create(rw.BatchEventMessageSchema, { events: events.map(eventMessage) }),
  );
}

export function agentReportBytes(report: AgentReport, protobuf: boolean): Uint8Array {
  return protobuf ? encodeReportProtobuf(report) : encodeReportJson(report);
}
