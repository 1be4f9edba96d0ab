// The hand-written node report reader against the generated schema (protobuf-es `fromBinary`): the
// same values for every message the schema can encode, and nothing accepted that `fromBinary`
// would refuse or read differently.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MetaReport, MetaReportSchema } from '../gen/risingwave/telemetry_pb.js';
import { readNodeReport, TooManyStreamJobs, type WireNodeReport } from './node-report-reader.js';

/** The generated message as the plain shape the reader returns. */
function plain(m: MetaReport): WireNodeReport {
  const b = m.base;
  const s = b?.systemData;
  return {
    ...(b
      ? {
          base: {
            trackingId: b.trackingId,
            sessionId: b.sessionId,
            ...(s
              ? {
                  systemData: {
                    ...(s.memory ? { memory: { used: s.memory.used, total: s.memory.total } } : {}),
                    ...(s.os
                      ? { os: { name: s.os.name, version: s.os.version, kernelVersion: s.os.kernelVersion } }
                      : {}),
                    ...(s.cpu ? { cpu: { available: s.cpu.available } } : {}),
                  },
                }
              : {}),
            upTime: b.upTime,
            reportTime: b.reportTime,
            nodeType: b.nodeType,
            isTest: b.isTest,
          },
        }
      : {}),
    metaBackend: m.metaBackend,
    ...(m.nodeCount
      ? {
          nodeCount: {
            meta: m.nodeCount.meta,
            compute: m.nodeCount.compute,
            frontend: m.nodeCount.frontend,
            compactor: m.nodeCount.compactor,
          },
        }
      : {}),
    ...(m.rwVersion ? { rwVersion: { rwVersion: m.rwVersion.rwVersion, gitSha: m.rwVersion.gitSha } } : {}),
    streamJobCount: m.streamJobCount,
    streamJobs: m.streamJobs.map((j) => ({
      tableId: j.tableId,
      ...(j.connectorName === undefined ? {} : { connectorName: j.connectorName }),
    })),
    clusterType: m.clusterType,
    objectStoreMediaType: m.objectStoreMediaType,
    connectorUsageJsonStr: m.connectorUsageJsonStr,
    licenseInfoJsonStr: m.licenseInfoJsonStr,
  };
}

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const text = fc.string({ unit: 'binary', maxLength: 40 });
const float32 = fc.float({ noNaN: true }).map(Math.fround);

const metaReport = fc.record(
  {
    base: fc.record(
      {
        trackingId: text,
        sessionId: text,
        systemData: fc.record(
          {
            memory: fc.record({ used: u64, total: u64 }),
            os: fc.record({ name: text, version: text, kernelVersion: text }),
            cpu: fc.record({ available: float32 }),
          },
          { requiredKeys: [] },
        ),
        upTime: u64,
        reportTime: u64,
        nodeType: i32,
        isTest: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    metaBackend: i32,
    nodeCount: fc.record({ meta: u32, compute: u32, frontend: u32, compactor: u32 }, { requiredKeys: [] }),
    rwVersion: fc.record({ rwVersion: text, gitSha: text }, { requiredKeys: [] }),
    streamJobCount: u32,
    streamJobs: fc.array(
      fc.record(
        { tableId: i32, connectorName: text, planOptimizations: fc.array(i32, { maxLength: 3 }) },
        { requiredKeys: [] },
      ),
      { maxLength: 5 },
    ),
    clusterType: i32,
    objectStoreMediaType: text,
    connectorUsageJsonStr: text,
    licenseInfoJsonStr: text,
  },
  { requiredKeys: [] },
);

/** Fields from a newer RisingWave: numbers the schema does not know, every wire type. */
const unknownField = fc.oneof(
  fc.tuple(fc.integer({ min: 11, max: 1000 }), u32).map(([no, v]) => [...varint(no << 3), ...varint(v)]),
  fc
    .tuple(fc.integer({ min: 11, max: 1000 }), fc.uint8Array({ maxLength: 12 }))
    .map(([no, bytes]) => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes]),
  fc.integer({ min: 11, max: 1000 }).map((no) => [...varint((no << 3) | 5), 1, 2, 3, 4]),
);

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function theirs(bytes: Uint8Array): WireNodeReport | Error {
  try {
    return plain(fromBinary(MetaReportSchema, bytes));
  } catch (error) {
    return error as Error;
  }
}

function ours(bytes: Uint8Array): WireNodeReport | Error {
  try {
    return readNodeReport(bytes, true, 100);
  } catch (error) {
    return error as Error;
  }
}

describe('readNodeReport', () => {
  it('reads every message the generated schema encodes exactly as fromBinary does', () => {
    fc.assert(
      fc.property(metaReport, fc.array(unknownField, { maxLength: 3 }), (init, unknown) => {
        const encoded = toBinary(MetaReportSchema, create(MetaReportSchema, init));
        const bytes = new Uint8Array([...encoded, ...unknown.flat()]);
        expect(ours(bytes)).toEqual(theirs(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts only what fromBinary accepts, with the same values (random and mutated bytes)', () => {
    let accepted = 0;
    const mutated = fc
      .tuple(metaReport, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
      .map(([init, edits]) => {
        const bytes = toBinary(MetaReportSchema, create(MetaReportSchema, init));
        for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (bytes) => {
        const mine = ours(bytes);
        if (mine instanceof Error) return;
        accepted++;
        expect(mine).toEqual(theirs(bytes));
      }),
      { numRuns: 5000 },
    );
    // The property means something only if many inputs were accepted.
    expect(accepted).toBeGreaterThan(500);
  });

  it('merges a repeated base and keeps the last value of a repeated scalar, as protobuf does', () => {
    const first = toBinary(
      MetaReportSchema,
      create(MetaReportSchema, { base: { trackingId: 'a', upTime: 5n }, objectStoreMediaType: 's3' }),
    );
    const second = toBinary(
      MetaReportSchema,
      create(MetaReportSchema, { base: { sessionId: 'b' }, objectStoreMediaType: 'gcs' }),
    );
    const read = readNodeReport(new Uint8Array([...first, ...second]), true, 100);
    expect(read.base).toMatchObject({ trackingId: 'a', sessionId: 'b', upTime: 5n });
    expect(read.objectStoreMediaType).toBe('gcs');
  });

  it('refuses a known field with the wrong wire type, and invalid UTF-8', () => {
    // tracking_id (base field 1) as a varint; object_store_media_type (field 8) with bytes FF FE.
    expect(() => readNodeReport(new Uint8Array([0x0a, 0x02, 0x08, 0x01]), true, 100)).toThrow(/wire type/);
    expect(() => readNodeReport(new Uint8Array([0x42, 0x02, 0xff, 0xfe]), true, 100)).toThrow(/UTF-8/);
  });

  it('stops at the first stream job over the limit', () => {
    const bytes = toBinary(
      MetaReportSchema,
      create(MetaReportSchema, { streamJobs: Array.from({ length: 4 }, (_, i) => ({ tableId: i })) }),
    );
    expect(readNodeReport(bytes, true, 4).streamJobs).toHaveLength(4);
    expect(() => readNodeReport(bytes, true, 3)).toThrow(TooManyStreamJobs);
  });

  it('reads only the base of a compute report and skips meta fields', () => {
    const bytes = toBinary(
      MetaReportSchema,
      create(MetaReportSchema, { base: { trackingId: 't' }, objectStoreMediaType: 's3' }),
    );
    const read = readNodeReport(bytes, false, 100);
    expect(read.base?.trackingId).toBe('t');
    expect(read.objectStoreMediaType).toBe('');
  });
});
