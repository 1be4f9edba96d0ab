// The node-postgres integration against the real PostgreSQL (127.0.0.1:5432, a fresh database per
// file) and the real agent: Client and Pool, promise and callback style, errors and DDL.
import { type Agent, createAgent } from '@tidewatch/agent';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createPostgresDatabase } from '../../collector/test-support/services.js';
import {
  counterTotal,
  eventFields,
  histogramCount,
  labelSets,
  nextReport,
  testAgent,
} from '../test/report.js';
import { instrumentPg } from './pg.js';

const database = await createPostgresDatabase(); // null (skipped, with a warning) only outside CI
afterAll(() => database?.drop());

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function agent(): Agent {
  const a = testAgent();
  cleanup.push(() => a.shutdown(200));
  return a;
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: database!.url });
  await c.connect();
  cleanup.push(() => c.end());
  return c;
}

describe.skipIf(!database)('instrumentPg (real PostgreSQL)', () => {
  it('a Client: queries counted and timed in promise and callback style, errors by SQLSTATE class', async () => {
    const db = await client();
    await db.query('create table users (email text primary key, n int)'); // before attaching
    const telemetry = agent();
    const attachment = instrumentPg(db, telemetry);
    cleanup.push(() => attachment.detach());

    const inserted = await db.query('insert into users values ($1, $2)', ['alice@example.com', 1]);
    expect(inserted.rowCount).toBe(1);
    const selected = await db.query({
      text: 'select n from users where email = $1',
      values: ['alice@example.com'],
    });
    expect(selected.rows).toEqual([{ n: 1 }]);
    const viaCallback = await new Promise((resolve, reject) =>
      db.query('select count(*)::int as c from users', (err: Error | null, res: pg.QueryResult) =>
        err ? reject(err) : resolve(res.rows),
      ),
    );
    expect(viaCallback).toEqual([{ c: 1 }]);
    const withValuesAndCallback = await new Promise((resolve) =>
      db.query('select $1::int as v', [5], (_err: Error | null, res: pg.QueryResult) => resolve(res.rows)),
    );
    expect(withValuesAndCallback).toEqual([{ v: 5 }]);

    // As without the integration, an error's stack leads back to the caller's await, not to the socket.
    async function callerOfTheFailingQuery() {
      await db.query('selec 1');
    }
    const syntax = await callerOfTheFailingQuery().catch((e: unknown) => e);
    expect(syntax).toBeInstanceOf(pg.DatabaseError);
    expect(syntax).toMatchObject({ code: '42601' });
    expect((syntax as Error).stack).toContain('callerOfTheFailingQuery');
    const duplicate = await db
      .query('insert into users values ($1, 2)', ['alice@example.com'])
      .catch((e) => e);
    expect(duplicate).toMatchObject({ code: '23505', constraint: 'users_pkey' });
    const callbackError = await new Promise((resolve) =>
      db.query('select 1/0', (err: Error | null) => resolve(err)),
    );
    expect(callbackError).toMatchObject({ code: '22012' });
    // pg's own synchronous TypeError for a missing query still reaches the caller as before.
    expect(() => db.query(undefined as unknown as string)).toThrow(TypeError);

    const report = await nextReport(telemetry);
    expect(counterTotal(report, 'db.queries', { system: 'postgresql' })).toBe(7);
    expect(histogramCount(report, 'db.query.duration', { system: 'postgresql' })).toBe(7);
    expect(counterTotal(report, 'db.query.errors', { sqlstate_class: '42' })).toBe(1);
    expect(counterTotal(report, 'db.query.errors', { sqlstate_class: '23' })).toBe(1);
    expect(counterTotal(report, 'db.query.errors', { sqlstate_class: '22' })).toBe(1);
    expect(labelSets(report, 'db.query.errors')).toHaveLength(3);
    expect(JSON.stringify(report)).not.toContain('alice@example.com');
    expect(JSON.stringify(report)).not.toContain('users');
  });

  it("changes nothing a caller relies on: config classes, pg's own TypeErrors, stacks, two attachments", async () => {
    const db = await client();
    const first = agent();
    const second = agent();
    const a1 = instrumentPg(db, first);
    const a2 = instrumentPg(db, second);
    cleanup.push(
      () => a2.detach(),
      () => a1.detach(),
    );

    // A config class whose text is a getter, with a callback in the config.
    class Config {
      callback: (err: Error | null, res: pg.QueryResult) => void;
      constructor(callback: (err: Error | null, res: pg.QueryResult) => void) {
        this.callback = callback;
      }
      get text() {
        return 'select 7 as seven';
      }
    }
    const rows = await new Promise((resolve, reject) =>
      db.query(new Config((err, res) => (err ? reject(err) : resolve(res.rows))) as unknown as string),
    );
    expect(rows).toEqual([{ seven: 7 }]);
    // A callback that is not a function: pg's TypeError, thrown at once, as without the integration.
    expect(() => db.query('select 1', [], 'not a function' as unknown as () => void)).toThrow(TypeError);
    expect(() => db.query({ text: 'select 1', callback: 42 } as unknown as string)).toThrow(TypeError);
    // The stack of a failed query starts at the caller's code, not in the integration.
    const failed = (await db.query('selec 1').catch((e: unknown) => e)) as Error;
    expect(failed.stack!.split('\n')[1]).not.toMatch(/integrations|restack/);

    // pg's `Promise` option: the promise the caller gets is of the configured class.
    class MyPromise<T> extends Promise<T> {}
    const custom = new pg.Client({ connectionString: database!.url, Promise: MyPromise } as pg.ClientConfig);
    await custom.connect();
    cleanup.push(() => custom.end());
    const customAttachment = instrumentPg(custom, first);
    cleanup.push(() => customAttachment.detach());
    const pending = custom.query('select 1');
    expect(pending).toBeInstanceOf(MyPromise);
    await pending;

    // The first attachment detached first: the second keeps recording, then both are gone.
    a1.detach();
    await db.query('select 1');
    a2.detach();
    await db.query('select 2');
    expect(counterTotal(await nextReport(first), 'db.queries')).toBe(3); // two on db, one on custom
    expect(counterTotal(await nextReport(second), 'db.queries')).toBe(3);
  });

  it('reports DDL that PostgreSQL tags SELECT, and DDL with comments between its keywords', async () => {
    const db = await client();
    const telemetry = agent();
    const attachment = instrumentPg(db, telemetry);
    cleanup.push(() => attachment.detach());
    await db.query('create table base (x int)');
    await db.query('create materialized view mv as select x from base'); // tagged SELECT 0
    await db.query('/* migration 7 */ create table copy as select x from base'); // tagged SELECT 0
    await db.query('create /* why */ unlogged -- really\n table t2 (id int)');
    await db.query('select 1');
    expect(eventFields(await nextReport(telemetry), 'db.ddl')).toEqual([
      { system: 'postgresql', action: 'create', object: 'table' },
      { system: 'postgresql', action: 'create', object: 'materialized_view' },
      { system: 'postgresql', action: 'create', object: 'table' },
      { system: 'postgresql', action: 'create', object: 'table' },
    ]);
  });

  it('a Pool: pool.query() and pool.connect() clients are counted; DDL events carry the object kind only', async () => {
    const pool = new pg.Pool({ connectionString: database!.url, max: 3 });
    cleanup.push(() => pool.end());
    const telemetry = agent();
    const attachment = instrumentPg(pool, telemetry, { labels: { db: 'app' } });
    cleanup.push(() => attachment.detach());

    await pool.query('create table orders (id serial primary key, total int)');
    await pool.query(
      'create index orders_total on orders (total); create view big_orders as select * from orders',
    );
    await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) => pool.query('insert into orders (total) values ($1)', [n])),
    );
    const held = await pool.connect();
    try {
      await held.query('begin');
      await held.query('update orders set total = total + 1');
      await held.query('commit');
    } finally {
      held.release();
    }
    await pool.query('drop view big_orders');
    const failed = await pool.query('drop table no_such_table').catch((e) => e);
    expect(failed).toMatchObject({ code: '42P01' });

    const report = await nextReport(telemetry);
    expect(counterTotal(report, 'db.queries', { system: 'postgresql', db: 'app' })).toBe(13);
    expect(counterTotal(report, 'db.query.errors', { sqlstate_class: '42' })).toBe(1);
    // The attachment's labels too, so that two databases' DDL can be told apart.
    expect(eventFields(report, 'db.ddl')).toEqual([
      { system: 'postgresql', db: 'app', action: 'create', object: 'table' },
      { system: 'postgresql', db: 'app', action: 'create', object: 'index' },
      { system: 'postgresql', db: 'app', action: 'create', object: 'view' },
      { system: 'postgresql', db: 'app', action: 'drop', object: 'view' },
    ]);
    expect(JSON.stringify(report.events)).not.toContain('orders');

    attachment.detach();
    await pool.query('select 1');
    expect(counterTotal(await nextReport(telemetry), 'db.queries')).toBe(13);
  });

  it('a Pool that cannot connect: each failed pool.query() is counted once, as an error without SQLSTATE', async () => {
    const down = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:9/test', max: 1 });
    cleanup.push(() => down.end());
    const up = new pg.Pool({ connectionString: database!.url, max: 1 });
    cleanup.push(() => up.end());
    const telemetry = agent();
    for (const [pool, name] of [
      [down, 'down'],
      [up, 'up'],
    ] as const) {
      const attachment = instrumentPg(pool, telemetry, { labels: { db: name } });
      cleanup.push(() => attachment.detach());
    }
    // Promise and callback style against a pool whose database is not there.
    await expect(down.query('select 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const viaCallback = await new Promise((resolve) =>
      down.query('select 1', [], (err: Error) => resolve(err)),
    );
    expect(viaCallback).toMatchObject({ code: 'ECONNREFUSED' });
    // A failed statement on a working pool is its client's to count: once, not twice.
    await expect(up.query('select * from no_such_table')).rejects.toMatchObject({ code: '42P01' });
    await up.query('select 1');

    const report = await nextReport(telemetry);
    expect(counterTotal(report, 'db.queries', { db: 'down' })).toBe(2);
    expect(counterTotal(report, 'db.query.errors', { db: 'down', sqlstate_class: 'none' })).toBe(2);
    expect(histogramCount(report, 'db.query.duration', { db: 'down' })).toBe(2);
    expect(counterTotal(report, 'db.queries', { db: 'up' })).toBe(2);
    expect(counterTotal(report, 'db.query.errors', { db: 'up' })).toBe(1);
  });

  it('a Pool that closes idle clients and opens new ones: each new client is counted too', async () => {
    const pool = new pg.Pool({ connectionString: database!.url, max: 2, idleTimeoutMillis: 20 });
    cleanup.push(() => pool.end());
    const telemetry = agent();
    const attachment = instrumentPg(pool, telemetry);
    cleanup.push(() => attachment.detach());
    let removed = 0;
    pool.on('remove', () => removed++);
    for (let i = 0; i < 3; i++) {
      await pool.query('select $1::int', [i]);
      await vi.waitFor(() => expect(removed).toBe(i + 1)); // the idle client was closed
    }
    expect(removed).toBe(3);
    expect(counterTotal(await nextReport(telemetry), 'db.queries')).toBe(3);
  });
});

// pg before 8.23 writes the callback it is given onto the caller's config object; the integration
// calls pg in its callback style, so a reused config carried our stale callback into its next call
// (which then answered undefined). Both lines of pg, the oldest in the peer range we test and ours.
const pgLines: [string, typeof pg][] = [
  ['pg 8.11', ((await import('pg-8-11' as string)) as { default: typeof pg }).default],
  ['pg (current)', pg],
];

describe.skipIf(!database).each(pgLines)('instrumentPg with %s', (_name, driver) => {
  /** A client and a one-connection pool of this pg line, both attached to one agent. */
  async function attachedClientAndPool() {
    const plain = new driver.Client({ connectionString: database!.url });
    await plain.connect();
    cleanup.push(() => plain.end());
    const pool = new driver.Pool({ connectionString: database!.url, max: 1 });
    cleanup.push(() => pool.end());
    const telemetry = agent();
    const attachments = [instrumentPg(plain, telemetry), instrumentPg(pool, telemetry)];
    cleanup.push(() => {
      for (const a of attachments) a.detach();
    });
    return { plain, pool, telemetry };
  }

  it('leaves a reused query config as the caller made it, and answers each of its calls', async () => {
    const { plain, pool, telemetry } = await attachedClientAndPool();
    const pooled = await pool.connect();
    cleanup.push(() => pooled.release());
    for (const db of [plain, pooled]) {
      const statement = { name: 'get-one', text: 'select $1::int as id', values: [1] };
      const keys = Object.keys(statement);
      for (let i = 0; i < 3; i++) {
        expect((await db.query(statement))?.rows, `call ${i + 1}`).toEqual([{ id: 1 }]);
        expect(Object.keys(statement)).toEqual(keys);
      }
    }
    expect(counterTotal(await nextReport(telemetry), 'db.queries')).toBe(6);
  });

  it('answers frozen configs as pg does, and a failed pool.query() leads back to its caller', async () => {
    const { plain, pool, telemetry } = await attachedClientAndPool();
    // A shared constant, frozen: pg before 8.23 writes the callback it is given onto the config.
    const two = Object.freeze({ text: 'select 2 as two' });
    expect((await plain.query(two)).rows).toEqual([{ two: 2 }]);
    expect((await pool.query(two)).rows).toEqual([{ two: 2 }]);
    const withCallback = await new Promise((resolve, reject) =>
      plain.query(
        Object.freeze({
          text: 'select 3 as three',
          callback: (error: Error | null, result: pg.QueryResult) =>
            error ? reject(error) : resolve(result.rows),
        }) as unknown as string,
      ),
    );
    expect(withCallback).toEqual([{ three: 3 }]);
    async function callerOfPool() {
      return await pool.query('selec 1');
    }
    const failed = (await callerOfPool().catch((e: unknown) => e)) as Error;
    expect(failed.stack).toContain('callerOfPool');
    expect(counterTotal(await nextReport(telemetry), 'db.queries')).toBe(4);
  });

  it('attaches nothing to a disabled agent: clients and pools keep their own query()', async () => {
    const off = createAgent({ endpoint: 'http://127.0.0.1:9', nodeType: 'test', enabled: false });
    const plain = new driver.Client({ connectionString: database!.url });
    const pool = new driver.Pool({ connectionString: database!.url });
    cleanup.push(() => pool.end());
    const before = [plain.query, pool.query, pool.listenerCount('connect')];
    instrumentPg(plain, off).detach();
    instrumentPg(pool, off);
    expect([plain.query, pool.query, pool.listenerCount('connect')]).toEqual(before);
  });
});
