import { bucketIndex, downscale, histogramOf, quantile, relativeErrorBound } from '@tidewatch/protocol';
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
        expect(series.counts.every((n) => n === 0)).toBe(true);
        const fresh = new HistogramSeries(buckets);
        for (const v of second) {
          series.record(v);
          fresh.record(v);
        }
        expect(series.snapshot()).toEqual(fresh.snapshot());
      }),
    );
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
    const before = series.counts;
    series.snapshot(true);
    expect(series.scale).toBe(REPORT_SCALE);
    expect(series.snapshot()).toMatchObject({
      count: 0,
      scale: REPORT_SCALE,
      positive: { bucketCounts: [] },
    });
    series.record(0.01);
    expect(series.snapshot().count).toBe(1);
    expect(series.counts).toBe(before);
  });

  it('keeps a bucket count exact past 2^31 (the counts array leaves small integers then)', () => {
    const series = new HistogramSeries(1024);
    series.record(0.25);
    const bucket = series.counts.indexOf(1);
    series.counts[bucket] = 2 ** 31 - 1; // as if recorded that often: 20 s of calls at 100M/s
    series.record(0.25);
    series.record(0.25);
    series.record(4); // a second bucket, and a re-centred window keeps the big count
    for (const v of lognormal(2000, 9)) series.record(v); // wide enough to lower the scale
    const snapshot = series.snapshot();
    expect(snapshot.count).toBe(2 ** 31 + 1 + 1 + 2000);
    expect(Math.max(...snapshot.positive.bucketCounts)).toBeGreaterThanOrEqual(2 ** 31 + 1);
  });
});
