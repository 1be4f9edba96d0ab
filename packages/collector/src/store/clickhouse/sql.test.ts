// The one escaping function, against the real server: whatever a string holds, ClickHouse reads
// back exactly that string, and it never ends the literal early.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouseDatabase, type TestDatabase } from '../../../test-support/services.js';
import { type ClickHouseStore, openClickHouseStore } from './clickhouse-store.js';
import { ident, join, literal, sql } from './sql.js';

const HOSTILE = [
  '',
  "'",
  "''",
  "\\'",
  '\\',
  '\\\\',
  "'; DROP TABLE reports; --",
  "\\'; SELECT 1; --",
  'a\u0000b',
  '\u0000',
  '\t\n\r\b\f\u000b\u0007\u001b\u007f',
  '\\x00\\0\\n',
  '"double" `back` $dollar {brace}',
  'é ü ß 中文 日本語 🦀 👩‍👩‍👧 \u202e rtl',
  '\u2028\u2029\ufeff',
  `${"'\\".repeat(20_000)}end`,
  'x'.repeat(100_000),
];

describe('literal (unit)', () => {
  it('writes numbers, booleans, null and arrays, and refuses what has no literal', () => {
    expect(literal(42)).toBe('42');
    expect(literal(-1.5)).toBe('-1.5');
    expect(literal(true)).toBe('1');
    expect(literal(null)).toBe('NULL');
    expect(literal(['a', 1, null])).toBe("['a', 1, NULL]");
    expect(() => literal(Number.NaN)).toThrow(TypeError);
    expect(() => literal(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => literal({} as never)).toThrow(TypeError);
  });

  it('passes only plain names as identifiers', () => {
    expect(ident('reports').text).toBe('reports');
    for (const bad of ['', 'a b', 'x;drop', 'a`b', '1abc', 'tab\u0000le', "a'"]) {
      expect(() => ident(bad)).toThrow(TypeError);
    }
  });

  it('puts every interpolated value through literal', () => {
    const q = sql`SELECT ${"a'b"} AS v, ${[1, 2]} AS w WHERE x IN (${join([sql`${'p'}`, sql`${'q'}`])})`;
    expect(q.text).toBe("SELECT 'a\\'b' AS v, [1, 2] AS w WHERE x IN ('p', 'q')");
  });
});

const database: TestDatabase | null = await createClickHouseDatabase();

describe.skipIf(!database)('literal against clickhouse-server', () => {
  let store: ClickHouseStore;
  beforeAll(async () => {
    store = openClickHouseStore(database!.url);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const roundTrip = async (value: string) => {
    const [row] = await store.rows<{ v: string; n: number }>(
      sql`SELECT ${value} AS v, length(${value}) AS n`,
    );
    return row!;
  };

  it.each(HOSTILE.map((s, i) => [i, s]))('reads back hostile string #%i exactly', async (_, value) => {
    const row = await roundTrip(value as string);
    expect(row.v).toBe(value);
    expect(Number(row.n)).toBe(Buffer.byteLength(value as string));
  });

  it('reads back any string of unicode code points (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), async (value) => {
        expect((await roundTrip(value)).v).toBe(value);
      }),
      { numRuns: 150 },
    );
  });

  it('matches a hostile value in WHERE as data, never as SQL', async () => {
    const ids = ["it's", "x' OR '1'='1", 'back\\slash', 'nul\u0000id'];
    await store.client.insert({
      table: 'cluster_tags',
      values: ids.map((id, i) => ({ tracking_id: id, internal: 1, version: i + 1 })),
      format: 'JSONEachRow',
    });
    for (const id of ids) {
      const rows = await store.rows<{ tracking_id: string }>(
        sql`SELECT tracking_id FROM cluster_tags WHERE tracking_id = ${id}`,
      );
      expect(rows.map((r) => r.tracking_id)).toEqual([id]);
    }
    // The tables are all still there.
    const [count] = await store.rows<{ n: number }>(sql`SELECT count() AS n FROM cluster_tags`);
    expect(Number(count!.n)).toBe(ids.length);
  });
});
