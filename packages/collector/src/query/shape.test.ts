// Release pickup's order and first days, distributions and connector tables (shape.ts), on
// hand-made counts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adoption, compareVersionsNewestFirst, connectorTables, distribution } from './shape.js';

describe('compareVersionsNewestFirst', () => {
  it('orders numeric parts as numbers, a release after its pre-releases, other text last', () => {
    const versions = [
      '1.8.2',
      'dev',
      '1.10.1',
      '2.5.0-rc.1',
      '2.5.0',
      'v2.4.1',
      '2.5.0-rc.10',
      '1.10.1-nightly-20261101',
      '2.5',
    ];
    expect([...versions].sort(compareVersionsNewestFirst)).toEqual([
      '2.5', // equal to 2.5.0 as numbers: then by text
      '2.5.0',
      '2.5.0-rc.10',
      '2.5.0-rc.1',
      'v2.4.1',
      '1.10.1',
      '1.10.1-nightly-20261101',
      '1.8.2',
      'dev',
    ]);
  });
});

describe('adoption', () => {
  const days = ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04'];

  it('lists the newest release first, whatever the day it first ran', () => {
    const rows = adoption(
      days,
      new Map([
        ['1.8.2', [0, 1, 1, 1]],
        ['1.9.0', [0, 1, 1, 1]],
        ['1.10.1', [3, 3, 3, 3]],
        ['1.7.0-nightly', [0, 0, 1, 0]],
      ]),
    );
    expect(rows.map((r) => r.version)).toEqual(['1.10.1', '1.9.0', '1.8.2', '1.7.0-nightly']);
  });

  it("marks as ≤ a first day that is only where the data starts, not only the range's first day", () => {
    // The range starts two days before the first report: 2.0.0 ran on the first day with data.
    const rows = adoption(
      days,
      new Map([
        ['2.0.0', [0, 0, 4, 4]],
        ['2.1.0', [0, 0, 0, 1]],
      ]),
    );
    expect(rows.map((r) => [r.version, r.firstDay, r.beforeRange])).toEqual([
      ['2.1.0', '2026-11-04', false],
      ['2.0.0', '2026-11-03', true],
    ]);
  });
});

describe('connectorTables', () => {
  it('weighs each set of uses by the clusters that have it', () => {
    const tables = connectorTables([
      { uses: [['source', 'kafka', 'plain', 'json', 2]], clusters: 3 },
      {
        uses: [
          ['source', 'kafka', 'plain', 'json', 1],
          ['sink', 'iceberg', 'upsert', 'parquet', 1],
        ],
        clusters: 1,
      },
      { uses: [], clusters: 5 },
    ]);
    expect(tables).toEqual({
      sources: [{ connector: 'kafka', format: 'plain', encode: 'json', clusters: 4, count: 7 }],
      sinks: [{ connector: 'iceberg', format: 'upsert', encode: 'parquet', clusters: 1, count: 1 }],
    });
  });
});

describe('distribution', () => {
  it('answers for values counted per value what it would for the clusters one by one', () => {
    // Node counts, nulls (not reported) among them; the same value may come in several entries.
    const entry = fc.record({
      value: fc.option(fc.integer({ min: 0, max: 40 }), { nil: null }),
      clusters: fc.integer({ min: 1, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), (counted) => {
        const oneByOne = counted.flatMap((c) => Array.from({ length: c.clusters }, () => c.value));
        const known = oneByOne.filter((v): v is number => v !== null).sort((a, b) => a - b);
        const at = (q: number) => (known.length === 0 ? null : known[Math.floor(q * (known.length - 1))]!);
        const answer = distribution(counted, 'computeNodes');
        expect(answer).toMatchObject({
          clusters: known.length,
          unknown: oneByOne.length - known.length,
          min: known[0] ?? null,
          p50: at(0.5),
          p90: at(0.9),
          p99: at(0.99),
          max: known.at(-1) ?? null,
        });
        expect(answer.buckets.reduce((n, b) => n + b.clusters, 0)).toBe(known.length);
        for (const b of answer.buckets) {
          expect(b.clusters).toBe(known.filter((v) => v >= b.from && v <= b.to).length);
        }
      }),
      { numRuns: 500 },
    );
  });
});
