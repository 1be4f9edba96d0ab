// The pure math of OpenTelemetry's base-2 exponential histogram, shared by the agent (which records)
// and the collector (which merges across nodes and days and answers quantiles).
//
// Model: at scale s the base is b = 2^(2^-s) and bucket i counts values in (b^i, b^(i+1)]; zero has
// its own count. Lowering the scale by one merges bucket pairs (index i becomes i >> 1), so two
// histograms always merge exactly at the smaller of their scales.
//
// Relative error. A quantile is answered with the point of its bucket that is closest, relatively, to
// both ends: x = 2·lo·hi / (lo + hi). Every value v in (lo, hi] is then within
//   |x - v| / v ≤ (b - 1) / (b + 1)
// of it, which is `relativeErrorBound(scale)`: 1.08% at scale 5, 2.17% at scale 4. The promise
// "quantiles within 2%" therefore means scale ≥ 5 (`SCALE_FOR_2_PERCENT`); agents report at scale 5 at
// most (packages/agent/src/histogram.ts, REPORT_SCALE). The agent records at
// scale 8 and keeps up to 1024 buckets per series, so it stays at scale ≥ 5 as long as one series'
// values in one interval span at most 2^32 (a nanosecond to an hour); wider data lowers the scale,
// and the scale carried in every histogram says which bound applies. Quantiles are of the "lower"
// kind: the estimate is within the bound of the item at 0-based rank floor(q·(count-1)), clamped to
// the exact min and max.
import { type ExpHistogramData, NATIVE_LIMITS } from './model.js';

/** The smallest scale whose relative error bound is at most 2%. */
export const SCALE_FOR_2_PERCENT = 5;

/**
 * The fewest buckets a histogram is lowered to for size: an agent lowers a histogram's scale to
 * keep its report under the size limit only while the histogram spans more buckets than this
 * (packages/agent/src/report.ts), and otherwise only to keep a series within its bucket budget
 * (at least 32). So a histogram below SCALE_FOR_2_PERCENT whose values would span this many
 * buckets or fewer one scale finer was made coarse on purpose, and the collector refuses it:
 * merges go to their coarsest input's scale, so one such histogram would coarsen every fleet
 * answer it joins.
 */
export const FITTED_BUCKETS_MIN = 16;

/**
 * The most buckets a merge spans before it lowers its scale: 512 octaves at scale 5. One histogram
 * spans at most NATIVE_LIMITS.bucketsMax (2,048), but a fleet merge spans all of its inputs: with
 * 2,048 as the merge's limit too, two series whose values lay 2^1000 apart (2^-500 in one, 2^500 in
 * another) lowered every fleet quantile of their metric to scale 1 (17%); with this limit, scale 4
 * (2.2%), and the widest range doubles allow (2^-1074 to 2^1023) scale 2 (8.6%) instead of -1
 * (60%). The counts grow with the span actually merged, not with this limit.
 */
export const MERGE_BUCKETS_MAX = 16_384;

/** Largest relative error of a quantile estimate at `scale` (see the header). */
export function relativeErrorBound(scale: number): number {
  const inverseBase = 2 ** -(2 ** -scale); // 1/b, finite at every scale (b overflows below -9)
  return (1 - inverseBase) / (1 + inverseBase);
}

/**
 * The lower boundary of bucket `index` at `scale` (exclusive), i.e. b^index, computed as
 * 2^octave · 2^(r / 2^scale) so that every scale and the agent's lookup table round it the same way.
 */
export function lowerBoundary(index: number, scale: number): number {
  if (scale <= 0) return 2 ** (index * 2 ** -scale);
  const size = 2 ** scale;
  const octave = Math.floor(index / size);
  return 2 ** octave * 2 ** ((index - octave * size) / size);
}

/** The bucket that holds `value` (> 0, finite) at `scale`, exact at every bucket boundary. */
export function bucketIndex(value: number, scale: number): number {
  const factor = 2 ** scale;
  let index = Math.ceil(Math.log2(value) * factor) - 1;
  // Math.log2 may be off by an ulp next to a boundary: settle against the boundaries themselves.
  if (value <= lowerBoundary(index, scale)) index -= 1;
  else if (value > lowerBoundary(index + 1, scale)) index += 1;
  return index;
}

export function emptyHistogram(scale: number): ExpHistogramData {
  return { scale, zeroCount: 0, positive: { offset: 0, bucketCounts: [] }, count: 0, sum: 0, min: 0, max: 0 };
}

/** First and last non-zero bucket index, or null when there are none. */
function populated(h: ExpHistogramData): [number, number] | null {
  const counts = h.positive.bucketCounts;
  let first = 0;
  while (first < counts.length && counts[first] === 0) first++;
  if (first === counts.length) return null;
  let last = counts.length - 1;
  while (counts[last] === 0) last--;
  return [h.positive.offset + first, h.positive.offset + last];
}

/**
 * Merges any number of histograms: counts add up, at the largest scale that is no larger than any
 * input's and keeps the populated range within `maxBuckets`. Associative and commutative (up to
 * floating-point rounding of `sum`); the result has no leading or trailing zero buckets.
 */
export function mergeHistograms(
  histograms: readonly ExpHistogramData[],
  maxBuckets: number = MERGE_BUCKETS_MAX,
): ExpHistogramData {
  const merger = new HistogramMerger(maxBuckets);
  for (const h of histograms) merger.add(h);
  return merger.result();
}

/**
 * mergeHistograms one input at a time, so that a caller merging tens of thousands of histograms
 * (a fleet query over a year of daily rollups) need not keep them all: each can be garbage as soon
 * as it is added. The result equals mergeHistograms of the same inputs in the same order: the
 * scale only ever goes down (to the smallest populated input's, then as far as the range so far
 * needs), lowering twice is lowering once by the sum, and `sum` adds up in input order.
 */
export class HistogramMerger {
  private inputs = 0;
  /** The smallest scale of any input, populated or not (the result's scale if none is). */
  private anyScale = Number.POSITIVE_INFINITY;
  /** The scale `counts` are kept at; infinite until a populated input arrives. */
  private scale = Number.POSITIVE_INFINITY;
  /** Populated bucket range at `scale`; counts[i - lo] is bucket i. */
  private lo = 0;
  private hi = -1;
  private counts: number[] = [];
  private zeroCount = 0;
  private count = 0;
  private sum = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;

  constructor(private readonly maxBuckets: number = MERGE_BUCKETS_MAX) {}

  add(h: ExpHistogramData): void {
    this.inputs += 1;
    this.anyScale = Math.min(this.anyScale, h.scale);
    this.zeroCount += h.zeroCount;
    this.count += h.count;
    this.sum += h.sum;
    if (h.count > 0) {
      this.min = Math.min(this.min, h.min);
      this.max = Math.max(this.max, h.max);
    }
    const range = populated(h);
    if (!range) return;
    const first = this.scale === Number.POSITIVE_INFINITY;
    if (first) this.scale = h.scale;
    else if (h.scale < this.scale) this.lower(this.scale - h.scale);
    let shift = h.scale - this.scale;
    let lo = first ? range[0] >> shift : Math.min(this.lo, range[0] >> shift);
    let hi = first ? range[1] >> shift : Math.max(this.hi, range[1] >> shift);
    while (hi - lo + 1 > this.maxBuckets) {
      if (!first) this.lower(1);
      else this.scale -= 1;
      shift += 1;
      lo >>= 1;
      hi >>= 1;
    }
    if (first) {
      this.counts = new Array<number>(hi - lo + 1).fill(0);
    } else if (lo < this.lo || hi > this.hi) {
      const grown = new Array<number>(hi - lo + 1).fill(0);
      for (let k = 0; k < this.counts.length; k++) grown[this.lo - lo + k] = this.counts[k]!;
      this.counts = grown;
    }
    this.lo = lo;
    this.hi = hi;
    const counts = h.positive.bucketCounts;
    for (let k = 0; k < counts.length; k++) {
      const n = counts[k]!;
      if (n !== 0) this.counts[((h.positive.offset + k) >> shift) - lo]! += n;
    }
  }

  /** Lowers the kept counts by `by` scale steps (bucket i becomes i >> by). */
  private lower(by: number): void {
    const lo = this.lo >> by;
    const lowered = new Array<number>((this.hi >> by) - lo + 1).fill(0);
    for (let k = 0; k < this.counts.length; k++) lowered[((this.lo + k) >> by) - lo]! += this.counts[k]!;
    this.counts = lowered;
    this.lo = lo;
    this.hi >>= by;
    this.scale -= by;
  }

  result(): ExpHistogramData {
    if (this.inputs === 0) return emptyHistogram(NATIVE_LIMITS.scaleMax);
    const populatedAny = this.scale !== Number.POSITIVE_INFINITY;
    const merged = emptyHistogram(populatedAny ? this.scale : this.anyScale);
    merged.zeroCount = this.zeroCount;
    merged.count = this.count;
    merged.sum = this.sum;
    if (populatedAny) merged.positive = { offset: this.lo, bucketCounts: [...this.counts] };
    if (this.count > 0) {
      merged.min = this.min;
      merged.max = this.max;
    }
    return merged;
  }
}

/** The fewest scale steps that bring h's populated buckets within `buckets` (0 when they are). */
export function stepsToFit(h: ExpHistogramData, buckets: number): number {
  const range = populated(h);
  if (!range) return 0;
  let by = 0;
  while ((range[1] >> by) - (range[0] >> by) + 1 > buckets) by++;
  return by;
}

/**
 * How many buckets h's positive values would span one scale finer, with a bucket of slack at
 * either end for producers that compute boundaries in floating point (0 without positive
 * values). With min 0 the smallest positive value is unknown: its bucket's finer half below is
 * counted.
 */
export function spanOneScaleFiner(h: ExpHistogramData): number {
  const range = populated(h);
  if (!range) return 0;
  const finer = h.scale + 1;
  const lo = h.min > 0 ? bucketIndex(h.min, finer) : 2 * range[0];
  return bucketIndex(h.max, finer) - lo + 3;
}

/** Lowers the scale by `by` steps (bucket i becomes i >> by); the result is trimmed. */
export function downscale(h: ExpHistogramData, by: number): ExpHistogramData {
  const range = populated(h);
  const out: ExpHistogramData = { ...h, scale: h.scale - by, positive: { offset: 0, bucketCounts: [] } };
  if (!range) return out;
  const lo = range[0] >> by;
  const counts = new Array<number>((range[1] >> by) - lo + 1).fill(0);
  h.positive.bucketCounts.forEach((n, k) => {
    if (n !== 0) counts[((h.positive.offset + k) >> by) - lo]! += n;
  });
  out.positive = { offset: lo, bucketCounts: counts };
  return out;
}

/**
 * Estimates the q-quantile (0 ≤ q ≤ 1) within `relativeErrorBound(h.scale)` of the item at rank
 * floor(q·(count-1)); null for an empty histogram.
 */
export function quantile(h: ExpHistogramData, q: number): number | null {
  if (h.count === 0) return null;
  if (q <= 0) return h.min;
  if (q >= 1) return h.max;
  const rank = q * (h.count - 1);
  let seen = h.zeroCount;
  if (seen > rank) return Math.max(0, h.min);
  const inverseBase = 2 ** -(2 ** -h.scale);
  const midpoint = 2 / (1 + inverseBase); // 2·lo·hi/(lo+hi) = lo · 2b/(1+b)
  const counts = h.positive.bucketCounts;
  for (let k = 0; k < counts.length; k++) {
    seen += counts[k]!;
    if (seen > rank) {
      const estimate = lowerBoundary(h.positive.offset + k, h.scale) * midpoint;
      return Math.min(Math.max(estimate, h.min), h.max);
    }
  }
  return h.max;
}

/** Builds a histogram from raw values at `scale` (lowered as needed to fit `maxBuckets`). */
export function histogramOf(
  values: Iterable<number>,
  scale: number = NATIVE_LIMITS.scaleMax,
  maxBuckets: number = NATIVE_LIMITS.bucketsMax,
): ExpHistogramData {
  const byIndex = new Map<number, number>();
  const h = emptyHistogram(scale);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!(v >= 0) || v === Number.POSITIVE_INFINITY) continue;
    h.count += 1;
    h.sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
    if (v === 0) h.zeroCount += 1;
    else {
      const i = bucketIndex(v, scale);
      byIndex.set(i, (byIndex.get(i) ?? 0) + 1);
    }
  }
  if (h.count > 0) {
    h.min = min;
    h.max = max;
  }
  if (byIndex.size === 0) return h;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const i of byIndex.keys()) {
    first = Math.min(first, i);
    last = Math.max(last, i);
  }
  let by = 0;
  while ((last >> by) - (first >> by) + 1 > maxBuckets) by++;
  const lo = first >> by;
  const counts = new Array<number>((last >> by) - lo + 1).fill(0);
  for (const [i, n] of byIndex) counts[(i >> by) - lo]! += n;
  return { ...h, scale: scale - by, positive: { offset: lo, bucketCounts: counts } };
}
