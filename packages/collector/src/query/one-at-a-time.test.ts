import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { encodeReportJson } from '@tidewatch/protocol';
import { describe, expect, it } from 'vitest';
import { agentReport, counter } from '../../test-support/agent-report.js';
import { ADMIN_TOKEN, startTestCollector } from '../../test-support/collector.js';
import { tempDir } from '../../test-support/services.js';
import { OneAtATime } from './one-at-a-time.js';

const json = { 'content-type': 'application/json' };

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('OneAtATime', () => {
  it('runs work in arrival order, never two at once, and a failure does not stop the next', async () => {
    const queue = new OneAtATime(8);
    const log: string[] = [];
    let running = 0;
    const job = (name: string, fail = false) =>
      queue.run(
        async () => {
          running++;
          log.push(`${name} starts with ${running} running`);
          await tick();
          running--;
          if (fail) throw new Error(`${name} failed`);
          return name;
        },
        () => false,
      );
    const results = await Promise.allSettled([job('a'), job('b', true), job('c')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'a',
      'b failed',
      'c',
    ]);
    expect(log).toEqual(['a starts with 1 running', 'b starts with 1 running', 'c starts with 1 running']);
  });

  it('skips the work of a client that went away while it waited, with a 4xx error', async () => {
    const queue = new OneAtATime(8);
    let gone = false;
    let ran = false;
    const first = queue.run(
      async () => {
        await tick();
        gone = true; // the second client hangs up while the first question runs
      },
      () => false,
    );
    const second = queue.run(
      async () => {
        ran = true;
      },
      () => gone,
    );
    await first;
    await expect(second).rejects.toMatchObject({ code: 'client_gone', status: 400 });
    expect(ran).toBe(false);
  });
});

describe('OneAtATime limit', () => {
  it('refuses work past its limit of waiting with a 503, and takes work again once they have run', async () => {
    const queue = new OneAtATime(2);
    let release = () => {};
    const first = queue.run(
      () => new Promise<void>((resolve) => (release = resolve)),
      () => false,
    );
    await tick(); // the first is running: it no longer waits
    const waiting = [
      queue.run(
        async () => 'b',
        () => false,
      ),
      queue.run(
        async () => 'c',
        () => false,
      ),
    ];
    expect(queue.full).toBe(true);
    await expect(
      queue.run(
        async () => 'd',
        () => false,
      ),
    ).rejects.toMatchObject({ code: 'queue_full', status: 503 });
    release();
    await first;
    expect(await Promise.all(waiting)).toEqual(['b', 'c']);
    expect(queue.full).toBe(false);
    expect(
      await queue.run(
        async () => 'e',
        () => false,
      ),
    ).toBe('e');
  });
});

describe('GET /query/metrics/{name} folds one question at a time', () => {
  it('answers four by-cluster questions asked at once, never reading two of them together', async () => {
    const dir = tempDir();
    const c = await startTestCollector(`sqlite:${dir.path}/folds.db`);
    try {
      const trackingId = randomUUID();
      const report = agentReport({ trackingId, metrics: [counter('db.queries', 5)] });
      expect((await c.post('/api/v3/report', encodeReportJson(report), json)).status).toBe(200);
      // The store the route reads, watched: how many rollup reads are open at once.
      const store = c.collector.store;
      const pages = store.metricRollupPages.bind(store);
      let open = 0;
      let most = 0;
      store.metricRollupPages = async function* (...args: Parameters<typeof pages>) {
        most = Math.max(most, ++open);
        try {
          await tick(); // long enough for the other requests to arrive meanwhile
          yield* pages(...args);
        } finally {
          open--;
        }
      };
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => c.get('/query/metrics/db.queries?by=trackingId', ADMIN_TOKEN)),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      for (const answer of answers) {
        expect(await answer.json()).toMatchObject({ rows: [{ value: trackingId, clusters: 1, total: 5 }] });
      }
      expect(most).toBe(1);
    } finally {
      await c.close();
      dir.remove();
    }
  });
});

/**
 * A collector on SQLite with one cluster's counter, whose first metric question (fold) is held
 * until `release()`; `folds()` counts the questions that reached the store.
 */
async function collectorWithHeldFold() {
  const dir = tempDir();
  const c = await startTestCollector(`sqlite:${dir.path}/held.db`);
  const report = agentReport({ trackingId: randomUUID(), metrics: [counter('db.queries', 5)] });
  expect((await c.post('/api/v3/report', encodeReportJson(report), json)).status).toBe(200);
  const store = c.collector.store;
  const pages = store.metricRollupPages.bind(store);
  let folds = 0;
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  store.metricRollupPages = async function* (...args: Parameters<typeof pages>) {
    if (++folds === 1) await held;
    yield* pages(...args);
  };
  return { c, dir, folds: () => folds, release: () => release() };
}

describe('GET /query/metrics/{name} and clients that hang up', () => {
  it('skips the question of a client that closed its side of the connection while it waited', async () => {
    const { c, dir, folds, release } = await collectorWithHeldFold();
    try {
      const first = c.get('/query/metrics/db.queries?by=trackingId', ADMIN_TOKEN);
      while (folds() === 0) await tick();
      // A second client asks, then closes its side (FIN), as curl does on Ctrl-C.
      const { hostname, port } = new URL(c.url);
      const socket = connect(Number(port), hostname);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.end(
        `GET /query/metrics/db.queries?by=label:kind HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`,
      );
      await tick();
      release();
      expect((await first).status).toBe(200);
      // A third question, asked after: it runs once the second one's turn has passed.
      expect((await c.get('/query/metrics/db.queries?by=label:kind', ADMIN_TOKEN)).status).toBe(200);
      socket.destroy();
      expect(folds()).toBe(2); // the first and the third; the hung-up client's never ran
    } finally {
      await c.close();
      dir.remove();
    }
  });
});

describe('GET /query/metrics/{name} when too many questions wait', () => {
  it('answers 503 queue_full with Retry-After past 32 waiting, and every question it took', async () => {
    const { c, dir, folds, release } = await collectorWithHeldFold();
    try {
      const ask = () => c.get('/query/metrics/db.queries?by=trackingId', ADMIN_TOKEN);
      const first = ask();
      while (folds() === 0) await tick();
      // 40 more while it runs: 32 wait their turn, 8 are refused at once (whatever their order).
      let settled = 0;
      const others = Array.from({ length: 40 }, () =>
        ask().then((answer) => {
          settled++;
          return answer;
        }),
      );
      while (settled < 8) await tick();
      release();
      const answers = await Promise.all([first, ...others]);
      const refused = answers.filter((a) => a.status === 503);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(33);
      expect(refused).toHaveLength(8);
      expect(refused[0]!.headers.get('retry-after')).toBe('5');
      expect(await refused[0]!.json()).toMatchObject({ error: 'queue_full' });
    } finally {
      await c.close();
      dir.remove();
    }
  });
});
