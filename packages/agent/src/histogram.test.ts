import {
  bucketIndex,
  downscale,
  histogramOf,
  quantile,
  relativeErrorBound,
  validateHistogram,
} from '@tidewatch/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HistogramSeries, indexAtMaxScale, MAX_SCALE, REPORT_SCALE } from './histogram.js';

function lognormal(n: number, seed: number): number[] {
  let s = seed;
  const r = () => {
    s = (s * 1664525 + 1013904223) % 4294967296;
    return (s + 0.5) / 4294967296;
  };
  return Array.from({ length: n }, () =>
    Math.exp(-5 + 2 * Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r())),
  );
}

describe('histogram series (hot path)', () => {
  it('computes the exact OpenTelemetry bucket from the float bits', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 1e300, noNaN: true }), (v) => {
        expect(indexAtMaxScale(v)).toBe(bucketIndex(v, MAX_SCALE));
      }),
      { numRuns: 20_000 },
    );
    for (let e = -20; e <= 20; e++) {
      for (let j = 0; j < 256; j += 17) {
        const boundary = 2 ** (e + j / 256);
        for (const v of [boundary, boundary * (1 + 2 ** -52), boundary * (1 - 2 ** -53)]) {
          expect(indexAtMaxScale(v)).toBe(bucketIndex(v, MAX_SCALE));
        }
      }
    }
  });

  it('reports the exact bucket for values at and beside every report-scale boundary', () => {
    // The hot path's table may put a value one scale-8 bucket low; only inside a report bucket.
    for (let e = -12; e <= 12; e++) {
      for (let j = 0; j < 32; j++) {
        const boundary = 2 ** (e + j / 32);
        const values = [
          boundary,
          boundary * (1 + 2 ** -52),
          boundary * (1 - 2 ** -53),
          boundary * (1 + 2 ** -14),
        ];
        const series = new HistogramSeries(1024);
        for (const v of values) series.record(v);
        const got = series.snapshot();
        expect(got.scale).toBe(REPORT_SCALE);
        const expected = new Map<number, number>();
        for (const v of values) {
          const index = bucketIndex(v, REPORT_SCALE);
          expected.set(index, (expected.get(index) ?? 0) + 1);
        }
        for (const [index, n] of expected) {
          expect(got.positive.bucketCounts[index - got.positive.offset]).toBe(n);
        }
      }
    }
  });

  it('records exactly what the protocol math would (any values, any bucket budget)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-12, max: 1e12, noNaN: true })), {
          maxLength: 300,
        }),
        fc.constantFrom(32, 160, 1024),
        (values, buckets) => {
          const series = new HistogramSeries(buckets);
          for (const v of values) series.record(v);
          const recorded = histogramOf(values, MAX_SCALE, buckets);
          // Reports carry at most REPORT_SCALE: the recorded buckets, downscaled exactly.
          const expected =
            recorded.scale > REPORT_SCALE ? downscale(recorded, recorded.scale - REPORT_SCALE) : recorded;
          const got = series.snapshot();
          expect({ ...got, sum: 0 }).toEqual({ ...expected, sum: 0 });
          expect(got.sum).toBeCloseTo(expected.sum, 3);
          expect(got.positive.bucketCounts.length).toBeLessThanOrEqual(buckets);
        },
      ),
    );
  });

  it("reports histograms the collector's validation accepts (any values, the whole double range)", () => {
    const anyPositive = fc.oneof(
      fc.constant(0),
      fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true }),
      fc.double({ min: 1e-6, max: 10, noNaN: true }),
    );
    fc.assert(
      fc.property(
        fc.array(anyPositive, { maxLength: 200 }),
        fc.constantFrom(32, 160, 1024),
        (values, buckets) => {
          const series = new HistogramSeries(buckets);
          for (const v of values) series.record(v);
          const h = series.snapshot();
          // Finite sums only: two values near MAX_VALUE add up to Infinity, which no report carries.
          fc.pre(Number.isFinite(h.sum) && Math.abs(h.sum) <= 1e300);
          expect(() => validateHistogram(h, 'h')).not.toThrow();
        },
      ),
    );
  });

  it('snapshots and starts anew in one pass: the next interval is as if the series were new', () => {
    const values = fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-9, max: 1e9, noNaN: true })), {
      maxLength: 200,
    });
    fc.assert(
      fc.property(values, values, fc.constantFrom(32, 160, 1024), (first, second, buckets) => {
        const series = new HistogramSeries(buckets);
        const twin = new HistogramSeries(buckets);
        for (const v of first) {
          series.record(v);
          twin.record(v);
        }
        expect(series.snapshot(true)).toEqual(twin.snapshot());
        expect(series.cells.every((n) => n === 0)).toBe(true);
        const fresh = new HistogramSeries(buckets);
        for (const v of second) {
          series.record(v);
          fresh.record(v);
        }
        // Sums are kept per bucket, and a window that moved merges buckets at other moments: the
        // same values may then add up in another order, so the sums agree to rounding.
        const got = series.snapshot();
        const expected = fresh.snapshot();
        expect({ ...got, sum: 0 }).toEqual({ ...expected, sum: 0 });
        expect(got.sum).toBeCloseTo(expected.sum, 9);
      }),
    );
  });

  it('counts, min, max and sum stay exact for any mix of values, over several intervals', () => {
    // The hot path checks only that a value lands strictly between min's and max's buckets; this
    // throws everything else at it: zero, -0, NaN, infinities, negatives, subnormals, exact
    // boundaries and values beside them, repeats, in any order, with resets in between.
    const boundary = fc
      .tuple(fc.integer({ min: -40, max: 40 }), fc.integer({ min: 0, max: 31 }), fc.constantFrom(0, 1, -1))
      .map(([e, j, nudge]) => 2 ** (e + j / 32) * (1 + nudge * 2 ** -52));
    const value = fc.oneof(
      fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 5e-324, -5e-324),
      fc.double({ min: -1e3, max: -1e-300, noNaN: true }),
      fc.double({ min: 1e-310, max: 1e300, noNaN: true }),
      fc.double({ min: 1e-4, max: 10, noNaN: true }),
      boundary,
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(value, { maxLength: 120 }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(16, 160, 1024),
        (intervals, buckets) => {
          const series = new HistogramSeries(buckets);
          for (const values of intervals) {
            for (const v of values) series.record(v);
            const valid = values.filter((v) => v >= 0 && v < Number.POSITIVE_INFINITY);
            const recorded = histogramOf(valid, MAX_SCALE, buckets);
            const expected =
              recorded.scale > REPORT_SCALE ? downscale(recorded, recorded.scale - REPORT_SCALE) : recorded;
            expect(series.rejected).toBe(values.length - valid.length);
            const got = series.snapshot(true);
            expect({ ...got, sum: 0, min: 0, max: 0 }).toEqual({ ...expected, sum: 0, min: 0, max: 0 });
            // + 0: a -0 is reported as 0.
            expect(got.min + 0).toBe(valid.length > 0 ? Math.min(...valid) + 0 : 0);
            expect(got.max + 0).toBe(valid.length > 0 ? Math.max(...valid) + 0 : 0);
            const sum = valid.reduce((a, b) => a + b, 0);
            expect(Math.abs(got.sum - sum)).toBeLessThanOrEqual(Math.abs(sum) * 1e-12);
          }
        },
      ),
      { numRuns: Number(process.env.HISTOGRAM_RUNS ?? 500) },
    );
  });

  it('records a value that repeats (every call at the min and max bucket) exactly', () => {
    const series = new HistogramSeries(1024);
    for (let i = 0; i < 10_000; i++) series.record(0.005);
    series.record(0.004);
    const got = series.snapshot();
    expect(got.count).toBe(10_001);
    expect(got.min).toBe(0.004);
    expect(got.max).toBe(0.005);
    expect(got.sum).toBeCloseTo(10_000 * 0.005 + 0.004, 9);
  });

  it('keeps quantiles of lognormal latencies within 2% with the default 1024 buckets', () => {
    const values = lognormal(200_000, 7);
    const series = new HistogramSeries(1024);
    for (const v of values) series.record(v);
    const h = series.snapshot();
    expect(h.scale).toBeGreaterThanOrEqual(5);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
      const error = Math.abs(quantile(h, q)! - exact) / exact;
      expect(error).toBeLessThanOrEqual(relativeErrorBound(h.scale));
      expect(error).toBeLessThan(0.02);
    }
  });

  it('ignores NaN, negative and infinite values and counts them', () => {
    const series = new HistogramSeries(64);
    for (const v of [Number.NaN, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 5e-324, 0.5]) {
      series.record(v);
    }
    expect(series.rejected).toBe(4);
    expect(series.snapshot().count).toBe(2);
  });

  it('starts each interval empty and at the report scale, reusing its window', () => {
    const series = new HistogramSeries(1024);
    for (const v of lognormal(1000, 3)) series.record(v);
    const before = series.cells;
    series.snapshot(true);
    expect(series.scale).toBe(REPORT_SCALE);
    expect(series.snapshot()).toMatchObject({
      count: 0,
      scale: REPORT_SCALE,
      positive: { bucketCounts: [] },
    });
    series.record(0.01);
    expect(series.snapshot().count).toBe(1);
    expect(series.cells).toBe(before);
  });

  it('keeps a bucket count exact past 2^31', () => {
    const series = new HistogramSeries(1024);
    series.record(0.25);
    const bucket = series.cells.indexOf(1); // cells are count, sum pairs; the one count of 1
    series.cells[bucket] = 2 ** 31 - 1; // as if recorded that often: 20 s of calls at 100M/s
    series.record(0.25);
    series.record(0.25);
    series.record(4); // a second bucket, and a re-centred window keeps the big count
    for (const v of lognormal(2000, 9)) series.record(v); // wide enough to lower the scale
    const snapshot = series.snapshot();
    expect(snapshot.count).toBe(2 ** 31 + 1 + 1 + 2000);
    expect(Math.max(...snapshot.positive.bucketCounts)).toBeGreaterThanOrEqual(2 ** 31 + 1);
  });
});
