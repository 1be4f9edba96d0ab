// A protobuf writer into one growable buffer, with the subset of protobuf-es's BinaryWriter API the
// native report encoder uses. Why by hand: BinaryWriter keeps a list of chunks, allocates a new
// array and DataView for every double and copies every nested message on join; on a 500-series
// report tick those made encoding the larger half of the agent's CPU. Here a nested message's
// length is written once its body is known, by moving the body right by the length's varint size.
// The bytes are the same as BinaryWriter's (the native golden tests pin them).
import { WireType } from '@bufbuild/protobuf/wire';

const utf8 = new TextEncoder();

/**
 * A varint's value must be a non-negative safe integer: Infinity (or a string such as "1e400" in
 * a report built by hand) would never shrink below 128, and the encoder would loop for ever.
 */
function checkVarint(n: number): void {
  if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER))
    throw new RangeError(`cannot encode ${String(n)} as a protobuf varint: not a non-negative safe integer`);
}

/** Bytes of the varint of a non-negative safe integer. */
function varintSize(n: number): number {
  checkVarint(n);
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

export class ProtoSink {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  private readonly forks: number[] = [];

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  /** A varint of a non-negative safe integer (uint32, uint64 and the like). */
  private varint(n: number): this {
    checkVarint(n);
    this.ensure(10);
    const buf = this.buf;
    let at = this.pos;
    while (n > 0x7f) {
      buf[at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[at++] = n;
    this.pos = at;
    return this;
  }

  tag(field: number, wireType: WireType): this {
    return this.varint(((field << 3) | wireType) >>> 0);
  }

  uint32(n: number): this {
    return this.varint(n >>> 0);
  }

  /** A non-negative safe integer as uint64. */
  uint64(n: number): this {
    return this.varint(n);
  }

  int32(n: number): this {
    // Negative int32 values take ten bytes (sign-extended to 64 bits), as protobuf requires.
    if (n >= 0) return this.varint(n);
    this.ensure(10);
    let lo = n >>> 0;
    let hi = 0xffffffff;
    while (hi > 0 || lo > 0x7f) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
    return this;
  }

  sint32(n: number): this {
    return this.varint(((n << 1) ^ (n >> 31)) >>> 0);
  }

  bool(b: boolean): this {
    return this.varint(b ? 1 : 0);
  }

  double(d: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, d, true);
    this.pos += 8;
    return this;
  }

  /** Length-delimited bytes. */
  bytes(bytes: Uint8Array): this {
    this.varint(bytes.length);
    return this.raw(bytes);
  }

  string(s: string): this {
    return this.bytes(utf8.encode(s));
  }

  /** Bytes as they are (already encoded fields). */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /**
   * A packed repeated field's body (its length, then the varints) of non-negative safe integers,
   * written straight into the buffer: the histogram's bucket counts, tens of thousands per report
   * tick and mostly under 128, are sized in a first pass and written in a second, with no scratch
   * copy and 32-bit shifts where a count fits them.
   */
  packedVarints(values: readonly number[]): this {
    let size = 0;
    for (let i = 0; i < values.length; i++) {
      const n = values[i]!;
      size += n < 0x80 ? 1 : varintSize(n);
    }
    this.varint(size);
    this.ensure(size);
    const buf = this.buf;
    let at = this.pos;
    for (let i = 0; i < values.length; i++) {
      let n = values[i]!;
      while (n > 0x7fffffff) {
        buf[at++] = (n % 0x80) | 0x80;
        n = Math.floor(n / 0x80);
      }
      let small = n | 0;
      while (small > 0x7f) {
        buf[at++] = (small & 0x7f) | 0x80;
        small >>>= 7;
      }
      buf[at++] = small;
    }
    this.pos = at;
    return this;
  }

  /** Starts a nested message; `join` ends it and writes its length in front. */
  fork(): this {
    this.forks.push(this.pos);
    return this;
  }

  join(): this {
    const start = this.forks.pop();
    if (start === undefined) throw new Error('join() without fork()');
    const length = this.pos - start;
    const size = varintSize(length);
    this.ensure(size);
    this.buf.copyWithin(start + size, start, this.pos);
    const end = this.pos + size;
    this.pos = start;
    this.varint(length);
    this.pos = end;
    return this;
  }

  /**
   * The bytes written, in a buffer of their own; the sink is empty again and keeps its buffer, so
   * a report encoded piece by piece grows one buffer once instead of one per piece.
   */
  finish(): Uint8Array {
    if (this.forks.length > 0) throw new Error('finish() inside an unjoined fork()');
    const bytes = this.buf.slice(0, this.pos);
    this.pos = 0;
    return bytes;
  }
}

// The encoder's constants, re-exported so it needs no second import of the wire module.
export const LEN = WireType.LengthDelimited;
export const VARINT = WireType.Varint;
export const I64 = WireType.Bit64;
