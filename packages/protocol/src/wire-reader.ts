// The low-level reader under the hand-written protobuf readers (RisingWave's node reports in
// risingwave/node-report-reader.ts, the agent's native report in native/report-reader.ts): protobuf-es's
// own BinaryReader, plus tag iteration, nested-message bounds and strict field reads.
//
// Semantics follow protobuf-es: unknown fields are skipped, strings must be valid UTF-8. Unlike
// protobuf-es, a known field with the wrong wire type is refused.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { decodeUtf8Strict } from './utf8.js';

/** Thrown when the bytes are not a valid message; the decoder turns it into a ProtocolError. */
export class WireError extends Error {}

/** The fields of one message: `read` is called for each tag; unknown ones are skipped. */
export type FieldReader = (reader: Reader, field: number, wireType: WireType) => boolean;

export class Reader extends BinaryReader {
  constructor(bytes: Uint8Array) {
    super(bytes);
  }

  /** Reads tags until `end`, handing each to `read`; skips the fields it does not know. */
  fields(end: number, read: FieldReader): void {
    while (this.pos < end) {
      const start = this.pos;
      const tag = this.uint32();
      const length = this.pos - start;
      if (length > 5 || (length === 5 && this.buf[this.pos - 1]! > 0x0f)) {
        throw new WireError('illegal tag: varint overflows uint32');
      }
      const field = tag >>> 3;
      const wireType = (tag & 7) as WireType;
      if (field <= 0 || wireType > 5) {
        throw new WireError(`illegal tag: field no ${field} wire type ${wireType}`);
      }
      if (!read(this, field, wireType)) this.skip(wireType, field);
    }
    if (this.pos > end) throw new WireError('premature end of a nested message');
  }

  /** The end position of a length-delimited field whose length was just read. */
  nested(wireType: WireType, field: number): number {
    expect(wireType, WireType.LengthDelimited, field);
    const length = this.uint32();
    const end = this.pos + length;
    if (end > this.len) throw new WireError('premature EOF');
    return end;
  }

  // Named apart from BinaryReader's own methods (it assigns `varint64` and `uint32` per instance).
  str(wireType: WireType, field: number): string {
    expect(wireType, WireType.LengthDelimited, field);
    try {
      return decodeUtf8Strict(this.bytes());
    } catch (error) {
      if (error instanceof RangeError) throw error;
      throw new WireError(`field ${field} is not valid UTF-8`);
    }
  }

  u32(wireType: WireType, field: number): number {
    expect(wireType, WireType.Varint, field);
    return this.uint32();
  }

  u64(wireType: WireType, field: number): bigint {
    expect(wireType, WireType.Varint, field);
    return BigInt(this.uint64());
  }

  dbl(wireType: WireType, field: number): number {
    expect(wireType, WireType.Bit64, field);
    return this.double();
  }

  s32(wireType: WireType, field: number): number {
    expect(wireType, WireType.Varint, field);
    return this.sint32();
  }

  /**
   * A uint64 (or, `signed`, an int64) as a number when its varint has at most 7 bytes (below
   * 2^49, every real count and time), else as a bigint, which the validator then checks.
   * Decoding counts to bigints first made a 1 MiB report of histograms cost ~45 ms to parse.
   */
  n64(wireType: WireType, field: number, signed = false): number | bigint {
    expect(wireType, WireType.Varint, field);
    return this.varNumber() ?? (signed ? BigInt(this.int64()) : BigInt(this.uint64()));
  }

  /** uint64 values of a packed repeated field (its length just read as `end`), appended to `into`. */
  packedU64(end: number, into: (number | bigint)[]): void {
    // Sized first (a varint ends at each byte below 0x80), so that a long list is not regrown.
    let k = into.length;
    let n = k;
    for (let i = this.pos; i < end && i < this.len; i++) if (this.buf[i]! < 0x80) n++;
    into.length = n;
    while (this.pos < end) into[k++] = this.varNumber() ?? BigInt(this.uint64());
    into.length = k;
    if (this.pos > end) throw new WireError('premature end of a packed field');
  }

  /** A varint of up to 7 bytes as a number, or undefined (position unchanged) for a longer one. */
  private varNumber(): number | undefined {
    const buf = this.buf;
    let pos = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (pos >= this.len) throw new WireError('premature EOF');
      const b = buf[pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return value;
      }
      scale *= 128;
    }
    return undefined;
  }

  flag(wireType: WireType, field: number): boolean {
    expect(wireType, WireType.Varint, field);
    return this.bool();
  }
}

export function expect(actual: WireType, wanted: WireType, field: number): void {
  if (actual !== wanted) {
    throw new WireError(`field ${field} has wire type ${actual}, expected ${wanted}`);
  }
}
