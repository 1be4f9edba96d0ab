// The cluster list orders tied clusters (same last report time) by tracking id in byte order on
// every store: a PostgreSQL database created with an ICU collation must answer like SQLite does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { metaReport } from '../../test-support/risingwave.js';
import { createPostgresDatabase, type TestDatabase, tempDir } from '../../test-support/services.js';

const ids = ['HAND-upper2', 'Hand-UPPER', 'hand~tilde', '~'];
// Byte order, descending: '~' (0x7e) > 'h' > 'Ha' > 'HA'. An ICU collation would put them
// case-insensitively and punctuation last, in another order.
const byteOrderDescending = [...ids].sort().reverse();

const dir = tempDir();
const icu = await createPostgresDatabase("template template0 locale_provider icu icu_locale 'en-US'");
afterAll(async () => {
  await icu?.drop();
  dir.remove();
});

const stores: [string, () => string][] = [['sqlite', () => `sqlite:${dir.path}/collation.db`]];
if (icu) stores.push(['postgres (ICU collation)', () => (icu as TestDatabase).url]);

describe.each(stores)('GET /query/clusters ties: %s', (_name, url) => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector(url());
    const receivedAt = new Date(Date.now() - 86_400_000).toISOString();
    const lines = ids.map((trackingId) =>
      JSON.stringify({
        receivedAt,
        path: '/api/v2/report/meta',
        contentType: 'application/x-protobuf',
        body: Buffer.from(metaReport({ trackingId })).toString('base64'),
      }),
    );
    const res = await fetch(`${c.url}/admin/import`, {
      method: 'POST',
      body: `${lines.join('\n')}\n`,
      headers: {
        'content-type': 'application/x-ndjson',
        authorization: 'Bearer test-admin-token-0123456789',
      },
    });
    expect(res.status).toBe(200);
    return () => c.close();
  });

  it('lists tied clusters in byte order, in one page and page by page', async () => {
    const all = (await (await c.get('/query/clusters?limit=10')).json()) as {
      clusters: { trackingId: string }[];
    };
    expect(all.clusters.map((x) => x.trackingId)).toEqual(byteOrderDescending);
    const paged: string[] = [];
    let next: string | null = null;
    do {
      const page = (await (
        await c.get(`/query/clusters?limit=1${next ? `&before=${encodeURIComponent(next)}` : ''}`)
      ).json()) as { clusters: { trackingId: string }[]; next: string | null };
      paged.push(...page.clusters.map((x) => x.trackingId));
      next = page.next;
    } while (next);
    expect(paged).toEqual(byteOrderDescending);
  });
});
