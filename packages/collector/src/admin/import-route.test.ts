// The admin import route over real HTTP, on every store adapter: backdated history through the
// real wire formats, all-or-nothing, idempotent.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { decodeV2EventBatchRaw, encodeReportJson } from '@tidewatch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport } from '../../test-support/agent-report.js';
import { ADMIN_TOKEN, startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { spawnCollector } from '../../test-support/collector-process.js';
import { event, eventBatch, metaReport, nodeReport, v1MetaReport } from '../../test-support/risingwave.js';
import { storeTargets, withoutLegacyBoundary } from '../../test-support/stores.js';
import { eventRows } from '../ingest/rows.js';
import { openStore } from '../store/open-store.js';

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

/** A time in the past year as written, month and day included: `${year}-${rest}`. */
const lastYear = (rest: string) => `${new Date().getUTCFullYear() - 1}-${rest}`;
const DAY = 86_400_000;
const PROTOBUF = 'application/x-protobuf';

interface Line {
  receivedAt: string | number;
  path: string;
  contentType: string;
  body: string;
}

const line = (
  receivedAt: number | string,
  path: string,
  body: Uint8Array | string,
  contentType = PROTOBUF,
) => ({
  receivedAt: typeof receivedAt === 'number' ? new Date(receivedAt).toISOString() : receivedAt,
  path,
  contentType,
  body: Buffer.from(body).toString('base64'),
});

const ndjson = (lines: Line[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

describe.each(targets)('POST /admin/import: $name', (target) => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector(await target.freshUrl());
    return () => c.close();
  });

  const send = (lines: Line[] | string, headers: Record<string, string> = {}, token?: string | null) =>
    fetch(`${c.url}/admin/import`, {
      method: 'POST',
      body: typeof lines === 'string' ? lines : ndjson(lines),
      headers: {
        'content-type': 'application/x-ndjson',
        ...(token === null ? {} : { authorization: `Bearer ${token ?? 'test-admin-token-0123456789'}` }),
        ...headers,
      },
    });
  const cluster = async (id: string) => {
    const res = await c.get(`/query/clusters/${id}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('stores backdated history through every wire format, with the given first and last seen', async () => {
    const id = randomUUID();
    const session = randomUUID();
    const t0 = Date.now() - 30 * DAY;
    const t1 = Date.now() - 2 * DAY;
    const lines = [
      line(t0, '/api/v2/report/meta', metaReport({ trackingId: id, sessionId: session, reportTime: 1 })),
      line(t1, '/api/v2/report/meta', metaReport({ trackingId: id, sessionId: session, reportTime: 2 })),
      line(t0 + DAY, '/api/v2/report/compute', nodeReport('compute', { trackingId: id })),
      line(
        t0 + DAY,
        '/api/v2/report/events',
        eventBatch([{ trackingId: id }, { trackingId: id, name: 'sink' }]),
      ),
      line(t0 + DAY, '/api/v2/report/event', event({ trackingId: id, catalogId: 7 })),
      {
        ...line(t0, '/api/v3/report', encodeReportJson(agentReport({ trackingId: id }))),
        contentType: 'application/json',
        receivedAt: t0 + 5 * DAY, // ms since the epoch are accepted too
      },
    ];
    const res = await send(lines);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      lines: 6,
      imported: { reports: 3, events: 3, agentReports: 1 },
      duplicates: 0,
      discarded: 0,
      expired: 0,
      blocked: 0,
    });
    const { status, body } = await cluster(id);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      firstSeen: new Date(t0).toISOString(),
      lastSeen: new Date(t1).toISOString(),
      version: '2.4.1',
      clusterType: 'kubernetes',
      reports: { meta: 2, compute: 1, frontend: 0, compactor: 0 },
      events: 3,
      agentReports: 1,
    });
  });

  it('imports v1 JSON and gzip bodies, discards is_test, and stores a retried import once', async () => {
    const id = randomUUID();
    const at = Date.now() - 10 * DAY;
    const lines = [
      line(at, '/api/v1/report/meta', v1MetaReport({ trackingId: id }), 'application/json'),
      line(at, '/api/v2/report/frontend', nodeReport('frontend', { trackingId: id, isTest: true })),
      line(at, '/api/v2/report/events', eventBatch([{ trackingId: id }, { trackingId: id, isTest: true }])),
    ];
    const gzip = { 'content-encoding': 'gzip' };
    const first = await fetch(`${c.url}/admin/import`, {
      method: 'POST',
      body: gzipSync(ndjson(lines)),
      headers: {
        'content-type': 'application/x-ndjson',
        authorization: 'Bearer test-admin-token-0123456789',
        ...gzip,
      },
    });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ imported: { reports: 1, events: 1 }, discarded: 2 });
    const again = await send(lines);
    expect(await again.json()).toMatchObject({
      imported: { reports: 0, events: 0, agentReports: 0 },
      duplicates: 2,
      discarded: 2,
    });
    expect((await cluster(id)).body).toMatchObject({
      firstSeen: new Date(at).toISOString(),
      reports: { meta: 1, compute: 0, frontend: 0, compactor: 0 },
      events: 1,
    });
  });

  it('drops lines received before the retention period, counted as expired, and refuses absurd times', async () => {
    const kept = await startTestCollector(await target.freshUrl(), { retentionMonths: 1 });
    try {
      const old = randomUUID();
      const recent = randomUUID();
      const res = await fetch(`${kept.url}/admin/import`, {
        method: 'POST',
        body: ndjson([
          line(Date.now() - 40 * DAY, '/api/v2/report/meta', metaReport({ trackingId: old })),
          line(Date.now() - 40 * DAY, '/api/v2/report/events', eventBatch([{ trackingId: old }])),
          {
            ...line(
              Date.now() - 40 * DAY,
              '/api/v3/report',
              encodeReportJson(agentReport({ trackingId: old })),
            ),
            contentType: 'application/json',
          },
          line(Date.now() - 2 * DAY, '/api/v2/report/meta', metaReport({ trackingId: recent })),
        ]),
        headers: {
          'content-type': 'application/x-ndjson',
          authorization: 'Bearer test-admin-token-0123456789',
        },
      });
      expect(await res.json()).toMatchObject({
        imported: { reports: 1, events: 0, agentReports: 0 },
        expired: 3,
      });
      expect((await kept.get(`/query/clusters/${old}`)).status).toBe(404);
      expect((await kept.get(`/query/clusters/${recent}`)).status).toBe(200);
    } finally {
      await kept.close();
    }
    // Past what a JavaScript date can hold: a 400 naming the line, not a 500.
    for (const receivedAt of [8_640_000_000_000_001, -8_640_000_000_000_001, 2 ** 53 - 1]) {
      const res = await send([{ ...line(0, '/api/v2/report/meta', metaReport()), receivedAt }]);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: 'invalid_line',
        message: expect.stringMatching(/^line 1: /),
      });
    }
  });

  it('audits every import that carries lines, and not an empty one (a token check)', async () => {
    const audited = async () => {
      const res = await c.get('/admin/audit?limit=1000');
      const { entries } = (await res.json()) as { entries: { action: string }[] };
      return entries.filter((e) => e.action === 'import').length;
    };
    const before = await audited();
    const empty = await send('');
    expect(empty.status).toBe(200);
    expect(await empty.json()).toMatchObject({ lines: 0 });
    expect(await audited()).toBe(before);
    const one = [line(Date.now() - DAY, '/api/v2/report/meta', metaReport({ trackingId: randomUUID() }))];
    expect((await send(one)).status).toBe(200);
    expect(await audited()).toBe(before + 1);
  });

  it('needs an admin token: 401 without one, 403 with a read token', async () => {
    const lines = [line(Date.now(), '/api/v2/report/meta', metaReport())];
    const none = await send(lines, {}, null);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: 'unauthorized' });
    expect((await fetch(`${c.url}/admin/import`, { method: 'POST' })).status).toBe(401); // no type either
    const { newToken } = await import('../auth/tokens.js');
    const read = newToken('read', 'import test', Date.now(), null);
    await c.collector.store.putToken(read.record);
    const forbidden = await send(lines, {}, read.secret);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: 'forbidden' });
  });

  it.each([
    ['bad base64', { body: 'not base64!' }, /line 2: body must be .*base64/],
    [
      'an undecodable body',
      { body: Buffer.from([0xff, 0xff, 0xff]).toString('base64') },
      /line 2: .*protobuf/,
    ],
    ['an unknown path', { path: '/api/v2/report/gateway' }, /line 2: path .* is not an ingest path/],
    ['a future receivedAt', { receivedAt: Date.now() + DAY }, /line 2: receivedAt .* is in the future/],
    ['a receivedAt 500 days ago', { receivedAt: Date.now() - 500 * DAY }, /line 2: .*more than 400 days ago/],
    ['a wrong content type', { contentType: 'application/json' }, /line 2: contentType must be/],
    ['not a time', { receivedAt: 'yesterday' }, /line 2: receivedAt must be/],
    // Date.parse rolls these over to March: they would be stored on another day than written.
    [
      'a day February does not have',
      { receivedAt: lastYear('02-30T00:00:00Z') },
      /line 2: .*not a valid time/,
    ],
    ['a 13th month', { receivedAt: lastYear('13-01T00:00:00Z') }, /line 2: .*not a valid time/],
    // Date.parse reads 24:00 as the next day's midnight: the line would land on another day.
    [
      'hour 24',
      { receivedAt: `${new Date(Date.now() - 3 * DAY).toISOString().slice(0, 10)}T24:00:00Z` },
      /line 2: .*not a valid time/,
    ],
    // A misspelt key would otherwise be ignored, and its line imported without what it meant.
    ['an unknown key', { recievedAt: Date.now() }, /line 2: unknown key "recievedAt"/],
  ])(
    'refuses the whole import for %s, naming the line, and stores nothing',
    async (_name, patch, message) => {
      const id = randomUUID();
      const at = Date.now() - 3 * DAY;
      const good = line(at, '/api/v2/report/meta', metaReport({ trackingId: id }));
      const bad = {
        ...line(at, '/api/v2/report/compute', nodeReport('compute', { trackingId: id })),
        ...patch,
      };
      const res = await send([good, bad as Line, good]);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('invalid_line');
      expect(body.message).toMatch(message);
      expect((await cluster(id)).status).toBe(404);
    },
  );

  it('stores events once when an import made before an upgrade to request-hashed event keys is replayed', async () => {
    // The store as a collector before commit b2b470f left it: events keyed without the hash of
    // the request that carried them (their legacyKey today), and no legacy boundary yet.
    const url = await target.freshUrl();
    const old = openStore(url);
    await old.migrate();
    const id = randomUUID();
    const receivedAt = Date.now() - 3 * DAY;
    const body = eventBatch([
      { trackingId: id, name: 'source' },
      { trackingId: id, name: 'source' },
      { trackingId: id, name: 'sink' },
    ]);
    const before = eventRows(decodeV2EventBatchRaw(body), receivedAt, body).map(({ legacyKey, ...row }) => ({
      ...row,
      dedupKey: legacyKey!,
    }));
    expect(await old.writeBatch({ reports: [], events: before })).toMatchObject({ eventsInserted: 3 });
    await withoutLegacyBoundary(old);
    await old.close();
    // The upgraded collector: the same import replayed, and the same body sent again.
    const upgraded = await startTestCollector(url);
    try {
      const replay = await fetch(`${upgraded.url}/admin/import`, {
        method: 'POST',
        body: ndjson([line(receivedAt, '/api/v2/report/events', body)]),
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(await replay.json()).toMatchObject({ imported: { events: 0 }, duplicates: 3 });
      expect((await upgraded.postProto('/api/v2/report/events', body)).status).toBe(200);
      const events = await upgraded.get(`/query/events?trackingId=${id}`);
      expect(((await events.json()) as { events: unknown[] }).events).toHaveLength(3);
    } finally {
      await upgraded.close();
    }
  });

  it('refuses a body that is not NDJSON (415) and a line that is not an object (400)', async () => {
    const lines = [line(Date.now(), '/api/v2/report/meta', metaReport())];
    expect((await send(lines, { 'content-type': 'application/json' })).status).toBe(415);
    const res = await send('\n[1,2]\n');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^line 2: /);
    const tooMany = await send('{}\n'.repeat(50_001));
    expect(tooMany.status).toBe(413);
    expect(await tooMany.json()).toMatchObject({ error: 'too_many_lines' });
  });

  it('is listed in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${c.url}/docs/json`)).json()) as {
      paths: Record<string, Record<string, { tags: string[]; security: unknown[] }>>;
    };
    expect(doc.paths['/admin/import']?.post).toMatchObject({ tags: ['admin'], security: [{ bearer: [] }] });
  });
});

describe('a large import', () => {
  it('lets other requests run while it decodes (health probes are answered meanwhile)', async () => {
    // A collector process of its own: in this process the probes' own client would share the
    // event loop that the import holds.
    const token = 'import-probe-token-0123456789';
    const c = await spawnCollector([
      '--store',
      (await targets[0]!.freshUrl()) as string,
      '--admin-token',
      token,
    ]);
    try {
      // is_test lines: decoded, then dropped, so the answer comes as soon as decoding ends.
      const body = ndjson(
        Array.from({ length: 40_000 }, (_, i) =>
          line(Date.now(), '/api/v2/report/meta', metaReport({ trackingId: `t-${i}`, isTest: true })),
        ),
      );
      let done = false;
      const imported = fetch(`${c.url}/admin/import`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${token}` },
      }).then(async (res) => {
        done = true;
        return { status: res.status, body: (await res.json()) as { discarded: number } };
      });
      let probesDuringImport = 0;
      while (!done) {
        const res = await fetch(`${c.url}/healthz`);
        if (!done && res.status === 200) probesDuringImport++;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await imported).toEqual({ status: 200, body: expect.objectContaining({ discarded: 40_000 }) });
      // Decoding 40,000 lines takes most of a second or more; probes kept being answered.
      expect(probesDuringImport).toBeGreaterThan(8);
    } finally {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  }, 60_000);
});
