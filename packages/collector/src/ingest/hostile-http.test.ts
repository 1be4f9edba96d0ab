// Hostile bodies on every ingest route, over real HTTP, on every store: the committed corpus
// (packages/collector/test/corpus/manifest.json says what each file is and what must be answered)
// and fast-check properties (random, truncated, bit-flipped and spliced bodies, random headers).
// Every refusal is a 4xx with a JSON message and leaves no row behind; nothing is ever a 5xx; the
// collector stays healthy and keeps storing valid reports.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { encodeReportJson, encodeReportProtobuf } from '@tidewatch/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport, counter, histogram } from '../../test-support/agent-report.js';
import { startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { expectHealthy, expectRefused, expectSameRows, send } from '../../test-support/ingest-checks.js';
import { loadCorpus } from '../../test-support/ingest-corpus.js';
import { eventBatch, metaReport, nodeReport, v1MetaReport } from '../../test-support/risingwave.js';
import { rowCounts } from '../../test-support/row-counts.js';
import { storeTargets } from '../../test-support/stores.js';

const targets = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

const corpus = loadCorpus();

// --- arbitraries ------------------------------------------------------------------------------
/** Damage done to a valid body: cut it, flip bits, or splice in protobuf/JSON poison. */
const poison = fc.oneof(
  fc.constant([0x28, ...Array<number>(11).fill(0xff), 0x01]), // a varint over 10 bytes
  fc.constant([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // a length of 2^32-1
  fc.constant(Array<number>(64).fill(0x5b)), // nested start groups
  fc.constant([0x0d, 0x01]), // a fixed32 cut short
  fc.constant([...'"\u0000\ud800{[,:'].map((ch) => ch.charCodeAt(0) & 0xff)),
  fc.constant([0xc3, 0x28, 0xed, 0xa0, 0x80, 0xff]), // invalid UTF-8
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => [...b]),
);
const damage = fc.oneof(
  fc.record({ cut: fc.nat() }),
  fc.record({ flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }) }),
  fc.record({ at: fc.nat(), insert: poison }),
);
function damaged(body: Uint8Array, d: typeof damage extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
  if ('cut' in d) return body.subarray(0, d.cut % (body.length + 1));
  if ('flips' in d) {
    const out = Uint8Array.from(body);
    for (const [at, mask] of d.flips) if (out.length) out[at % out.length]! ^= mask;
    return out;
  }
  const at = d.at % (body.length + 1);
  return Uint8Array.from([...body.subarray(0, at), ...d.insert, ...body.subarray(at)]);
}
const mangle = (valid: fc.Arbitrary<Uint8Array>) =>
  fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
    { weight: 4, arbitrary: fc.tuple(valid, damage).map(([b, d]) => damaged(b, d)) },
  );
const utf8 = (s: string) => new TextEncoder().encode(s);
const id = fc.oneof(fc.uuid(), fc.string({ maxLength: 140 }));
const time = fc.nat({ max: 2_000_000_000 });

/** A JSON text with one field (at any depth) replaced by an arbitrary JSON value. */
function jsonWithHostileField(valid: () => Record<string, unknown>) {
  return fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 3 }), fc.boolean()).map(([pick, value, nested]) => {
    const doc = valid();
    const keys = Object.keys(doc);
    const key = keys[pick % keys.length]!;
    const target = doc[key];
    if (nested && target && typeof target === 'object' && !Array.isArray(target)) {
      const inner = Object.keys(target);
      if (inner.length) (target as Record<string, unknown>)[inner[pick % inner.length]!] = value;
    } else doc[key] = value;
    return utf8(JSON.stringify(doc));
  });
}

interface RouteClass {
  name: string;
  routes: string[];
  contentType: string;
  bodies: fc.Arbitrary<Uint8Array>;
}

const nativeDoc = () =>
  JSON.parse(
    new TextDecoder().decode(
      encodeReportJson(
        agentReport({ metrics: [counter('q.count', 3, { k: 'v' }), histogram('q.seconds', [0.1, 0.2])] }),
      ),
    ),
  ) as Record<string, unknown>;

const CLASSES: RouteClass[] = [
  {
    name: 'v2 node reports',
    routes: ['/api/v2/report/meta', '/api/v2/report/compute', '/api/v2/report/frontend'],
    contentType: 'application/x-protobuf',
    bodies: mangle(
      fc.oneof(
        fc.tuple(id, time).map(([trackingId, reportTime]) => metaReport({ trackingId, reportTime })),
        fc
          .tuple(id, time)
          .map(([trackingId, reportTime]) => nodeReport('compute', { trackingId, reportTime })),
      ),
    ),
  },
  {
    name: 'v2 events',
    routes: ['/api/v2/report/events', '/api/v2/report/event'],
    contentType: 'application/x-protobuf',
    bodies: mangle(
      fc
        .array(fc.tuple(id, time, fc.string({ maxLength: 8 })), { minLength: 1, maxLength: 4 })
        .map((events) =>
          eventBatch(events.map(([trackingId, eventTimeSec, name]) => ({ trackingId, eventTimeSec, name }))),
        ),
    ),
  },
  {
    name: 'v1 JSON reports',
    routes: ['/api/v1/report/meta', '/api/v1/report/compactor'],
    contentType: 'application/json',
    bodies: fc.oneof(
      mangle(fc.constant(utf8(v1MetaReport()))),
      jsonWithHostileField(() => JSON.parse(v1MetaReport()) as Record<string, unknown>),
      fc.jsonValue().map((v) => utf8(JSON.stringify(v) ?? 'null')),
    ),
  },
  {
    name: 'v3 agent reports',
    routes: ['/api/v3/report'],
    contentType: 'application/json',
    bodies: fc.oneof(
      mangle(fc.constant(utf8(JSON.stringify(nativeDoc())))),
      jsonWithHostileField(nativeDoc),
      fc.jsonValue().map((v) => utf8(JSON.stringify(v) ?? 'null')),
    ),
  },
  {
    name: 'v3 agent reports (protobuf)',
    routes: ['/api/v3/report'],
    contentType: 'application/x-protobuf',
    bodies: mangle(
      fc.constant(0).map(() => encodeReportProtobuf(agentReport({ metrics: [counter('a', 1)] }))),
    ),
  },
];

/** Headers: mostly the route's own type (so the bodies reach the decoders), sometimes anything. */
const headersFor = (contentType: string) =>
  fc
    .tuple(
      fc.oneof(
        { weight: 6, arbitrary: fc.constant(contentType) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '',
            'text/plain',
            'application/json; charset=utf-8',
            'application/x-protobuf; x=y',
            'multipart/form-data; boundary=x',
            'APPLICATION/X-PROTOBUF',
          ),
        },
        { weight: 1, arbitrary: fc.string({ maxLength: 40 }).filter((s) => /^[\x21-\x7e]*$/.test(s)) },
      ),
      fc.constantFrom(undefined, undefined, undefined, 'gzip', 'identity', 'deflate', 'gzip, gzip'),
    )
    .map(([type, encoding]) => {
      const h: Record<string, string> = {};
      if (type) h['content-type'] = type;
      if (encoding) h['content-encoding'] = encoding;
      return h;
    });

// --- tests ------------------------------------------------------------------------------------
describe.each(targets)('hostile ingest over HTTP: $name', (target) => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector(await target.freshUrl());
    return () => c.close();
  });

  it('answers every corpus case as its manifest says, writes nothing for a refusal, and twice the same', async () => {
    let refused = 0;
    let accepted = 0;
    for (const pass of [1, 2]) {
      for (const k of corpus) {
        const what = `${k.file} (pass ${pass})`;
        const before = await rowCounts(c.collector.store);
        const answer = await send(c, k.route, k.body, k.headers);
        const after = await rowCounts(c.collector.store);
        expect({ what, status: answer.status, error: answer.body.error }).toEqual({
          what,
          status: k.status,
          error: k.error,
        });
        if (k.status >= 400) {
          expectRefused(answer, what);
          expectSameRows(before, after, what);
          refused++;
        } else {
          // The second pass resends what the first stored: a retry stores nothing twice.
          if (pass === 2) expectSameRows(before, after, what);
          accepted++;
        }
      }
    }
    await expectHealthy(c);
    console.log(
      `hostile corpus (${target.name}): ${corpus.length} files x 2 passes = ${refused + accepted} requests; ` +
        `${refused} refused with the manifest's 4xx and code and no row written, ${accepted} accepted ` +
        `(stored once); healthy afterwards`,
    );
  });

  it.each(CLASSES)('answers random and mangled $name with a JSON 2xx/4xx, no partial row', async (k) => {
    const tally = { cases: 0, refused: 0, accepted: 0, gzip: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...k.routes),
        headersFor(k.contentType),
        k.bodies,
        async (route, h, b) => {
          tally.cases++;
          const gzip = h['content-encoding'] === 'gzip';
          if (gzip) tally.gzip++;
          const before = await rowCounts(c.collector.store);
          const answer = await send(c, route, gzip ? gzipSync(b) : b, h);
          const after = await rowCounts(c.collector.store);
          const what = `${route} ${JSON.stringify(h)} ${Buffer.from(b.subarray(0, 80)).toString('hex')}`;
          if (answer.status !== 200) {
            expectRefused(answer, what);
            expectSameRows(before, after, what);
            tally.refused++;
            return;
          }
          tally.accepted++;
          // Accepted: at most what the answer says was stored (less when it was a retry).
          const reports = Number(answer.body.reports);
          expect(
            after.reports - before.reports + after.agent_reports - before.agent_reports,
          ).toBeLessThanOrEqual(reports);
          expect(after.events - before.events).toBeLessThanOrEqual(Number(answer.body.events));
        },
      ),
      // ClickHouse answers each count with FINAL over HTTP: fewer cases keep the run short.
      { numRuns: target.name === 'clickhouse' ? 15 : 120 },
    );
    await expectHealthy(c);
    console.log(
      `hostile ${k.name} (${target.name}): ${tally.cases} cases (${tally.gzip} gzip) on ${k.routes.join(', ')}; ` +
        `${tally.refused} refused with a JSON 4xx and no row written, ${tally.accepted} accepted; no 5xx; healthy afterwards`,
    );
  });

  it('keeps serving valid reports from other clients during the hostile traffic', async () => {
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const hostile = corpus.filter((k) => k.status >= 400);
    const answers = await Promise.all([
      ...ids.map((trackingId) => c.postProto('/api/v2/report/meta', metaReport({ trackingId }))),
      ...hostile.map((k) => c.post(k.route, k.body, k.headers)),
    ]);
    expect(answers.slice(0, ids.length).map((r) => r.status)).toEqual(ids.map(() => 200));
    expect(answers.slice(ids.length).map((r) => r.status)).toEqual(hostile.map((k) => k.status));
    for (const trackingId of ids) expect((await c.get(`/query/clusters/${trackingId}`)).status).toBe(200);
  });
});
