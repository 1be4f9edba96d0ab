// The routes are typed to build @tidewatch/protocol's API answers, but what is sent is what the
// route's fastify response schema lets through: fast-json-stringify drops a field the schema does
// not list and coerces one of another type, with no compiler to notice. So every answer a route
// builds, from a store with data, must come out of serialization unchanged, and every field its
// schema lists must show up in some answer (else the OpenAPI document promises a field nobody sends).
import { randomUUID } from 'node:crypto';
import { encodeReportJson } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport, counter, gauge, histogram } from '../../test-support/agent-report.js';
import { eventBatch, metaReport, nodeReport } from '../../test-support/risingwave.js';
import { storeTargets } from '../../test-support/stores.js';
import { newToken } from '../auth/tokens.js';
import { DEFAULT_CONFIG } from '../config.js';
import { buildServer } from '../server.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

/** Every route whose answer has an interface in api-answers.ts, asked so that no array is empty. */
const a = randomUUID();
const b = randomUUID();
const ROUTES: { method?: 'POST'; url: string }[] = [
  { url: '/query/active' },
  { url: '/query/breakdown?by=version' },
  { url: '/query/overview' },
  { url: '/query/versions' },
  { url: '/query/events' },
  { url: '/query/agent-events' },
  { url: '/query/event-counts?by=name' },
  { url: '/query/metrics' },
  { url: '/query/metrics/db.queries' },
  { url: '/query/metrics/db.queries?by=trackingId' },
  { url: '/query/metrics/db.pool.size' },
  { url: '/query/metrics/db.query.duration' },
  { url: '/query/clusters' },
  { url: `/query/clusters/${a}` },
  { url: `/query/clusters/${a}/history` },
  { url: '/query/distribution?of=memory' },
  { url: '/query/distribution?of=computeNodes' },
  { url: '/query/connectors' },
  { url: '/query/adoption' },
  { url: '/admin/audit' },
  // An empty NDJSON body: nothing imported, but every field of the answer.
  { method: 'POST', url: '/admin/import' },
];

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

/** The JSON paths (`rows[].p50`) a value has, or those a JSON schema lists. */
function valuePaths(value: unknown, at: string, out: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const item of value) valuePaths(item, `${at}[]`, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) valuePaths(v, `${at}.${key}`, out.add(`${at}.${key}`));
  }
  return out;
}
function schemaPaths(schema: unknown, at: string, out: Set<string>): Set<string> {
  const s = schema as { properties?: Record<string, unknown>; items?: unknown; anyOf?: unknown[] };
  for (const [key, sub] of Object.entries(s.properties ?? {}))
    schemaPaths(sub, `${at}.${key}`, out.add(`${at}.${key}`));
  if (s.items) schemaPaths(s.items, `${at}[]`, out);
  for (const branch of s.anyOf ?? []) schemaPaths(branch, at, out);
  return out;
}

describe.each(targets)('API answer shapes: $name', (target) => {
  let store: Store;
  let app: FastifyInstance;
  const admin = newToken('admin', 'answer shapes', Date.now());
  /** Per request URL: the answer the route built, and its response schema. */
  const built = new Map<string, { payload: unknown; schema: unknown }>();

  beforeAll(async () => {
    store = openStore(await target.freshUrl());
    await store.migrate();
    await store.putToken(admin.record);
    ({ app } = await buildServer(store, { ...DEFAULT_CONFIG, logLevel: 'silent' }));
    app.addHook('preSerialization', async (request, _reply, payload) => {
      const schema = (request.routeOptions.schema?.response as Record<number, unknown> | undefined)?.[200];
      built.set(request.url, { payload, schema });
      return payload;
    });
    const send = async (url: string, payload: Uint8Array | string, contentType: string) => {
      const res = await app.inject({
        method: 'POST',
        url,
        payload: Buffer.from(payload),
        headers: { 'content-type': contentType },
      });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    };
    const proto = 'application/x-protobuf';
    await send('/api/v2/report/meta', metaReport({ trackingId: a, version: '2.4.1' }), proto);
    await send(
      '/api/v2/report/meta',
      metaReport({ trackingId: b, version: '2.5.0', licenseTier: 'free' }),
      proto,
    );
    await send('/api/v2/report/compute', nodeReport('compute', { trackingId: a }), proto);
    await send(
      '/api/v2/report/events',
      eventBatch([{ trackingId: a }, { trackingId: b, name: 'sink' }]),
      proto,
    );
    const report = agentReport({
      trackingId: a,
      metrics: [
        counter('db.queries', 5),
        gauge('db.pool.size', 4),
        histogram('db.query.duration', [0.002, 0.3]),
      ],
      events: [{ name: 'db.ddl', timeMs: Date.now(), fields: { op: 'create', object: 'table' } }],
    });
    await send('/api/v3/report', encodeReportJson(report), 'application/json');
    // An internal cluster (counted in `excluded`) and an entry in the audit log.
    const tagged = await app.inject({
      method: 'PUT',
      url: `/admin/clusters/${b}/internal`,
      payload: { internal: true },
      headers: { authorization: `Bearer ${admin.secret}` },
    });
    expect(tagged.statusCode).toBe(200);
  });

  afterAll(async () => {
    await app?.close();
    await store?.close();
  });

  it('sends every answer as the route built it, and every field its schema lists', async () => {
    const seen = new Map<unknown, Set<string>>();
    for (const { method = 'GET', url } of ROUTES) {
      const res = await app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${admin.secret}`,
          ...(method === 'POST' ? { 'content-type': 'application/x-ndjson' } : {}),
        },
      });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(built.has(url), url).toBe(true);
      const { payload, schema } = built.get(url)!;
      // JSON.stringify: what the answer is as JSON (an undefined field is no field).
      expect(res.json(), url).toEqual(JSON.parse(JSON.stringify(payload)));
      expect(res.body, `${url} has an empty array: its items went unchecked`).not.toContain('[]');
      // The cluster list has no response schema: its answer is sent as built.
      if (url === '/query/clusters') continue;
      expect(schema, url).toBeDefined();
      seen.set(schema, valuePaths(res.json(), '', seen.get(schema) ?? new Set()));
    }
    // Per schema: the metric routes' URLs share one, and only their kinds together fill every field.
    for (const [schema, paths] of seen) {
      expect([...schemaPaths(schema, '', new Set())].filter((p) => !paths.has(p))).toEqual([]);
    }
  });
});
