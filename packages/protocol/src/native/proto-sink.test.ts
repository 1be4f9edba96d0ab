// ProtoSink writes the same bytes as protobuf-es's BinaryWriter for any sequence of the operations
// the native encoder uses, nested messages included.
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtoSink } from './proto-sink.js';

type Op =
  | { op: 'tag'; field: number; wireType: WireType }
  | { op: 'uint32'; n: number }
  | { op: 'uint64'; n: number }
  | { op: 'int32'; n: number }
  | { op: 'sint32'; n: number }
  | { op: 'bool'; b: boolean }
  | { op: 'double'; d: number }
  | { op: 'string'; s: string }
  | { op: 'bytes'; bytes: Uint8Array }
  | { op: 'packed'; values: number[] }
  | { op: 'nested'; ops: Op[] };

/** Counts at every varint width, and at the edges where the encoder switches arithmetic. */
const packedCount = fc.oneof(
  fc.nat({ max: 300 }),
  fc.maxSafeNat(),
  fc.constantFrom(127, 128, 2 ** 14 - 1, 2 ** 14, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1),
);

const { op } = fc.letrec<{ op: Op }>((tie) => ({
  op: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({
      op: fc.constant('tag' as const),
      field: fc.integer({ min: 1, max: 2 ** 29 - 1 }),
      wireType: fc.constantFrom(WireType.Varint, WireType.Bit64, WireType.LengthDelimited, WireType.Bit32),
    }),
    fc.record({ op: fc.constant('uint32' as const), n: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
    fc.record({ op: fc.constant('uint64' as const), n: fc.maxSafeNat() }),
    fc.record({ op: fc.constant('int32' as const), n: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
    fc.record({ op: fc.constant('sint32' as const), n: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
    fc.record({ op: fc.constant('bool' as const), b: fc.boolean() }),
    fc.record({ op: fc.constant('double' as const), d: fc.double() }),
    fc.record({ op: fc.constant('string' as const), s: fc.string({ unit: 'grapheme', maxLength: 300 }) }),
    fc.record({ op: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ op: fc.constant('packed' as const), values: fc.array(packedCount, { maxLength: 40 }) }),
    fc.record({ op: fc.constant('nested' as const), ops: fc.array(tie('op'), { maxLength: 6 }) }),
  ),
}));

function apply(w: BinaryWriter | ProtoSink, ops: Op[]): void {
  for (const o of ops) {
    if (o.op === 'tag') w.tag(o.field, o.wireType);
    else if (o.op === 'uint32') w.uint32(o.n);
    else if (o.op === 'uint64') w.uint64(o.n);
    else if (o.op === 'int32') w.int32(o.n);
    else if (o.op === 'sint32') w.sint32(o.n);
    else if (o.op === 'bool') w.bool(o.b);
    else if (o.op === 'double') w.double(o.d);
    else if (o.op === 'string') w.string(o.s);
    else if (o.op === 'bytes') w.bytes(o.bytes);
    else if (o.op === 'packed') {
      if (w instanceof ProtoSink) w.packedVarints(o.values);
      else {
        // BinaryWriter's packed repeated uint64: a length-delimited run of varints.
        w.fork();
        for (const n of o.values) w.uint64(n);
        w.join();
      }
    } else {
      w.fork();
      apply(w, o.ops);
      w.join();
    }
  }
}

describe('ProtoSink', () => {
  it('writes exactly the bytes BinaryWriter writes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const theirs = new BinaryWriter();
        const ours = new ProtoSink();
        apply(theirs, ops);
        apply(ours, ops);
        expect(ours.finish()).toEqual(theirs.finish());
      }),
      { numRuns: 3000 },
    );
  });

  it('starts empty again after finish(), each piece exactly as a new writer would write it', () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 20 }), { maxLength: 5 }), (pieces) => {
        const ours = new ProtoSink();
        for (const ops of pieces) {
          const theirs = new BinaryWriter();
          apply(theirs, ops);
          apply(ours, ops);
          expect(ours.finish()).toEqual(theirs.finish());
        }
      }),
      { numRuns: 500 },
    );
    expect(() => new ProtoSink().fork().finish()).toThrow(/unjoined fork/);
  });

  it('grows past its first buffer without losing bytes', () => {
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
    const sink = new ProtoSink().fork().bytes(big).join();
    const writer = new BinaryWriter().fork().bytes(big).join();
    expect(sink.finish()).toEqual(writer.finish());
  });
});
