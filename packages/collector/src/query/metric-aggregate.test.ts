// Fleet aggregation of agent metrics, on hand-made points.
import { histogramOf } from '@tidewatch/protocol';
import { describe, expect, it } from 'vitest';
import type { MetricPoint } from '../store/store.js';
import { aggregateMetric } from './metric-aggregate.js';

function point(o: Partial<MetricPoint>): MetricPoint {
  return {
    reportId: 'r1',
    trackingId: 'c1',
    receivedAt: 1000,
    nodeType: 'pglite',
    version: '1.0.0',
    clusterType: null,
    kind: 'gauge',
    value: 0,
    histogram: null,
    ...o,
  };
}

describe('aggregateMetric', () => {
  it("sums each cluster's latest report of a gauge, even when two reports share a millisecond", () => {
    const answer = aggregateMetric(
      [
        point({ reportId: 'a', value: 6 }),
        point({ reportId: 'b', value: 6 }), // another report, same cluster, same millisecond
        point({ reportId: 'b', value: 1 }), // a second label set of report b
        point({ trackingId: 'c2', reportId: 'c', value: 4, receivedAt: 500 }),
      ],
      undefined,
    );
    expect(answer.rows).toEqual([{ value: 'all', clusters: 2, last: 11, min: 1, max: 6, avg: 17 / 4 }]);
  });

  it('merges histograms across reports before taking quantiles', () => {
    const a = Array.from({ length: 100 }, (_, i) => 0.001 * (i + 1));
    const b = Array.from({ length: 100 }, (_, i) => 1 + i);
    const answer = aggregateMetric(
      [
        point({ kind: 'histogram', histogram: JSON.stringify(histogramOf(a, 5)) }),
        point({ kind: 'histogram', reportId: 'r2', histogram: JSON.stringify(histogramOf(b, 5)) }),
      ],
      undefined,
    );
    const row = answer.rows[0]!;
    expect(row.count).toBe(200);
    // The median of all 200 values is the 100th smallest (0.1), not an average of medians.
    expect(Math.abs(row.p50! - 0.1) / 0.1).toBeLessThanOrEqual(0.02);
    expect(Math.abs(row.p99! - 99) / 99).toBeLessThanOrEqual(0.02);
  });

  it('groups by the requested dimension, unknown values as null', () => {
    const answer = aggregateMetric(
      [
        point({ kind: 'counter', value: 2 }),
        point({ kind: 'counter', value: 3, trackingId: 'c2', version: null }),
      ],
      'version',
    );
    expect(answer).toEqual({
      kind: 'counter',
      rows: [
        { value: '1.0.0', clusters: 1, total: 2 },
        { value: null, clusters: 1, total: 3 },
      ],
    });
  });
});
