// The RisingWave ingest routes over real HTTP, on every store adapter.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { event, eventBatch, metaReport, nodeReport, v1MetaReport } from '../../test-support/risingwave.js';
import { storeTargets } from '../../test-support/stores.js';

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

async function cluster(c: TestCollector, id: string) {
  const res = await c.get(`/query/clusters/${encodeURIComponent(id)}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: string; message: string };
  expect(body.error).toBe(code);
  expect(body.message.length).toBeGreaterThan(10);
}

describe.each(targets)('RisingWave ingest over HTTP: $name', (target) => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector(await target.freshUrl(), { bodyLimit: 128 * 1024 });
    return () => c.close();
  });

  it('stores a v2 meta report and shows every field in /query/clusters', async () => {
    const id = randomUUID();
    const before = Date.now();
    const res = await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'stored', reports: 1, events: 0 });
    const { status, body } = await cluster(c, id);
    expect(status).toBe(200);
    expect(body).toEqual({
      trackingId: id,
      firstSeen: body.firstSeen,
      lastSeen: body.firstSeen,
      version: '2.4.1',
      gitSha: 'a1b2c3d4e5f6',
      clusterType: 'kubernetes',
      metaBackend: 'rdb',
      nodeCount: { meta: 1, compute: 3, frontend: 2, compactor: 1 },
      streamJobCount: 5,
      objectStore: 's3',
      licenseTier: 'paid',
      connectors: ['iceberg', 'kafka', 'postgres-cdc'],
      reports: { meta: 1, compute: 0, frontend: 0, compactor: 0 },
      events: 0,
      agentReports: 0,
    });
    // Times are the collector's receive time, ISO 8601 UTC with milliseconds.
    expect(body.firstSeen).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const seen = Date.parse(body.firstSeen as string);
    expect(seen).toBeGreaterThanOrEqual(before);
    expect(seen).toBeLessThanOrEqual(Date.now());
  });

  it('counts compute, frontend and compactor reports per node type', async () => {
    const id = randomUUID();
    for (const node of ['compute', 'frontend', 'compactor'] as const) {
      const res = await c.postProto(`/api/v2/report/${node}`, nodeReport(node, { trackingId: id }));
      expect(res.status).toBe(200);
    }
    await c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: id, reportTime: 5 }));
    const { body } = await cluster(c, id);
    expect(body.reports).toEqual({ meta: 0, compute: 2, frontend: 1, compactor: 1 });
    expect(body.version).toBeNull();
  });

  it('stores v1 JSON reports of every node type', async () => {
    const id = randomUUID();
    const res = await c.post('/api/v1/report/meta', v1MetaReport({ trackingId: id }), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
    const compute = JSON.stringify({ ...JSON.parse(v1MetaReport({ trackingId: id })), node_type: 'Compute' });
    expect(
      (await c.post('/api/v1/report/compute', compute, { 'content-type': 'application/json; charset=utf-8' }))
        .status,
    ).toBe(200);
    const { body } = await cluster(c, id);
    expect(body).toMatchObject({
      metaBackend: 'etcd',
      version: null,
      nodeCount: { meta: 1, compute: 2, frontend: 1, compactor: 1 },
      reports: { meta: 1, compute: 1, frontend: 0, compactor: 0 },
    });
  });

  it('stores event batches and single events, once each when retried', async () => {
    const id = randomUUID();
    const batch = eventBatch([
      { trackingId: id, name: 'source' },
      { trackingId: id, name: 'sink', catalogId: 43 },
      { trackingId: id, name: 'source', isTest: true },
    ]);
    const first = await c.postProto('/api/v2/report/events', batch);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ status: 'stored', reports: 0, events: 2 });
    expect((await c.postProto('/api/v2/report/events', batch)).status).toBe(200);
    const single = event({ trackingId: id, name: 'failure_recovery', stage: 5 });
    expect((await c.postProto('/api/v2/report/event', single)).status).toBe(200);
    expect((await c.postProto('/api/v2/report/event', single)).status).toBe(200);
    expect((await cluster(c, id)).body).toMatchObject({ events: 3, reports: { meta: 0 } });
  });

  it('stores every copy of an event RisingWave repeats within a batch, and a retried batch once', async () => {
    // RisingWave emits the same `paywall` event on every check of a feature it is not licensed
    // for, many in one second: copies within a batch are occurrences, not retries.
    const id = randomUUID();
    const paywall = { trackingId: id, name: 'paywall', stage: 4, eventTimeSec: 1_764_000_000 };
    const batch = eventBatch([paywall, paywall, paywall, { ...paywall, name: 'other' }, paywall]);
    const first = await c.postProto('/api/v2/report/events', batch);
    expect(await first.json()).toEqual({ status: 'stored', reports: 0, events: 5 });
    expect((await c.postProto('/api/v2/report/events', batch)).status).toBe(200);
    expect((await cluster(c, id)).body).toMatchObject({ events: 5 });
    const listed = await c.get(`/query/events?trackingId=${id}&name=paywall`);
    expect(((await listed.json()) as { events: unknown[] }).events).toHaveLength(4);
  });

  it('stores the same events again when they come in another batch of the same second', async () => {
    // A busy 2.3+ node flushes at every 100 events: 150 identical checks in one second arrive as
    // a batch of 100 and one of 50. Only a request resent byte for byte is a retry.
    const id = randomUUID();
    const paywall = { trackingId: id, name: 'paywall', stage: 4, eventTimeSec: 1_764_000_000 };
    const hundred = eventBatch(Array.from({ length: 100 }, () => paywall));
    const fifty = eventBatch(Array.from({ length: 50 }, () => paywall));
    for (const batch of [hundred, fifty, fifty, hundred]) {
      expect((await c.postProto('/api/v2/report/events', batch)).status).toBe(200);
    }
    expect((await cluster(c, id)).body).toMatchObject({ events: 150 });
    // The same holds for a gzip-compressed resend: the key is of the inflated body.
    const gzipped = await c.post('/api/v2/report/events', gzipSync(fifty), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    expect(gzipped.status).toBe(200);
    expect((await cluster(c, id)).body).toMatchObject({ events: 150 });
  });

  it('stores event connector names lower-case, as report connectors are', async () => {
    // CREATE SOURCE events carry the user's own spelling of the connector property.
    const id = randomUUID();
    const batch = eventBatch([
      { trackingId: id, name: 'source', connectorName: 'Kafka', catalogId: 1 },
      { trackingId: id, name: 'source', connectorName: 'kafka', catalogId: 2 },
      { trackingId: id, name: 'sink', connectorName: 'ICEBERG', catalogId: 3 },
    ]);
    expect((await c.postProto('/api/v2/report/events', batch)).status).toBe(200);
    const connectors = async (filter: string) => {
      const res = await c.get(`/query/events?trackingId=${id}&connector=${filter}`);
      return ((await res.json()) as { events: { connector: string }[] }).events.map((e) => e.connector);
    };
    expect(await connectors('kafka')).toEqual(['kafka', 'kafka']);
    expect(await connectors('iceberg')).toEqual(['iceberg']);
    // A resend is still a retry (the key is of the event as sent).
    expect((await c.postProto('/api/v2/report/events', batch)).status).toBe(200);
    expect((await cluster(c, id)).body).toMatchObject({ events: 3 });
  });

  it("stores a large cluster's meta report whose connector usage lists thousands of sources", async () => {
    const big = await startTestCollector(await target.freshUrl());
    try {
      const id = randomUUID();
      const source = Array.from({ length: 3500 }, (_, i) => ({
        [String(i)]: { connector: 'kafka', format: 'FORMAT_TYPE_PLAIN', encode: 'ENCODE_TYPE_JSON' },
      }));
      const usage = JSON.stringify({ source, sink: [] });
      expect(usage.length).toBeGreaterThan(256 * 1024);
      const res = await big.postProto(
        '/api/v2/report/meta',
        metaReport({ trackingId: id, connectorUsage: usage }),
      );
      expect(res.status).toBe(200);
      const connectors = await big.get('/query/connectors');
      expect(await connectors.json()).toMatchObject({
        sources: [{ connector: 'kafka', format: 'plain', encode: 'json', clusters: 1, count: 3500 }],
      });
    } finally {
      await big.close();
    }
  });

  it('answers a retried report 200 and stores it once', async () => {
    const id = randomUUID();
    const body = metaReport({ trackingId: id, sessionId: 's-1', reportTime: 1_764_000_000 });
    const answers = await Promise.all([1, 2, 3].map(() => c.postProto('/api/v2/report/meta', body)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await cluster(c, id)).body.reports).toMatchObject({ meta: 1 });
  });

  it('validates is_test reports and events, answers 200, and stores nothing', async () => {
    const id = randomUUID();
    const res = await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id, isTest: true }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'discarded', reports: 0, events: 0 });
    expect(
      (await c.postProto('/api/v2/report/events', eventBatch([{ trackingId: id, isTest: true }]))).status,
    ).toBe(200);
    const v1 = await c.post('/api/v1/report/meta', v1MetaReport({ trackingId: id, isTest: true }), {
      'content-type': 'application/json',
    });
    expect(v1.status).toBe(200);
    expect((await cluster(c, id)).status).toBe(404);
    // A test report is still validated: a broken one is refused.
    const broken = metaReport({ trackingId: '', isTest: true });
    await expectError(await c.postProto('/api/v2/report/meta', broken), 400, 'invalid_tracking_id');
    // An empty batch is not a test batch: nothing to store, and it says so.
    const empty = await c.postProto('/api/v2/report/events', eventBatch([]));
    expect(await empty.json()).toEqual({ status: 'stored', reports: 0, events: 0 });
  });

  it('accepts gzip bodies (limits apply to the inflated bytes)', async () => {
    const id = randomUUID();
    expect((await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }), true)).status).toBe(200);
    expect((await cluster(c, id)).body.reports).toMatchObject({ meta: 1 });
  });

  it('rejects a gzip bomb with 413 before inflating past the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024)); // ~50 KiB on the wire, 50 MiB inflated
    await expectError(
      await c.post('/api/v2/report/meta', bomb, {
        'content-type': 'application/x-protobuf',
        'content-encoding': 'gzip',
      }),
      413,
      'payload_too_large',
    );
  });

  it('rejects a body over the limit with 413', async () => {
    const big = new Uint8Array(129 * 1024);
    await expectError(
      await c.post('/api/v2/report/meta', big, { 'content-type': 'application/x-protobuf' }),
      413,
      'payload_too_large',
    );
  });

  it('rejects broken gzip with 400 and unknown encodings with 415', async () => {
    const headers = { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' };
    await expectError(
      await c.post('/api/v2/report/meta', new Uint8Array([1, 2, 3]), headers),
      400,
      'invalid_gzip',
    );
    await expectError(
      await c.post('/api/v2/report/meta', metaReport(), {
        'content-type': 'application/x-protobuf',
        'content-encoding': 'br',
      }),
      415,
      'unsupported_encoding',
    );
  });

  it('rejects a wrong or missing content type with 415', async () => {
    await expectError(
      await c.post('/api/v2/report/meta', metaReport(), { 'content-type': 'application/json' }),
      415,
      'unsupported_media_type',
    );
    await expectError(await c.post('/api/v2/report/meta', metaReport()), 415, 'unsupported_media_type');
    await expectError(
      await c.post('/api/v1/report/meta', v1MetaReport(), { 'content-type': 'application/x-protobuf' }),
      415,
      'unsupported_media_type',
    );
  });

  it('rejects truncated and garbled protobuf with 400', async () => {
    const good = metaReport();
    await expectError(
      await c.postProto('/api/v2/report/meta', good.slice(0, good.length - 7)),
      400,
      'undecodable',
    );
    await expectError(
      await c.postProto('/api/v2/report/meta', new Uint8Array([0xff, 0xff, 0xff, 0xff])),
      400,
      'undecodable',
    );
    await expectError(
      await c.postProto('/api/v2/report/events', new Uint8Array([0x0a, 0xff, 0x01])),
      400,
      'undecodable',
    );
    await expectError(await c.postProto('/api/v2/report/meta', new Uint8Array()), 400, 'invalid_report');
  });

  it('rejects invalid JSON on v1 with 400', async () => {
    await expectError(
      await c.post('/api/v1/report/meta', '{"tracking_id":', { 'content-type': 'application/json' }),
      400,
      'undecodable',
    );
    await expectError(
      await c.post('/api/v1/report/meta', '[1,2]', { 'content-type': 'application/json' }),
      400,
      'invalid_report',
    );
  });

  it('answers 404 for an unknown node type and 400 when the path and body disagree', async () => {
    await expectError(await c.postProto('/api/v2/report/database', metaReport()), 404, 'unknown_node_type');
    await expectError(await c.postProto('/api/v1/report/Meta', metaReport()), 404, 'unknown_node_type');
    await expectError(await c.postProto('/api/v2/report/compute', metaReport()), 400, 'node_type_mismatch');
    // Checked before the body is read: a wrong path is a 404 whatever was sent with it.
    const sent = [
      ['/api/v2/report/database', new Uint8Array(3 << 20), 'application/x-protobuf'],
      ['/api/v1/report/Meta', '{bad', 'text/plain'],
    ] as const;
    for (const [path, body, type] of sent)
      await expectError(await c.post(path, body, { 'content-type': type }), 404, 'unknown_node_type');
  });

  it('rejects tracking ids that are empty, too long or not printable ASCII', async () => {
    for (const trackingId of ['', 'x'.repeat(129), 'clüster', 'a\nb']) {
      await expectError(
        await c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId })),
        400,
        'invalid_tracking_id',
      );
    }
    expect(
      (await c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: 'x'.repeat(128) })))
        .status,
    ).toBe(200);
  });

  it('rejects a batch of more than 1,000 events whole, storing none of it', async () => {
    const id = randomUUID();
    const batch = eventBatch(Array.from({ length: 1001 }, (_, i) => ({ trackingId: id, catalogId: i })));
    const res = await c.post('/api/v2/report/events', gzipSync(batch), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    await expectError(res, 413, 'too_many_events');
    expect((await cluster(c, id)).status).toBe(404);
  });

  it('rejects a batch with one bad event whole, storing none of it', async () => {
    const id = randomUUID();
    const batch = eventBatch([{ trackingId: id }, { trackingId: '' }]);
    await expectError(await c.postProto('/api/v2/report/events', batch), 400, 'invalid_tracking_id');
    expect((await cluster(c, id)).status).toBe(404);
  });

  it('groups concurrent reports into shared transactions and stores every acknowledged one', async () => {
    const id = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: id, reportTime: i })),
      ),
    );
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect((await cluster(c, id)).body.reports).toMatchObject({ compute: 200 });
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    const batches = Number(/^tidewatch_write_batch_requests_count (\d+)/m.exec(metrics)?.[1]);
    const requests = Number(/^tidewatch_write_batch_requests_sum (\d+)/m.exec(metrics)?.[1]);
    expect(requests / batches).toBeGreaterThan(1);
  });

  it('counts accepted and rejected reports by reason in /metrics', async () => {
    await c.postProto('/api/v2/report/meta', new Uint8Array([0xff]));
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/tidewatch_reports_rejected_total\{reason="undecodable"\} [1-9]/);
    expect(metrics).toMatch(
      /tidewatch_reports_accepted_total\{protocol="risingwave_v2",kind="meta_report"\} [1-9]/,
    );
    expect(metrics).toMatch(/tidewatch_test_reports_discarded_total [1-9]/);
    expect(metrics).toMatch(/tidewatch_store_write_seconds_count [1-9]/);
    expect(metrics).toMatch(
      /tidewatch_http_requests_total\{method="POST",route="\/api\/v2\/report\/:node",status="200"\}/,
    );
  });
});
