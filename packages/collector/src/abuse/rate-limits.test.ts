// Rate limits on ingest over real HTTP: per client address (from X-Forwarded-For only behind a
// trusted proxy), per tracking id, in one process and shared through a real Redis by two collectors.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { capturedLog, startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { hangableRelay } from '../../test-support/relay.js';
import { event, eventBatch, nodeReport } from '../../test-support/risingwave.js';
import { redisForTests, tempDir } from '../../test-support/services.js';
import { REDIS_COMMAND_TIMEOUT_MS } from './rate-limits.js';

const dir = tempDir();
let n = 0;
const freshStore = () => `sqlite:${dir.path}/limits-${n++}.db`;
const open: TestCollector[] = [];
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  dir.remove();
});

async function collector(overrides: Parameters<typeof startTestCollector>[1], store = freshStore()) {
  const c = await startTestCollector(store, overrides);
  open.push(c);
  return c;
}

/** A random documentation address (RFC 5737), so reruns within a window never share a budget. */
const someAddress = () => `198.51.100.${1 + Math.floor(Math.random() * 254)}`;

function send(c: TestCollector, trackingId: string, from?: string) {
  return c.post('/api/v2/report/compute', nodeReport('compute', { trackingId }), {
    'content-type': 'application/x-protobuf',
    ...(from ? { 'x-forwarded-for': from } : {}),
  });
}

async function statuses(responses: Promise<Response>[]): Promise<number[]> {
  return (await Promise.all(responses)).map((r) => r.status);
}

async function metric(c: TestCollector, line: string): Promise<number> {
  const text = await (await c.get('/metrics', null)).text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}

describe('ingest rate limits (one process)', () => {
  it('answers the request over the address limit with 429, Retry-After and a JSON message, and counts it', async () => {
    const c = await collector({ rateLimitPerAddress: 5, rateLimitPerCluster: 0 });
    const ok = [];
    for (let i = 0; i < 5; i++) ok.push((await send(c, randomUUID())).status);
    expect(ok).toEqual([200, 200, 200, 200, 200]);
    const refused = await send(c, randomUUID());
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(await refused.json()).toEqual({
      error: 'rate_limited',
      message: expect.stringContaining('more than 5 ingest requests a minute from this address'),
    });
    expect(await metric(c, 'tidewatch_rate_limited_total{limit="address"}')).toBe(1);
    expect(await metric(c, 'tidewatch_reports_rejected_total{reason="rate_limited"}')).toBe(1);
    // Reading is not ingest: the query API and health are not limited by it.
    expect((await c.get('/healthz', null)).status).toBe(200);
  });

  it('believes X-Forwarded-For only when a proxy is trusted', async () => {
    const direct = await collector({ rateLimitPerAddress: 2, rateLimitPerCluster: 0 });
    // Without --trust-proxy, a forged header does not buy a fresh budget.
    expect(
      await statuses([1, 2, 3].map(() => send(direct, randomUUID(), someAddress()))).then((s) => s.sort()),
    ).toEqual([200, 200, 429]);

    const proxied = await collector({ rateLimitPerAddress: 2, rateLimitPerCluster: 0, trustProxy: true });
    const a = someAddress();
    const b = `203.0.113.${1 + Math.floor(Math.random() * 254)}`;
    expect((await send(proxied, randomUUID(), a)).status).toBe(200);
    expect((await send(proxied, randomUUID(), a)).status).toBe(200);
    expect((await send(proxied, randomUUID(), a)).status).toBe(429);
    // Another client behind the same proxy has its own budget.
    expect((await send(proxied, randomUUID(), b)).status).toBe(200);
  });

  it('limits one tracking id without touching others', async () => {
    const c = await collector({ rateLimitPerAddress: 0, rateLimitPerCluster: 3 });
    const noisy = randomUUID();
    const quiet = randomUUID();
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await send(c, noisy)).status);
    expect(results).toEqual([200, 200, 200, 429]);
    const refused = await send(c, noisy);
    expect(await refused.json()).toMatchObject({
      error: 'rate_limited',
      message: expect.stringContaining('for this tracking id'),
    });
    expect((await send(c, quiet)).status).toBe(200);
    expect(await metric(c, 'tidewatch_rate_limited_total{limit="cluster"}')).toBe(2);
    // What was refused was not stored; what was accepted was.
    const cluster = (await (await c.get(`/query/clusters/${noisy}`)).json()) as {
      reports: { compute: number };
    };
    expect(cluster.reports.compute).toBe(3);
  });

  it('gives event requests their own, larger budget per tracking id', async () => {
    // RisingWave 2.0–2.2 post one request per event, and never retry a refused one.
    const c = await collector({ rateLimitPerAddress: 0, rateLimitPerCluster: 2 });
    const id = randomUUID();
    const post = (path: string, body: Uint8Array) =>
      c.post(path, body, { 'content-type': 'application/x-protobuf' });
    const single = (i: number) => post('/api/v2/report/event', event({ trackingId: id, catalogId: i }));
    const results = [];
    for (let i = 0; i < 21; i++) results.push((await single(i)).status);
    expect(results).toEqual([...new Array(20).fill(200), 429]);
    const refused = await post('/api/v2/report/events', eventBatch([{ trackingId: id, catalogId: 99 }]));
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({
      message: expect.stringContaining('more than 20 event requests a minute for this tracking id'),
    });
    // The cluster's reports still have their whole budget of 2.
    const reports = [];
    for (let i = 0; i < 3; i++) reports.push((await send(c, id)).status);
    expect(reports).toEqual([200, 200, 429]);
    expect(((await (await c.get(`/query/clusters/${id}`)).json()) as { events: number }).events).toBe(20);
  });

  it('holds one address to its budget of body bytes a minute, and no other address', async () => {
    const size = nodeReport('compute', { trackingId: randomUUID() }).length;
    const c = await collector({
      rateLimitPerAddress: 0,
      rateLimitPerCluster: 0,
      rateLimitBytesPerAddress: 3 * size + 10,
      trustProxy: true,
    });
    const heavy = someAddress();
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await send(c, randomUUID(), heavy)).status);
    expect(results).toEqual([200, 200, 200, 429]);
    const refused = await send(c, randomUUID(), heavy);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({
      error: 'rate_limited',
      message: expect.stringContaining(
        `more than ${3 * size + 10} body bytes (after gzip) a minute from this address`,
      ),
    });
    let other = someAddress();
    while (other === heavy) other = someAddress();
    expect((await send(c, randomUUID(), other)).status).toBe(200);
    expect(await metric(c, 'tidewatch_rate_limited_total{limit="bytes"}')).toBe(2);
    // A budget below one body still lets the first body of a window through.
    const tiny = await collector({ rateLimitPerAddress: 0, rateLimitBytesPerAddress: 1, trustProxy: true });
    const from = someAddress();
    expect([
      (await send(tiny, randomUUID(), from)).status,
      (await send(tiny, randomUUID(), from)).status,
    ]).toEqual([200, 429]);
  });

  it('lets a fleet behind one address through with the default limits', async () => {
    const c = await collector({});
    // 300 nodes of 30 clusters restarting at once, all behind one NAT address: none refused.
    const clusters = Array.from({ length: 30 }, () => randomUUID());
    const results = await statuses(
      Array.from({ length: 300 }, (_, i) => send(c, clusters[i % clusters.length]!)),
    );
    expect(results.filter((s) => s !== 200)).toEqual([]);
  });
});

const redisUrl = await redisForTests();

describe.skipIf(!redisUrl)('ingest rate limits shared through Redis', () => {
  it('counts requests to two collectors against one limit', async () => {
    const settings = {
      redisUrl: redisUrl!,
      rateLimitPerCluster: 4,
      rateLimitPerAddress: 6,
      trustProxy: true,
    };
    // Each with its own store: only Redis is shared, as between collectors on different machines.
    const a = await collector(settings);
    const b = await collector(settings);
    const id = randomUUID();
    const from = someAddress();
    // Two to each collector: four for the cluster, within its limit of 4.
    expect(await statuses([send(a, id, from), send(b, id, from)])).toEqual([200, 200]);
    expect(await statuses([send(a, id, from), send(b, id, from)])).toEqual([200, 200]);
    // The fifth, to either, is over the shared limit.
    const fifth = await send(b, id, from);
    expect(fifth.status).toBe(429);
    expect(await fifth.json()).toMatchObject({ error: 'rate_limited' });
    // The address limit (6) is shared too: one more for another cluster passes, the next is refused.
    expect((await send(a, randomUUID(), from)).status).toBe(200);
    expect((await send(b, randomUUID(), from)).status).toBe(429);
    expect(await metric(b, 'tidewatch_rate_limited_total{limit="address"}')).toBe(1);
  });

  it('keeps accepting reports, promptly, when Redis stops answering on an open connection', async () => {
    const relay = await hangableRelay(new URL(redisUrl!), 6379);
    const c = await startTestCollector(freshStore(), { redisUrl: relay.url, rateLimitPerCluster: 100 });
    open.push(c);
    try {
      const id = randomUUID();
      expect((await send(c, id)).status).toBe(200);
      relay.hang();
      const started = Date.now();
      expect(await statuses([send(c, id), send(c, randomUUID()), send(c, id)])).toEqual([200, 200, 200]);
      // Two checks per request (address, cluster), each given up after the command timeout.
      expect(Date.now() - started).toBeLessThan(4 * REDIS_COMMAND_TIMEOUT_MS + 2000);
    } finally {
      await relay.close();
    }
  });

  it('keeps accepting reports when Redis cannot be reached (a lost report is worse than a loose limit), and says so once', async () => {
    const { stream: logStream, lines } = capturedLog();
    const c = await startTestCollector(
      freshStore(),
      { redisUrl: 'redis://127.0.0.1:1', rateLimitPerCluster: 1, logLevel: 'warn' },
      { logStream },
    );
    open.push(c);
    const id = randomUUID();
    expect(await statuses([send(c, id), send(c, id), send(c, id)])).toEqual([200, 200, 200]);
    // ioredis retries every few hundred ms at first: wait through several attempts.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(lines.filter((l) => l.includes('Redis unreachable'))).toHaveLength(1);
  });
});
