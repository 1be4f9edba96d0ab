// The native agent route and the fleet metric query over real HTTP, on every store adapter.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  downscale,
  encodeReportJson,
  encodeReportProtobuf,
  histogramOf,
  stepsToFit,
} from '@tidewatch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport, counter, gauge, histogram } from '../../test-support/agent-report.js';
import { startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { storeTargets } from '../../test-support/stores.js';

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

const today = new Date().toISOString().slice(0, 10);

describe.each(targets)('native agent route and /query/metrics: $name', (target) => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector(await target.freshUrl());
    return () => c.close();
  });

  const sendJson = (report: ReturnType<typeof agentReport>) =>
    c.post('/api/v3/report', encodeReportJson(report), { 'content-type': 'application/json' });
  const sendProto = (report: ReturnType<typeof agentReport>) =>
    c.post('/api/v3/report', gzipSync(encodeReportProtobuf(report)), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
  const metric = async (name: string, query = '') => {
    const res = await c.get(`/query/metrics/${name}?from=${today}&to=${today}${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as { kind: string | null; rows: Record<string, unknown>[] };
  };

  it('stores JSON and gzip protobuf reports, and a retried report once', async () => {
    const id = randomUUID();
    const report = agentReport({ trackingId: id, metrics: [counter('t1.queries', 5)] });
    const first = await sendJson(report);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ status: 'stored', reports: 1, events: 0 });
    expect((await sendProto(report)).status).toBe(200); // the same report id, the other encoding
    expect(
      (await sendProto(agentReport({ trackingId: id, metrics: [counter('t1.queries', 7)] }))).status,
    ).toBe(200);
    const cluster = (await (await c.get(`/query/clusters/${id}`)).json()) as Record<string, unknown>;
    expect(cluster).toMatchObject({ agentReports: 2, version: '0.2.0' });
    expect(await metric('t1.queries')).toMatchObject({
      kind: 'counter',
      rows: [{ value: 'all', total: 12, clusters: 1 }],
    });
  });

  it('answers fleet quantiles from merged histograms, by version', async () => {
    const oldValues = Array.from({ length: 500 }, (_, i) => 0.001 * (1 + i));
    const newValues = Array.from({ length: 300 }, (_, i) => 0.002 * (1 + i));
    for (const [version, values] of [
      ['1.0.0', oldValues.slice(0, 250)],
      ['1.0.0', oldValues.slice(250)],
      ['1.1.0', newValues],
    ] as const) {
      const res = await sendJson(agentReport({ version, metrics: [histogram('t2.latency', [...values])] }));
      expect(res.status).toBe(200);
    }
    const answer = await metric('t2.latency', '&by=version');
    expect(answer.kind).toBe('histogram');
    const byVersion = Object.fromEntries(answer.rows.map((r) => [r.value, r]));
    // Merged across the two 1.0.0 nodes: the quantiles of all 500 values, within 2%.
    // The error bound of the merged scale is answered beside the quantiles (at most 1.08%, scale 5).
    expect(byVersion['1.0.0']).toMatchObject({ clusters: 2, count: 500 });
    expect(byVersion['1.0.0']!.relativeError).toBeGreaterThan(0);
    expect(byVersion['1.0.0']!.relativeError).toBeLessThanOrEqual(0.0108);
    for (const [q, key] of [
      [0.5, 'p50'],
      [0.9, 'p90'],
      [0.99, 'p99'],
    ] as const) {
      const exact = oldValues[Math.floor(q * (oldValues.length - 1))]!;
      const got = byVersion['1.0.0']![key] as number;
      expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(0.02);
    }
    expect(byVersion['1.1.0']).toMatchObject({ clusters: 1, count: 300 });
    expect(byVersion['1.1.0']!.sum as number).toBeCloseTo(
      newValues.reduce((a, b) => a + b, 0),
      9,
    );
  });

  it('refuses a needlessly coarse histogram, so that one report cannot coarsen the fleet quantiles', async () => {
    const values = Array.from({ length: 200 }, (_, i) => 0.01 * (1 + i));
    expect((await sendJson(agentReport({ metrics: [histogram('t2b.latency', values)] }))).status).toBe(200);
    const before = (await metric('t2b.latency')).rows[0]!;
    // One value in one bucket at scale -10 (a factor of 2^1024): no agent lowers a histogram that far.
    const coarse = {
      ...histogram('t2b.latency', [1]),
      histogram: {
        scale: -10,
        zeroCount: 0,
        positive: { offset: -1, bucketCounts: [1] },
        count: 1,
        sum: 1,
        min: 1,
        max: 1,
      },
    };
    for (const send of [sendJson, sendProto]) {
      const res = await send(agentReport({ metrics: [counter('t2b.other', 1), coarse] }));
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('coarse_histogram');
      expect(body.message).toContain('metrics[1].histogram is at scale -10');
    }
    // Nothing of the refused reports was stored (not even their counter), and the quantiles stand.
    expect((await metric('t2b.other')).kind).toBeNull();
    expect((await metric('t2b.latency')).rows[0]).toEqual(before);
    expect(before.relativeError).toBeLessThanOrEqual(0.0108);
    // A histogram lowered only as far as a report's size limit needs is taken (the agent's
    // shrinkReport stops where a histogram spans FITTED_BUCKETS_MIN buckets).
    const fitted = histogram('t2b.latency', values);
    fitted.histogram = downscale(fitted.histogram!, 8 - 5 + stepsToFit(histogramOf(values, 5), 16));
    expect((await sendJson(agentReport({ metrics: [fitted] }))).status).toBe(200);
  });

  it('keeps fleet quantiles fine when two clusters report values 2^1000 apart', async () => {
    const fleet = Array.from({ length: 300 }, (_, i) => 0.01 * (1 + i));
    const around = (x: number) => Array.from({ length: 20 }, (_, i) => x * (1 + i / 20));
    for (const values of [fleet, around(2 ** -500), around(2 ** 500)]) {
      expect((await sendProto(agentReport({ metrics: [histogram('t2c.latency', values)] }))).status).toBe(
        200,
      );
    }
    const row = (await metric('t2c.latency')).rows[0]!;
    expect(row).toMatchObject({ clusters: 3, count: 340 });
    // Scale 4 (2.2%): the merge spans ~16,000 buckets (a merge kept to 2,048 went to scale 1, 17%).
    expect(row.relativeError).toBeLessThan(0.022);
    const all = [...fleet, ...around(2 ** -500), ...around(2 ** 500)].sort((a, b) => a - b);
    for (const [q, key] of [
      [0.5, 'p50'],
      [0.9, 'p90'],
    ] as const) {
      const exact = all[Math.floor(q * (all.length - 1))]!;
      expect(Math.abs((row[key] as number) - exact) / exact).toBeLessThanOrEqual(0.022);
    }
  });

  it('answers 400 for a metric name no agent can send', async () => {
    for (const name of ['bad%20name!', '9lives', encodeURIComponent('é')]) {
      const res = await c.get(`/query/metrics/${name}?from=${today}&to=${today}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: 'invalid_metric_name',
        message: expect.stringContaining('e.g. db.query.duration'),
      });
    }
  });

  it("answers gauges with each cluster's latest value and the spread", async () => {
    const a = randomUUID();
    const b = randomUUID();
    await sendJson(agentReport({ trackingId: a, metrics: [gauge('t3.connections', 10)] }));
    await sendJson(agentReport({ trackingId: a, metrics: [gauge('t3.connections', 4)] }));
    await sendJson(agentReport({ trackingId: b, metrics: [gauge('t3.connections', 6)] }));
    const answer = await metric('t3.connections');
    expect(answer).toMatchObject({
      kind: 'gauge',
      rows: [{ value: 'all', clusters: 2, last: 10, min: 4, max: 10 }],
    });
    expect(answer.rows[0]!.avg).toBeCloseTo(20 / 3, 9);
  });

  it('leaves CI reports out unless includeCi=true', async () => {
    await sendJson(agentReport({ metrics: [counter('t4.queries', 1)] }));
    await sendJson(agentReport({ ci: true, metrics: [counter('t4.queries', 100)] }));
    expect((await metric('t4.queries')).rows[0]).toMatchObject({ total: 1 });
    expect((await metric('t4.queries', '&includeCi=true')).rows[0]).toMatchObject({
      total: 101,
      clusters: 2,
    });
  });

  it('discards is_test reports after validating them', async () => {
    const res = await sendJson(agentReport({ isTest: true, metrics: [counter('t5.queries', 1)] }));
    expect(await res.json()).toMatchObject({ status: 'discarded' });
    expect(await metric('t5.queries')).toEqual(expect.objectContaining({ kind: null, rows: [] }));
  });

  it('caps distinct series per cluster: extra label sets are dropped, counted and flagged', async () => {
    const id = randomUUID();
    const flagged = async () =>
      Number(
        /^tidewatch_reports_flagged_total\{flag="series_capped"\} (\d+)$/m.exec(
          await (await fetch(`${c.url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const flaggedBefore = await flagged();
    const many = Array.from({ length: 2000 }, (_, i) => counter('t6.per_user', 1, { user: `u${i}` }));
    for (let i = 0; i < 3; i++) {
      const res = await sendJson(
        agentReport({ trackingId: id, metrics: many.slice(i * 2000, (i + 1) * 2000) }),
      );
      expect(res.status).toBe(200);
    }
    const more = Array.from({ length: 2000 }, (_, i) => counter('t6.per_user', 1, { user: `v${i}` }));
    await sendJson(agentReport({ trackingId: id, metrics: more }));
    await sendJson(
      agentReport({
        trackingId: id,
        metrics: more.map((m) => ({ ...m, labels: { user: `w${m.labels.user}` } })),
      }),
    );
    await sendJson(
      agentReport({
        trackingId: id,
        metrics: more.map((m) => ({ ...m, labels: { user: `x${m.labels.user}` } })),
      }),
    );
    // 2000 + 2000 + 2000 offered after the first 2000: the cap of 5000 series keeps 5000.
    const total = (await metric('t6.per_user', '&by=trackingId')).rows.find((r) => r.value === id)!.total;
    expect(total).toBe(5000);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/^tidewatch_series_dropped_total 3000$/m);
    // The w report lost 1000 of its series and the x report all 2000: two reports flagged.
    expect((await flagged()) - flaggedBefore).toBe(2);
  });

  it('caps distinct names per cluster for reports sent at the same moment too', async () => {
    const id = randomUUID();
    const dropped = async () =>
      Number(
        /^tidewatch_series_dropped_total (\d+)$/m.exec(await (await fetch(`${c.url}/metrics`)).text())?.[1],
      );
    const before = await dropped();
    // 20 reports of 100 new names each, all in flight at once: the cap of 500 names keeps 500.
    const reports = Array.from({ length: 20 }, (_, r) =>
      agentReport({
        trackingId: id,
        metrics: Array.from({ length: 100 }, (_, i) => counter(`t9.r${r}.n${i}`, 1)),
      }),
    );
    const answers = await Promise.all(reports.map((report) => sendJson(report)));
    expect(answers.map((a) => a.status)).toEqual(reports.map(() => 200));
    const listed = (await (await c.get('/query/metrics')).json()) as { metrics: { name: string }[] };
    expect(listed.metrics.filter((m) => m.name.startsWith('t9.'))).toHaveLength(500);
    expect((await dropped()) - before).toBe(1500);
    // The nodes of another cluster starting together: the same new series in every report, all
    // stored (each after the first finds them known and does not wait for the others' commits).
    const other = randomUUID();
    const same = await Promise.all(
      Array.from({ length: 10 }, () =>
        sendJson(
          agentReport({ trackingId: other, metrics: [counter('t9b.queries', 1), counter('t9b.errors', 2)] }),
        ),
      ),
    );
    expect(same.map((a) => a.status)).toEqual(same.map(() => 200));
    const queries = await metric('t9b.queries', '&by=trackingId');
    expect(queries.rows.find((r) => r.value === other)).toMatchObject({ total: 10 });
  });

  it('breaks a metric down by one label: errors by SQLSTATE class', async () => {
    const [x, y] = [randomUUID(), randomUUID()];
    const errors = (cls: string, n: number) => counter('t7.db.query.errors', n, { sqlstate_class: cls });
    await sendJson(agentReport({ trackingId: x, metrics: [errors('42', 3), errors('23', 1)] }));
    await sendProto(
      agentReport({ trackingId: y, metrics: [errors('42', 2), counter('t7.db.query.errors', 9)] }),
    );
    await sendJson(agentReport({ trackingId: x, metrics: [errors('42', 4)] }));
    expect(await metric('t7.db.query.errors', '&by=label:sqlstate_class')).toMatchObject({
      kind: 'counter',
      rows: [
        { value: '42', clusters: 2, total: 9 },
        { value: '23', clusters: 1, total: 1 },
        { value: null, clusters: 1, total: 9 },
      ],
    });
    expect((await metric('t7.db.query.errors', '&by=label:nobody_has_it')).rows).toEqual([
      { value: null, clusters: 2, total: 19 },
    ]);
  });

  it('lists agent events newest first, by name and cluster, page by page', async () => {
    const id = randomUUID();
    const ddl = (op: string, object: string) => ({
      name: 't8.db.ddl',
      timeMs: Date.now(),
      fields: { op, object },
    });
    await sendJson(agentReport({ trackingId: id, events: [ddl('create', 'table'), ddl('create', 'index')] }));
    await sendProto(
      agentReport({
        trackingId: id,
        events: [ddl('drop', 'view'), { name: 't8.other', timeMs: 1, fields: {} }],
      }),
    );
    const list = async (query: string) => {
      const res = await c.get(`/query/agent-events?${query}`);
      expect(res.status, query).toBe(200);
      return (await res.json()) as {
        events: { name: string; fields: { op?: string; object?: string } }[];
        next: string | null;
      };
    };
    const all = await list(`trackingId=${id}`);
    expect(all.events.map((e) => e.name).sort()).toEqual(['t8.db.ddl', 't8.db.ddl', 't8.db.ddl', 't8.other']);
    const ddls = await list(`trackingId=${id}&name=t8.db.ddl`);
    expect(ddls.events.map((e) => `${e.fields.op} ${e.fields.object}`)).toEqual([
      'drop view',
      'create index',
      'create table',
    ]);
    expect(ddls.events[0]).toMatchObject({ trackingId: id, receivedAt: expect.stringMatching(/^\d{4}-/) });
    const first = await list(`trackingId=${id}&name=t8.db.ddl&limit=2`);
    const rest = await list(`trackingId=${id}&name=t8.db.ddl&limit=2&before=${first.next}`);
    expect([...first.events, ...rest.events]).toEqual(ddls.events);
    expect(rest.next).toBeNull();
    expect((await list(`trackingId=${id}&from=2020-01-01&to=2020-01-02`)).events).toEqual([]);
    for (const [query, code] of [
      ['before=bm90LWEtY3Vyc29y', 'invalid_cursor'],
      ['limit=0', 'invalid_request'],
      ['from=2026-13-01', 'invalid_date'],
      [`trackingId=${'x'.repeat(200)}`, 'invalid_tracking_id'],
    ]) {
      const res = await c.get(`/query/agent-events?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ error: code });
    }
    expect((await c.get('/query/agent-events', null)).status).toBe(401);
  });

  it('validates query parameters: bad dates, inverted and over-long ranges are 400s', async () => {
    for (const [query, code] of [
      ['from=2026-02-31', 'invalid_date'],
      ['from=yesterday', 'invalid_date'],
      ['from=2026-11-20&to=2026-11-01', 'invalid_range'],
      ['from=2024-01-01&to=2026-01-01', 'range_too_long'],
      ['by=color', 'invalid_request'],
      ['by=label:', 'invalid_request'],
      ['by=label:no%20spaces', 'invalid_request'],
      ['includeCi=maybe', 'invalid_request'],
    ]) {
      const res = await c.get(`/query/metrics/x?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ error: code });
    }
  });

  it('rejects bad native reports with 4xx and a message', async () => {
    const bad = [
      ['{"protocol":3}', 'application/json'],
      ['{"protocol":99}', 'application/json'],
      ['not json', 'application/json'],
    ] as const;
    for (const [body, type] of bad) {
      const res = await c.post('/api/v3/report', body, { 'content-type': type });
      expect(res.status, body).toBeGreaterThanOrEqual(400);
      expect(res.status, body).toBeLessThan(500);
      expect(((await res.json()) as { message: string }).message.length).toBeGreaterThan(5);
    }
    const res = await c.post('/api/v3/report', '{}', { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
  });
});
