// Every limit of packages/protocol/src/limits.ts (and the native ones), the body limit, gzip bombs
// and slow clients, over real HTTP on every store: at a limit a report is stored, one past it is a
// 4xx with a JSON message and no row; bombs stop at the inflated limit with bounded memory; slow
// clients are cut off with a JSON 408; the collector stays healthy throughout.
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { createGzip, gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  type AgentReport,
  encodeReportJson,
  LIMITS,
  NATIVE_LIMITS,
  risingwaveWire as rw,
} from '@tidewatch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport, counter } from '../../test-support/agent-report.js';
import { startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { expectHealthy, expectRefused, expectSameRows, send } from '../../test-support/ingest-checks.js';
import { v1MetaReport } from '../../test-support/risingwave.js';
import { rowCounts } from '../../test-support/row-counts.js';
import { storeTargets } from '../../test-support/stores.js';

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';
const BODY_LIMIT = 1024 * 1024;
const utf8 = (s: string) => new TextEncoder().encode(s);
const str = (n: number, ch = 'x') => ch.repeat(n);

/** A v2 meta report (fresh session id, so no two bodies share a dedup key) with `patch` applied. */
function meta(patch: Record<string, unknown> = {}, base: Record<string, unknown> = {}): Uint8Array {
  return toBinary(
    rw.MetaReportSchema,
    create(rw.MetaReportSchema, {
      base: {
        trackingId: randomUUID(),
        sessionId: randomUUID(),
        nodeType: rw.TelemetryNodeType.META,
        ...base,
      },
      ...patch,
    }),
  );
}

/** `n` stream jobs `{table_id: 1}` appended to a meta report as raw field-6 entries (fast to build). */
function withStreamJobs(report: Uint8Array, n: number): Uint8Array {
  const entry = [0x32, 0x02, 0x08, 0x01];
  const out = new Uint8Array(report.length + n * entry.length);
  out.set(report);
  for (let i = 0; i < n; i++) out.set(entry, report.length + i * entry.length);
  return out;
}

function events(count: number, patch: Record<string, unknown> = {}): Uint8Array {
  const trackingId = randomUUID();
  return toBinary(
    rw.BatchEventMessageSchema,
    create(rw.BatchEventMessageSchema, {
      events: Array.from({ length: count }, (_, i) => ({
        trackingId,
        eventName: `e${i}`,
        node: 'meta',
        ...patch,
      })),
    }),
  );
}

const v1 = (o: Record<string, unknown>) =>
  utf8(JSON.stringify({ ...JSON.parse(v1MetaReport({ sessionId: randomUUID() })), ...o }));
const v3 = (o: Partial<AgentReport>) => encodeReportJson(agentReport(o));
// Buckets from the smallest double up (scale 0: bucket i holds (2^i, 2^(i+1)]), min and max in
// the first and last of them, as validation requires.
const histogramSeries = (buckets: number) => ({
  ...counter('h.seconds', 0),
  kind: 'histogram' as const,
  histogram: {
    scale: 0,
    zeroCount: 0,
    positive: { offset: -1074, bucketCounts: Array<number>(buckets).fill(1) },
    count: buckets,
    sum: buckets,
    min: 2 ** -1073,
    max: 2 ** (buckets - 1074),
  },
});
const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

interface Limit {
  name: string;
  route: string;
  type: string;
  max: number;
  body: (n: number) => Uint8Array;
}

const v2Meta = '/api/v2/report/meta';
const LIMIT_CASES: Limit[] = [
  {
    name: 'v2 tracking_id',
    route: v2Meta,
    type: PROTOBUF,
    max: LIMITS.trackingIdMax,
    body: (n) => meta({}, { trackingId: `${randomUUID()}${str(n - 36)}` }),
  },
  {
    name: 'v2 session_id',
    route: v2Meta,
    type: PROTOBUF,
    max: LIMITS.sessionIdMax,
    body: (n) => meta({}, { sessionId: `${randomUUID()}${str(n - 36)}` }),
  },
  {
    name: 'v2 rw_version',
    route: v2Meta,
    type: PROTOBUF,
    max: LIMITS.shortStringMax,
    body: (n) => meta({ rwVersion: { rwVersion: str(n) } }),
  },
  {
    name: 'v2 system_data.os.name',
    route: v2Meta,
    type: PROTOBUF,
    max: LIMITS.shortStringMax,
    body: (n) => meta({}, { systemData: { os: { name: str(n) } } }),
  },
  // connector_usage_json_str and license_info_json_str have no limit but the body's (a large
  // cluster's connector usage is over 256 KiB): risingwave-routes.test.ts stores one.
  {
    name: 'v2 stream_jobs',
    route: v2Meta,
    type: PROTOBUF,
    max: LIMITS.streamJobsMax,
    body: (n) => withStreamJobs(meta(), n),
  },
  {
    name: 'v2 events per batch',
    route: '/api/v2/report/events',
    type: PROTOBUF,
    max: LIMITS.eventsPerBatchMax,
    body: (n) => events(n),
  },
  {
    name: 'v2 event_name',
    route: '/api/v2/report/events',
    type: PROTOBUF,
    max: LIMITS.shortStringMax,
    body: (n) => events(1, { eventName: str(n) }),
  },
  {
    name: 'v2 event attributes',
    route: '/api/v2/report/events',
    type: PROTOBUF,
    max: LIMITS.jsonStringMax,
    body: (n) => events(1, { attributes: str(n) }),
  },
  {
    name: 'v1 tracking_id',
    route: '/api/v1/report/meta',
    type: JSON_TYPE,
    max: LIMITS.trackingIdMax,
    body: (n) => v1({ tracking_id: `${randomUUID()}${str(n - 36)}` }),
  },
  {
    name: 'v1 session_id',
    route: '/api/v1/report/meta',
    type: JSON_TYPE,
    max: LIMITS.sessionIdMax,
    body: (n) => v1({ session_id: `${randomUUID()}${str(n - 36)}` }),
  },
  {
    name: 'v1 rw_version.version',
    route: '/api/v1/report/meta',
    type: JSON_TYPE,
    max: LIMITS.shortStringMax,
    body: (n) => v1({ rw_version: { version: str(n), git_sha: 'a' } }),
  },
  {
    name: 'v3 trackingId',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.trackingIdMax,
    body: (n) => v3({ trackingId: `${randomUUID()}${str(n - 36)}` }),
  },
  {
    name: 'v3 sessionId',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.sessionIdMax,
    body: (n) => v3({ sessionId: str(n) }),
  },
  {
    name: 'v3 nodeType',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.nodeTypeMax,
    body: (n) => v3({ nodeType: str(n) }),
  },
  {
    name: 'v3 version',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.textMax,
    body: (n) => v3({ version: str(n) }),
  },
  {
    name: 'v3 metric name',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.nameMax,
    body: (n) => v3({ metrics: [counter(str(n, 'm'), 1)] }),
  },
  {
    name: 'v3 metric unit',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.unitMax,
    body: (n) => v3({ metrics: [{ ...counter('m', 1), unit: str(n) }] }),
  },
  {
    name: 'v3 metric description',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.descriptionMax,
    body: (n) => v3({ metrics: [{ ...counter('m', 1), description: str(n) }] }),
  },
  {
    name: 'v3 labels per series',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.labelsMax,
    body: (n) => v3({ metrics: [counter('m', 1, labels(n))] }),
  },
  {
    name: 'v3 label value',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.labelValueMax,
    body: (n) => v3({ metrics: [counter('m', 1, { k: str(n) })] }),
  },
  {
    name: 'v3 metrics per report',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.metricsMax,
    body: (n) => v3({ metrics: Array.from({ length: n }, (_, i) => counter(`m${i}`, 1)) }),
  },
  {
    name: 'v3 histogram buckets',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.bucketsMax,
    body: (n) => v3({ metrics: [histogramSeries(n)] }),
  },
  {
    name: 'v3 events per report',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.eventsMax,
    body: (n) => v3({ events: Array.from({ length: n }, () => ({ name: 'e', timeMs: 1, fields: {} })) }),
  },
  {
    name: 'v3 fields per event',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.eventFieldsMax,
    body: (n) => v3({ events: [{ name: 'e', timeMs: 1, fields: labels(n) }] }),
  },
  {
    name: 'v3 event string field',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.eventStringMax,
    body: (n) => v3({ events: [{ name: 'e', timeMs: 1, fields: { s: str(n) } }] }),
  },
  {
    name: 'v3 cluster facts',
    route: '/api/v3/report',
    type: JSON_TYPE,
    max: NATIVE_LIMITS.clusterFactsMax,
    body: (n) => v3({ cluster: Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i])) }),
  },
  // A valid v1 report padded with JSON whitespace to exactly n bytes: the body limit itself.
  {
    name: 'body size (identity)',
    route: '/api/v1/report/meta',
    type: JSON_TYPE,
    max: BODY_LIMIT,
    body: (n) => padded(n),
  },
];

function padded(n: number): Uint8Array {
  const json = v1MetaReport({ sessionId: randomUUID() });
  return utf8(json.slice(0, -1) + ' '.repeat(n - json.length) + '}');
}

/** Gzip of `size` zero bytes, made in 1 MiB pieces so the test itself never holds them. */
async function gzipOfZeros(size: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (b: Buffer) => out.push(b));
  const chunk = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= chunk.length) {
    if (!gz.write(chunk.subarray(0, Math.min(chunk.length, left))))
      await new Promise((r) => gz.once('drain', r));
  }
  await new Promise((r) => gz.end(r));
  return Buffer.concat(out);
}

/** Writes `parts` to a raw TCP connection (waiting `gapMs` between them) and reads the answer. */
function rawExchange(
  url: string,
  parts: string[],
  gapMs: number,
): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const watchdog = setTimeout(() => {
      socket.destroy();
      reject(new Error('the collector never cut off the slow client'));
    }, 15_000);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(watchdog);
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const rest = text.slice(text.indexOf('\r\n\r\n') + 4);
      let body: Record<string, unknown> | null = null;
      try {
        body = JSON.parse(rest) as Record<string, unknown>;
      } catch {}
      resolve({ status, body });
    });
    let i = 0;
    const next = () => {
      if (i < parts.length && !socket.destroyed) {
        socket.write(parts[i++]!);
        timer = setTimeout(next, gapMs);
      }
    };
    socket.on('connect', next);
  });
}

const BOMB_INFLATED = 256 * 1024 * 1024;
const BOMBS = 8;
const bombOnce = gzipOfZeros(BOMB_INFLATED);

describe.each(targets)('ingest limits, gzip bombs and slow clients: $name', (target) => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector(await target.freshUrl(), {
      bodyLimit: BODY_LIMIT,
      headersTimeout: 400,
      requestTimeout: 800,
    });
    return () => c.close();
  });

  it('stores a report at every limit and refuses one past it with a JSON 4xx and no row', async () => {
    const refusals = new Map<string, number>();
    for (const limit of LIMIT_CASES) {
      const headers = { 'content-type': limit.type };
      const before = await rowCounts(c.collector.store);
      const at = await send(c, limit.route, limit.body(limit.max), headers);
      expect({ limit: limit.name, at: at.status, body: at.body }).toMatchObject({ at: 200 });
      const stored = await rowCounts(c.collector.store);
      expect(stored.reports + stored.events + stored.agent_reports).toBeGreaterThan(
        before.reports + before.events + before.agent_reports,
      );
      const over = await send(c, limit.route, limit.body(limit.max + 1), headers);
      expectRefused(over, `${limit.name} at ${limit.max + 1}`);
      expectSameRows(stored, await rowCounts(c.collector.store), `${limit.name} at ${limit.max + 1}`);
      refusals.set(
        `${over.status} ${over.body.error}`,
        (refusals.get(`${over.status} ${over.body.error}`) ?? 0) + 1,
      );
    }
    await expectHealthy(c);
    console.log(
      `limits (${target.name}): ${LIMIT_CASES.length} limits, each stored at the limit and refused one past it ` +
        `(${[...refusals].map(([k, n]) => `${n}x ${k}`).join(', ')}), no row from a refusal`,
    );
  });

  it('applies the body limit to inflated bytes: gzip at the limit is stored, one byte more is a 413', async () => {
    const gz = { 'content-type': JSON_TYPE, 'content-encoding': 'gzip' };
    expect((await send(c, '/api/v1/report/meta', gzipSync(padded(BODY_LIMIT)), gz)).status).toBe(200);
    const before = await rowCounts(c.collector.store);
    const over = await send(c, '/api/v1/report/meta', gzipSync(padded(BODY_LIMIT + 1)), gz);
    expect(over.status).toBe(413);
    expect(over.body.error).toBe('payload_too_large');
    expectSameRows(before, await rowCounts(c.collector.store), 'gzip one byte over');
  });

  it('stops gzip bombs as soon as the inflated bytes pass the limit, with bounded memory', async () => {
    const bomb = await bombOnce;
    expect(bomb.length).toBeLessThan(BODY_LIMIT); // it passes the raw body limit: only inflating shows it
    const before = await rowCounts(c.collector.store);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    const answers = await Promise.all(
      Array.from({ length: BOMBS }, () =>
        send(c, '/api/v2/report/meta', bomb, { 'content-type': PROTOBUF, 'content-encoding': 'gzip' }),
      ),
    );
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    for (const a of answers) expect([a.status, a.body.error]).toEqual([413, 'payload_too_large']);
    expectSameRows(before, await rowCounts(c.collector.store), 'gzip bombs');
    const growth = peak - baseline;
    // Inflating even one bomb whole would take BOMB_INFLATED bytes; all of them at once stay far below.
    expect(growth).toBeLessThan(BOMB_INFLATED / 2);
    // A gzip body over the limit even compressed is refused before any inflating.
    const big = gzipSync(randomBytes(BODY_LIMIT + 64 * 1024), { level: 0 });
    const refused = await send(c, '/api/v2/report/meta', big, {
      'content-type': PROTOBUF,
      'content-encoding': 'gzip',
    });
    expect([refused.status, refused.body.error]).toEqual([413, 'payload_too_large']);
    expect(refused.body.message).toBe(
      `the body is larger than this route's limit of ${BODY_LIMIT} bytes (the collector's --body-limit)`,
    );
    await expectHealthy(c);
    console.log(
      `gzip bombs (${target.name}): ${BOMBS} concurrent bombs of ${bomb.length} bytes inflating to ` +
        `${BOMB_INFLATED >> 20} MiB each: all 413, RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB at peak; ` +
        `a ${big.length}-byte gzip body refused before inflating`,
    );
  });

  it('cuts off slow clients (headers, body, trickle, many at once) with a JSON 408, and serves others meanwhile', async () => {
    const before = await rowCounts(c.collector.store);
    const head = (length: number) =>
      `POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\nContent-Type: ${PROTOBUF}\r\nContent-Length: ${length}\r\n\r\n`;
    const slowHeaders = rawExchange(c.url, ['POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\n'], 60_000);
    const slowBody = rawExchange(c.url, [head(1000), 'x'.repeat(100)], 60_000);
    const trickle = rawExchange(c.url, [head(1000), ...Array<string>(1000).fill('x')], 100);
    const slowloris = Array.from({ length: 50 }, () =>
      rawExchange(c.url, ['POST /api/v1/report/meta HTTP/1.1\r\n', 'Host: x\r\n', 'X-A: 1\r\n'], 150),
    );
    const garbage = rawExchange(c.url, ['NOT HTTP AT ALL\r\n\r\n'], 10);
    // While those hang, a well-behaved client is served.
    await expectHealthy(c);
    const results = await Promise.all([slowHeaders, slowBody, trickle, ...slowloris]);
    for (const r of results) {
      expect(r.status).toBe(408);
      expect(r.body).toMatchObject({ error: 'request_timeout', message: expect.any(String) });
    }
    const bad = await garbage;
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'bad_request', message: expect.any(String) });
    const after = await rowCounts(c.collector.store);
    expect(after.reports).toBe(before.reports + 1); // only the well-behaved client's report
    await expectHealthy(c);
    console.log(
      `slow clients (${target.name}): ${results.length} slow connections (stalled headers, stalled body, ` +
        'a 1-byte-per-100-ms trickle, 50 slowloris) all cut off with a JSON 408, malformed HTTP a JSON 400, ' +
        'a normal client served meanwhile, no row written',
    );
  });
});
