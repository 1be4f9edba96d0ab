import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { decodeNativeReport } from './decode.js';
import { bucketIndex, FITTED_BUCKETS_MIN, histogramOf, spanOneScaleFiner } from './exp-histogram.js';
import { encodeReportJson } from './json.js';
import { type AgentReport, NATIVE_LIMITS } from './model.js';
import { encodeReportProtobuf } from './protobuf.js';

const golden = (name: string) => new URL(`./testdata/${name}`, import.meta.url);

function sample(): AgentReport {
  return {
    protocol: 3,
    reportId: '0b7c6f8e-4a8e-4d3b-9a57-1f2e3d4c5b6a',
    sequence: 7,
    trackingId: 'rw-cluster-3f1a',
    sessionId: '5d9a2c1e-0f4b-4e7a-8b6d-2c3e4f5a6b7c',
    nodeType: 'frontend',
    isLeader: true,
    version: '2.1.0',
    gitSha: 'a1b2c3d',
    clusterType: 'kubernetes',
    ci: false,
    isTest: false,
    intervalStartMs: 1_764_108_000_000,
    intervalEndMs: 1_764_194_400_000,
    system: {
      memoryUsed: 3_221_225_472,
      memoryTotal: 8_589_934_592,
      osName: 'Linux',
      osVersion: 'Debian GNU/Linux 12 (bookworm)',
      osKernel: '6.1.0-18-amd64',
      cpuAvailable: 4,
    },
    process: { heapUsed: 41_943_040, eventLoopDelayP99: 0.0123, uptime: 86_400.5, runtime: 'node v20.20.2' },
    cluster: { 'nodes.compute': 3, 'nodes.frontend': 2 },
    metrics: [
      {
        name: 'queries',
        unit: '{query}',
        description: 'Queries executed',
        kind: 'counter',
        labels: { kind: 'select' },
        value: 1234,
        histogram: null,
      },
      {
        name: 'connections',
        unit: '{connection}',
        description: 'Open client connections',
        kind: 'gauge',
        labels: {},
        value: 17,
        histogram: null,
      },
      {
        name: 'query.duration',
        unit: 's',
        description: 'Query latency',
        kind: 'histogram',
        labels: { kind: 'select' },
        value: 0,
        histogram: histogramOf([0, 0.001, 0.002, 0.0025, 0.01, 0.25, 1.5], 2),
      },
    ],
    events: [
      {
        name: 'backup.finished',
        timeMs: 1_764_150_000_000,
        fields: { ok: true, seconds: 12.5, target: 's3' },
      },
    ],
    drops: { series: 0, events: 1, reports: 0, values: 2, errors: 0 },
    agentVersion: '0.1.0',
  };
}

function expectProtocolError(body: Uint8Array, type: 'application/json' | 'application/x-protobuf') {
  try {
    decodeNativeReport(body, type);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  return null;
}

describe('native report golden files', () => {
  // The files pin the v3 bytes: an agent released today must still be readable by every later
  // collector. Regenerate only for an additive change: UPDATE_GOLDEN=1 npx vitest run ...
  for (const [file, encode, type] of [
    ['report-v3.pb', encodeReportProtobuf, 'application/x-protobuf'],
    ['report-v3.json.golden', encodeReportJson, 'application/json'],
  ] as const) {
    it(`encodes the sample report to exactly ${file} and decodes it back`, () => {
      const bytes = encode(sample());
      if (process.env['UPDATE_GOLDEN']) writeFileSync(golden(file), bytes);
      const stored = new Uint8Array(readFileSync(golden(file)));
      expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(stored).toString('hex'));
      expect(decodeNativeReport(stored, type)).toEqual(sample());
    });
  }

  it('refuses an integer it cannot encode with a RangeError, never a loop that does not end', () => {
    const hostile: [string, (r: ReturnType<typeof sample>, v: number) => void][] = [
      [
        'sequence',
        (r, v) => {
          r.sequence = v;
        },
      ],
      [
        'a bucket count',
        (r, v) => {
          const counts = r.metrics.find((m) => m.histogram)!.histogram!.positive.bucketCounts;
          counts[counts.length - 1] = v;
        },
      ],
    ];
    for (const [what, set] of hostile) {
      for (const value of [Number.POSITIVE_INFINITY, Number.NaN, '1e400' as unknown as number, 2 ** 60]) {
        const report = sample();
        set(report, value);
        expect(() => encodeReportProtobuf(report), `${what} = ${String(value)}`).toThrow(RangeError);
      }
    }
  });

  it('is deterministic whatever order labels were inserted in', () => {
    const a = sample();
    const b = sample();
    b.metrics[0]!.labels = { z: '1', a: '2' };
    a.metrics[0]!.labels = { a: '2', z: '1' };
    expect(encodeReportProtobuf(a)).toEqual(encodeReportProtobuf(b));
  });

  it('encodes series that share one labels object, or change unit, each with its own identity', () => {
    // The encoder caches a series' identity bytes by its labels object (the agent's way: one per
    // series); a shared object or a changed unit must never get another series' bytes.
    const labels = { route: '/a' };
    const base = sample().metrics[0]!;
    const reports: [string, string][][] = [
      [
        ['first', base.unit],
        ['second', base.unit],
      ],
      [['first', 'By']],
      [
        ['first', base.unit],
        ['second', 'By'],
      ],
    ];
    for (const series of reports) {
      const r = sample();
      r.metrics = series.map(([name, unit]) => ({ ...base, name, unit, labels }));
      const back = decodeNativeReport(encodeReportProtobuf(r), 'application/x-protobuf');
      expect(back.metrics.map((m) => [m.name, m.unit])).toEqual(series);
      expect(back.metrics.every((m) => m.labels.route === '/a')).toBe(true);
    }
  });
});

// Valid reports, generated: every field at its edges.
const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.\-/]{0,20}$/);
const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/);
const freeText = (max: number) =>
  fc
    .oneof(fc.string({ maxLength: max, unit: 'grapheme' }), fc.constantFrom('\uFEFF', '\uFEFFx'))
    .filter((s) => !/[\0\uD800-\uDFFF]/u.test(s) && s.length <= max);
const count = fc.nat({ max: Number.MAX_SAFE_INTEGER });
/** Any number the wire accepts: finite, within ±1e300 (NATIVE_LIMITS.numberMagnitudeMax). */
const finite = fc.double({ min: -1e300, max: 1e300, noNaN: true });
const histogram = fc
  .tuple(
    fc.array(fc.double({ min: 0, max: 1e12, noNaN: true }), { maxLength: 50 }),
    fc.integer({ min: -2, max: 20 }),
  )
  .map(([values, scale]) => histogramOf(values, scale, 160))
  // As agents send them: not coarser than their values need (FITTED_BUCKETS_MIN).
  .filter((h) => h.scale >= 5 || h.count === h.zeroCount || spanOneScaleFiner(h) > FITTED_BUCKETS_MIN);

const metric = fc.oneof(
  fc.record({
    name,
    unit: freeText(8),
    description: freeText(40),
    kind: fc.constant('counter' as const),
    labels: fc.dictionary(key, freeText(20), { maxKeys: 4 }),
    value: fc.double({ min: 0, max: 1e300, noNaN: true }),
    histogram: fc.constant(null),
  }),
  fc.record({
    name,
    unit: freeText(8),
    description: freeText(40),
    kind: fc.constant('gauge' as const),
    labels: fc.dictionary(key, freeText(20), { maxKeys: 4 }),
    value: finite,
    histogram: fc.constant(null),
  }),
  fc.record({
    name,
    unit: freeText(8),
    description: freeText(40),
    kind: fc.constant('histogram' as const),
    labels: fc.dictionary(key, freeText(20), { maxKeys: 4 }),
    value: fc.constant(0),
    histogram,
  }),
);

const report: fc.Arbitrary<AgentReport> = fc.record({
  protocol: fc.constant(3 as const),
  reportId: fc.uuid().map((u) => u.toLowerCase()),
  sequence: count,
  trackingId: fc.stringMatching(/^[\x20-\x7e]{1,128}$/).filter((id) => id !== '.' && id !== '..'),
  sessionId: fc.stringMatching(/^[\x20-\x7e]{0,128}$/),
  nodeType: freeText(64).filter((s) => s.length > 0),
  isLeader: fc.boolean(),
  version: freeText(30),
  gitSha: freeText(40),
  clusterType: freeText(20),
  ci: fc.boolean(),
  isTest: fc.boolean(),
  intervalStartMs: count,
  intervalEndMs: count,
  system: fc.record({
    memoryUsed: fc.option(count),
    memoryTotal: fc.option(count),
    osName: freeText(20),
    osVersion: freeText(20),
    osKernel: freeText(20),
    cpuAvailable: fc.option(finite),
  }),
  process: fc.record({
    heapUsed: fc.option(count),
    eventLoopDelayP99: fc.option(finite),
    uptime: finite,
    runtime: freeText(20),
  }),
  cluster: fc.dictionary(name, finite, { maxKeys: 5 }),
  metrics: fc.uniqueArray(metric, { maxLength: 8, selector: (m) => m.name }),
  events: fc.array(
    fc.record({
      name,
      timeMs: fc.nat({ max: 8.64e15 }),
      fields: fc.dictionary(key, fc.oneof(freeText(30), finite, fc.boolean()), { maxKeys: 5 }),
    }),
    { maxLength: 5 },
  ),
  drops: fc.record({ series: count, events: count, reports: count, values: count, errors: count }),
  agentVersion: freeText(10),
});

// -0 survives protobuf but not JSON; both decode to a report that means the same.
const normalise = (r: AgentReport) => JSON.parse(JSON.stringify(r));

describe('native report round trips', () => {
  it('decode(encodeProtobuf(r)) equals r for any valid report', () => {
    fc.assert(
      fc.property(report, (r) => {
        expect(normalise(decodeNativeReport(encodeReportProtobuf(r), 'application/x-protobuf'))).toEqual(
          normalise(r),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('decode(encodeJson(r)) equals r for any valid report', () => {
    fc.assert(
      fc.property(report, (r) => {
        expect(normalise(decodeNativeReport(encodeReportJson(r), 'application/json'))).toEqual(normalise(r));
      }),
      { numRuns: 300 },
    );
  });
});

describe('hostile native bodies', () => {
  it('random bytes throw ProtocolError (or decode to a valid report), never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expectProtocolError(bytes, 'application/x-protobuf');
        expectProtocolError(bytes, 'application/json');
      }),
      { numRuns: 2000 },
    );
  });

  it('every truncation of a valid protobuf report throws ProtocolError or decodes', () => {
    const bytes = encodeReportProtobuf(sample());
    for (let n = 0; n < bytes.length; n++)
      expectProtocolError(bytes.subarray(0, n), 'application/x-protobuf');
    const json = encodeReportJson(sample());
    for (let n = 0; n < json.length; n += 7) {
      expect(expectProtocolError(json.subarray(0, n), 'application/json')?.code).toBe('undecodable');
    }
  });

  it('single-byte corruptions of a valid protobuf report never escape as other errors', () => {
    const bytes = encodeReportProtobuf(sample());
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const copy = bytes.slice();
        copy[at] = value;
        expectProtocolError(copy, 'application/x-protobuf');
      }),
      { numRuns: 2000 },
    );
  });

  it('any JSON value in place of any field throws ProtocolError or decodes', () => {
    const fields = Object.keys(sample());
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.jsonValue(), (field, value) => {
        const r: Record<string, unknown> = { ...sample(), [field]: value };
        expectProtocolError(new TextEncoder().encode(JSON.stringify(r)), 'application/json');
        const m: Record<string, unknown> = { ...sample().metrics[2], [fields[0]!]: value, histogram: value };
        const r2 = { ...sample(), metrics: [m] };
        expectProtocolError(new TextEncoder().encode(JSON.stringify(r2)), 'application/json');
      }),
      { numRuns: 1000 },
    );
  });

  const json = (r: unknown) => new TextEncoder().encode(JSON.stringify(r));
  const codeOf = (r: unknown) => expectProtocolError(json(r), 'application/json')?.code;

  it('rejects wrong types, out-of-range numbers and bad identifiers with named codes', () => {
    expect(codeOf({ ...sample(), protocol: 2 })).toBe('unsupported_protocol');
    expect(codeOf({ ...sample(), protocol: '3' })).toBe('unsupported_protocol');
    expect(codeOf([1, 2])).toBe('invalid_field');
    expect(codeOf({ ...sample(), trackingId: '' })).toBe('invalid_tracking_id');
    expect(codeOf({ ...sample(), trackingId: 'é' })).toBe('invalid_tracking_id');
    expect(codeOf({ ...sample(), trackingId: 'x'.repeat(129) })).toBe('invalid_tracking_id');
    expect(codeOf({ ...sample(), trackingId: '..' })).toBe('invalid_tracking_id');
    expect(codeOf({ ...sample(), trackingId: '...' })).toBeUndefined();
    expect(codeOf({ ...sample(), reportId: 'not-a-uuid' })).toBe('invalid_field');
    expect(codeOf({ ...sample(), sequence: -1 })).toBe('invalid_field');
    expect(codeOf({ ...sample(), sequence: 2 ** 53 })).toBe('invalid_field');
    expect(codeOf({ ...sample(), nodeType: 'n'.repeat(65) })).toBe('string_too_long');
    // Limits count characters: 64 emoji are 64 characters (128 UTF-16 code units), 65 are over.
    expect(codeOf({ ...sample(), nodeType: '🚀'.repeat(64) })).toBeUndefined();
    expect(codeOf({ ...sample(), nodeType: '🚀'.repeat(65) })).toBe('string_too_long');
    expect(codeOf({ ...sample(), version: 'a\0b' })).toBe('invalid_field');
    expect(codeOf({ ...sample(), isLeader: 'yes' })).toBe('invalid_field');
    expect(codeOf({ ...sample(), cluster: { __proto__x: 1 } })).toBe('invalid_field');
    const m = sample().metrics;
    expect(codeOf({ ...sample(), metrics: [{ ...m[0], value: -1 }] })).toBe('invalid_field');
    expect(codeOf({ ...sample(), metrics: [{ ...m[0], kind: 'summary' }] })).toBe('invalid_field');
    expect(codeOf({ ...sample(), metrics: [{ ...m[0], labels: { __name: 'x' } }] })).toBe('invalid_field');
    expect(codeOf({ ...sample(), metrics: [{ ...m[0], labels: { a: 1 } }] })).toBe('invalid_field');
    expect(codeOf({ ...sample(), metrics: [m[0], m[0]] })).toBe('duplicate_series');
    expect(codeOf({ ...sample(), metrics: [m[0], { ...m[1], name: 'queries' }] })).toBe('kind_conflict');
    const h = m[2]!.histogram!;
    const withHistogram = (histogram: unknown) => ({ ...sample(), metrics: [{ ...m[2], histogram }] });
    expect(codeOf(withHistogram({ ...h, count: h.count + 1 }))).toBe('inconsistent_histogram');
    expect(codeOf(withHistogram({ ...h, scale: 21 }))).toBe('invalid_field');
    expect(codeOf(withHistogram({ ...h, scale: -11 }))).toBe('invalid_field');
    expect(codeOf(withHistogram({ ...h, min: 2, max: 1 }))).toBe('inconsistent_histogram');
    // Buckets that do not hold min and max: one far below the smallest double, or beside the values.
    const one = { scale: 20, zeroCount: 0, count: 1, sum: 0.01, min: 0.01, max: 0.01 };
    const at = (offset: number) => withHistogram({ ...one, positive: { offset, bucketCounts: [1] } });
    expect(codeOf(at(-(2 ** 31)))).toBe('inconsistent_histogram');
    const exact = bucketIndex(0.01, 20);
    expect(codeOf(at(exact))).toBeUndefined();
    expect(codeOf(at(exact + 1))).toBeUndefined(); // one bucket off: floating-point boundaries
    expect(codeOf(at(exact + 2))).toBe('inconsistent_histogram');
    expect(codeOf(withHistogram({ ...h, max: h.max * 4 }))).toBe('inconsistent_histogram');
    const lowMin = { ...one, min: 0.0001, positive: { offset: exact, bucketCounts: [1] } };
    expect(codeOf(withHistogram(lowMin))).toBe('inconsistent_histogram');
    expect(codeOf(withHistogram(null))).toBe('invalid_field');
    expect(codeOf({ ...sample(), metrics: [{ ...m[0], histogram: h }] })).toBe('invalid_field');
    // Finite but past ±1e300: two of them add up to Infinity in a rollup, which no store keeps.
    expect(codeOf({ ...sample(), metrics: [{ ...m[0], value: 1.7e308 }] })).toBe('invalid_field');
    expect(codeOf({ ...sample(), metrics: [{ ...m[1], value: -1.7e308 }] })).toBe('invalid_field');
    expect(codeOf(withHistogram({ ...h, sum: 1.7e308 }))).toBe('invalid_field');
    expect(codeOf({ ...sample(), cluster: { nodes: 1e301 } })).toBe('invalid_field');
    expect(codeOf({ ...sample(), metrics: [{ ...m[0], value: 1e300 }] })).toBeUndefined();
    // An event time past what a date holds would be read back as another time (+275760-09-13).
    const e = sample().events[0]!;
    expect(codeOf({ ...sample(), events: [{ ...e, timeMs: 8.64e15 + 1 }] })).toBe('invalid_field');
    expect(codeOf({ ...sample(), events: [{ ...e, timeMs: 2 ** 53 - 1 }] })).toBe('invalid_field');
    expect(codeOf({ ...sample(), events: [{ ...e, timeMs: 8.64e15 }] })).toBeUndefined();
  });

  it('rejects huge arrays and maps by their size, before looking at their entries', () => {
    const m = sample().metrics[0]!;
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ ...m, labels: { i: String(i) } }));
    expect(codeOf({ ...sample(), metrics: many(NATIVE_LIMITS.metricsMax + 1) })).toBe('too_many');
    expect(
      decodeNativeReport(json({ ...sample(), metrics: many(NATIVE_LIMITS.metricsMax) }), 'application/json'),
    ).toBeTruthy();
    const labels = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    expect(codeOf({ ...sample(), metrics: [{ ...m, labels }] })).toBe('too_many');
    const events = Array.from({ length: 1001 }, () => sample().events[0]);
    expect(codeOf({ ...sample(), events })).toBe('too_many');
    const h = sample().metrics[2]!.histogram!;
    const buckets = new Array(NATIVE_LIMITS.bucketsMax + 1).fill(0);
    expect(
      codeOf({
        ...sample(),
        metrics: [
          { ...sample().metrics[2], histogram: { ...h, positive: { offset: 0, bucketCounts: buckets } } },
        ],
      }),
    ).toBe('too_many');
  });

  it('answers 413 for a body over the limit and 415 for another content type', () => {
    const big = new Uint8Array(NATIVE_LIMITS.bodyMax + 1);
    expect(expectProtocolError(big, 'application/json')?.status).toBe(413);
    const gz = gzipSync(encodeReportJson(sample()));
    const error = expectProtocolError(gz, 'text/plain' as 'application/json');
    expect([error?.code, error?.status]).toEqual(['unsupported_media_type', 415]);
    expect(
      decodeNativeReport(encodeReportJson(sample()), 'application/json; charset=utf-8' as 'application/json'),
    ).toEqual(sample());
  });

  it('reads a protobuf report from a newer v3 agent, skipping fields it does not know', () => {
    const bytes = encodeReportProtobuf(sample());
    // Field 99, length-delimited, 3 bytes: what a later additive field looks like on the wire.
    const extended = new Uint8Array([...bytes, 0x9a, 0x06, 0x03, 0x61, 0x62, 0x63]);
    expect(decodeNativeReport(extended, 'application/x-protobuf')).toEqual(sample());
    const withExtra = { ...sample(), futureField: { any: 'thing' } };
    expect(decodeNativeReport(json(withExtra), 'application/json')).toEqual(sample());
  });
});
