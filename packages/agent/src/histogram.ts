// One histogram series: OpenTelemetry's base-2 exponential histogram, recorded on the hot path.
//
// Recording computes the bucket at scale 8 from the float's bits instead of Math.log2 (which alone
// costs ~10 ns): the exponent gives the octave and the top 12 mantissa bits pick a cell of a
// 4096-entry table holding the sub-bucket of the cell's first value. Cells are 16x narrower than
// scale-8 buckets, so a cell holds at most one boundary, and a value past it lands one scale-8
// bucket low. That never shows: reports carry scale REPORT_SCALE (5) at most, and the 32 cells
// that hold a scale-5 boundary (and every exact power of two) are marked in the table and take
// the exact path (indexAtMaxScale, tested against the protocol's bucketIndex). So every reported
// bucket is exactly OpenTelemetry's, for one table load and no compare of the low mantissa bits.
//
// Counts are kept at REPORT_SCALE from the start of each interval (the scale-8 index shifted right
// by three): a finer scale would never reach a report, and it made every report tick fold ~1,000
// scale-8 counts per histogram into scale-5 buckets, and every interval re-grow its window through
// scales 8, 7 and 6. They live in a plain array window [base, base + length) of bucket indexes at
// the current scale. A value outside the window takes the rare path: re-centre, grow (doubling, up
// to `maxBuckets`) or lower the scale until the populated range fits. With the default 1024
// buckets the scale stays 5 (<= 1.1% error) while one interval's values span at most 2^32.
import { endianness } from 'node:os';
import type { ExpHistogramData } from '@tidewatch/protocol';

/** The scale of the bucket index the hot path computes from the float's bits (the table's). */
export const MAX_SCALE = 8;
/**
 * The finest scale a report carries (relative error ≤ 1.08%, see exp-histogram.ts), and so the
 * scale counts are kept at from the start of each interval.
 */
export const REPORT_SCALE = 5;
/** From the hot path's scale-8 index to the counts' starting scale. */
const START_SHIFT = MAX_SCALE - REPORT_SCALE;
const SUB_BUCKETS = 1 << MAX_SCALE;
const CELL_BITS = 12;
const INITIAL_CAPACITY = 64;

/** BOUNDARY[j] = 2^(j/256): the lower boundary of sub-bucket j within an octave. */
const BOUNDARY = new Float64Array(SUB_BUCKETS + 1);
/** SUB_BUCKET[cell] = the sub-bucket holding the first mantissa of the cell (upper-inclusive). */
const SUB_BUCKET = new Uint8Array(1 << CELL_BITS);
for (let j = 0; j <= SUB_BUCKETS; j++) BOUNDARY[j] = 2 ** (j / SUB_BUCKETS);
for (let cell = 0, j = 0; cell < 1 << CELL_BITS; cell++) {
  const mantissa = 1 + cell / (1 << CELL_BITS);
  while (j < SUB_BUCKETS - 1 && BOUNDARY[j + 1]! < mantissa) j++;
  SUB_BUCKET[cell] = j;
}

/** One scratch double, read as two 32-bit words; HI is the word with sign, exponent, top mantissa. */
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HI = endianness() === 'LE' ? 1 : 0;
const LO = 1 - HI;
/** The high word alone, as a view of its own: the hot path reads HI_WORD[0] on either endianness. */
const HI_WORD = new Uint32Array(F64.buffer, HI * 4, 1);

/** Scratch for re-mapping a window (rare path), so that it allocates only when the window grows. */
let scratch: number[] = [];

/**
 * The boundary inside each cell, as the mantissa bits below the cell's 12: CUT_HI = the 8 low bits
 * of the high word, CUT_LO = the low word. A value whose bits are above the cut is past the
 * boundary. Cells without a boundary get CUT_HI = 256, which no 8-bit value reaches.
 */
const CUT_HI = new Uint16Array(1 << CELL_BITS).fill(256);
const CUT_LO = new Uint32Array(1 << CELL_BITS);
for (let j = 1; j < SUB_BUCKETS; j++) {
  F64[0] = BOUNDARY[j]!;
  const hi = U32[HI]!;
  const cell = (hi >>> 8) & 0xfff;
  if (SUB_BUCKET[cell] === j - 1) {
    CUT_HI[cell] = hi & 0xff;
    CUT_LO[cell] = U32[1 - HI]!;
  }
}

/**
 * FAST_SUB[cell] = SUB_BUCKET[cell] for the hot path, or OFF_WINDOW for the cells that hold a
 * REPORT_SCALE boundary (every 8th scale-8 boundary) or an exact power of two (cell 0):
 * OFF_WINDOW pushes the index out of any window, so those values take the exact path in place().
 */
const OFF_WINDOW = 1 << 30;
const FAST_SUB = new Int32Array(1 << CELL_BITS);
for (let cell = 0; cell < 1 << CELL_BITS; cell++) {
  const boundaryInCell = CUT_HI[cell]! !== 256;
  const reportBoundary = boundaryInCell && (SUB_BUCKET[cell]! + 1) % (1 << (MAX_SCALE - REPORT_SCALE)) === 0;
  FAST_SUB[cell] = cell === 0 || reportBoundary ? OFF_WINDOW : SUB_BUCKET[cell]!;
}

/** The exact OpenTelemetry bucket index of v (> 0, finite) at scale 8. */
export function indexAtMaxScale(v: number): number {
  F64[0] = v;
  const hi = U32[HI]!;
  const lo = U32[LO]!;
  const exponent = (hi >>> 20) - 1023;
  if (exponent === -1023) return Math.ceil(Math.log2(v) * SUB_BUCKETS) - 1; // subnormal: never hot
  const cell = (hi >>> 8) & 0xfff;
  const rest = hi & 0xff;
  const cut = CUT_HI[cell]!;
  let sub = SUB_BUCKET[cell]!;
  if (rest > cut || (rest === cut && lo > CUT_LO[cell]!)) sub++;
  // Buckets are upper-inclusive: an exact power of two ends the bucket below it.
  if (((hi & 0xfffff) | lo) === 0) sub--;
  return exponent * SUB_BUCKETS + sub;
}

/**
 * An array of n zeros with V8's packed small-integer elements (`new Array(n).fill(0)` would be
 * holey). Counts are a plain array rather than a Float64Array because a typed-array access
 * checks for a detached buffer as soon as any ArrayBuffer in the process has been detached (a
 * transfer to a worker, a WebAssembly memory growing, a web stream): V8 then drops its
 * process-wide "no detached buffers" assumption for good. In that state record() took 5.2 ns
 * with Float64Array counts and 4.3 ns with a plain array; without it, 3.4 ns either way
 * (docs/DESIGN.md, session 8). A count past 2^31 turns the array into doubles: still exact.
 */
function zeros(n: number): number[] {
  const array: number[] = [];
  for (let i = 0; i < n; i++) array.push(0);
  return array;
}

/** The first value of every series' counts, replaced in the constructor. */
const NO_COUNTS: number[] = zeros(0);

export class HistogramSeries {
  // Both fields start with a value of their final type: a class field without an initializer is
  // first set to undefined, and V8 then checks the field's type on every record() (~7% slower).
  counts: number[] = NO_COUNTS;
  /** Bucket index (at `scale`) of counts[0]. */
  base = 0;
  scale = REPORT_SCALE;
  /** MAX_SCALE - scale: turns the hot path's scale-8 index into one at `scale`. */
  shift = START_SHIFT;
  zeroCount = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  /** Values ignored: NaN, negative, infinite. */
  rejected = 0;
  // The hot path's tables, reached through `this` rather than the module scope: a module-level
  // const costs a context load per use in optimized code, a field one load off a register (17%
  // fewer instructions per record() under callgrind; the time per call did not move measurably).
  private readonly bits: Float64Array = F64;
  private readonly hiWord: Uint32Array = HI_WORD;
  private readonly fastSub: Int32Array = FAST_SUB;

  constructor(readonly maxBuckets: number) {
    this.counts = zeros(Math.min(INITIAL_CAPACITY, maxBuckets));
    this.base = 0 - (this.counts.length >> 1); // 0 - 0 is the int 0, -(0) the double -0
  }

  // THE HOT PATH. Shape: one branch for the common case (v > 0), the bucket index from the float's
  // exponent bits and one table load (see the header), one bounds check on a preallocated typed
  // array, and plain number fields for sum/min/max (count is derived at snapshot). No allocation,
  // no Map, no try/catch, never throws. Everything unusual (subnormal, infinite, a marked cell,
  // outside the window) goes to place(), kept out of line so that this method stays small enough
  // to inline.
  record(v: number): void {
    if (v > 0) {
      this.bits[0] = v;
      const hi = this.hiWord[0]!;
      const biased = hi >>> 20;
      const j = ((((biased - 1023) << 8) + this.fastSub[(hi >>> 8) & 0xfff]!) >> this.shift) - this.base;
      if (j >= 0 && j < this.counts.length && biased - 1 < 2046) this.counts[j]!++;
      else if (!this.place(v)) return;
    } else if (v === 0) this.zeroCount++;
    else {
      this.rejected++;
      return;
    }
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Rare path: subnormal, infinite, or outside the window. False if v was rejected. */
  private place(v: number): boolean {
    if (v === Number.POSITIVE_INFINITY) {
      this.rejected++;
      return false;
    }
    const index = indexAtMaxScale(v) >> this.shift;
    if (index >= this.base && index < this.base + this.counts.length) {
      this.counts[index - this.base]! += 1; // a marked cell (see FAST_SUB), inside the window
      return true;
    }
    const [first, last] = this.populated();
    if (first > last) {
      this.base = index - (this.counts.length >> 1);
      this.counts[index - this.base]! += 1;
      return true;
    }
    const lo = Math.min(this.base + first, index);
    const hi = Math.max(this.base + last, index);
    let by = 0;
    while ((hi >> by) - (lo >> by) + 1 > this.maxBuckets) by++;
    const span = (hi >> by) - (lo >> by) + 1;
    let capacity = this.counts.length;
    while (capacity < span) capacity = Math.min(capacity * 2, this.maxBuckets);
    this.remap(this.scale - by, (lo >> by) - ((capacity - span) >> 1), capacity);
    this.counts[(index >> by) - this.base]! += 1;
    return true;
  }

  /** Positions in `counts` of the first and last non-zero count; first > last when all are zero. */
  private populated(): [number, number] {
    const counts = this.counts;
    let first = 0;
    while (first < counts.length && counts[first] === 0) first++;
    let last = counts.length - 1;
    while (last >= first && counts[last] === 0) last--;
    return [first, last];
  }

  private remap(scale: number, base: number, capacity: number): void {
    const old = this.counts;
    const oldBase = this.base;
    const by = this.scale - scale;
    if (scratch.length < old.length) scratch = zeros(this.maxBuckets);
    for (let k = 0; k < old.length; k++) scratch[k] = old[k]!; // integers: stays small-integer elements
    const counts = capacity === old.length ? old.fill(0) : zeros(capacity);
    for (let k = 0; k < old.length; k++) {
      const n = scratch[k]!;
      if (n !== 0) counts[((oldBase + k) >> by) - base]! += n;
    }
    this.counts = counts;
    this.base = base;
    this.scale = scale;
    this.shift = MAX_SCALE - scale;
  }

  /**
   * The values recorded since the last reset, in the wire model (counts are kept at REPORT_SCALE
   * at most: every quantile within 1.1%, the promise is 2%). With `reset`, the interval starts
   * anew in the same pass: only the populated buckets are read and zeroed.
   */
  snapshot(reset = false): ExpHistogramData {
    const counts = this.counts;
    const [first, last] = this.populated();
    let count = this.zeroCount;
    for (let k = first; k <= last; k++) count += counts[k]!;
    const empty = count === 0;
    const data: ExpHistogramData = {
      scale: this.scale,
      zeroCount: this.zeroCount,
      positive: {
        offset: first <= last ? this.base + first : 0,
        bucketCounts: counts.slice(first, last + 1),
      },
      count,
      sum: empty ? 0 : this.sum,
      min: empty ? 0 : this.min,
      max: empty ? 0 : this.max,
    };
    if (reset) {
      counts.fill(0, first, last + 1);
      this.startInterval();
    }
    return data;
  }

  /**
   * Starts a new interval once the counts are zero: scale back to REPORT_SCALE. The window keeps
   * its place (translated to that scale), so steady traffic records without the rare path from the
   * first value.
   */
  private startInterval(): void {
    // The window's centre, translated to REPORT_SCALE (an int, like base).
    const centre = (this.base + (this.counts.length >> 1)) << (REPORT_SCALE - this.scale);
    this.base = centre - (this.counts.length >> 1);
    this.scale = REPORT_SCALE;
    this.shift = START_SHIFT;
    this.zeroCount = 0;
    this.sum = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
    this.rejected = 0;
  }
}
