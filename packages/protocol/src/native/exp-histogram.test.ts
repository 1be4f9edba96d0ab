import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketIndex,
  downscale,
  FITTED_BUCKETS_MIN,
  histogramOf,
  lowerBoundary,
  MERGE_BUCKETS_MAX,
  mergeHistograms,
  quantile,
  relativeErrorBound,
  SCALE_FOR_2_PERCENT,
  stepsToFit,
} from './exp-histogram.js';
import { validateHistogram } from './validate.js';

/** A seeded generator, so that a failure names data that can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function lognormal(n: number, seed: number): number[] {
  const r = random(seed);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    return Math.exp(-4 + 1.5 * z); // median 18 ms, p99 ≈ 0.6 s: query latencies in seconds
  });
}

const QUANTILES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

function worstRelativeError(values: number[], scale: number): number {
  const h = histogramOf(values, scale);
  const sorted = [...values].sort((a, b) => a - b);
  let worst = 0;
  for (const q of QUANTILES) {
    const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
    worst = Math.max(worst, Math.abs(quantile(h, q)! - exact) / exact);
  }
  return worst;
}

describe('exponential histogram math', () => {
  it('documents the bound: at most 2% from scale 5 up, more below', () => {
    expect(relativeErrorBound(SCALE_FOR_2_PERCENT)).toBeLessThan(0.011);
    expect(relativeErrorBound(4)).toBeGreaterThan(0.02);
    expect(relativeErrorBound(8)).toBeLessThan(0.0014);
    expect(relativeErrorBound(-10)).toBeCloseTo(1, 5);
  });

  it('estimates quantiles of lognormal latencies within 2% (scale 5)', () => {
    for (const seed of [1, 2, 3]) {
      const error = worstRelativeError(lognormal(100_000, seed), 5);
      expect(error).toBeLessThanOrEqual(relativeErrorBound(5));
      expect(error).toBeLessThan(0.02);
    }
  });

  it('estimates quantiles of uniform data within 2% (scale 5)', () => {
    const r = random(9);
    const values = Array.from({ length: 100_000 }, () => 0.001 + r() * 10);
    expect(worstRelativeError(values, 5)).toBeLessThan(0.02);
  });

  it('keeps the bound for any data at any scale (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-9, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 10 }),
        (values, scale) => {
          const h = histogramOf(values, scale, 1 << 20);
          const sorted = [...values].sort((a, b) => a - b);
          for (const q of QUANTILES) {
            const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
            const error = Math.abs(quantile(h, q)! - exact) / exact;
            expect(error).toBeLessThanOrEqual(relativeErrorBound(h.scale) * (1 + 1e-9));
          }
        },
      ),
    );
  });

  it('puts every value in the bucket whose boundaries hold it, including exact boundaries', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-300, max: 1e300, noNaN: true }), // subnormals: approximate boundaries
        fc.integer({ min: -10, max: 20 }),
        (v, scale) => {
          const i = bucketIndex(v, scale);
          expect(lowerBoundary(i, scale) < v || lowerBoundary(i, scale) === 0).toBe(true);
          expect(v <= lowerBoundary(i + 1, scale)).toBe(true);
        },
      ),
    );
    // Powers of two are upper bounds of their bucket (OpenTelemetry's upper-inclusive buckets).
    expect(bucketIndex(1, 0)).toBe(-1);
    expect(bucketIndex(2, 0)).toBe(0);
    expect(bucketIndex(4, 3)).toBe(15);
    expect(bucketIndex(1, 8)).toBe(-1);
    expect(bucketIndex(1.0000001, 8)).toBe(0);
  });

  it('downscaling equals recording at the lower scale', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), { maxLength: 100 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        (values, scale, by) => {
          const direct = histogramOf(values, scale - by, 1 << 20);
          const lowered = downscale(histogramOf(values, scale, 1 << 20), by);
          expect(lowered.positive).toEqual(direct.positive);
          expect(lowered.scale).toBe(direct.scale);
        },
      ),
    );
  });

  const arbitraryHistogram = fc
    .tuple(
      fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e6, noNaN: true })), { maxLength: 60 }),
      fc.integer({ min: -3, max: 12 }),
    )
    .map(([values, scale]) => histogramOf(values, scale, 64));

  const sameCounts = (a: ReturnType<typeof histogramOf>, b: ReturnType<typeof histogramOf>) => {
    expect({ ...a, sum: 0 }).toEqual({ ...b, sum: 0 });
    expect(a.sum).toBeCloseTo(b.sum, 6);
  };

  it('merge is associative and commutative (property), with a bounded bucket count', () => {
    fc.assert(
      fc.property(arbitraryHistogram, arbitraryHistogram, arbitraryHistogram, (a, b, c) => {
        const left = mergeHistograms([mergeHistograms([a, b], 64), c], 64);
        const right = mergeHistograms([a, mergeHistograms([b, c], 64)], 64);
        sameCounts(left, right);
        sameCounts(mergeHistograms([a, b], 64), mergeHistograms([b, a], 64));
        sameCounts(left, mergeHistograms([a, b, c], 64));
        expect(left.positive.bucketCounts.length).toBeLessThanOrEqual(64);
        expect(left.count).toBe(a.count + b.count + c.count);
      }),
    );
  });

  it('merging equals recording every value in one histogram at the smallest scale (property)', () => {
    const part = fc.tuple(
      fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-9, max: 1e9, noNaN: true })), { maxLength: 40 }),
      fc.integer({ min: -2, max: 10 }),
    );
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 2, max: 80 }),
        (parts, max) => {
          const merged = mergeHistograms(
            parts.map(([values, scale]) => histogramOf(values, scale, 1 << 20)),
            max,
          );
          const populatedScales = parts.filter(([values]) => values.some((v) => v > 0)).map(([, s]) => s);
          const scale = Math.min(...(populatedScales.length > 0 ? populatedScales : parts.map(([, s]) => s)));
          const direct = histogramOf(
            parts.flatMap(([values]) => values),
            scale,
            max,
          );
          expect({ ...merged, sum: 0 }).toEqual({ ...direct, sum: 0 });
          // Sums added in another order: equal up to rounding, relative to their size.
          expect(Math.abs(merged.sum - direct.sum)).toBeLessThanOrEqual(1e-12 * Math.abs(direct.sum));
        },
      ),
    );
  });

  it('merging per-node histograms gives the same quantiles as one histogram of all values', () => {
    const nodes = [1, 2, 3, 4].map((seed) => lognormal(20_000, seed));
    const merged = mergeHistograms(nodes.map((values) => histogramOf(values, 8, 1024)));
    const all = nodes.flat().sort((a, b) => a - b);
    expect(merged.scale).toBeGreaterThanOrEqual(5);
    for (const q of QUANTILES) {
      const exact = all[Math.floor(q * (all.length - 1))]!;
      expect(Math.abs(quantile(merged, q)! - exact) / exact).toBeLessThan(0.02);
    }
  });

  it('keeps a fleet merge fine when two inputs lie far apart (up to MERGE_BUCKETS_MAX buckets)', () => {
    const around = (x: number) => Array.from({ length: 50 }, (_, i) => x * (1 + i / 50));
    const fleet = histogramOf(lognormal(5_000, 7), 5);
    // 2^1000 apart: scale 4 (16,000 buckets), not scale 1 as with the input limit of 2,048.
    const far = mergeHistograms([fleet, histogramOf(around(2 ** -500), 5), histogramOf(around(2 ** 500), 5)]);
    expect(far.scale).toBe(4);
    expect(far.positive.bucketCounts.length).toBeLessThanOrEqual(MERGE_BUCKETS_MAX);
    expect(relativeErrorBound(far.scale)).toBeLessThan(0.022);
    // The widest range a double allows: scale 2 (8.6%), not -1 (60%).
    const widest = mergeHistograms([histogramOf([2 ** -1070], 5), fleet, histogramOf([2 ** 1020], 5)]);
    expect(widest.scale).toBe(2);
    // The fleet's own quantiles stay within the merged scale's bound.
    const all = [...lognormal(5_000, 7), ...around(2 ** -500), ...around(2 ** 500)].sort((a, b) => a - b);
    for (const q of QUANTILES) {
      const exact = all[Math.floor(q * (all.length - 1))]!;
      expect(Math.abs(quantile(far, q)! - exact) / exact).toBeLessThanOrEqual(
        relativeErrorBound(4) * (1 + 1e-9),
      );
    }
  });

  it('answers null for an empty histogram and min/max at the ends', () => {
    const h = histogramOf([], 5);
    expect(quantile(h, 0.5)).toBeNull();
    const g = histogramOf([0, 0, 3, 7], 5);
    expect(quantile(g, 0)).toBe(0);
    expect(quantile(g, 0.4)).toBe(0);
    expect(quantile(g, 1)).toBe(7);
  });

  it('takes every histogram an agent can send, and refuses one lowered two scales past that (property)', () => {
    const coarseCode = (h: ReturnType<typeof histogramOf>) => {
      try {
        validateHistogram(h, 'h');
        return undefined;
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: 2 ** -1074, max: 2 ** 980, noNaN: true })), {
          minLength: 1,
          maxLength: 200,
        }),
        fc.integer({ min: 32, max: 2048 }),
        (values, budget) => {
          // What an agent records (scale 5 at most, lowered to its bucket budget), then lowers
          // step by step to fit a report (report.ts shrinkReport): every step is accepted.
          const recorded = histogramOf(values, SCALE_FOR_2_PERCENT, budget);
          const steps = stepsToFit(recorded, FITTED_BUCKETS_MIN);
          for (let by = 0; by <= steps; by++) expect(coarseCode(downscale(recorded, by))).toBeUndefined();
          const past = downscale(recorded, steps + 2);
          const positive = recorded.count > recorded.zeroCount;
          if (past.scale < -10)
            expect(coarseCode(past)).toBe('invalid_field'); // below the wire's scales
          else expect(coarseCode(past)).toBe(positive ? 'coarse_histogram' : undefined);
        },
      ),
    );
  });
});
