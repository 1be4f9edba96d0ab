// The one typed model every wire format decodes to (RisingWave v1 JSON, RisingWave v2 protobuf).
// The collector only ever sees these shapes; raw bytes stop at the decoders.
// Enum values are lower-case snake case without their prefix (CONTRACT.md); UNSPECIFIED or an
// unknown number becomes null.

export const NODE_TYPES = ['meta', 'compute', 'frontend', 'compactor'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export const CLUSTER_TYPES = ['single_node', 'docker_compose', 'kubernetes', 'cloud_hosted'] as const;
export type ClusterType = (typeof CLUSTER_TYPES)[number];

export const META_BACKENDS = ['memory', 'etcd', 'rdb'] as const;
export type MetaBackend = (typeof META_BACKENDS)[number];

export const EVENT_STAGES = [
  'create_stream_job',
  'update_stream_job',
  'drop_stream_job',
  'query',
  'recovery',
] as const;
export type EventStage = (typeof EVENT_STAGES)[number];

export const DATABASE_OBJECTS = ['source', 'mv', 'table', 'sink', 'index'] as const;
export type DatabaseObject = (typeof DATABASE_OBJECTS)[number];

/** Which wire format a report arrived in. */
export type WireProtocol = 'risingwave_v1' | 'risingwave_v2';

/**
 * Something odd noticed while decoding: the value is kept (RisingWave never retries, so rejecting
 * loses the report for good) and the flag is stored and counted.
 */
export type ReportFlag =
  | 'number_clamped' // a uint64 above 2^53-1 was clamped to Number.MAX_SAFE_INTEGER
  | 'number_not_finite' // a float was NaN or infinite: stored as null
  | 'nul_replaced' // a NUL character in a string was replaced with U+FFFD (no store can hold NUL)
  | 'surrogate_replaced' // a lone UTF-16 surrogate (a JSON \ud800 escape) was replaced with U+FFFD
  | 'connector_usage_unparsable' // connector_usage_json_str is not the JSON RisingWave writes
  | 'license_unparsable' // license_info_json_str is not JSON
  | 'legacy_memory_total'; // v1 up to 1.4: memory.total over-counted; the total kept is `available`

export interface SystemData {
  memoryUsed: number | null;
  memoryTotal: number | null;
  osName: string | null;
  osVersion: string | null;
  osKernel: string | null;
  /** Available CPUs (a float: RisingWave reports cgroup quotas like 1.5). */
  cpuAvailable: number | null;
}

export interface NodeCount {
  meta: number;
  compute: number;
  frontend: number;
  compactor: number;
}

export interface StreamJob {
  tableId: number;
  connectorName: string | null;
}

/** One source or sink from `connector_usage_json_str`. */
export interface ConnectorUse {
  kind: 'source' | 'sink';
  /** The catalog id RisingWave keys the entry by. */
  id: string;
  connector: string | null;
  format: string | null;
  encode: string | null;
}

/** Cluster-wide facts that only the meta leader reports. */
export interface MetaFacts {
  version: string | null;
  gitSha: string | null;
  metaBackend: MetaBackend | null;
  clusterType: ClusterType | null;
  nodeCount: NodeCount | null;
  streamJobCount: number | null;
  streamJobs: StreamJob[];
  objectStore: string | null;
  connectorUsage: ConnectorUse[];
  /** The JSON text as sent, kept for later questions. */
  connectorUsageJson: string | null;
  licenseTier: string | null;
  /** The license's `sub` (a customer name). Never stored in clear by the collector. */
  licenseSubject: string | null;
}

export interface NodeReport {
  protocol: WireProtocol;
  trackingId: string;
  sessionId: string;
  nodeType: NodeType;
  /** The client's clock (unix seconds) as sent. Informational: "when" is the collector's receive time. */
  reportTime: number;
  /** Seconds since the node started. */
  upTime: number;
  isTest: boolean;
  system: SystemData;
  /** Present on meta reports only. */
  meta: MetaFacts | null;
  flags: ReportFlag[];
}

export interface ClusterEvent {
  trackingId: string;
  /** The client's clock (unix seconds) as sent. */
  eventTimeSec: number;
  stage: EventStage | null;
  /**
   * event_stage's number when it is one this version does not know (a newer RisingWave's; `stage`
   * is then null), else null. Two events that differ only there are two events (dedup key).
   */
  unknownStage: number | null;
  name: string;
  connectorName: string | null;
  catalogId: number;
  /** JSON text as sent (e.g. `{"format":"plain","encode":"json"}`). */
  attributes: string | null;
  /** `meta`, `frontend`, `compute`, `compactor` or `paywall`. */
  node: string;
  object: DatabaseObject | null;
  /** The same for `object`: its number when this version does not know it, else null. */
  unknownObject: number | null;
  isTest: boolean;
  flags: ReportFlag[];
}
