// Property tests against hostile input: whatever bytes arrive, every RisingWave decoder returns a
// model or throws a ProtocolError (never another exception, never a hang), and what it returns is
// something a store can hold. Plus round trips: values encoded with the generated schema decode to
// the same values.
import { create, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import {
  BatchEventMessageSchema,
  CompactorReportSchema,
  ComputeReportSchema,
  EventMessageSchema,
  FrontendReportSchema,
  MetaReportSchema,
} from '../gen/risingwave/telemetry_pb.js';
import {
  CLUSTER_TYPES,
  type ClusterEvent,
  DATABASE_OBJECTS,
  EVENT_STAGES,
  META_BACKENDS,
  NODE_TYPES,
  type NodeReport,
  type NodeType,
  type ReportFlag,
  type SystemData,
} from '../model.js';
import { decodeV1Report } from './v1.js';
import {
  decodeV2Event,
  decodeV2EventBatch,
  decodeV2EventBatchRaw,
  decodeV2Report,
  objectStoreName,
  shortestFloat32,
} from './v2.js';

// ---------------------------------------------------------------------------------------------
// Bookkeeping: how many generated inputs and decoder calls ran.
// ---------------------------------------------------------------------------------------------
const tally = { inputs: 0, decodes: 0, accepted: 0, rejected: 0 };
const perTest = new Map<string, { inputs: number; accepted: number; rejected: number }>();

function count(what: 'inputs' | 'accepted' | 'rejected', n = 1): void {
  tally[what] += n;
  if (what !== 'inputs') tally.decodes += n;
  const name = expect.getState().currentTestName ?? '?';
  const row = perTest.get(name) ?? { inputs: 0, accepted: 0, rejected: 0 };
  row[what] += n;
  perTest.set(name, row);
}

afterAll(() => {
  const rows = [...perTest].map(
    ([name, r]) => `  ${r.inputs} cases, ${r.accepted} accepted, ${r.rejected} rejected: ${name}`,
  );
  console.log(
    `hostile.test.ts: ${tally.inputs} generated cases in total, ${tally.decodes} decoder calls ` +
      `(${tally.accepted} accepted, ${tally.rejected} rejected with a ProtocolError)\n${rows.join('\n')}`,
  );
});

/** No single decode may take longer than this (a proxy for "never hangs"). */
const SLOW_MS = 1000;

const FLAGS: readonly ReportFlag[] = [
  'number_clamped',
  'nul_replaced',
  'surrogate_replaced',
  'connector_usage_unparsable',
  'license_unparsable',
  'legacy_memory_total',
  'number_not_finite',
];
const PRINTABLE_ASCII = /^[\x20-\x7e]{1,128}$/;

/** Every value in a decoded model must be storable: no NUL, no bigint, no function, safe numbers. */
function assertStorable(value: unknown, path: string): void {
  switch (typeof value) {
    case 'string':
      if (value.includes('\0')) throw new Error(`${path} contains NUL`);
      if (/\p{Cs}/u.test(value)) throw new Error(`${path} contains a lone surrogate`);
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`${path} is ${value}`);
      // cpuAvailable is a float (a REAL column); every other number is an integer column.
      if (path.endsWith('.cpuAvailable')) return;
      if (!Number.isSafeInteger(value)) throw new Error(`${path} is not a safe integer: ${value}`);
      return;
    case 'boolean':
      return;
    case 'object':
      if (value === null) return;
      if (value instanceof Uint8Array) return;
      for (const [key, inner] of Object.entries(value)) assertStorable(inner, `${path}.${key}`);
      return;
    default:
      throw new Error(`${path} is a ${typeof value}`);
  }
}

function assertFlags(flags: readonly ReportFlag[], path: string): void {
  if (new Set(flags).size !== flags.length) throw new Error(`${path}.flags has duplicates: ${flags}`);
  for (const flag of flags) if (!FLAGS.includes(flag)) throw new Error(`${path}.flags has ${flag}`);
}

function oneOf<T>(value: T | null, allowed: readonly T[], path: string): void {
  if (value !== null && !allowed.includes(value)) throw new Error(`${path} is ${String(value)}`);
}

function assertReport(report: NodeReport, pathNodeType: NodeType): void {
  assertStorable(report, 'report');
  if (report.nodeType !== pathNodeType) throw new Error(`nodeType ${report.nodeType} for ${pathNodeType}`);
  if (!PRINTABLE_ASCII.test(report.trackingId)) throw new Error(`trackingId ${report.trackingId}`);
  if (report.reportTime < 0 || report.upTime < 0) throw new Error('negative time');
  assertFlags(report.flags, 'report');
  if (report.meta) {
    oneOf(report.meta.metaBackend, META_BACKENDS, 'meta.metaBackend');
    oneOf(report.meta.clusterType, CLUSTER_TYPES, 'meta.clusterType');
  }
}

function assertEvent(event: ClusterEvent): void {
  assertStorable(event, 'event');
  if (!PRINTABLE_ASCII.test(event.trackingId)) throw new Error(`trackingId ${event.trackingId}`);
  oneOf(event.stage, EVENT_STAGES, 'event.stage');
  oneOf(event.object, DATABASE_OBJECTS, 'event.object');
  assertFlags(event.flags, 'event');
}

type Decoder = { name: string; decode: (bytes: Uint8Array) => void };

const V2_DECODERS: Decoder[] = [
  ...NODE_TYPES.map((nodeType) => ({
    name: `decodeV2Report(${nodeType})`,
    decode: (bytes: Uint8Array) => assertReport(decodeV2Report(nodeType, bytes), nodeType),
  })),
  { name: 'decodeV2EventBatch', decode: (bytes) => decodeV2EventBatch(bytes).forEach(assertEvent) },
  {
    name: 'decodeV2EventBatchRaw',
    decode: (bytes) => {
      for (const { event, raw } of decodeV2EventBatchRaw(bytes)) {
        assertEvent(event);
        if (!(raw instanceof Uint8Array)) throw new Error('raw is not bytes');
      }
    },
  },
  { name: 'decodeV2Event', decode: (bytes) => assertEvent(decodeV2Event(bytes)) },
];

const V1_DECODERS: Decoder[] = NODE_TYPES.map((nodeType) => ({
  name: `decodeV1Report(${nodeType})`,
  decode: (bytes: Uint8Array) => assertReport(decodeV1Report(nodeType, bytes), nodeType),
}));

const hex = (bytes: Uint8Array) => Buffer.from(bytes.subarray(0, 200)).toString('hex');

/** Runs every decoder on the bytes: each must return a storable model or throw a ProtocolError. */
function decodeAll(decoders: Decoder[], bytes: Uint8Array): void {
  count('inputs');
  for (const { name, decode } of decoders) {
    const started = performance.now();
    try {
      decode(bytes);
      count('accepted');
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        throw new Error(`${name} threw ${String(error)} (not a ProtocolError) for ${hex(bytes)}`);
      }
      if (![400, 404, 413, 415].includes(error.status) || !/^[a-z_]+$/.test(error.code)) {
        throw new Error(`${name} threw a malformed ProtocolError ${error.code}/${error.status}`);
      }
      count('rejected');
    }
    const elapsed = performance.now() - started;
    if (elapsed > SLOW_MS) throw new Error(`${name} took ${elapsed.toFixed(0)} ms for ${hex(bytes)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries for valid messages (encoded with the generated schema: fine here, the golden tests
// prove the schema against hand-written bytes).
// ---------------------------------------------------------------------------------------------
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const printable = (minLength: number, maxLength: number) =>
  fc.string({ unit: 'grapheme-ascii', minLength, maxLength });
/** A valid tracking id: printable, and not `.` or `..` (refused: no URL can address them). */
const trackingIds = printable(1, 128).filter((id) => id !== '.' && id !== '..');
/** Any text, NUL and astral characters included (no lone surrogates: they are not UTF-8). */
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', '\0', 'a\0b', '\uFEFF', '\uFEFFa'),
);
/** Words inside the embedded JSON texts: mostly printable, sometimes with NUL or control characters. */
const word = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('\0', 'KAFKA\0', 'Upsert') },
);
const uint64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: 2n ** 40n }),
  fc.constantFrom(0n, MAX_SAFE, MAX_SAFE + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n),
);
const int64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(-MAX_SAFE - 1n, -MAX_SAFE, -1n, 0n, MAX_SAFE, MAX_SAFE + 1n),
);
const uint32 = fc.nat({ max: 0xffffffff });
/** Enum numbers: known values, UNSPECIFIED, unknown ones and negative ones (open proto3 enums). */
const enumNumber = fc.integer({ min: -2, max: 9 });

const systemDataInit: fc.Arbitrary<SystemInit> = fc.record(
  {
    memory: fc.record({ used: uint64, total: uint64 }),
    os: fc.record({ name: anyText, version: anyText, kernelVersion: anyText }),
    cpu: fc.record({ available: fc.float() }),
  },
  { requiredKeys: [] },
);

const baseInit = (nodeType: number): fc.Arbitrary<BaseInit> =>
  fc.record({
    trackingId: trackingIds,
    sessionId: printable(0, 128),
    systemData: fc.option(systemDataInit, { nil: undefined }),
    upTime: uint64,
    reportTime: uint64,
    nodeType: fc.constant(nodeType),
    isTest: fc.boolean(),
  });

interface SystemInit {
  memory?: { used: bigint; total: bigint };
  os?: { name: string; version: string; kernelVersion: string };
  cpu?: { available: number };
}

interface BaseInit {
  trackingId: string;
  sessionId: string;
  systemData?: SystemInit | undefined;
  upTime: bigint;
  reportTime: bigint;
  nodeType: number;
  isTest: boolean;
}

const usageEntry = fc.record({
  id: fc.nat().map(String),
  connector: fc.option(word, { nil: undefined }),
  format: fc.option(word, { nil: undefined }),
  encode: fc.option(word, { nil: undefined }),
});
const connectorUsage = fc.record({
  source: fc.array(usageEntry, { maxLength: 4 }),
  sink: fc.array(usageEntry, { maxLength: 4 }),
});
const license = fc.oneof(
  fc.record({
    sub: fc.option(word, { nil: undefined }),
    iss: fc.constant('prod.risingwave.com'),
    tier: fc.option(word, { nil: undefined }),
    rwu_limit: fc.nat(),
    exp: fc.nat(),
  }),
  fc.record({ error: anyText }),
);

const metaInit = fc.record({
  base: baseInit(1),
  metaBackend: enumNumber,
  nodeCount: fc.option(fc.record({ meta: uint32, compute: uint32, frontend: uint32, compactor: uint32 }), {
    nil: undefined,
  }),
  rwVersion: fc.option(fc.record({ rwVersion: anyText, gitSha: anyText }), { nil: undefined }),
  streamJobCount: uint32,
  streamJobs: fc.array(
    fc.record({
      tableId: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      connectorName: fc.option(anyText, { nil: undefined }),
      planOptimizations: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    }),
    { maxLength: 5 },
  ),
  clusterType: enumNumber,
  objectStoreMediaType: anyText,
  usage: fc.option(connectorUsage, { nil: undefined }),
  license: fc.option(license, { nil: undefined }),
});

type MetaInit = typeof metaInit extends fc.Arbitrary<infer T> ? T : never;

const eventInit = fc.record({
  trackingId: trackingIds,
  eventTimeSec: uint64,
  eventStage: enumNumber,
  eventName: anyText,
  connectorName: fc.option(anyText, { nil: undefined }),
  catalogId: int64,
  attributes: fc.option(anyText, { nil: undefined }),
  node: anyText,
  object: fc.option(enumNumber, { nil: undefined }),
  isTest: fc.boolean(),
});

type EventInit = typeof eventInit extends fc.Arbitrary<infer T> ? T : never;

type Usage = NonNullable<MetaInit['usage']>;

/** RisingWave's shape: `{"source":[{"<id>":{"connector":..,"format":..,"encode":..}}],"sink":[...]}`. */
const usageJson = (usage: Usage) =>
  JSON.stringify({
    source: usage.source.map(({ id, ...desc }) => ({ [id]: desc })),
    sink: usage.sink.map(({ id, ...desc }) => ({ [id]: desc })),
  });

function encodeMeta(m: MetaInit): Uint8Array {
  const { usage, license: lic, ...fields } = m;
  return toBinary(
    MetaReportSchema,
    create(MetaReportSchema, {
      ...fields,
      connectorUsageJsonStr: usage ? usageJson(usage) : '',
      licenseInfoJsonStr: lic ? JSON.stringify(lic) : '',
    } as MessageInitShape<typeof MetaReportSchema>),
  );
}

const encodeEvent = (e: EventInit) =>
  toBinary(EventMessageSchema, create(EventMessageSchema, e as MessageInitShape<typeof EventMessageSchema>));

const encodeBatch = (events: EventInit[]) =>
  toBinary(
    BatchEventMessageSchema,
    create(BatchEventMessageSchema, {
      events: events as MessageInitShape<typeof EventMessageSchema>[],
    }),
  );

const NODE_SCHEMAS = {
  compute: ComputeReportSchema,
  frontend: FrontendReportSchema,
  compactor: CompactorReportSchema,
} as const;

const encodeNode = (nodeType: keyof typeof NODE_SCHEMAS, base: BaseInit) =>
  toBinary(
    NODE_SCHEMAS[nodeType],
    create(NODE_SCHEMAS[nodeType], { base } as MessageInitShape<typeof ComputeReportSchema>),
  );

// ---------------------------------------------------------------------------------------------
// The expected model, computed from the input by the rules of CONTRACT.md / model.ts.
// ---------------------------------------------------------------------------------------------
function expectedText(value: string | undefined, flags: Set<ReportFlag>): string | null {
  if (value === undefined || value === '') return null;
  if (value.includes('\0')) flags.add('nul_replaced');
  return value.replaceAll('\0', '\uFFFD');
}

function expectedUnsigned(value: bigint, flags: Set<ReportFlag>): number {
  if (value > MAX_SAFE) {
    flags.add('number_clamped');
    return Number.MAX_SAFE_INTEGER;
  }
  return Number(value);
}

function expectedSigned(value: bigint, flags: Set<ReportFlag>): number {
  if (value > MAX_SAFE || value < -MAX_SAFE) flags.add('number_clamped');
  return Number(value > MAX_SAFE ? MAX_SAFE : value < -MAX_SAFE ? -MAX_SAFE : value);
}

const expectedEnum = <T extends string>(value: number, names: readonly T[]): T | null =>
  value >= 1 && value <= names.length ? names[value - 1]! : null;

function expectedSystem(data: SystemInit | undefined, flags: Set<ReportFlag>): SystemData {
  const cpu = data?.cpu?.available;
  const system = {
    memoryUsed: data?.memory ? expectedUnsigned(data.memory.used, flags) : null,
    memoryTotal: data?.memory ? expectedUnsigned(data.memory.total, flags) : null,
    osName: expectedText(data?.os?.name, flags),
    osVersion: expectedText(data?.os?.version, flags),
    osKernel: expectedText(data?.os?.kernelVersion, flags),
    cpuAvailable: cpu === undefined ? null : Number.isFinite(cpu) ? shortestFloat32(cpu) : null,
  };
  // The CPU count is read last, so its flag comes after the other fields' flags.
  if (cpu !== undefined && !Number.isFinite(cpu)) flags.add('number_not_finite');
  return system;
}

function expectedBase(
  base: BaseInit,
  nodeType: NodeType,
  flags: Set<ReportFlag>,
): Omit<NodeReport, 'meta' | 'flags'> {
  return {
    protocol: 'risingwave_v2',
    trackingId: base.trackingId,
    sessionId: base.sessionId,
    nodeType,
    reportTime: expectedUnsigned(base.reportTime, flags),
    upTime: expectedUnsigned(base.upTime, flags),
    isTest: base.isTest,
    system: expectedSystem(base.systemData, flags),
  };
}

function expectedMeta(m: MetaInit): NodeReport {
  const flags = new Set<ReportFlag>();
  const common = expectedBase(m.base, 'meta', flags);
  const uses = m.usage
    ? (['source', 'sink'] as const).flatMap((kind) =>
        m.usage![kind].map((e) => ({
          kind,
          id: e.id,
          connector: expectedText(e.connector, flags)?.toLowerCase() ?? null,
          format: expectedText(e.format, flags)?.toLowerCase() ?? null,
          encode: expectedText(e.encode, flags)?.toLowerCase() ?? null,
        })),
      )
    : [];
  const lic = m.license && 'iss' in m.license ? m.license : undefined;
  const licenseTier = expectedText(lic?.tier, flags)?.toLowerCase() ?? null;
  const licenseSubject = expectedText(lic?.sub, flags);
  return {
    ...common,
    meta: {
      version: expectedText(m.rwVersion?.rwVersion, flags),
      gitSha: expectedText(m.rwVersion?.gitSha, flags),
      metaBackend: expectedEnum(m.metaBackend, META_BACKENDS),
      clusterType: expectedEnum(m.clusterType, CLUSTER_TYPES),
      nodeCount: m.nodeCount ?? null,
      streamJobCount: m.streamJobCount,
      streamJobs: m.streamJobs.map((job) => ({
        tableId: job.tableId,
        connectorName: expectedText(job.connectorName, flags)?.toLowerCase() ?? null,
      })),
      objectStore: objectStoreName(expectedText(m.objectStoreMediaType, flags)),
      connectorUsage: uses,
      connectorUsageJson: m.usage ? usageJson(m.usage) : null,
      licenseTier,
      licenseSubject,
    },
    flags: [...flags],
  };
}

function expectedEvent(e: EventInit): ClusterEvent {
  const flags = new Set<ReportFlag>();
  const stage = expectedEnum(e.eventStage, EVENT_STAGES);
  const object = e.object === undefined ? null : expectedEnum(e.object, DATABASE_OBJECTS);
  return {
    trackingId: e.trackingId,
    eventTimeSec: expectedUnsigned(e.eventTimeSec, flags),
    stage,
    unknownStage: stage === null && e.eventStage !== 0 ? e.eventStage : null,
    name: expectedText(e.eventName, flags) ?? '',
    connectorName: expectedText(e.connectorName, flags),
    catalogId: expectedSigned(e.catalogId, flags),
    attributes: expectedText(e.attributes, flags),
    node: expectedText(e.node, flags) ?? '',
    object,
    unknownObject: object === null && e.object !== undefined && e.object !== 0 ? e.object : null,
    isTest: e.isTest,
    flags: [...flags],
  };
}

/** Flags are a set: compare them sorted. */
const normalized = <T extends { flags: ReportFlag[] }>(value: T): T => ({
  ...value,
  flags: [...value.flags].sort(),
});

// ---------------------------------------------------------------------------------------------
// Hostile byte mutations of valid encodings.
// ---------------------------------------------------------------------------------------------
const tagBytes = (field: number, wireType: number): number[] => {
  const out: number[] = [];
  let v = field * 8 + wireType;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
};
const fieldNumber = fc.oneof(fc.integer({ min: 1, max: 16 }), fc.constant(2 ** 29 - 1));

const hostileFragment: fc.Arbitrary<number[]> = fc.oneof(
  // huge varints: the 10-byte maximum, and an 11-byte overlong one
  fieldNumber.map((f) => [...tagBytes(f, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
  fieldNumber.map((f) => [...tagBytes(f, 0), ...Array<number>(11).fill(0xff), 0x01]),
  // huge length prefixes: 2^32-1 and 2^31, and a length just past the end
  fieldNumber.map((f) => [...tagBytes(f, 2), 0xff, 0xff, 0xff, 0xff, 0x0f]),
  fieldNumber.map((f) => [...tagBytes(f, 2), 0x80, 0x80, 0x80, 0x80, 0x08]),
  fieldNumber.map((f) => [...tagBytes(f, 2), 0x7f, 0x01]),
  // a known field number with the wrong wire type (0-7, 6 and 7 do not exist), then some bytes
  fc
    .tuple(fieldNumber, fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 12 }))
    .map(([f, wt, rest]) => [...tagBytes(f, wt), ...rest]),
  // unbalanced and deeply nested groups
  fc.integer({ min: 1, max: 300 }).map((depth) => Array<number>(depth).fill(0x5b)), // field 11, start group
  fieldNumber.map((f) => tagBytes(f, 4)),
  // field number 0 and a packed list longer than the message
  fc.constant<number[]>([0x00, 0x01]),
  fc.constant<number[]>([0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => [...b]),
);

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; flips: Array<[number, number]> }
  | { kind: 'insert'; at: number; fragment: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), fragment: hostileFragment }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'truncate':
      return bytes.subarray(0, m.at % (bytes.length + 1));
    case 'flip': {
      const out = Uint8Array.from(bytes);
      if (out.length === 0) return out;
      for (const [at, mask] of m.flips) out[at % out.length] = (out[at % out.length] ?? 0) ^ mask;
      return out;
    }
    case 'insert': {
      const at = m.at % (bytes.length + 1);
      return Uint8Array.from([...bytes.subarray(0, at), ...m.fragment, ...bytes.subarray(at)]);
    }
  }
}

/** A valid encoding of any RisingWave v2 message. */
const validV2Body: fc.Arbitrary<Uint8Array> = fc.oneof(
  metaInit.map(encodeMeta),
  baseInit(2).map((b) => encodeNode('compute', b)),
  baseInit(3).map((b) => encodeNode('frontend', b)),
  baseInit(4).map((b) => encodeNode('compactor', b)),
  eventInit.map(encodeEvent),
  fc.array(eventInit, { maxLength: 4 }).map(encodeBatch),
);

// ---------------------------------------------------------------------------------------------
describe('RisingWave v2 decoders under hostile bytes', () => {
  it('answer arbitrary byte arrays with a model or a ProtocolError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => decodeAll(V2_DECODERS, bytes)),
      { numRuns: 6_000 },
    );
  });

  it('answer valid encodings that were truncated, bit-flipped or spliced with a model or a ProtocolError', () => {
    fc.assert(
      fc.property(validV2Body, fc.array(mutation, { minLength: 1, maxLength: 3 }), (bytes, mutations) => {
        decodeAll(V2_DECODERS, mutations.reduce<Uint8Array>(mutate, bytes));
      }),
      { numRuns: 5_000 },
    );
  });

  it('accept every valid encoding as it is', () => {
    fc.assert(
      fc.property(metaInit, (m) => {
        count('inputs');
        count('accepted');
        assertReport(decodeV2Report('meta', encodeMeta(m)), 'meta');
      }),
      { numRuns: 500 },
    );
  });

  it('reject pathological nesting and lengths quickly with a ProtocolError', () => {
    const nestedGroups = new Uint8Array(200_000).fill(0x5b); // field 11 start group, 200k deep
    const packedPastEnd = Uint8Array.from([
      ...[0x0a, 0x02, 0x30, 0x01], // base: node_type meta
      ...[0x32, 0x07, 0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00], // stream_jobs: plan_optimizations of 2^32-1 bytes
    ]);
    const manyEmptyEvents = new Uint8Array(2 * 100_000).map((_, i) => (i % 2 === 0 ? 0x0a : 0x00));
    const longVarintRun = new Uint8Array(1_000_000).fill(0x80);
    for (const bytes of [nestedGroups, packedPastEnd, manyEmptyEvents, longVarintRun]) {
      decodeAll(V2_DECODERS, bytes);
    }
    let status: number | undefined;
    try {
      decodeV2EventBatch(manyEmptyEvents);
    } catch (error) {
      status = error instanceof ProtocolError ? error.status : undefined;
    }
    expect(status).toBe(413);
  });
});

describe('RisingWave v2 round trips through the generated schema', () => {
  it('decodes any meta report to the values that were encoded', () => {
    fc.assert(
      fc.property(metaInit, (m) => {
        count('inputs');
        count('accepted');
        expect(normalized(decodeV2Report('meta', encodeMeta(m)))).toEqual(normalized(expectedMeta(m)));
      }),
      { numRuns: 1_000 },
    );
  });

  it('decodes any compute, frontend or compactor report to the values that were encoded', () => {
    const node = fc.constantFrom(['compute', 2], ['frontend', 3], ['compactor', 4]) as fc.Arbitrary<
      [keyof typeof NODE_SCHEMAS, number]
    >;
    fc.assert(
      fc.property(
        node.chain(([nodeType, wire]) => fc.tuple(fc.constant(nodeType), baseInit(wire))),
        ([nodeType, base]) => {
          count('inputs');
          count('accepted');
          const flags = new Set<ReportFlag>();
          const expected = { ...expectedBase(base, nodeType, flags), meta: null, flags: [...flags] };
          expect(normalized(decodeV2Report(nodeType, encodeNode(nodeType, base)))).toEqual(
            normalized(expected),
          );
        },
      ),
      { numRuns: 600 },
    );
  });

  it('decodes any single event and any batch of events to the values that were encoded', () => {
    fc.assert(
      fc.property(eventInit, fc.array(eventInit, { maxLength: 8 }), (one, batch) => {
        count('inputs');
        count('accepted', 3);
        expect(normalized(decodeV2Event(encodeEvent(one)))).toEqual(normalized(expectedEvent(one)));
        const expected = batch.map((e) => normalized(expectedEvent(e)));
        expect(decodeV2EventBatch(encodeBatch(batch)).map(normalized)).toEqual(expected);
        const raw = decodeV2EventBatchRaw(encodeBatch(batch));
        expect(raw.map((r) => normalized(r.event))).toEqual(expected);
        // Each raw piece is that event's own encoding.
        expect(raw.map((r) => r.raw)).toEqual(batch.map(encodeEvent));
      }),
      { numRuns: 600 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// v1 (JSON)
// ---------------------------------------------------------------------------------------------
const utf8 = (s: string) => new TextEncoder().encode(s);

const loose = fc.oneof(
  { weight: 8, arbitrary: fc.nat() },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, 1e300, 2 ** 64, '1', '', null, true, [], {}) },
);
const looseText = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);
const inheritedKeys = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'];

/** Objects shaped like v1 reports, with arbitrary (often wrong) values in every field. */
const v1Shaped = fc.record(
  {
    tracking_id: fc.oneof({ weight: 6, arbitrary: printable(1, 130) }, { weight: 1, arbitrary: looseText }),
    session_id: fc.oneof({ weight: 6, arbitrary: printable(0, 130) }, { weight: 1, arbitrary: looseText }),
    system_data: fc.oneof(
      fc.record(
        {
          memory: fc.oneof(
            fc.record({ used: loose, total: loose, available: loose }, { requiredKeys: [] }),
            loose,
          ),
          os: fc.oneof(
            fc.record(
              { name: looseText, kernel_version: looseText, version: looseText },
              { requiredKeys: [] },
            ),
            loose,
          ),
          cpu: fc.oneof(fc.record({ available: fc.oneof(fc.double(), loose) }, { requiredKeys: [] }), loose),
        },
        { requiredKeys: [] },
      ),
      loose,
    ),
    up_time: loose,
    time_stamp: loose,
    node_type: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('Meta', 'Compute', 'Frontend', 'Compactor') },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...inheritedKeys), looseText) },
    ),
    node_count: fc.oneof(
      fc.record(
        { meta_count: loose, compute_count: loose, frontend_count: loose, compactor_count: loose },
        { requiredKeys: [] },
      ),
      loose,
    ),
    meta_backend: fc.oneof(fc.constantFrom('Mem', 'Etcd', 'Sql', ...inheritedKeys), looseText),
    streaming_job_count: loose,
    rw_version: fc.oneof(fc.record({ version: looseText, git_sha: looseText }, { requiredKeys: [] }), loose),
    is_test: fc.oneof(fc.boolean(), loose),
  },
  { requiredKeys: [] },
);

describe('RisingWave v1 decoder under hostile input', () => {
  it('answers any JSON value with a model or a ProtocolError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => decodeAll(V1_DECODERS, utf8(JSON.stringify(value) ?? 'null'))),
      { numRuns: 2_500 },
    );
  });

  it('answers any string and any byte array with a model or a ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }).map(utf8), fc.uint8Array({ maxLength: 200 })),
        (bytes) => decodeAll(V1_DECODERS, bytes),
      ),
      { numRuns: 2_500 },
    );
  });

  it('answers report-shaped JSON with arbitrary values in every field with a storable model or a ProtocolError', () => {
    fc.assert(
      fc.property(v1Shaped, (value) => decodeAll(V1_DECODERS, utf8(JSON.stringify(value)))),
      { numRuns: 5_000 },
    );
  });

  it('answers truncated or bit-flipped report JSON with a model or a ProtocolError', () => {
    fc.assert(
      fc.property(v1Shaped, fc.array(mutation, { minLength: 1, maxLength: 2 }), (value, mutations) => {
        decodeAll(V1_DECODERS, mutations.reduce<Uint8Array>(mutate, utf8(JSON.stringify(value))));
      }),
      { numRuns: 2_000 },
    );
  });
});
