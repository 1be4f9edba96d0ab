import { describe, expect, it } from 'vitest';
import { NOOP_HANDLE, Registry } from './registry.js';

const problems: string[] = [];
const registry = (max = 10) => new Registry(max, 1024, (m) => problems.push(m));

describe('registry', () => {
  it('reports counter deltas, gauge last values and histograms, with units and descriptions', () => {
    const r = registry();
    const queries = r.counter('queries', { kind: 'select' }, { unit: '{query}', description: 'Queries run' });
    const open = r.gauge('connections');
    r.describe('connections', { unit: '{connection}', description: 'Open connections' });
    const latency = r.histogram('query.duration', undefined, { unit: 's' });
    queries.inc();
    queries.inc(4);
    open.set(3);
    latency.record(0.25);
    const first = r.snapshot(true).metrics;
    expect(first.map((m) => [m.name, m.kind, m.value, m.unit])).toEqual([
      ['queries', 'counter', 5, '{query}'],
      ['connections', 'gauge', 3, '{connection}'],
      ['query.duration', 'histogram', 0, 's'],
    ]);
    expect(first[0]!.labels).toEqual({ kind: 'select' });
    expect(first[0]!.description).toBe('Queries run');
    expect(first[2]!.histogram!.count).toBe(1);
    queries.inc(2);
    const second = r.snapshot(true).metrics;
    expect(second.map((m) => m.value)).toEqual([2, 3, 0]);
    expect(second[2]!.histogram!.count).toBe(0);
  });

  it('returns the same handle for the same name and labels, in any label order', () => {
    const r = registry();
    expect(r.counter('a', { x: '1', y: 2 })).toBe(r.counter('a', { y: '2', x: 1 }));
    expect(r.counter('a')).not.toBe(r.counter('a', { x: '1' }));
  });

  it('ignores NaN, negative and infinite increments and counts them', () => {
    const r = registry();
    const c = r.counter('c');
    const g = r.gauge('g');
    c.inc(Number.NaN);
    c.inc(-1);
    c.inc(Number.POSITIVE_INFINITY);
    c.inc(2);
    g.set(Number.NaN);
    g.set(Number.NEGATIVE_INFINITY);
    const snap = r.snapshot(true);
    expect(snap.metrics.find((m) => m.name === 'c')!.value).toBe(2);
    expect(snap.metrics.find((m) => m.name === 'g')).toBeUndefined(); // never set to a real value
    expect(snap.rejectedValues).toBe(5);
    expect(r.snapshot(true).rejectedValues).toBe(0);
  });

  it('hands out a shared no-op handle beyond the series cap and counts each refusal', () => {
    const r = registry(3);
    const handles = [0, 1, 2, 3, 4].map((i) => r.counter('c', { i }));
    expect(handles[3]).toBe(NOOP_HANDLE);
    expect(handles[4]).toBe(NOOP_HANDLE);
    expect(r.droppedSeries).toBe(2);
    handles[4]!.inc();
    expect(r.snapshot(true).metrics).toHaveLength(3);
  });

  it('refuses invalid names, labels and kind conflicts without throwing', () => {
    const r = registry();
    problems.length = 0;
    expect(r.counter('9lives')).toBe(NOOP_HANDLE);
    expect(r.counter('ok', { __name__: 'x' })).toBe(NOOP_HANDLE);
    expect(r.counter('ok', { k: 'v'.repeat(300) })).toBe(NOOP_HANDLE);
    expect(r.counter('ok', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])))).toBe(
      NOOP_HANDLE,
    );
    r.counter('both');
    expect(r.gauge('both')).toBe(NOOP_HANDLE);
    expect(r.droppedSeries).toBe(5);
    expect(problems).toHaveLength(5);
  });

  it('preview snapshots change nothing', () => {
    const r = registry();
    r.counter('c').inc(3);
    r.histogram('h').record(1);
    const a = r.snapshot(false);
    const b = r.snapshot(false);
    expect(a).toEqual(b);
    expect(r.snapshot(true)).toEqual(a);
  });

  it('never throws and never takes a non-number on the hot path; such values are counted', () => {
    const r = registry();
    const c = r.counter('c');
    const g = r.gauge('g');
    const h = r.histogram('h');
    const odd: unknown[] = [
      '5',
      5n,
      Symbol('s'),
      true,
      [],
      {},
      null,
      {
        valueOf: () => {
          throw new Error('x');
        },
      },
    ];
    for (const v of odd) {
      expect(() => (c.inc as (n: unknown) => void)(v)).not.toThrow();
      expect(() => (g.set as (n: unknown) => void)(v)).not.toThrow();
      expect(() => (h.record as (n: unknown) => void)(v)).not.toThrow();
    }
    c.inc(2);
    g.set(7);
    h.record(0.5);
    const snap = r.snapshot(true);
    expect(snap.metrics.map((m) => m.value)).toEqual([2, 7, 0]);
    const histogram = snap.metrics[2]!.histogram!;
    expect([histogram.count, histogram.sum, histogram.min, histogram.max]).toEqual([1, 0.5, 0.5, 0.5]);
    // inc() with no argument is inc(1): undefined takes the default, so it is not among the odd.
    expect(snap.rejectedValues).toBe(3 * odd.length);
  });

  it('hands out a no-op handle when labels or info throw while being read', () => {
    const r = registry();
    const throwing = Object.defineProperty({}, 'kind', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    const proxy = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('ownKeys');
        },
      },
    );
    const info = Object.defineProperty({}, 'unit', {
      get() {
        throw new Error('unit');
      },
    });
    expect(r.counter('a', throwing as never)).toBe(NOOP_HANDLE);
    expect(r.gauge('b', proxy as never)).toBe(NOOP_HANDLE);
    expect(r.histogram('c', undefined, info as never)).toBe(NOOP_HANDLE);
    expect(() => r.describe('d', info as never)).not.toThrow();
    expect(r.droppedSeries).toBe(3);
  });

  it('keeps no more metric infos than series: describe() and the info of dropped series are bounded', () => {
    const r = registry(10);
    const infos = () => (r as unknown as { infos: Map<string, unknown> }).infos.size;
    for (let i = 0; i < 1000; i++) r.describe(`table_${i}.rows`, { unit: '{row}' });
    expect(infos()).toBe(10);
    for (let i = 0; i < 1000; i++) r.counter(`m${i}`, undefined, { unit: 's' });
    // The first ten names made series (the cap); the other 990 series were dropped with their infos.
    expect(r.snapshot(false).metrics).toHaveLength(10);
    expect(infos()).toBe(20);
    // A name that is not one is not kept at all, and nothing throws.
    r.describe('not a name!', { unit: 's' });
    r.describe(5 as never, { unit: 's' });
    expect(infos()).toBe(20);
    // An already described metric can still be described again.
    r.describe('table_0.rows', { unit: '{rows}' });
    expect(infos()).toBe(20);
  });

  it('shares one frozen no-op handle: nobody can change it for every agent', () => {
    const handle = registry().counter('bad name!');
    expect(handle).toBe(NOOP_HANDLE);
    expect(() => {
      (handle as { inc: () => void }).inc = () => {
        throw new Error('host spy');
      };
    }).toThrow(TypeError);
    expect(() => NOOP_HANDLE.inc()).not.toThrow();
  });
});
