// The hand-written native report reader against the generated schema (protobuf-es `fromBinary`),
// compared where it matters: what validateReport makes of each reading. The same report or the same
// refusal for every message the schema can encode, and nothing accepted from random or mutated bytes
// that `fromBinary` would refuse or that would then validate differently.
import { readFileSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { AgentReportSchema } from '../gen/tidewatch/report_pb.js';
import { histogramOf } from './exp-histogram.js';
import type { AgentReport } from './model.js';
import { encodeReportProtobuf, parseReportProtobuf } from './protobuf.js';
import { validateReport } from './validate.js';

/** What the collector did before this reader: fromBinary, then the same plain shape. */
function referenceParse(bytes: Uint8Array): unknown {
  const wire = fromBinary(AgentReportSchema, bytes, { readUnknownFields: false });
  const kinds: Record<number, string> = { 1: 'counter', 2: 'gauge', 3: 'histogram' };
  return {
    ...wire,
    system: wire.system && { ...wire.system },
    process: wire.process && { ...wire.process },
    metrics: wire.metrics.map((m) => ({
      ...m,
      kind: kinds[m.kind] ?? `unknown kind ${m.kind}`,
      histogram: m.histogram && {
        scale: m.histogram.scale,
        zeroCount: m.histogram.zeroCount,
        positive: { offset: m.histogram.offset, bucketCounts: m.histogram.bucketCounts },
        count: m.histogram.count,
        sum: m.histogram.sum,
        min: m.histogram.min,
        max: m.histogram.max,
      },
    })),
    events: wire.events.map((e) => ({
      name: e.name,
      timeMs: e.timeMs,
      fields: Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, v.value.value])),
    })),
  };
}

type Outcome = { report: unknown } | { refused: string } | { undecodable: true };

function outcome(parse: (bytes: Uint8Array) => unknown, bytes: Uint8Array): Outcome {
  let plain: unknown;
  try {
    plain = parse(bytes);
  } catch {
    return { undecodable: true };
  }
  try {
    return { report: validateReport(plain) };
  } catch (error) {
    if (error instanceof ProtocolError) return { refused: `${error.code}: ${error.message}` };
    throw error;
  }
}

const u64 = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: 5000n }), weight: 19 },
  { arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), weight: 1 },
);
const i64 = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: 2n ** 45n }), weight: 19 },
  { arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), weight: 1 },
);
/** Mostly `valid`, sometimes `hostile`: most reports then pass validation, and every check is hit. */
const mostly = <T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: valid, weight: 19 }, { arbitrary: hostile, weight: 1 });
const text = mostly(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }));
const ascii = mostly(fc.stringMatching(/^[a-z0-9-]{1,12}$/), text);
const name = mostly(fc.constantFrom('queries', 'query.duration', 'db.ddl'), fc.constantFrom('Bad Name', ''));
const key = mostly(
  fc.constantFrom('kind', 'system', 'sqlstate_class'),
  fc.constantFrom('__proto__', '9bad', ''),
);
const double = mostly(fc.integer({ min: 0, max: 5000 }), fc.double());

const histogram = fc
  .record({
    values: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e6, noNaN: true })), {
      maxLength: 30,
    }),
    scale: mostly(fc.integer({ min: 5, max: 8 }), fc.integer({ min: -3, max: 4 })),
    countOff: mostly(fc.constant(0n), fc.constant(1n)),
    huge: mostly(fc.constant(false), fc.constant(true)),
  })
  .map(({ values, scale, countOff, huge }) => {
    const h = histogramOf(values, scale, 64);
    const counts = h.positive.bucketCounts.map(BigInt);
    if (huge && counts.length > 0) counts[0] = 2n ** 60n; // beyond 2^53: the validator refuses it
    return {
      scale: h.scale,
      zeroCount: BigInt(h.zeroCount),
      offset: h.positive.offset,
      bucketCounts: counts,
      count: BigInt(h.count) + countOff,
      sum: h.sum,
      min: h.min,
      max: h.max,
    };
  });

const fieldValue = fc.oneof(
  fc.record({ case: fc.constant('stringValue' as const), value: text }),
  fc.record({ case: fc.constant('numberValue' as const), value: double }),
  fc.record({ case: fc.constant('boolValue' as const), value: fc.boolean() }),
  fc.constant({ case: undefined }),
);

const agentReport = fc.record(
  {
    protocol: mostly(fc.constant(3), fc.constantFrom(0, 4)),
    reportId: mostly(fc.uuid({ version: 4 }), text),
    sequence: u64,
    trackingId: ascii,
    sessionId: ascii,
    nodeType: mostly(fc.constantFrom('frontend', 'compute'), fc.constant('')),
    isLeader: fc.boolean(),
    version: text,
    gitSha: text,
    clusterType: text,
    ci: fc.boolean(),
    isTest: fc.boolean(),
    intervalStartMs: i64,
    intervalEndMs: i64,
    system: fc.record(
      {
        memoryUsed: u64,
        memoryTotal: u64,
        osName: text,
        osVersion: text,
        osKernel: text,
        cpuAvailable: double,
      },
      { requiredKeys: [] },
    ),
    process: fc.record(
      { heapUsed: u64, eventLoopDelayP99: double, uptime: double, runtime: text },
      { requiredKeys: [] },
    ),
    cluster: fc.dictionary(
      mostly(fc.constantFrom('nodes.compute', 'nodes'), fc.constant('Bad Key')),
      double,
      {
        maxKeys: 3,
      },
    ),
    metrics: fc.uniqueArray(
      fc.record(
        {
          name,
          unit: text,
          description: text,
          kind: mostly(fc.constant(3), fc.constantFrom(0, 1, 2, 7)),
          labels: fc.dictionary(key, text, { maxKeys: 3 }),
          value: double,
          histogram,
        },
        { requiredKeys: ['name', 'kind', 'histogram'] },
      ),
      { maxLength: 4, selector: (m) => JSON.stringify([m.name, m.labels]) },
    ),
    events: fc.array(
      fc.record(
        { name, timeMs: i64, fields: fc.dictionary(key, fc.record({ value: fieldValue }), { maxKeys: 3 }) },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    ),
    drops: fc.record(
      { series: u64, events: u64, reports: u64, values: u64, errors: u64 },
      { requiredKeys: [] },
    ),
    agentVersion: text,
  },
  { requiredKeys: ['protocol', 'reportId', 'trackingId', 'nodeType'] },
);

/** Fields from a newer agent: numbers the schema does not know, every wire type. */
const unknownField = fc.oneof(
  fc.tuple(fc.integer({ min: 22, max: 1000 }), fc.nat()).map(([no, v]) => [...varint(no << 3), ...varint(v)]),
  fc
    .tuple(fc.integer({ min: 22, max: 1000 }), fc.uint8Array({ maxLength: 12 }))
    .map(([no, bytes]) => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes]),
  fc.integer({ min: 22, max: 1000 }).map((no) => [...varint((no << 3) | 5), 1, 2, 3, 4]),
);

function varint(n: number | bigint): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const encode = (init: object) =>
  toBinary(AgentReportSchema, create(AgentReportSchema, init as Parameters<typeof create>[1]));

describe('the native report reader', () => {
  it('validates every message the generated schema encodes exactly as fromBinary did', () => {
    let valid = 0;
    fc.assert(
      fc.property(agentReport, fc.array(unknownField, { maxLength: 3 }), (init, unknown) => {
        const bytes = new Uint8Array([...encode(init), ...unknown.flat()]);
        const ours = outcome(parseReportProtobuf, bytes);
        expect(ours).toEqual(outcome(referenceParse, bytes));
        if ('report' in ours) valid++;
      }),
      { numRuns: 3000 },
    );
    // Most draws are refused somewhere; the comparison means something only if many pass.
    expect(valid).toBeGreaterThan(100);
  });

  it('accepts only what fromBinary accepts, with the same outcome (random and mutated bytes)', () => {
    let decoded = 0;
    const mutated = fc
      .tuple(agentReport, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
      .map(([init, edits]) => {
        const bytes = encode(init);
        for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (bytes) => {
        const ours = outcome(parseReportProtobuf, bytes);
        if ('undecodable' in ours) return;
        decoded++;
        expect(ours).toEqual(outcome(referenceParse, bytes));
      }),
      { numRuns: 5000 },
    );
    expect(decoded).toBeGreaterThan(500);
  });

  it('reads bucket counts packed and unpacked, and merges a histogram sent in two parts', () => {
    const packed = encodeReportProtobuf(validReport());
    const report = validateReport(parseReportProtobuf(packed));
    const counts = report.metrics[0]!.histogram!.positive.bucketCounts;
    expect(counts.length).toBeGreaterThan(1);
    // The same histogram with its counts unpacked (field 4 as varints), and then as two
    // histogram fields (field 7) whose counts append, as protobuf merges a message sent twice.
    const h = report.metrics[0]!.histogram!;
    const header = [
      ...[0x08, ...varint(h.scale * 2)], // sint32 scale (zigzag, positive)
      ...[0x10, ...varint(h.zeroCount)],
      ...[0x18, ...varint(-h.positive.offset * 2 - 1)], // sint32 offset (zigzag, negative)
      ...[0x28, ...varint(h.count)],
      ...[0x31, ...new Uint8Array(new Float64Array([h.sum]).buffer)],
      ...[0x39, ...new Uint8Array(new Float64Array([h.min]).buffer)],
      ...[0x41, ...new Uint8Array(new Float64Array([h.max]).buffer)],
    ];
    const histogramField = (body: number[]) => [0x3a, ...varint(body.length), ...body];
    const metric = (body: number[]) => [0x92, 0x01, ...varint(body.length), ...body];
    const kindAndName = [0x0a, 1, 0x71, 0x20, 3];
    const withoutMetric = validReport();
    withoutMetric.metrics = [];
    const base = [...encodeReportProtobuf(withoutMetric)];
    for (const body of [
      [...kindAndName, ...histogramField([...header, ...counts.flatMap((n) => [0x20, ...varint(n)])])],
      [
        ...kindAndName,
        ...histogramField([...header, 0x20, ...varint(counts[0]!)]),
        ...histogramField(counts.slice(1).flatMap((n) => [0x20, ...varint(n)])),
      ],
    ]) {
      const bytes = new Uint8Array([...base, ...metric(body)]);
      expect(validateReport(parseReportProtobuf(bytes)).metrics[0]!.histogram).toEqual(h);
      expect(outcome(referenceParse, bytes)).toEqual(outcome(parseReportProtobuf, bytes));
    }
  });

  it('refuses a count past 2^53-1 and a negative time with the validator’s message', () => {
    const minimal = { protocol: 3, reportId: validReport().reportId, trackingId: 't', nodeType: 'compute' };
    const huge = encode({
      ...minimal,
      metrics: [{ name: 'q', kind: 3, histogram: { bucketCounts: [2n ** 53n, 1n], count: 2n ** 53n + 1n } }],
    });
    expect(outcome(parseReportProtobuf, huge)).toEqual({
      refused: expect.stringMatching(/bucketCounts\[0\] must be an integer from 0 to 2\^53-1/),
    });
    const negative = encode({ ...minimal, intervalStartMs: -5n });
    expect(outcome(parseReportProtobuf, negative)).toEqual({
      refused: expect.stringMatching(/intervalStartMs must be an integer from 0/),
    });
  });

  it('calls a truncated body, a wrong wire type and invalid UTF-8 undecodable', () => {
    const bytes = encodeReportProtobuf(validReport());
    expect(() => parseReportProtobuf(bytes.subarray(0, bytes.length - 3))).toThrow(/not a valid protobuf/);
    expect(() => parseReportProtobuf(new Uint8Array([0x22, 0x01, 0xff]))).toThrow(/UTF-8/);
    expect(() => parseReportProtobuf(new Uint8Array([0x20, 0x01]))).toThrow(/wire type/);
    // A packed count whose varint runs past its field's end.
    const metric = [0x0a, 1, 0x71, 0x20, 3, 0x3a, 4, 0x22, 2, 0x01, 0x80];
    const body = new Uint8Array([0x08, 3, 0x92, 0x01, metric.length, ...metric, 0x01]);
    expect(() => parseReportProtobuf(body)).toThrow(/not a valid protobuf/);
  });
});

/** The golden report (testdata/) with only its histogram series. */
function validReport(): AgentReport {
  const golden = readFileSync(new URL('./testdata/report-v3.json.golden', import.meta.url), 'utf8');
  const report = validateReport(JSON.parse(golden));
  report.metrics = report.metrics.filter((m) => m.kind === 'histogram');
  return report;
}
