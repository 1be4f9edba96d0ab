import { stat } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestCollector } from '../../test-support/collector.js';
import { metaReport } from '../../test-support/risingwave.js';
import { tempDir } from '../../test-support/services.js';
import { ReadGate } from './read-gate.js';

describe('the SQLite read gate', () => {
  it('lets what arrived during a read (I/O ready meanwhile) run before the next read starts', async () => {
    const gate = new ReadGate();
    const order: string[] = [];
    const leaveFirst = await gate.enter();
    const second = gate.enter().then((leave) => {
      order.push('second read');
      leave();
    });
    stat('.', () => order.push('a request that arrived')); // ready long before the read ends
    const until = Date.now() + 50;
    while (Date.now() < until) {} // the first read: synchronous, as better-sqlite3 is
    leaveFirst();
    await second;
    expect(order).toEqual(['a request that arrived', 'second read']);
  });

  it('answers every query of many at once on SQLite, and ingest between them', async () => {
    const dir = tempDir();
    const c = await startTestCollector(`sqlite:${dir.path}/gate.db`);
    try {
      const id = crypto.randomUUID();
      expect((await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }))).status).toBe(200);
      const queries = Array.from({ length: 20 }, (_, i) =>
        c.get(i % 2 ? `/query/clusters/${id}` : '/query/versions?from=2026-01-01&to=2026-12-31', ADMIN_TOKEN),
      );
      const report = c.postProto('/api/v2/report/meta', metaReport({ trackingId: crypto.randomUUID() }));
      const answers = await Promise.all([...queries, report]);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    } finally {
      await c.close();
      dir.remove();
    }
  });
});
