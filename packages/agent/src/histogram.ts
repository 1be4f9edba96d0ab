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
// scales 8, 7 and 6. Each bucket's count and the sum of its values live side by side in a plain
// array window [base, base + capacity) of bucket indexes at the current scale. The hot path only
// checks that a value lands strictly between the buckets of min and max: such a value is inside
// the window and changes neither min nor max, so it costs two adds in one cache line. Everything
// else (a new min or max, zero, rejected values, marked cells, outside the window) takes the rare
// path: exact index, then re-centre, grow (doubling, up to `maxBuckets`) or lower the scale until
// the populated range fits. With the default 1024 buckets the scale stays 5 (<= 1.1% error) while
// one interval's values span at most 2^32.
import { endianness } from 'node:os';
import { type ExpHistogramData, NATIVE_LIMITS } from '@tidewatch/protocol';

/**
 * The largest magnitude a metric value may have: the collector refuses a number past it (its
 * rollups add values up, and two near the largest double make Infinity). Refused per value, so
 * that one wild sample costs that sample, not its whole series for the interval.
 */
export const VALUE_MAX = NATIVE_LIMITS.numberMagnitudeMax;

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
let scratch: number[] = zeros(0);

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
const SMALLEST_NORMAL = 2 ** -1022;
const FAST_SUB = new Int32Array(1 << CELL_BITS);
/** 1023 << MAX_SCALE: the float exponent's bias, at scale 8. */
const EXPONENT_BIAS = 1023 << MAX_SCALE;
/** The least position a value of a marked cell can get from the table (windows are far below). */
const MARKED_AT = (OFF_WINDOW - EXPONENT_BIAS) >> MAX_SCALE;
for (let cell = 0; cell < 1 << CELL_BITS; cell++) {
  const boundaryInCell = CUT_HI[cell]! !== 256;
  const reportBoundary = boundaryInCell && (SUB_BUCKET[cell]! + 1) % (1 << (MAX_SCALE - REPORT_SCALE)) === 0;
  // The exponent's bias is folded in here, so the hot path does not subtract it.
  FAST_SUB[cell] = (cell === 0 || reportBoundary ? OFF_WINDOW : SUB_BUCKET[cell]!) - EXPONENT_BIAS;
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
 * An array of n zeros with V8's packed double elements: a plain array of unboxed doubles, which
 * records update in place. Not a Float64Array, because a typed-array access checks for a detached
 * buffer as soon as any ArrayBuffer in the process has been detached (a transfer to a worker, a
 * WebAssembly memory growing, a web stream): V8 then drops its process-wide "no detached buffers"
 * assumption for good, and a host that embeds the agent is almost always in that state
 * (docs/DESIGN-LOG.md). The array starts from a double so that its elements are doubles
 * from the first push (pushing small integers into an empty array would make them small integers).
 */
function zeros(n: number): number[] {
  const array = [0.5];
  array.pop();
  for (let i = 0; i < n; i++) array.push(0);
  return array;
}

/** The first value of every series' cells, replaced in the constructor. */
const NO_CELLS: number[] = zeros(0);

export class HistogramSeries {
  // Fields start with a value of their final type: a class field without an initializer is first
  // set to undefined, and V8 then checks the field's type on every record() (~7% slower).
  /**
   * Two cells per bucket of the window: cells[2p] is the count of position p (bucket base + p),
   * cells[2p + 1] the sum of its values. A sum per bucket instead of one running sum: a single
   * `sum += v` chains every call to the previous one's add through memory (the same
   * loop: 4.0–4.3 ns per call with it, 3.5–3.9 ns with sums per bucket, which consecutive calls
   * rarely share, and the inner-range check below). Counts are doubles, exact to 2^53.
   */
  cells: number[] = NO_CELLS;
  /** Bucket index (at `scale`) of position 0. */
  base = 0;
  scale = REPORT_SCALE;
  /** MAX_SCALE - scale: turns the hot path's scale-8 index into one at `scale`. */
  shift = START_SHIFT;
  zeroCount = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  /** Positions of the buckets holding min and max (meaningful while min > 0, max > 0). */
  private minAt = 0;
  private maxAt = 0;
  /**
   * The positions strictly between min's bucket and max's: [inner, inner + innerSpan). A value
   * there is inside the window and can be neither a new min nor a new max, so the hot path checks
   * only that (one unsigned compare, which also fails for zero, negative, NaN, infinite, subnormal
   * and marked-cell values, whose positions fall outside any window).
   */
  private inner = 0;
  private innerSpan = 0;
  /** base + inner: the bucket index (at `scale`) where the inner range starts. */
  private innerAt = 0;
  /** Values ignored: NaN, negative, infinite, not a number at all. */
  rejected = 0;
  // The hot path's tables, reached through `this` rather than the module scope: a module-level
  // const costs a context load per use in optimized code, a field one load off a register (17%
  // fewer instructions per record() under callgrind; the time per call did not move measurably).
  private readonly bits: Float64Array = F64;
  private readonly hiWord: Uint32Array = HI_WORD;
  private readonly fastSub: Int32Array = FAST_SUB;

  constructor(readonly maxBuckets: number) {
    this.cells = zeros(2 * Math.min(INITIAL_CAPACITY, maxBuckets));
    this.base = 0 - (this.capacity >> 1); // 0 - 0 is the int 0, -(0) the double -0
    this.innerAt = this.base + this.inner;
  }

  /** Buckets in the window. */
  private get capacity(): number {
    return this.cells.length >> 1;
  }

  // THE HOT PATH. The bucket's position from the float's exponent bits and one table load (see
  // the header), one unsigned compare against the inner range, and two adds into one cache line.
  // No allocation, no Map, no try/catch, never throws. Everything else (the first values of an
  // interval, a new min or max, a value in min's or max's bucket, zero, rejected values, a marked
  // cell, outside the window) goes to recordEdge(), kept out of line so that this method stays
  // small enough to inline.
  record(v: number): void {
    // Free when the JIT knows v is a number; keeps '5' (which would turn a sum into a string), 5n
    // and symbols (which would throw) out.
    if (typeof v !== 'number') {
      this.rejected++;
      return;
    }
    this.bits[0] = v;
    const hi = this.hiWord[0]!;
    // The value's offset into the inner range, `at - inner` (`at` being its position).
    const rel = ((((hi >>> 20) << 8) + this.fastSub[(hi >>> 8) & 0xfff]!) >> this.shift) - this.innerAt;
    // Unsigned on both sides: an unsigned value against a signed field made V8 compare them as
    // doubles (two conversions and a float compare); `>>> 0` on both makes it one integer compare.
    // One subtract above instead of two: ~8% less time per record().
    if (rel >>> 0 < this.innerSpan >>> 0) {
      const cells = this.cells;
      const at = rel + this.inner;
      cells[2 * at]! += 1;
      cells[2 * at + 1]! += v;
    } else this.recordEdge(v, rel + this.inner);
  }

  /** Every value the hot path leaves; `at` is its position if the table placed it (see record). */
  private recordEdge(v: number, at: number): void {
    if (at >= MARKED_AT && v > 0) {
      // A marked cell (see FAST_SUB), most often well inside the range: its exact position, and
      // nothing else to do if that is inner (an infinite v never is).
      const exact = this.positionOf(v);
      if ((exact - this.inner) >>> 0 < this.innerSpan) {
        this.add(exact, v);
        return;
      }
    }
    if (v === 0) {
      this.zeroCount++;
      // Only the interval's first zero can change min or max (a histogram of many zeros stays cheap).
      if (this.min > 0 || this.max < 0) {
        if (this.min > 0) this.min = 0;
        if (this.max < 0) this.max = 0;
        this.refreshInner();
      }
      return;
    }
    // Also false for NaN. Past 1e300 the collector would refuse the value, and the report would
    // then leave out the whole series (one wild sample cost 100,000 good ones): refused alone.
    if (!(v > 0 && v <= VALUE_MAX)) {
      this.rejected++;
      return;
    }
    // A marked cell lands far outside any window, so `at` is right when inside it, unless v is
    // subnormal: the table reads its bits as if it were normal.
    const position = at >= 0 && at < this.capacity && v >= SMALLEST_NORMAL ? at : this.place(v);
    this.add(position, v);
    if (v < this.min || v > this.max) this.extend(v, position);
  }

  /** Counts v at `position` (what record() does inline on the hot path). */
  private add(position: number, v: number): void {
    const cells = this.cells;
    cells[2 * position]! += 1;
    cells[2 * position + 1]! += v;
  }

  /** v, at `position`, is a new min or max (or both: the interval's first value). */
  private extend(v: number, position: number): void {
    if (v < this.min) {
      this.min = v;
      this.minAt = position;
    }
    if (v > this.max) {
      this.max = v;
      this.maxAt = position;
    }
    this.refreshInner();
  }

  private refreshInner(): void {
    let from = this.min > 0 ? this.minAt + 1 : 0;
    // The table places a subnormal as if it were normal, at or below the bucket of 2^-1022: only
    // a min below that (zero or a subnormal) could let that position be inner, so keep it out.
    if (this.min < SMALLEST_NORMAL) from = Math.max(from, this.positionOf(SMALLEST_NORMAL) + 1);
    const to = this.max > 0 ? this.maxAt : 0;
    this.inner = from;
    this.innerSpan = to > from ? to - from : 0;
    // base and inner change only here, in the constructor, and where refreshInner() runs last
    // (place, remap through place, startInterval): innerAt is never stale.
    this.innerAt = this.base + from;
  }

  /** The position of a finite v > 0 in the current window, exactly (the rare path's index). */
  private positionOf(v: number): number {
    return (indexAtMaxScale(v) >> this.shift) - this.base;
  }

  /**
   * Rare path: the position of a finite v > 0 that the table could not place in the window (a
   * subnormal, a marked cell, outside the window), moving or widening the window if need be.
   */
  private place(v: number): number {
    const index = indexAtMaxScale(v) >> this.shift;
    if (index >= this.base && index < this.base + this.capacity) return index - this.base;
    const [first, last] = this.populated();
    let by = 0;
    if (first > last) {
      this.base = index - (this.capacity >> 1);
    } else {
      const lo = Math.min(this.base + first, index);
      const hi = Math.max(this.base + last, index);
      while ((hi >> by) - (lo >> by) + 1 > this.maxBuckets) by++;
      const span = (hi >> by) - (lo >> by) + 1;
      let capacity = this.capacity;
      while (capacity < span) capacity = Math.min(capacity * 2, this.maxBuckets);
      this.remap(this.scale - by, (lo >> by) - ((capacity - span) >> 1), capacity);
    }
    // The window moved: min's and max's buckets have new positions.
    if (this.min > 0 && this.min < Number.POSITIVE_INFINITY) this.minAt = this.positionOf(this.min);
    if (this.max > 0) this.maxAt = this.positionOf(this.max);
    this.refreshInner();
    return (index >> by) - this.base;
  }

  /** The first and last position with a non-zero count; first > last when all are zero. */
  private populated(): [number, number] {
    const cells = this.cells;
    const capacity = this.capacity;
    let first = 0;
    while (first < capacity && cells[2 * first] === 0) first++;
    let last = capacity - 1;
    while (last >= first && cells[2 * last] === 0) last--;
    return [first, last];
  }

  private remap(scale: number, base: number, capacity: number): void {
    const old = this.cells;
    const oldBase = this.base;
    const by = this.scale - scale;
    if (scratch.length < old.length) scratch = zeros(2 * this.maxBuckets);
    for (let k = 0; k < old.length; k++) scratch[k] = old[k]!;
    const cells = 2 * capacity === old.length ? old.fill(0) : zeros(2 * capacity);
    for (let k = 0; k < old.length >> 1; k++) {
      const n = scratch[2 * k]!;
      if (n === 0) continue;
      const to = ((oldBase + k) >> by) - base;
      cells[2 * to]! += n;
      cells[2 * to + 1]! += scratch[2 * k + 1]!;
    }
    this.cells = cells;
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
    const cells = this.cells;
    const [first, last] = this.populated();
    let count = this.zeroCount;
    let sum = 0;
    // One pass over the populated cells: each count copied out (into an array allocated at its
    // final length) and, with reset, both cells zeroed while they are in the cache.
    const length = Math.max(0, last - first + 1);
    const bucketCounts: number[] = new Array(length);
    for (let k = 0, at = 2 * first; k < length; k++, at += 2) {
      const n = cells[at]!;
      sum += cells[at + 1]!;
      bucketCounts[k] = n;
      count += n;
      if (reset) {
        cells[at] = 0;
        cells[at + 1] = 0;
      }
    }
    const empty = count === 0;
    const data: ExpHistogramData = {
      scale: this.scale,
      zeroCount: this.zeroCount,
      positive: { offset: first <= last ? this.base + first : 0, bucketCounts },
      count,
      sum,
      min: empty ? 0 : this.min,
      max: empty ? 0 : this.max,
    };
    if (reset) this.startInterval();
    return data;
  }

  /**
   * Starts a new interval once the cells are zero: scale back to REPORT_SCALE. The window keeps
   * its place (translated to that scale), so steady traffic records without the rare path from the
   * first value.
   */
  private startInterval(): void {
    // The window's centre, translated to REPORT_SCALE (an int, like base).
    const centre = (this.base + (this.capacity >> 1)) << (REPORT_SCALE - this.scale);
    this.base = centre - (this.capacity >> 1);
    this.scale = REPORT_SCALE;
    this.shift = START_SHIFT;
    this.zeroCount = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
    this.minAt = 0;
    this.maxAt = 0;
    this.refreshInner();
    this.rejected = 0;
  }
}
