// RisingWave legacy protocol v1 (up to 1.7.x): compact JSON to /api/v1/report/{node}, with the
// base fields flattened to the top level and enums as strings (RISINGWAVE-WIRE.md).
import { ProtocolError } from '../errors.js';
import { Flags, finite, sessionId, text, trackingId, unsigned } from '../fields.js';
import type { MetaBackend, NodeReport, NodeType, SystemData } from '../model.js';

type Json = Record<string, unknown>;

const V1_NODE_TYPES: Record<string, NodeType> = {
  Meta: 'meta',
  Compute: 'compute',
  Frontend: 'frontend',
  Compactor: 'compactor',
};

const V1_META_BACKENDS: Record<string, MetaBackend> = { Mem: 'memory', Etcd: 'etcd', Sql: 'rdb' };

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An optional nested object: absent is fine, any other type is garbage. */
function object(value: unknown, field: string): Json | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new ProtocolError('invalid_field', `${field} must be an object`);
  return value;
}

function system(json: Json, flags: Flags): SystemData {
  const data = object(json['system_data'], 'system_data');
  const memory = object(data?.['memory'], 'system_data.memory');
  const os = object(data?.['os'], 'system_data.os');
  const cpu = object(data?.['cpu'], 'system_data.cpu');
  const used = memory && 'used' in memory ? unsigned(memory['used'], 'system_data.memory.used', flags) : null;
  let total: number | null =
    memory && 'total' in memory ? unsigned(memory['total'], 'system_data.memory.total', flags) : null;
  // Up to 1.4.x, `available` held the machine's (or cgroup's) memory and `total` was used +
  // available, an over-count; 1.5 renamed that same value to `total` (RisingWave's
  // telemetry/mod.rs: `available = system_memory_available_bytes()`, in 1.5 `total = …`). So the
  // real total is `available`; the report is flagged so it can be told apart.
  if (memory && 'available' in memory) {
    total = unsigned(memory['available'], 'system_data.memory.available', flags);
    flags.add('legacy_memory_total');
  }
  return {
    memoryUsed: used,
    memoryTotal: total,
    osName: text(os?.['name'], 'system_data.os.name', flags),
    osVersion: text(os?.['version'], 'system_data.os.version', flags),
    osKernel: text(os?.['kernel_version'], 'system_data.os.kernel_version', flags),
    cpuAvailable: finite(cpu?.['available'], 'system_data.cpu.available', flags),
  };
}

function parseJson(body: Uint8Array): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProtocolError('undecodable', `body is not valid UTF-8 JSON: ${reason}`);
  }
  if (!isObject(parsed)) throw new ProtocolError('invalid_report', 'body must be a JSON object');
  return parsed;
}

/** Node counts are uint32 in v2: larger v1 values are clamped (and flagged) to match. */
function count(node: Json | undefined, field: string, flags: Flags): number {
  const value = unsigned(node?.[field], `node_count.${field}`, flags);
  if (value <= 0xffffffff) return value;
  flags.add('number_clamped');
  return 0xffffffff;
}

/** Decodes the body of `POST /api/v1/report/{nodeType}`. */
export function decodeV1Report(nodeType: NodeType, body: Uint8Array): NodeReport {
  const json = parseJson(body);
  const flags = new Flags();
  const wireNodeType = json['node_type'];
  // Own keys only: a body saying "toString" must not pick up Object.prototype's members.
  const bodyNodeType =
    typeof wireNodeType === 'string' && Object.hasOwn(V1_NODE_TYPES, wireNodeType)
      ? V1_NODE_TYPES[wireNodeType]
      : undefined;
  if (bodyNodeType !== nodeType) {
    const said =
      wireNodeType === undefined || wireNodeType === null
        ? 'the body has no node_type'
        : `the body's node_type is ${JSON.stringify(wireNodeType)}`;
    throw new ProtocolError('node_type_mismatch', `the path says ${nodeType} but ${said}`);
  }
  const report: NodeReport = {
    protocol: 'risingwave_v1',
    trackingId: trackingId(json['tracking_id']),
    sessionId: sessionId(json['session_id']),
    nodeType,
    reportTime: unsigned(json['time_stamp'], 'time_stamp', flags),
    upTime: unsigned(json['up_time'], 'up_time', flags),
    isTest: json['is_test'] === true,
    system: system(json, flags),
    meta: null,
    flags: flags.list,
  };
  if (nodeType !== 'meta') return report;

  const nodeCount = object(json['node_count'], 'node_count');
  const version = object(json['rw_version'], 'rw_version');
  const backend = json['meta_backend'];
  const jobCount = json['streaming_job_count'];
  report.meta = {
    // Released 1.x versions sent no version at all: unknown, not a reason to reject.
    version: text(version?.['version'], 'rw_version.version', flags),
    gitSha: text(version?.['git_sha'], 'rw_version.git_sha', flags),
    metaBackend:
      typeof backend === 'string' && Object.hasOwn(V1_META_BACKENDS, backend)
        ? V1_META_BACKENDS[backend]!
        : null,
    clusterType: null,
    nodeCount: nodeCount
      ? {
          meta: count(nodeCount, 'meta_count', flags),
          compute: count(nodeCount, 'compute_count', flags),
          frontend: count(nodeCount, 'frontend_count', flags),
          compactor: count(nodeCount, 'compactor_count', flags),
        }
      : null,
    streamJobCount:
      jobCount === undefined || jobCount === null ? null : unsigned(jobCount, 'streaming_job_count', flags),
    streamJobs: [],
    objectStore: null,
    connectorUsage: [],
    connectorUsageJson: null,
    licenseTier: null,
    licenseSubject: null,
  };
  return report;
}
