// Query, admin and operations routes over real HTTP: auth, erase, health, docs.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { eventBatch, metaReport } from '../../test-support/risingwave.js';
import { storeTargets } from '../../test-support/stores.js';
import { newToken } from '../auth/tokens.js';

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

describe.each(targets)('query and admin routes: $name', (target) => {
  let c: TestCollector;
  let readToken: string;
  beforeAll(async () => {
    c = await startTestCollector(await target.freshUrl());
    const read = newToken('read', 'test reader', Date.now());
    await c.collector.store.putToken(read.record);
    readToken = read.secret;
    return () => c.close();
  });

  it('needs a token: 401 without one or with a wrong one, with a JSON error', async () => {
    for (const token of [null, 'not-a-token', `${readToken}x`]) {
      const res = await c.get('/query/clusters/anything', token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('refuses expired and revoked tokens', async () => {
    const expired = newToken('admin', 'old', Date.now() - 10_000, Date.now() - 1);
    await c.collector.store.putToken(expired.record);
    expect((await c.get('/query/clusters/x', expired.secret)).status).toBe(401);
    const revoked = newToken('read', 'gone', Date.now());
    await c.collector.store.putToken(revoked.record);
    await c.collector.store.revokeToken(revoked.record.id, Date.now());
    expect((await c.get('/query/clusters/x', revoked.secret)).status).toBe(401);
  });

  it('answers 404 with a message for a cluster with nothing stored', async () => {
    const res = await c.get('/query/clusters/nobody', readToken);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  it('rejects a malformed tracking id in the path with 400', async () => {
    const res = await c.get(`/query/clusters/${'x'.repeat(200)}`, readToken);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_tracking_id' });
  });

  it('lets a read token query but not erase (403)', async () => {
    const id = randomUUID();
    await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }));
    expect((await c.get(`/query/clusters/${id}`, readToken)).status).toBe(200);
    const res = await c.del(`/admin/clusters/${id}`, readToken);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'forbidden' });
    expect((await c.get(`/query/clusters/${id}`, readToken)).status).toBe(200);
  });

  it('erases a cluster everywhere with an admin token; afterwards it is 404', async () => {
    const id = randomUUID();
    await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }));
    await c.postProto(
      '/api/v2/report/events',
      eventBatch([{ trackingId: id }, { trackingId: id, name: 'sink' }]),
    );
    const res = await c.del(`/admin/clusters/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ trackingId: id, erased: { reports: 1, events: 2, agentReports: 0 } });
    expect((await c.get(`/query/clusters/${id}`)).status).toBe(404);
  });

  it('serves health, readiness, metrics, the home page and the OpenAPI document', async () => {
    expect(await (await fetch(`${c.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${c.url}/readyz`)).json()).toEqual({ status: 'ready', store: target.name });
    const metrics = await fetch(`${c.url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toContain('process_resident_memory_bytes');
    const home = await (await fetch(`${c.url}/`)).text();
    expect(home).toContain('/api/v2/report/meta');
    const doc = (await (await fetch(`${c.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v2/report/{node}',
        '/api/v2/report/events',
        '/api/v2/report/event',
        '/api/v1/report/{node}',
        '/query/clusters/{trackingId}',
        '/query/metrics/{name}',
        '/query/agent-events',
        '/admin/clusters/{trackingId}',
        // Served by plugins whose routes hide themselves, listed all the same.
        '/',
        '/docs',
        '/docs/json',
        '/healthz',
        '/readyz',
        '/metrics',
      ]),
    );
    // The label breakdown is documented where the parameter is.
    const metric = doc.paths['/query/metrics/{name}'] as {
      get: { parameters: { name: string; description?: string }[] };
    };
    expect(metric.get.parameters.find((p) => p.name === 'by')?.description).toContain('label:<key>');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await fetch(`${c.url}/no/such/route`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  it('answers 405 with Allow: POST for an ingest route asked with another method', async () => {
    for (const [method, path] of [
      ['GET', '/api/v2/report/meta'],
      ['PUT', '/api/v2/report/events'],
      ['GET', '/api/v1/report/compute'],
      ['DELETE', '/api/v3/report'],
    ] as const) {
      const res = await fetch(`${c.url}${path}?x=1`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toEqual({
        error: 'method_not_allowed',
        message: `${path} takes POST (a report or event batch), not ${method}`,
      });
    }
    // Not an ingest route: still a 404.
    expect((await fetch(`${c.url}/api/v2/report/nope`)).status).toBe(404);
  });

  it('answers 404 for an unknown route before reading its body: not 400 for bad JSON, not 413', async () => {
    const post = (path: string, body: string | Uint8Array, type: string) =>
      fetch(`${c.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
    for (const [path, body, type] of [
      ['/api/v2/nope', '{bad', 'application/json'],
      ['/no/such/route', '{bad', 'application/json'],
      ['/api/v1/nope', new Uint8Array(3 << 20), 'application/x-protobuf'],
    ] as const) {
      const res = await post(path, body, type);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: 'not_found', message: `no route POST ${path}` });
    }
    // A known route still reads its body, and refuses bad JSON as before.
    const known = await post('/api/v1/report/meta', '{bad', 'application/json');
    expect(known.status).toBe(400);
    expect(await known.json()).toMatchObject({ error: 'undecodable' });
  });
});
