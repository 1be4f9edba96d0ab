// Privacy over real HTTP: the license subject never stored in clear (column and raw body), erase
// blocks the id until an admin lifts it (audited with the token's id), retention at start, and
// logs without client addresses or tokens.
import { randomUUID } from 'node:crypto';
import { decodeV2Report, encodeReportJson } from '@tidewatch/protocol';
import type { Kysely } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { agentReport } from '../../test-support/agent-report.js';
import {
  ADMIN_TOKEN,
  capturedLog,
  startTestCollector,
  type TestCollector,
} from '../../test-support/collector.js';
import { eventBatch, metaReport, nodeReport } from '../../test-support/risingwave.js';
import { tempDir } from '../../test-support/services.js';
import type { Database } from '../store/sql/schema.js';

const dir = tempDir();
let n = 0;
const freshStore = () => `sqlite:${dir.path}/privacy-${n++}.db`;
afterAll(() => dir.remove());

const db = (c: TestCollector) => (c.collector.store as unknown as { db: Kysely<Database> }).db;

async function storedLicense(c: TestCollector, trackingId: string) {
  const row = await db(c)
    .selectFrom('reports')
    .select(['license_subject', 'license_tier', 'raw'])
    .where('tracking_id', '=', trackingId)
    .executeTakeFirstOrThrow();
  return { subject: row.license_subject, tier: row.license_tier, raw: Buffer.from(row.raw) };
}

describe("the license's sub (a customer name)", () => {
  it('is stored only as a salted hash, in its column and inside the raw body, stable across restarts', async () => {
    const store = freshStore();
    let c = await startTestCollector(store);
    const [a, b] = [randomUUID(), randomUUID()];
    expect((await c.postProto('/api/v2/report/meta', metaReport({ trackingId: a }))).status).toBe(200);
    const first = await storedLicense(c, a);
    expect(first.subject).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(first.tier).toBe('paid');
    expect(first.raw.includes('ACME Corp')).toBe(false);
    // The stored body still decodes, with every other fact as sent and the hash in place of the name.
    const decoded = decodeV2Report('meta', first.raw);
    expect(decoded.meta).toMatchObject({
      licenseTier: 'paid',
      licenseSubject: first.subject,
      version: '2.4.1',
    });
    expect(decoded.trackingId).toBe(a);
    await c.close();
    // Same store, new process: same salt (kept in the store), same hash, so one customer's
    // clusters still group together.
    c = await startTestCollector(store);
    await c.postProto('/api/v2/report/meta', metaReport({ trackingId: b }));
    expect((await storedLicense(c, b)).subject).toBe(first.subject);
    await c.close();
    // Another store has another salt: the hash cannot be matched across installations.
    const other = await startTestCollector(freshStore());
    await other.postProto('/api/v2/report/meta', metaReport({ trackingId: a }));
    expect((await storedLicense(other, a)).subject).not.toBe(first.subject);
    await other.close();
  });

  it('survives a license JSON nesting thousands deep: stored, flagged, the name still never in clear', async () => {
    const c = await startTestCollector(freshStore());
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    for (const licenseJson of [
      `{"sub":${deep(5000)}}`,
      `{"sub":"ACME Corp","x":${deep(5000)}}`,
      `{"sub":"ACME Corp","tier":"paid","x":${deep(40)}}`, // real licenses nest 1 deep; 40 is fine
    ]) {
      const trackingId = randomUUID();
      const res = await c.postProto('/api/v2/report/meta', metaReport({ trackingId, licenseJson }));
      expect(res.status, licenseJson.slice(0, 40)).toBe(200);
      const stored = await storedLicense(c, trackingId);
      expect(stored.raw.includes('ACME Corp')).toBe(false);
      const row = await db(c)
        .selectFrom('reports')
        .select(['flags'])
        .where('tracking_id', '=', trackingId)
        .executeTakeFirstOrThrow();
      if (licenseJson.includes('"tier"')) expect(stored.tier).toBe('paid');
      else expect(row.flags).toContain('license_unparsable');
    }
    await c.close();
  });

  it('is stored in clear when the operator opts in', async () => {
    const c = await startTestCollector(freshStore(), { storeLicenseSubject: true });
    const id = randomUUID();
    await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }));
    const stored = await storedLicense(c, id);
    expect(stored.subject).toBe('ACME Corp');
    expect(stored.raw.includes('ACME Corp')).toBe(true);
    await c.close();
  });
});

describe('erase by tracking id', () => {
  it("drops the id's new reports with a 200 until an admin lifts the block, and audits both with the token id", async () => {
    const c = await startTestCollector(freshStore());
    const id = randomUUID();
    await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }));
    expect((await c.del(`/admin/clusters/${id}`)).status).toBe(200);
    // RisingWave keeps sending: answered 200 (nothing to send again), stored nowhere, and the body
    // says so.
    const again = await c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: id }));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: 'blocked', reports: 0, events: 0 });
    // In a batch with another cluster's events, only the blocked cluster's are left out.
    const other = randomUUID();
    const mixed = await c.postProto(
      '/api/v2/report/events',
      eventBatch([{ trackingId: id }, { trackingId: other }, { trackingId: other, catalogId: 7 }]),
    );
    expect(await mixed.json()).toEqual({ status: 'stored', reports: 0, events: 2 });
    const agent = await c.post('/api/v3/report', encodeReportJson(agentReport({ trackingId: id })), {
      'content-type': 'application/json',
    });
    expect(await agent.json()).toEqual({ status: 'blocked', reports: 0, events: 0 });
    expect((await c.get(`/query/clusters/${id}`)).status).toBe(404);
    const metrics = await (await c.get('/metrics', null)).text();
    expect(metrics).toMatch(/^tidewatch_blocked_rows_total 3$/m);
    expect(await (await c.get('/admin/blocked')).json()).toEqual({
      blocked: [{ trackingId: id, blockedAt: expect.stringMatching(/Z$/) }],
    });
    // Only admins see or lift blocks.
    const readToken = 'read-token-for-privacy-test-0123';
    await c.collector.store.putToken({
      id: 'tok_reader',
      hash: (await import('../auth/tokens.js')).hashToken(readToken),
      role: 'read',
      label: 'test',
      createdAt: Date.now(),
      expiresAt: null,
      revokedAt: null,
    });
    expect((await c.get('/admin/blocked', readToken)).status).toBe(403);
    expect((await c.del(`/admin/blocked/${id}`, readToken)).status).toBe(403);
    expect((await c.del(`/admin/blocked/${id}`)).status).toBe(200);
    expect(await (await c.del(`/admin/blocked/${id}`)).json()).toMatchObject({ error: 'not_found' });
    const unblocked = await c.postProto('/api/v2/report/compute', nodeReport('compute', { trackingId: id }));
    expect(await unblocked.json()).toEqual({ status: 'stored', reports: 1, events: 0 });
    expect((await c.get(`/query/clusters/${id}`)).status).toBe(200);

    const audit = (await (await c.get('/admin/audit')).json()) as {
      entries: { actor: string; action: string; target: string | null; details: unknown }[];
    };
    const adminId = (await c.collector.store.listTokens()).find((t) => t.role === 'admin')!.id;
    expect(audit.entries.slice(0, 2)).toEqual([
      expect.objectContaining({ actor: adminId, action: 'unblock', target: id }),
      expect.objectContaining({
        actor: adminId,
        action: 'erase',
        target: id,
        details: { reports: 1, events: 0, agentReports: 0 },
      }),
    ]);
    expect(JSON.stringify(audit)).not.toContain(ADMIN_TOKEN);
    // Paged like the other lists: `next` only while entries remain (none after the last page).
    const total = audit.entries.length;
    type Page = { entries: unknown[]; next: number | null };
    const first = (await (await c.get(`/admin/audit?limit=${total - 1}`)).json()) as Page;
    expect(first.entries).toHaveLength(total - 1);
    const rest = (await (await c.get(`/admin/audit?limit=${total - 1}&before=${first.next}`)).json()) as Page;
    expect(rest).toMatchObject({ entries: [expect.anything()], next: null });
    const whole = (await (await c.get(`/admin/audit?limit=${total}`)).json()) as Page;
    expect(whole.next).toBeNull();
    expect((await c.get('/admin/audit', readToken)).status).toBe(403);
    await c.close();
  });
});

/** Imports one meta report of `trackingId` received `daysAgo` days ago; the answer's status. */
async function importMetaReport(url: string, trackingId: string, daysAgo: number): Promise<number> {
  const line = JSON.stringify({
    receivedAt: new Date(Date.now() - daysAgo * 86_400_000).toISOString(),
    path: '/api/v2/report/meta',
    contentType: 'application/x-protobuf',
    body: Buffer.from(metaReport({ trackingId })).toString('base64'),
  });
  const imported = await fetch(`${url}/admin/import`, {
    method: 'POST',
    body: `${line}\n`,
    headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return imported.status;
}

describe('retention', () => {
  it('deletes what is older than the retention period when the collector starts', async () => {
    const store = freshStore();
    let c = await startTestCollector(store);
    const [old, recent] = [randomUUID(), randomUUID()];
    expect(await importMetaReport(c.url, old, 45)).toBe(200);
    await c.postProto('/api/v2/report/meta', metaReport({ trackingId: recent }));
    await c.close();
    c = await startTestCollector(store, { retentionMonths: 1 });
    // The pass runs when the server is ready; wait for its result rather than for time.
    await expect
      .poll(async () => (await c.get(`/query/clusters/${old}`)).status, { timeout: 10_000 })
      .toBe(404);
    expect((await c.get(`/query/clusters/${recent}`)).status).toBe(200);
    const metrics = await (await c.get('/metrics', null)).text();
    expect(metrics).toMatch(/^tidewatch_retention_deleted_rows_total\{table="reports"\} 1$/m);
    await c.close();
  });

  it('keeps everything with --retention-months 0, however old', async () => {
    const store = freshStore();
    const c = await startTestCollector(store, { retentionMonths: 0 });
    const ancient = randomUUID();
    // Older than the default 13 months (and as old as an import may be).
    expect(await importMetaReport(c.url, ancient, 399)).toBe(200);
    await c.close();
    // A restart is when a pass would run: none does, and the cluster is still there.
    const again = await startTestCollector(store, { retentionMonths: 0 });
    expect((await again.get(`/query/clusters/${ancient}`)).status).toBe(200);
    const metrics = await (await again.get('/metrics', null)).text();
    expect(metrics).not.toMatch(/^tidewatch_retention_deleted_rows_total\{/m);
    await again.close();
  });
});

describe('logs', () => {
  it('serialize a request as method, path and id only, should anything log one', async () => {
    const { pino } = await import('pino');
    const { loggerOptions } = await import('../http/logging.js');
    const { stream, lines } = capturedLog();
    const options = loggerOptions('info') as import('pino').LoggerOptions;
    const log = pino(options, stream);
    log.info(
      {
        req: {
          id: 'req-1',
          method: 'GET',
          url: '/query/events?trackingId=abc',
          ip: '203.0.113.9',
          remoteAddress: '203.0.113.9',
          headers: { authorization: 'Bearer tw_secret', 'x-forwarded-for': '203.0.113.9' },
        },
        authorization: 'Bearer tw_secret',
      },
      'a request',
    );
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry.req).toEqual({ id: 'req-1', method: 'GET', url: '/query/events' });
    expect(lines[0]).not.toContain('203.0.113.9');
    expect(lines[0]).not.toContain('tw_secret');
  });

  it('carry no client address and no token, even at trace level', async () => {
    const { stream, lines } = capturedLog();
    const client = '203.0.113.77';
    const c = await startTestCollector(
      freshStore(),
      { logLevel: 'trace', trustProxy: true },
      { logStream: stream },
    );
    const headers = { 'x-forwarded-for': client };
    const id = randomUUID();
    await c.post('/api/v2/report/meta', metaReport({ trackingId: id }), {
      ...headers,
      'content-type': 'application/x-protobuf',
    });
    await c.post('/api/v2/report/meta', 'not protobuf', {
      ...headers,
      'content-type': 'application/x-protobuf',
    });
    await fetch(`${c.url}/query/clusters/${id}?x=1`, {
      headers: { ...headers, authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    await fetch(`${c.url}/query/active`, {
      headers: { ...headers, authorization: 'Bearer wrong-secret-abcdef' },
    });
    await fetch(`${c.url}/admin/clusters/${id}`, {
      method: 'DELETE',
      headers: { ...headers, authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    await c.close();
    const log = lines.join('');
    // The log is not empty: the erase was logged (with the token's id), and so was the bad request.
    expect(log).toContain('admin action: erase');
    expect(log).toMatch(/"actor":"tok_[0-9a-f]+"/);
    expect(log).toContain('body is not a valid protobuf');
    expect(log).not.toContain(client);
    expect(log).not.toMatch(/remoteAddress|remotePort|x-forwarded-for/i);
    expect(log).not.toContain(ADMIN_TOKEN);
    expect(log).not.toContain('wrong-secret-abcdef');
    expect(log).not.toContain('ACME Corp');
  });
});
