// Fleet aggregation of agent metrics, on hand-made points folded into daily rollup rows.
import { histogramOf } from '@tidewatch/protocol';
import { describe, expect, it } from 'vitest';
import { foldPoints, metricRollup, type PointRow } from '../store/metric-rollup.js';
import { aggregateMetric, metricGrouping } from './metric-aggregate.js';

function point(o: Partial<PointRow>): PointRow {
  return {
    report_id: 'r1',
    tracking_id: 'c1',
    received_at: 1000,
    received_day: '1970-01-01',
    node_type: 'pglite',
    version: '1.0.0',
    cluster_type: null,
    ci: 0,
    name: 'm',
    kind: 'gauge',
    labels: '{}',
    value: 0,
    histogram: null,
    ...o,
  };
}

const rollups = (points: PointRow[]) => foldPoints(points).map(metricRollup);

describe('aggregateMetric', () => {
  it("sums each cluster's latest report of a gauge, even when two reports share a millisecond", () => {
    const answer = aggregateMetric(
      rollups([
        point({ report_id: 'a', value: 6 }),
        point({ report_id: 'b', value: 6 }), // another report, same cluster, same millisecond
        point({ report_id: 'b', value: 1, labels: '{"db":"x"}' }), // a second label set of report b
        point({ tracking_id: 'c2', report_id: 'c', value: 4, received_at: 500 }),
      ]),
      undefined,
    );
    expect(answer.rows).toEqual([{ value: 'all', clusters: 2, last: 11, min: 1, max: 6, avg: 17 / 4 }]);
  });

  it('merges histograms across reports before taking quantiles', () => {
    const a = Array.from({ length: 100 }, (_, i) => 0.001 * (i + 1));
    const b = Array.from({ length: 100 }, (_, i) => 1 + i);
    const answer = aggregateMetric(
      rollups([
        point({ kind: 'histogram', histogram: JSON.stringify(histogramOf(a, 5)) }),
        point({ kind: 'histogram', report_id: 'r2', histogram: JSON.stringify(histogramOf(b, 5)) }),
      ]),
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
      rollups([
        point({ kind: 'counter', value: 2 }),
        point({ kind: 'counter', value: 3, tracking_id: 'c2', version: null }),
      ]),
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

  it('groups by one label, series without it as null', () => {
    const errors = (cluster: string, value: number, labels: Record<string, string>) =>
      point({ kind: 'counter', tracking_id: cluster, value, labels: JSON.stringify(labels) });
    const answer = aggregateMetric(
      rollups([
        errors('c1', 3, { sqlstate_class: '42', op: 'select' }),
        errors('c1', 1, { sqlstate_class: '23', op: 'insert' }),
        errors('c2', 2, { sqlstate_class: '42', op: 'insert' }),
        errors('c2', 5, {}),
      ]),
      'label:sqlstate_class',
    );
    expect(answer.rows).toEqual([
      { value: '42', clusters: 2, total: 5 },
      { value: '23', clusters: 1, total: 1 },
      { value: null, clusters: 1, total: 5 },
    ]);
  });

  it('answers the same however the points were split into rollup rows (batches, days)', () => {
    // A small deterministic generator: the same points every run.
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const kind of ['counter', 'gauge', 'histogram'] as const) {
      const points: PointRow[] = [];
      for (let i = 0; i < 300; i++) {
        const values = Array.from(
          { length: 1 + Math.floor(next() * 5) },
          () => 2 ** Math.floor(next() * 20 - 10),
        );
        points.push(
          point({
            kind,
            report_id: `r${Math.floor(i / 3)}`,
            received_at: 1000 + Math.floor(i / 6),
            received_day: i < 150 ? '1970-01-01' : '1970-01-02',
            tracking_id: `c${Math.floor(next() * 4)}`,
            version: next() < 0.5 ? '1.0.0' : '1.1.0',
            labels: JSON.stringify({ sqlstate_class: String(Math.floor(next() * 3)) }),
            value: values[0]!,
            histogram: kind === 'histogram' ? JSON.stringify(histogramOf(values, 5)) : null,
          }),
        );
      }
      const batches: PointRow[][] = [];
      for (let i = 0; i < points.length; ) {
        const size = 1 + Math.floor(next() * 40);
        batches.push(points.slice(i, i + size));
        i += size;
      }
      for (const by of [undefined, 'version', 'trackingId', 'label:sqlstate_class'] as const) {
        expect(aggregateMetric(batches.flatMap(rollups), by)).toEqual(aggregateMetric(rollups(points), by));
      }
    }
  });
});

describe('metricGrouping', () => {
  it('accepts the fixed groupings and label:<key>, and refuses anything else with a message', () => {
    expect(metricGrouping(undefined)).toBeUndefined();
    expect(metricGrouping('nodeType')).toBe('nodeType');
    expect(metricGrouping('label:sqlstate_class')).toBe('label:sqlstate_class');
    expect(() => metricGrouping('label:')).toThrow(/label key/);
    expect(() => metricGrouping('label:bad key')).toThrow(/label key/);
    expect(() => metricGrouping('os')).toThrow(
      /by must be one of version, clusterType, nodeType, trackingId or label:<key>/,
    );
  });
});
