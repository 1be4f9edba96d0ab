// The rate limits' in-memory windows: counted per key, bounded, and forgotten once passed.

import rateLimit from '@fastify/rate-limit';
import fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { expiringRateLimitStore, MinuteWindows } from './minute-windows.js';

describe('MinuteWindows', () => {
  it('counts per key within a window and starts again after it', () => {
    const windows = new MinuteWindows(10, 60_000);
    windows.current('a', 0).count += 3;
    windows.current('a', 59_999).count += 1;
    expect(windows.current('a', 59_999).count).toBe(4);
    expect(windows.current('b', 59_999).count).toBe(0);
    expect(windows.current('a', 60_000).count).toBe(0);
    expect(windows.remainingMs(windows.current('a', 60_000), 70_000)).toBe(50_000);
  });

  it('forgets the keys of a burst once its window has passed (the LRU kept them all)', () => {
    const windows = new MinuteWindows(100_000, 60_000);
    for (let i = 0; i < 50_000; i++) windows.current(`cluster:${i}`, i % 1000).count++;
    expect(windows.size).toBe(50_000);
    windows.current('late', 30_000);
    expect(windows.size).toBe(50_001);
    windows.current('quiet', 61_000); // every window of the burst has passed, not 'late'
    expect(windows.size).toBe(2);
    windows.current('later', 90_001);
    expect(windows.size).toBe(2); // 'late' gone too
  });

  it('holds at most maxKeys, the oldest window going first', () => {
    const windows = new MinuteWindows(3, 60_000);
    for (const key of ['a', 'b', 'c', 'd']) windows.current(key, 0).count++;
    expect(windows.size).toBe(3);
    expect(windows.current('a', 1).count).toBe(0); // dropped, so fresh (and 'b' went for it)
    expect(windows.current('c', 1).count).toBe(1);
  });
});

describe('expiringRateLimitStore in @fastify/rate-limit', () => {
  it('limits per key as the library does, with Retry-After from the window, and forgets passed windows', async () => {
    let now = 1_000_000;
    const Store = expiringRateLimitStore(1000, 60_000, () => now);
    const app = fastify();
    await app.register(rateLimit, { global: false, store: Store });
    const check = app.createRateLimit({ max: 2, timeWindow: 60_000, keyGenerator: (r) => r.url });
    const results: { exceeded: boolean; ttl: number }[] = [];
    app.get('/:key', async (request) => {
      const r = await check(request);
      if (r.isAllowed) throw new Error('no key is on the allow list');
      results.push({ exceeded: r.isExceeded, ttl: r.ttlInSeconds });
      return 'ok';
    });
    const hit = (key: string) => app.inject({ method: 'GET', url: `/${key}` });
    await hit('a');
    now += 10_000;
    await hit('a');
    await hit('a');
    await hit('b');
    expect(results).toEqual([
      { exceeded: false, ttl: 60 },
      { exceeded: false, ttl: 50 },
      { exceeded: true, ttl: 50 },
      { exceeded: false, ttl: 60 },
    ]);
    now += 60_000;
    await hit('a');
    expect(results.at(-1)).toEqual({ exceeded: false, ttl: 60 });
    await app.close();
  });
});
