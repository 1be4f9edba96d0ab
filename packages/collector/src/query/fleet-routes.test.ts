// The fleet routes of CONTRACT.md over real HTTP, on every store: active, breakdown, events.
import { randomUUID } from 'node:crypto';
import { encodeReportJson } from '@tidewatch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport, counter } from '../../test-support/agent-report.js';
import { ADMIN_TOKEN, startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { eventBatch, eventMessageWith, metaReport, nodeReport } from '../../test-support/risingwave.js';
import { storeTargets } from '../../test-support/stores.js';
import { newToken } from '../auth/tokens.js';

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

const DAY = 86_400_000;
const today = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString().slice(0, 10);

describe.each(targets)('fleet query routes: $name', (target) => {
  let c: TestCollector;
  const a = randomUUID();
  const b = randomUUID();
  beforeAll(async () => {
    c = await startTestCollector(await target.freshUrl());
    await c.postProto('/api/v2/report/meta', metaReport({ trackingId: a, version: '2.4.1' }));
    await c.postProto(
      '/api/v2/report/meta',
      metaReport({
        trackingId: b,
        version: '2.3.0',
        computeNodes: 12,
        memoryTotal: 3 * 1024 ** 3,
        licenseTier: 'free',
        connectorUsage: JSON.stringify({
          source: [
            { '1': { connector: 'kafka', format: 'plain', encode: 'json' } },
            { '2': { connector: 'kafka', format: 'plain', encode: 'json' } },
          ],
          sink: [],
        }),
      }),
    );
    await c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: b }));
    await c.postProto(
      '/api/v2/report/events',
      eventBatch([
        { trackingId: a, name: 'source' },
        { trackingId: a, name: 'failure_recovery', stage: 5, catalogId: 0 },
        { trackingId: b, name: 'sink', catalogId: 7 },
      ]),
    );
    return () => c.close();
  });

  const json = async (path: string) => {
    const res = await c.get(path);
    expect(res.status, path).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };

  it('answers one row per day of the range, zero included', async () => {
    const { series } = (await json(`/query/active?from=${daysAgo(2)}&to=${today}`)) as {
      series: { day: string; clusters: number }[];
    };
    expect(series).toEqual([
      { day: daysAgo(2), clusters: 0 },
      { day: daysAgo(1), clusters: 0 },
      { day: today, clusters: 2 },
    ]);
    const defaultRange = (await json('/query/active')) as { series: unknown[] };
    expect(defaultRange.series).toHaveLength(30);
  });

  it('breaks down by version and connector, largest first', async () => {
    expect(await json('/query/breakdown?by=version')).toEqual({
      rows: [
        { value: '2.3.0', clusters: 1 },
        { value: '2.4.1', clusters: 1 },
      ],
      excluded: { ci: 0, internal: 0 },
    });
    const connectors = (await json('/query/breakdown?by=connector')) as {
      rows: { value: string; clusters: number }[];
    };
    expect(connectors.rows).toContainEqual({ value: 'kafka', clusters: 2 });
    expect((await json('/query/breakdown?by=metaBackend')).rows).toEqual([{ value: 'rdb', clusters: 2 }]);
  });

  it('lists events newest first with filters and a cursor', async () => {
    const all = (await json('/query/events')) as { events: Record<string, unknown>[]; next: string | null };
    expect(all.events).toHaveLength(3);
    expect(all.next).toBeNull();
    const recovery = (await json('/query/events?stage=recovery')) as { events: Record<string, unknown>[] };
    expect(recovery.events).toEqual([
      expect.objectContaining({
        trackingId: a,
        name: 'failure_recovery',
        stage: 'recovery',
        attributes: { format: 'plain', encode: 'json' },
      }),
    ]);
    expect(((await json(`/query/events?trackingId=${b}`)) as { events: unknown[] }).events).toHaveLength(1);
    const page1 = (await json('/query/events?limit=2')) as { events: { name: string }[]; next: string };
    const page2 = (await json(`/query/events?limit=2&before=${page1.next}`)) as {
      events: { name: string }[];
      next: string | null;
    };
    expect([...page1.events, ...page2.events].map((e) => e.name)).toEqual(all.events.map((e) => e.name));
    expect(page2.next).toBeNull();
  });

  it('refuses a query string that is not valid percent-encoding instead of reading it literally', async () => {
    // `%ZZ` matched an event literally named "%ZZ", and bad UTF-8 was dropped into an empty answer.
    for (const query of ['name=%ZZ', 'name=%E0%A4', 'name=%ED%A0%80', 'by=name&name=a%', 'n%ZZ=1']) {
      const res = await c.get(`/query/event-counts?by=name&${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json(), query).toMatchObject({ error: 'invalid_url', message: /percent-encoding/ });
    }
    // Well-formed escapes still work, a literal "%" included (sent as %25).
    expect((await c.get('/query/event-counts?by=name&name=%25ZZ')).status).toBe(200);
    expect((await c.get('/query/event-counts?by=name&name=caf%C3%A9')).status).toBe(200);
  });

  it('counts events per name and finds the clusters with the most failure recoveries', async () => {
    expect(await json('/query/event-counts?by=name')).toEqual({
      rows: [
        { value: 'failure_recovery', events: 1, clusters: 1 },
        { value: 'sink', events: 1, clusters: 1 },
        { value: 'source', events: 1, clusters: 1 },
      ],
      excluded: { ci: 0, internal: 0 },
    });
    expect(await json('/query/event-counts?by=trackingId&name=failure_recovery')).toEqual({
      rows: [{ value: a, events: 1, clusters: 1 }],
      excluded: { ci: 0, internal: 0 },
    });
    expect(await json('/query/event-counts?by=day&stage=create_stream_job')).toEqual({
      rows: [{ value: today, events: 2, clusters: 2 }],
      excluded: { ci: 0, internal: 0 },
    });
  });

  it('gives an overview of active, new, silent and total clusters', async () => {
    const answer = await json(`/query/overview?from=${today}&to=${today}`);
    expect(answer).toEqual({
      from: today,
      to: today,
      clusters: { active: 2, new: 2, silent: 0, total: 2 },
      lifetimeDays: { p50: 1, p90: 1 },
      excluded: { ci: 0, internal: 0 },
    });
  });

  it('answers version adoption per day for a stacked chart', async () => {
    const answer = (await json(`/query/versions?from=${daysAgo(1)}&to=${today}`)) as {
      days: string[];
      versions: { version: string; clusters: number[] }[];
    };
    expect(answer.days).toEqual([daysAgo(1), today]);
    expect(answer.versions).toEqual([
      { version: '2.3.0', clusters: [0, 1] },
      { version: '2.4.1', clusters: [0, 1] },
    ]);
  });

  it('answers distributions of sizes as buckets and percentiles', async () => {
    expect(await json('/query/distribution?of=computeNodes')).toEqual({
      of: 'computeNodes',
      unit: 'nodes',
      clusters: 2,
      unknown: 0,
      min: 3,
      p50: 3,
      p90: 3,
      p99: 3,
      max: 12,
      buckets: [
        { from: 3, to: 4, clusters: 1 },
        { from: 9, to: 16, clusters: 1 },
      ],
      excluded: { ci: 0, internal: 0 },
    });
    const memory = (await json('/query/distribution?of=memory')) as { buckets: unknown[] };
    expect(memory.buckets).toEqual([
      { from: 2 * 1024 ** 3 + 1, to: 4 * 1024 ** 3, clusters: 1 },
      { from: 4 * 1024 ** 3 + 1, to: 8 * 1024 ** 3, clusters: 1 },
    ]);
    expect((await json('/query/breakdown?by=licenseTier')).rows).toEqual([
      { value: 'free', clusters: 1 },
      { value: 'paid', clusters: 1 },
    ]);
  });

  it('counts sources and sinks by connector, format and encode', async () => {
    expect(await json('/query/connectors')).toEqual({
      clusters: 2,
      sources: [{ connector: 'kafka', format: 'plain', encode: 'json', clusters: 2, count: 3 }],
      sinks: [{ connector: 'iceberg', format: 'upsert', encode: 'parquet', clusters: 1, count: 1 }],
      excluded: { ci: 0, internal: 0 },
    });
    expect(((await json('/query/events?connector=kafka')) as { events: unknown[] }).events).toHaveLength(3);
    expect(((await json('/query/events?connector=nats')) as { events: unknown[] }).events).toHaveLength(0);
  });

  it("times each release's pickup and shows one cluster's history", async () => {
    expect(await json(`/query/adoption?from=${daysAgo(1)}&to=${today}`)).toEqual({
      from: daysAgo(1),
      to: today,
      // Newest release first; both ran on the first day with data (the day before has none), so
      // that day is only a bound on when they came out.
      releases: ['2.4.1', '2.3.0'].map((version) => ({
        version,
        firstDay: today,
        beforeRange: true,
        peakShare: 50,
        peakDay: today,
        latestShare: 50,
        daysTo: { '10': 0, '25': 0, '50': 0 },
      })),
      excluded: { ci: 0, internal: 0 },
    });
    const history = (await json(`/query/clusters/${b}/history`)) as {
      days: { day: string; version: string; nodeCount: { compute: number } }[];
      sessions: { nodeType: string; source: string; reports: number }[];
    };
    expect(history.days).toEqual([
      expect.objectContaining({
        day: today,
        version: '2.3.0',
        nodeCount: expect.objectContaining({ compute: 12 }),
      }),
    ]);
    expect(history.sessions.map((s) => `${s.source} ${s.nodeType} ${s.reports}`).sort()).toEqual([
      'risingwave compute 1',
      'risingwave meta 1',
    ]);
    expect((await c.get('/query/clusters/nobody/history')).status).toBe(404);
    expect(await json('/query/metrics')).toEqual({ metrics: [] });
  });

  it('lists clusters with search and paging, and exports them as CSV and NDJSON', async () => {
    const list = (await json('/query/clusters?limit=1')) as {
      clusters: { trackingId: string }[];
      next: string;
      total: number;
    };
    expect(list.clusters).toHaveLength(1);
    const next = (await json(`/query/clusters?limit=1&before=${list.next}`)) as {
      clusters: { trackingId: string }[];
      next: string | null;
      total: number;
    };
    expect([list.clusters[0]!.trackingId, next.clusters[0]!.trackingId].sort()).toEqual([a, b].sort());
    expect(next.next).toBeNull();
    // Every page says how many clusters the whole list has.
    expect([list.total, next.total]).toEqual([2, 2]);
    const found = (await json(`/query/clusters?search=${a.slice(0, 8).toUpperCase()}`)) as {
      clusters: { trackingId: string; version: string }[];
      total: number;
    };
    expect(found.clusters).toEqual([
      expect.objectContaining({ trackingId: a, version: '2.4.1', clusterType: 'kubernetes' }),
    ]);
    expect(found.total).toBe(1);
    expect((await json(`/query/clusters?version=2.3.0&seenFrom=${today}`)).total).toBe(1);
    expect((await json(`/query/clusters?search=no-such-cluster`)).total).toBe(0);
    expect((await json(`/query/clusters?seenFrom=${daysAgo(-1)}`)).total).toBe(0);
    const csv = await c.get('/query/clusters?format=csv');
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('trackingId,firstSeen,lastSeen,version,gitSha,clusterType,metaBackend,internal');
    expect(lines).toHaveLength(3);
    const ndjson = (await (await c.get('/query/clusters?format=ndjson')).text()).trim().split('\n');
    expect(ndjson.map((l) => JSON.parse(l).trackingId).sort()).toEqual([a, b].sort());
  });

  it('leaves clusters an admin tagged internal out of statistics, and says so', async () => {
    const tag = (internal: boolean, token?: string) =>
      fetch(`${c.url}/admin/clusters/${b}/internal`, {
        method: 'PUT',
        body: JSON.stringify({ internal }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token ?? ADMIN_TOKEN}` },
      });
    const tagged = await tag(true);
    expect(tagged.status).toBe(200);
    expect(await tagged.json()).toEqual({ trackingId: b, internal: true });
    try {
      expect(await json('/query/breakdown?by=version')).toEqual({
        rows: [{ value: '2.4.1', clusters: 1 }],
        excluded: { ci: 0, internal: 1 },
      });
      expect((await json('/query/overview')).clusters).toMatchObject({ active: 1, total: 1 });
      expect(((await json('/query/active')) as { series: { clusters: number }[] }).series.at(-1)).toEqual({
        day: today,
        clusters: 1,
      });
      expect((await json('/query/breakdown?by=version&includeInternal=true')).excluded).toEqual({
        ci: 0,
        internal: 0,
      });
      const counted = (await json('/query/event-counts?by=name')) as { rows: unknown[]; excluded: unknown };
      expect(counted.rows).toHaveLength(2);
      expect(counted.excluded).toEqual({ ci: 0, internal: 1 });
      expect((await json('/query/event-counts?by=name&includeInternal=true')).excluded).toEqual({
        ci: 0,
        internal: 0,
      });
      const listed = (await json(`/query/clusters?search=${b}`)) as { clusters: { internal: boolean }[] };
      expect(listed.clusters[0]!.internal).toBe(true);
      expect((await tag(false, 'wrong-token')).status).toBe(401);
      const unknown = await fetch(`${c.url}/admin/clusters/nobody/internal`, {
        method: 'PUT',
        body: JSON.stringify({ internal: true }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(unknown.status).toBe(404);
      // Only true or false: "true", 1 and null were coerced by the schema (null untagged it).
      // Nor another field beside it (the schema's removeAdditional dropped it silently).
      const bodies = [
        '{"internal":"true"}',
        '{"internal":1}',
        '{"internal":null}',
        '{"internal":"x"}',
        '{"internal":false,"x":1}',
      ];
      for (const body of bodies) {
        const odd = await fetch(`${c.url}/admin/clusters/${b}/internal`, {
          method: 'PUT',
          body,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        expect(odd.status, body).toBe(400);
        expect(await odd.json(), body).toMatchObject({ error: 'invalid_request' });
      }
      // A body it cannot read as sent: compressed, or in another charset. Refused by name.
      const refused: Record<string, string>[] = [
        { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        { 'content-type': 'application/json', 'content-encoding': 'br' },
        { 'content-type': 'application/json; charset=utf-16' },
      ];
      for (const headers of refused) {
        const odd = await fetch(`${c.url}/admin/clusters/${b}/internal`, {
          method: 'PUT',
          body: '{"internal":false}',
          headers: { ...headers, authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        expect(odd.status, JSON.stringify(headers)).toBe(415);
      }
      // JSON sent as text, or with no type at all: both 415, saying what to send.
      for (const type of ['text/plain', '']) {
        const odd = await fetch(`${c.url}/admin/clusters/${b}/internal`, {
          method: 'PUT',
          body: '{"internal":false}',
          headers: { 'content-type': type, authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        expect(odd.status, type).toBe(415);
        expect(await odd.json(), type).toEqual({
          error: 'unsupported_media_type',
          message: 'this route takes a JSON body: Content-Type must be application/json',
        });
      }
      // Valid JSON with a __proto__ key is refused, and the answer does not call it invalid JSON.
      const poisoned = await fetch(`${c.url}/admin/clusters/${b}/internal`, {
        method: 'PUT',
        body: '{"internal":false,"__proto__":{"admin":true}}',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(poisoned.status).toBe(400);
      expect(await poisoned.json()).toMatchObject({
        error: 'invalid_json',
        message: expect.stringContaining('__proto__'),
      });
      const utf8 = await fetch(`${c.url}/admin/clusters/${b}/internal`, {
        method: 'PUT',
        body: '{"internal":true}',
        headers: {
          'content-type': 'application/json; charset=UTF-8',
          authorization: `Bearer ${ADMIN_TOKEN}`,
        },
      });
      expect(utf8.status).toBe(200);
      expect(
        ((await json(`/query/clusters?search=${b}`)) as { clusters: { internal: boolean }[] }).clusters[0]!
          .internal,
      ).toBe(true);
    } finally {
      expect((await tag(false)).status).toBe(200);
    }
  });

  it('quotes CSV cells so that a spreadsheet never runs a tracking id as a formula', async () => {
    const evil = '=HYPERLINK("http://x","y"),1';
    await c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: evil }));
    const csv = await (
      await c.get(`/query/clusters?format=csv&search=${encodeURIComponent('hyperlink')}`)
    ).text();
    expect(csv.trim().split('\n')[1]).toMatch(/^"'=HYPERLINK\(""http:\/\/x"",""y""\),1",/);
  });

  it('quotes CSV cells a semicolon-separated spreadsheet would split, and keeps NDJSON records on one line', async () => {
    // A version with a formula after a semicolon (the separator in de/fr locales), and a tab.
    const version = 'x;=1+2;@SUM(9)\u2028\t=1+1';
    await c.postProto('/api/v2/report/meta', metaReport({ trackingId: 'semicolon-formula', version }));
    const query = `search=${encodeURIComponent('semicolon-formula')}`;
    const csv = await (await c.get(`/query/clusters?format=csv&${query}`)).text();
    expect(csv).toContain(`,"${version}",`);
    const ndjson = await (await c.get(`/query/clusters?format=ndjson&${query}`)).text();
    const records = ndjson.split(/\r\n|[\n\r\u0085\u2028\u2029]/).filter((l) => l !== '');
    expect(records).toHaveLength(1);
    expect(JSON.parse(records[0]!).version).toBe(version);
  });

  it('answers bad parameters with a 400 and a message', async () => {
    for (const [path, code] of [
      ['/query/active?from=2026-13-01', 'invalid_date'],
      [`/query/active?from=${today}&to=${daysAgo(3)}`, 'invalid_range'],
      ['/query/active?from=2020-01-01&to=2026-01-01', 'range_too_long'],
      ['/query/breakdown', 'invalid_request'],
      ['/query/breakdown?by=color', 'invalid_request'],
      ['/query/events?limit=1001', 'invalid_request'],
      ['/query/events?stage=explode', 'invalid_request'],
      ['/query/events?before=bm90LWEtY3Vyc29y', 'invalid_cursor'],
      [`/query/events?trackingId=${'x'.repeat(200)}`, 'invalid_tracking_id'],
      ['/query/clusters?limit=0', 'invalid_request'],
      ['/query/clusters?format=xml', 'invalid_request'],
      ['/query/clusters?before=%%%', 'invalid_url'],
      ['/query/clusters?before=%25%25%25', 'invalid_cursor'],
      ['/query/clusters?seenFrom=last-week', 'invalid_date'],
      // Shaped like dates but not on the calendar: NaN or a rolled-over day in the stores before.
      ['/query/clusters?seenFrom=2026-13-01', 'invalid_date'],
      ['/query/clusters?seenFrom=2026-02-30', 'invalid_date'],
      ['/query/clusters?seenFrom=0000-00-00', 'invalid_date'],
      // A forged cursor whose report id holds a NUL (PostgreSQL refused it with a 500 before).
      [
        `/query/agent-events?before=${Buffer.from(JSON.stringify([1795744637281, '\0', 1])).toString('base64url')}`,
        'invalid_cursor',
      ],
      ['/query/overview?to=2026-02-30', 'invalid_date'],
      // Past ClickHouse's last Date (it read 2106-01-01 as 0000-00-00 and counted no cluster).
      ['/query/overview?from=2106-01-01&to=2106-01-01', 'invalid_date'],
      ['/query/active?from=1969-12-31', 'invalid_date'],
      ['/query/clusters?seenFrom=2106-01-01', 'invalid_date'],
      ['/query/event-counts', 'invalid_request'],
      ['/query/event-counts?by=mood', 'invalid_request'],
      ['/query/distribution', 'invalid_request'],
      ['/query/distribution?of=shoeSize', 'invalid_request'],
      ['/query/connectors?from=yesterday', 'invalid_date'],
      [`/query/adoption?from=${today}&to=${daysAgo(1)}`, 'invalid_range'],
      ['/query/clusters/x/history?to=2026-02-30', 'invalid_date'],
    ]) {
      const res = await c.get(path!);
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error, path).toBe(code);
      expect(body.message.length).toBeGreaterThan(5);
    }
    // A real day of a year under 100 is out of range, not "not a date" (Date.UTC read it as 19xx).
    const early = await c.get('/query/active?from=0001-01-02&to=0001-01-03');
    expect(((await early.json()) as { message: string }).message).toBe(
      'to must be a day from 1970-01-01 to 2105-12-31 (the days every store can hold), not 0001-01-03',
    );
  });

  it('needs a token', async () => {
    for (const path of [
      '/query/active',
      '/query/breakdown?by=version',
      '/query/events',
      '/query/overview',
      '/query/versions',
      '/query/clusters',
      '/query/distribution?of=memory',
      '/query/connectors',
      '/query/adoption',
      '/query/metrics',
      '/query/clusters/x/history',
      // Parameters are checked only after the token: nobody without one learns how they are read.
      '/query/breakdown',
      '/query/events?limit=1001',
      '/query/clusters?seenFrom=2026-13-01',
      '/admin/audit?before=abc',
      // Nor from the router: a path it cannot decode, or one over its length limit (400 and 414 before).
      '/query/clusters/%FF',
      `/query/clusters/${'a'.repeat(600)}`,
      '/admin/clusters/%FF/internal',
      // The same with the route's first segment percent-encoded, which the router decodes.
      '/%71uery/clusters/%E0%A4%A',
      `/%71uery/clusters/${'a'.repeat(600)}`,
    ]) {
      expect((await c.get(path, null)).status, path).toBe(401);
    }
    // With a valid token, the router's answer (and a read token on an admin path is 403 first).
    expect((await c.get('/query/clusters/%FF')).status).toBe(400);
    expect((await c.get(`/query/clusters/${'a'.repeat(600)}`)).status).toBe(414);
    const read = newToken('read', 'router errors', Date.now());
    await c.collector.store.putToken(read.record);
    expect((await c.get('/admin/clusters/%FF/internal', read.secret)).status).toBe(403);
    expect((await c.get('/query/clusters/%FF', read.secret)).status).toBe(400);
  });

  it('refuses a query parameter the route does not take, naming the ones it does', async () => {
    // A filter meant but ignored would answer unfiltered rows as if it had applied.
    for (const [path, takes] of [
      [
        `/query/clusters?from=${today}`,
        /takes search, version, clusterType, seenFrom, limit, before, format$/,
      ],
      ['/query/clusters/x?verbose=1', /takes no query parameters$/],
      [`/query/active?from=${today}&tracking_id=x`, /takes from, to, includeCi, includeInternal$/],
      ['/admin/audit?since=2026-01-01', /takes .*limit/],
    ] as const) {
      const res = await c.get(path);
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error, path).toBe('invalid_parameter');
      expect(body.message, path).toMatch(/^unknown query parameter "\w+": this route /);
      expect(body.message, path).toMatch(takes);
    }
    // A first segment written percent-encoded is the same route.
    expect((await c.get('/%71uery/active?bogus=1')).status).toBe(400);
    // Only after the token: nobody without one learns what a route takes.
    expect((await c.get(`/query/clusters?from=${today}`, null)).status).toBe(401);
  });

  it('names the allowed values of a bad choice, and says when a parameter came twice', async () => {
    const bad = await c.get('/query/breakdown?by=nope');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe(
      'querystring/by must be one of: version, clusterType, metaBackend, os, objectStore, connector, licenseTier',
    );
    const twice = await c.get(`/query/active?from=${daysAgo(3)}&to=${today}&from=${daysAgo(2)}`);
    expect(twice.status).toBe(400);
    expect(((await twice.json()) as { message: string }).message).toBe('querystring/from must be given once');
  });

  it('keeps apart two events that differ only in a stage or object a newer RisingWave knows, and still dedups a retry', async () => {
    const trackingId = randomUUID();
    const unknown = (stage: number, object: number) =>
      eventBatch([{ trackingId, name: 'future', stage: stage as never, object }]);
    for (const body of [unknown(6, 1), unknown(7, 1), unknown(1, 6), unknown(1, 7), unknown(6, 1)]) {
      expect((await c.postProto('/api/v2/report/events', body)).status).toBe(200);
    }
    const res = await c.get(`/query/events?trackingId=${trackingId}`);
    const { events } = (await res.json()) as { events: { stage: string | null; object: string | null }[] };
    // The last body is a retry of the first; the other four are four different events.
    expect(events).toHaveLength(4);
    // Each answered with its number, apart from UNSPECIFIED, and found by it.
    const shown = (e: { stage: string | null; object: string | null }) => `${e.stage}/${e.object}`;
    expect(events.map(shown).sort()).toEqual([
      'create_stream_job/unknown_6',
      'create_stream_job/unknown_7',
      'unknown_6/source',
      'unknown_7/source',
    ]);
    const byStage = (await json(`/query/events?trackingId=${trackingId}&stage=unknown_7`)) as {
      events: { stage: string }[];
    };
    expect(byStage.events.map((e) => e.stage)).toEqual(['unknown_7']);
    expect(
      ((await json(`/query/events?trackingId=${trackingId}&stage=unspecified`)) as { events: [] }).events,
    ).toEqual([]);
    const counts = (await json('/query/event-counts?by=stage&name=future')) as { rows: { value: string }[] };
    expect(counts.rows.map((r) => r.value).sort()).toEqual(['create_stream_job', 'unknown_6', 'unknown_7']);
    for (const bad of ['unknown_', 'unknown_x', 'unknown_12345678901', 'UNKNOWN_6']) {
      expect((await c.get(`/query/events?stage=${bad}`)).status, bad).toBe(400);
    }
  });

  it('keeps apart messages whose key fields differ only before clamping or cleaning, and still dedups a retry', async () => {
    const trackingId = randomUUID();
    // 2^60 and 2^61 are both stored as 2^53-1 (flagged number_clamped); "a\0b" is stored as "a\uFFFDb".
    const sessionId = randomUUID();
    const reports = [2 ** 60, 2 ** 61].map((reportTime) =>
      nodeReport('compute', { trackingId, sessionId, reportTime }),
    );
    reports.push(reports[0]!); // a retry: the same bytes again
    const events = [
      eventBatch([{ trackingId, name: 'odd', catalogId: 2 ** 60 }]),
      eventBatch([{ trackingId, name: 'odd', catalogId: 2 ** 61 }]),
      eventBatch([{ trackingId, name: 'a\0b' }]),
      eventBatch([{ trackingId, name: 'a\uFFFDb' }]),
    ];
    events.push(events[1]!); // a retry
    for (const body of reports) expect((await c.postProto('/api/v2/report/compute', body)).status).toBe(200);
    for (const body of events) expect((await c.postProto('/api/v2/report/events', body)).status).toBe(200);
    const cluster = (await json(`/query/clusters/${trackingId}`)) as {
      reports: { compute: number };
      events: number;
    };
    expect(cluster.reports.compute).toBe(2);
    expect(cluster.events).toBe(4);
  });

  it('finds an event by any connector name ingest stores, the longest too', async () => {
    const trackingId = randomUUID();
    const connector = 'c'.repeat(1024);
    await c.postProto('/api/v2/report/events', eventBatch([{ trackingId, connectorName: connector }]));
    const res = await c.get(`/query/events?trackingId=${trackingId}&connector=${connector}`);
    expect(res.status).toBe(200);
    const { events } = (await res.json()) as { events: { connector: string }[] };
    expect(events.map((e) => e.connector)).toEqual([connector]);
    expect((await c.get(`/query/clusters?clusterType=${'k'.repeat(256)}`)).status).toBe(200);
  });

  it('answers event attributes as sent: JSON only when it writes back to the same text, else the text', async () => {
    const trackingId = randomUUID();
    const sent = [
      '{"format":"plain","encode":"json"}', // as RisingWave writes them: answered as JSON
      '{"limit":1e400}',
      '{"id":12345678901234567890}',
      '{"x":-0}',
      '{"a":1,"a":2}',
      ' {"a":1} ',
      '"hello"',
      'hello',
    ];
    for (const [i, attributes] of sent.entries()) {
      const body = eventMessageWith({ trackingId, name: `attributes_${i}`, attributes });
      expect((await c.postProto('/api/v2/report/event', body)).status).toBe(200);
    }
    const res = await c.get(`/query/events?trackingId=${trackingId}`);
    const { events } = (await res.json()) as { events: { name: string; attributes: unknown }[] };
    const byName = new Map(events.map((e) => [e.name, e.attributes]));
    expect(byName.get('attributes_0')).toEqual({ format: 'plain', encode: 'json' });
    for (let i = 1; i < sent.length; i++) expect(byName.get(`attributes_${i}`), sent[i]).toBe(sent[i]);
  });

  it('stores an event whose attributes nest deeper than JSON can be written back, and lists it as text', async () => {
    const trackingId = randomUUID();
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const res = await c.postProto(
      '/api/v2/report/event',
      eventMessageWith({ trackingId, name: 'deep_attributes', attributes: deep }),
    );
    expect(res.status).toBe(200);
    const answer = await c.get(`/query/events?trackingId=${trackingId}`);
    expect(answer.status).toBe(200);
    const { events } = (await answer.json()) as { events: { name: string; attributes: unknown }[] };
    expect(events).toHaveLength(1);
    expect(events[0]!.attributes).toBe(deep);
    // The fleet's unfiltered list still answers.
    expect((await c.get('/query/events')).status).toBe(200);
  });
});

describe.each(targets)('breakdowns count every active cluster once: $name', (target) => {
  it('puts clusters without a meta report in the range (compute-only, agent-only) in the null row', async () => {
    const c = await startTestCollector(await target.freshUrl());
    try {
      await c.postProto('/api/v2/report/meta', metaReport({ trackingId: randomUUID(), version: '2.4.1' }));
      await c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: randomUUID() }));
      await c.postProto('/api/v2/report/frontend', nodeReport('frontend', { trackingId: randomUUID() }));
      const agent = encodeReportJson(agentReport({ trackingId: randomUUID(), metrics: [counter('q', 1)] }));
      expect((await c.post('/api/v3/report', agent, { 'content-type': 'application/json' })).status).toBe(
        200,
      );
      const get = async (path: string) => (await (await c.get(path)).json()) as Record<string, unknown>;
      const active = (await get(`/query/active?from=${today}&to=${today}`)) as {
        series: { clusters: number }[];
      };
      expect(active.series[0]!.clusters).toBe(4);
      for (const by of ['version', 'clusterType', 'metaBackend', 'os', 'objectStore', 'licenseTier']) {
        const { rows } = (await get(`/query/breakdown?by=${by}&from=${today}&to=${today}`)) as {
          rows: { value: string | null; clusters: number }[];
        };
        expect(
          rows.reduce((sum, r) => sum + r.clusters, 0),
          by,
        ).toBe(4);
        expect(rows.find((r) => r.value === null)?.clusters, by).toBeGreaterThanOrEqual(3);
      }
      expect(
        ((await get(`/query/breakdown?by=version&from=${today}&to=${today}`)) as { rows: unknown[] }).rows,
      ).toEqual([
        { value: null, clusters: 3 },
        { value: '2.4.1', clusters: 1 },
      ]);
    } finally {
      await c.close();
    }
  });
});
