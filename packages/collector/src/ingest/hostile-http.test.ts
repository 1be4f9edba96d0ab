// Random and mangled bodies on every ingest route, over real HTTP: always a 4xx with a JSON error,
// never a 5xx, and the collector stays healthy and keeps accepting valid reports.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { metaReport, v1MetaReport } from '../../test-support/risingwave.js';
import { tempDir } from '../../test-support/services.js';

const ROUTES = [
  '/api/v2/report/meta',
  '/api/v2/report/compute',
  '/api/v2/report/events',
  '/api/v2/report/event',
  '/api/v1/report/meta',
  '/api/v1/report/frontend',
];
const TYPES = [
  'application/x-protobuf',
  'application/json',
  'text/plain',
  '',
  'application/x-protobuf; charset=binary',
];

const dir = tempDir();
let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector(`sqlite:${dir.path}/hostile.db`, { bodyLimit: 16 * 1024 });
});
afterAll(async () => {
  await c.close();
  dir.remove();
});

const body = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }),
  fc
    .uint8Array({ minLength: 1, maxLength: 64 })
    .map((b) => new Uint8Array([...metaReport().slice(0, 40), ...b])),
  fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
  fc.string().map((s) => new TextEncoder().encode(v1MetaReport().replace('Meta', s))),
);

describe('hostile bodies on every ingest route', () => {
  it('answers every one with a JSON 2xx/4xx, never a 5xx', async () => {
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.constantFrom(...TYPES),
        fc.boolean(),
        body,
        async (route, type, gzip, bytes) => {
          cases++;
          const headers: Record<string, string> = type ? { 'content-type': type } : {};
          if (gzip) headers['content-encoding'] = 'gzip';
          const res = await c.post(route, gzip ? gzipSync(bytes) : bytes, headers);
          expect(res.status).toBeLessThan(500);
          const json = (await res.json()) as { error?: string; message?: string; status?: string };
          if (res.status >= 400)
            expect(typeof json.error === 'string' && typeof json.message === 'string').toBe(true);
        },
      ),
      { numRuns: 400 },
    );
    console.log(`hostile ingest bodies: ${cases} cases, no 5xx`);
    expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
    const id = randomUUID();
    expect((await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }))).status).toBe(200);
    expect((await c.get(`/query/clusters/${id}`)).status).toBe(200);
  });
});
