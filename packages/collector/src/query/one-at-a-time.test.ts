import { randomUUID } from 'node:crypto';
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
    const queue = new OneAtATime();
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
    const queue = new OneAtATime();
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
