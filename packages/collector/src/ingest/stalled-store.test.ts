// A store that stalls (a table lock held by someone else) must not hold every ingest request for
// ever: past --store-timeout's default the request is answered 503, and the retry that follows
// once the store is back is stored exactly once. Real stores, real locks.
import { join } from 'node:path';
import { encodeReportJson } from '@tidewatch/protocol';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { agentReport, counter } from '../../test-support/agent-report.js';
import { ADMIN_TOKEN, capturedLog, startTestCollector } from '../../test-support/collector.js';
import { hangableRelay } from '../../test-support/relay.js';
import { metaReport } from '../../test-support/risingwave.js';
import { createPostgresDatabase, tempDir } from '../../test-support/services.js';
import { READY_TIMEOUT_MS } from '../ops/health.js';

const dir = tempDir();
const database = await createPostgresDatabase(); // null (skipped, with a warning) only outside CI
afterAll(async () => {
  await database?.drop();
  dir.remove();
});

/** Holds the reports table locked until the returned function is called. */
type Lock = () => Promise<void>;

const stores: { name: string; url: () => string; lock: (url: string) => Promise<Lock> }[] = [
  {
    name: 'sqlite',
    url: () => `sqlite:${join(dir.path, 'stalled.db')}`,
    lock: async (url) => {
      const db = new SQLite(url.slice('sqlite:'.length));
      db.pragma('busy_timeout = 5000');
      db.exec('begin immediate'); // the write lock: the collector's writer waits, then gives up
      return async () => {
        db.exec('rollback');
        db.close();
      };
    },
  },
];
if (database) {
  stores.push({
    name: 'postgres',
    url: () => database.url,
    lock: async (url) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query('begin');
      await client.query('lock table reports in access exclusive mode');
      return async () => {
        await client.query('rollback');
        await client.end();
      };
    },
  });
}

describe.each(stores)('a stalled store: $name', (store) => {
  it('logs the outage once per 10 s, not once per refused request', async () => {
    const url = store.url();
    const log = capturedLog();
    const c = await startTestCollector(
      url,
      { storeTimeout: 300, logLevel: 'info' },
      { logStream: log.stream },
    );
    try {
      const unlock = await store.lock(url);
      let statuses: number[];
      try {
        const sends = Array.from({ length: 5 }, () =>
          c.postProto('/api/v2/report/meta', metaReport()).then((r) => r.status),
        );
        statuses = await Promise.all(sends);
        statuses.push((await c.postProto('/api/v2/report/meta', metaReport())).status);
      } finally {
        await unlock();
      }
      expect(statuses).toEqual([503, 503, 503, 503, 503, 503]);
      const lines = log.lines.map((l) => JSON.parse(l) as { level: string; msg: string; stack?: string });
      const outage = lines.filter((l) => l.msg.includes('store_unavailable'));
      expect(outage).toHaveLength(1);
      expect(outage[0]).toMatchObject({ level: 'warn', msg: expect.stringContaining('did not commit') });
      // The store is back: the next commit ends the outage with one line counting all six.
      expect((await c.postProto('/api/v2/report/meta', metaReport())).status).toBe(200);
      // Said once no 503 followed for 10 s (a flapping store stays one outage).
      await vi.waitFor(() => expect(log.lines.some((l) => l.includes('is over'))).toBe(true), {
        timeout: 15_000,
        interval: 250,
      });
      const over = log.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => String(l.msg).includes('is over'));
      expect(over).toMatchObject({
        code: 'store_unavailable',
        answered: 6,
        msg: expect.stringMatching(
          /^store_unavailable is over: the store has committed writes for 10 s; 6 requests were answered 503/,
        ),
      });
    } finally {
      await c.close();
    }
  });

  it('is not ready while a write waits for the store, says so in the log, and is ready again once it commits', async () => {
    const url = store.url();
    // Not ready once a write has waited half the store timeout (3 s here). It must show before
    // SQLite's own busy timeout (5 s) fails the write: with a 10 s store timeout the two came at
    // the same 5 s, and on a loaded machine the failure came first.
    const log = capturedLog();
    const c = await startTestCollector(
      url,
      { storeTimeout: 6_000, logLevel: 'info' },
      { logStream: log.stream },
    );
    try {
      expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
      const unlock = await store.lock(url);
      let written: Promise<number>;
      try {
        // The store still answers a ping, but this write cannot commit.
        written = c.postProto('/api/v2/report/meta', metaReport()).then((r) => r.status);
        await vi.waitFor(
          async () => {
            const res = await fetch(`${c.url}/readyz`);
            expect(res.status).toBe(503);
            expect(await res.json()).toMatchObject({
              error: 'store_unavailable',
              message: expect.stringMatching(/reachable but not committing writes: a write has waited/),
            });
          },
          { timeout: 4_500, interval: 100 },
        );
        // The log says it too, before any request is refused.
        await vi.waitFor(
          () =>
            expect(log.lines.join('\n')).toMatch(/the store is not committing writes: a write has waited/),
          { timeout: 2_000, interval: 100 },
        );
      } finally {
        await unlock();
      }
      expect(await written).toBe(200);
      expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
      await vi.waitFor(() => expect(log.lines.join('\n')).toContain('the store commits writes again'), {
        timeout: 3_000,
        interval: 100,
      });
    } finally {
      await c.close();
    }
  }, 30_000);

  it('answers 503 once the store timeout passes, and the retry after it is stored once', async () => {
    const url = store.url();
    const c = await startTestCollector(url, { storeTimeout: 1000 });
    try {
      const trackingId = crypto.randomUUID();
      const report = metaReport({ trackingId });
      const unlock = await store.lock(url);
      let answered: Response;
      try {
        answered = await c.postProto('/api/v2/report/meta', report);
      } finally {
        await unlock();
      }
      expect(answered.status).toBe(503);
      expect(await answered.json()).toMatchObject({
        error: 'store_unavailable',
        message: expect.stringMatching(
          /did not commit it within 1 s.*send it again later|send it again later.*did not commit it within 1 s/,
        ),
      });
      // The client sends it again once the store is back: stored, and only once, even though the
      // first write may still have committed after its 503.
      const retried = await c.postProto('/api/v2/report/meta', report);
      expect(retried.status).toBe(200);
      const cluster = await c.get(`/query/clusters/${trackingId}`, ADMIN_TOKEN);
      expect(((await cluster.json()) as { reports: { meta: number } }).reports.meta).toBe(1);
    } finally {
      await c.close();
    }
  });

  it('answers an import 503 once the store timeout passes; a late commit is audited, and sending it again stores nothing twice', async () => {
    const url = store.url();
    const c = await startTestCollector(url, { storeTimeout: 1000 });
    try {
      const trackingId = crypto.randomUUID();
      const line = JSON.stringify({
        receivedAt: Date.now() - 60_000,
        path: '/api/v2/report/meta',
        contentType: 'application/x-protobuf',
        body: Buffer.from(metaReport({ trackingId })).toString('base64'),
      });
      const send = () =>
        c.post('/admin/import', `${line}\n`, {
          'content-type': 'application/x-ndjson',
          authorization: `Bearer ${ADMIN_TOKEN}`,
        });
      const imports = async () => {
        const res = await c.get('/admin/audit?limit=1000', ADMIN_TOKEN);
        const { entries } = (await res.json()) as { entries: { action: string }[] };
        return entries.filter((e) => e.action === 'import').length;
      };
      const unlock = await store.lock(url);
      const started = Date.now();
      let answered: Response;
      try {
        answered = await send();
      } finally {
        await unlock();
      }
      expect(answered.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await answered.json()).toMatchObject({
        error: 'store_unavailable',
        message: expect.stringMatching(/did not commit this import within 1 s.*stores nothing twice/),
      });
      // PostgreSQL's transaction waited for the lock and commits once it is gone: audited then.
      if (store.name === 'postgres') await expect.poll(imports, { timeout: 10_000 }).toBe(1);
      const again = await send();
      expect(again.status).toBe(200);
      const cluster = await c.get(`/query/clusters/${trackingId}`, ADMIN_TOKEN);
      expect(((await cluster.json()) as { reports: { meta: number } }).reports.meta).toBe(1);
    } finally {
      await c.close();
    }
  }, 30_000);

  it('with --store-timeout 0 waits for the store as long as it takes, and answers 200 once it committed', async () => {
    const url = store.url();
    const c = await startTestCollector(url, { storeTimeout: 0 });
    try {
      const trackingId = crypto.randomUUID();
      const unlock = await store.lock(url);
      // Held past what a 1 s timeout allows (and under SQLite's 5 s busy timeout).
      const answered = c.postProto('/api/v2/report/meta', metaReport({ trackingId }));
      await new Promise((r) => setTimeout(r, 2500));
      await unlock();
      expect((await answered).status).toBe(200);
      const cluster = await c.get(`/query/clusters/${trackingId}`, ADMIN_TOKEN);
      expect(((await cluster.json()) as { reports: { meta: number } }).reports.meta).toBe(1);
    } finally {
      await c.close();
    }
  });
});

describe.skipIf(!database)('the read before an agent report is written, with a stalled store', () => {
  it('answers 503 within the store timeout, and the retry after it is stored once', async () => {
    const c = await startTestCollector(database!.url, { storeTimeout: 1000 });
    const locker = new pg.Client({ connectionString: database!.url });
    await locker.connect();
    try {
      const trackingId = crypto.randomUUID();
      const report = encodeReportJson(agentReport({ trackingId, metrics: [counter('stall.new', 1)] }));
      const send = () => c.post('/api/v3/report', report, { 'content-type': 'application/json' });
      await locker.query('begin');
      await locker.query('lock table metric_series in access exclusive mode');
      const started = Date.now();
      let answered: Response;
      try {
        answered = await send();
      } finally {
        await locker.query('rollback');
      }
      expect(answered.status).toBe(503);
      expect(await answered.json()).toMatchObject({
        error: 'store_unavailable',
        message: /series.*within 1 s/,
      });
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await send()).status).toBe(200);
      const cluster = await c.get(`/query/clusters/${trackingId}`, ADMIN_TOKEN);
      expect(await cluster.json()).toMatchObject({ agentReports: 1 });
    } finally {
      await locker.end();
      await c.close();
    }
  });
});

describe.skipIf(!database)('readiness with a hung store', () => {
  it('answers /readyz 503 within a few seconds, not after the driver gives up', async () => {
    const relay = await hangableRelay(new URL(database!.url), 5432);
    const c = await startTestCollector(relay.url);
    try {
      expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
      relay.hang();
      const started = Date.now();
      const res = await fetch(`${c.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({
        error: 'store_unavailable',
        message: /did not answer within/,
      });
      expect(Date.now() - started).toBeLessThan(READY_TIMEOUT_MS + 1500);
    } finally {
      await relay.close();
      await c.close().catch(() => {});
    }
  });

  it('says the store is not answering, not "reachable", once it is gone and a write failed', async () => {
    const relay = await hangableRelay(new URL(database!.url), 5432);
    const c = await startTestCollector(relay.url);
    try {
      expect((await c.postProto('/api/v2/report/meta', metaReport())).status).toBe(200);
      relay.cut();
      expect((await c.postProto('/api/v2/report/meta', metaReport())).status).toBe(503);
      const res = await fetch(`${c.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { message: string };
      expect(body.message).toMatch(/^the postgres store is not answering: /);
    } finally {
      await relay.close();
      await c.close().catch(() => {});
    }
  });
});

describe.skipIf(!database)('query routes with the store gone', () => {
  it('answer 503 store_unavailable with what the store said, not 500 internal', async () => {
    const relay = await hangableRelay(new URL(database!.url), 5432);
    const c = await startTestCollector(relay.url);
    try {
      expect((await c.get('/query/overview')).status).toBe(200);
      relay.cut();
      for (const path of ['/query/overview', '/query/clusters', '/admin/blocked']) {
        const res = await c.get(path);
        expect(res.status, path).toBe(503);
        expect(await res.json(), path).toMatchObject({
          error: 'store_unavailable',
          message: expect.stringMatching(
            /^the store could not answer this request; nothing was changed, try again later \(.+\)$/,
          ),
        });
      }
    } finally {
      await relay.close();
      await c.close().catch(() => {});
    }
  });
});
