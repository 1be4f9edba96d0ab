// The PGlite integration against a real PGlite (PostgreSQL in WebAssembly) and the real agent: what
// a caller's queries record, that the caller sees exactly what it saw before, and what is never sent.
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import { type Agent, createAgent } from '@tidewatch/agent';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  counterTotal,
  eventFields,
  histogramCount,
  labelSets,
  nextReport,
  testAgent,
} from '../test/report.js';
import { type Attachment, instrumentPGlite } from './pglite.js';

let db: PGlite;
beforeAll(async () => {
  db = await PGlite.create(); // one engine for the file: starting one takes seconds
}, 120_000);
afterAll(() => db.close());

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

let tableNo = 0;
/** A fresh table name per test, so tests do not see each other's rows. */
const freshTable = () => `accounts_${++tableNo}`;

function attach(agent: Agent = testAgent(), labels?: Record<string, string>): Agent {
  const attachment: Attachment = instrumentPGlite(db, agent, { labels });
  cleanup.push(
    () => attachment.detach(),
    () => agent.shutdown(200),
  );
  return agent;
}

describe('instrumentPGlite', () => {
  it('counts and times query(), sql``, exec() and the queries inside transaction(), results unchanged', async () => {
    const table = freshTable();
    await db.exec(`create table ${table} (id int primary key, balance int)`); // before attaching
    const agent = attach();

    const inserted = await db.query(`insert into ${table} values ($1, $2), ($3, $4)`, [1, 100, 2, 50]);
    expect(inserted.affectedRows).toBe(2);
    const selected = await db.query<{ balance: number }>(`select balance from ${table} where id = $1`, [1]);
    expect(selected.rows).toEqual([{ balance: 100 }]);
    const failedSql = await db.sql`selec ${1}`.catch((e: unknown) => e); // counted as one failed query
    expect(failedSql).toMatchObject({ code: '42601' });
    const templated = await db.sql<{ id: number }>`select ${2}::int as id`;
    expect(templated.rows).toEqual([{ id: 2 }]);
    const execResults = await db.exec(`update ${table} set balance = balance + 1; select 1 as one;`);
    expect(execResults.map((r) => r.rows)).toEqual([[], [{ one: 1 }]]);
    const moved = await db.transaction(async (tx) => {
      await tx.query(`update ${table} set balance = balance - 10 where id = $1`, [1]);
      expect((await tx.sql<{ n: number }>`select ${7}::int as n`).rows).toEqual([{ n: 7 }]);
      await tx.exec(`update ${table} set balance = balance + 10 where id = 2`);
      return (await tx.query<{ s: number }>(`select sum(balance)::int as s from ${table}`)).rows[0]!.s;
    });
    expect(moved).toBe(152);

    const report = await nextReport(agent);
    // 2 query + 1 failed sql`` + 1 sql`` + 1 exec + 4 in the transaction (BEGIN/COMMIT are not the caller's)
    expect(counterTotal(report, 'db.queries', { system: 'pglite' })).toBe(9);
    expect(histogramCount(report, 'db.query.duration', { system: 'pglite' })).toBe(9);
    const duration = report.metrics.find((m) => m.name === 'db.query.duration')!;
    expect(duration).toMatchObject({ unit: 's', description: expect.stringContaining('latency') });
    expect(Number(duration.histogram!.sum)).toBeGreaterThan(0);
    expect(labelSets(report, 'db.query.errors')).toHaveLength(1);
  });

  it('errors are counted by SQLSTATE class, and the caller gets the very same error', async () => {
    const table = freshTable();
    await db.exec(`create table ${table} (email text primary key)`);
    const agent = attach();

    const syntax = await db.query('selec 1').catch((e: unknown) => e);
    expect(syntax).toMatchObject({ code: '42601' });
    expect(syntax).toBeInstanceOf(Error);
    const missing = await db.exec('select * from no_such_table').catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: '42P01' });
    await db.query(`insert into ${table} values ($1)`, ['alice@example.com']);
    const duplicate = await db
      .query(`insert into ${table} values ($1)`, ['alice@example.com'])
      .catch((e) => e);
    expect(duplicate).toMatchObject({ code: '23505', constraint: `${table}_pkey` });
    const divide = await db.transaction((tx) => tx.query('select 1 / 0')).catch((e: unknown) => e);
    expect(divide).toMatchObject({ code: '22012' });

    const report = await nextReport(agent);
    expect(counterTotal(report, 'db.query.errors', { sqlstate_class: '42' })).toBe(2);
    expect(counterTotal(report, 'db.query.errors', { sqlstate_class: '23' })).toBe(1);
    expect(counterTotal(report, 'db.query.errors', { sqlstate_class: '22' })).toBe(1);
    expect(counterTotal(report, 'db.queries')).toBe(5);
    expect(labelSets(report, 'db.query.errors')).toEqual(
      expect.arrayContaining([
        { system: 'pglite', sqlstate_class: '42' },
        { system: 'pglite', sqlstate_class: '23' },
      ]),
    );
    // Nothing the user typed leaves the process: no table, no value, no SQL.
    const sent = JSON.stringify(report);
    for (const secret of ['alice@example.com', table, 'selec', 'no_such_table'])
      expect(sent).not.toContain(secret);
  });

  it('records CREATE and DROP of tables, views and indexes as events with the object kind only', async () => {
    const table = freshTable();
    const agent = attach(undefined, { db: 'ledger' });

    await db.exec(`
      create table ${table} (id int primary key, note text default 'create table fake; drop view x');
      create index ${table}_note on ${table} (note);
      create view ${table}_v as select id from ${table};
      create materialized view ${table}_mv as select count(*) from ${table};
      insert into ${table} (id) values (1);
    `);
    await db.query(`drop view ${table}_v`);
    await db.query(`drop materialized view ${table}_mv`);
    await db.exec(`drop index ${table}_note`);
    await db.query('create temporary table scratch (x int)');
    const failed = await db.query(`create table ${table} (id int)`).catch((e) => e); // exists already
    expect(failed).toMatchObject({ code: '42P07' });
    // DDL in a transaction counts once it committed; a rolled-back one never happened.
    await db.transaction(async (tx) => {
      await tx.query(`create table ${table}_kept (id int)`);
    });
    await db.transaction(async (tx) => {
      await tx.query(`create table ${table}_gone (id int)`);
      await tx.rollback();
    });
    await db
      .transaction(async (tx) => {
        await tx.exec(`create table ${table}_failed (id int)`);
        throw new Error('the caller gives up');
      })
      .catch(() => {});

    const report = await nextReport(agent);
    expect(eventFields(report, 'db.ddl')).toEqual([
      { system: 'pglite', db: 'ledger', action: 'create', object: 'table' },
      { system: 'pglite', db: 'ledger', action: 'create', object: 'index' },
      { system: 'pglite', db: 'ledger', action: 'create', object: 'view' },
      { system: 'pglite', db: 'ledger', action: 'create', object: 'materialized_view' },
      { system: 'pglite', db: 'ledger', action: 'drop', object: 'view' },
      { system: 'pglite', db: 'ledger', action: 'drop', object: 'materialized_view' },
      { system: 'pglite', db: 'ledger', action: 'drop', object: 'index' },
      // The temporary table is left out: it lives for the session, not in the schema.
      { system: 'pglite', db: 'ledger', action: 'create', object: 'table' },
    ]);
    expect(counterTotal(report, 'db.ddl', { action: 'create', object: 'table', db: 'ledger' })).toBe(2);
    expect(counterTotal(report, 'db.ddl', { action: 'drop', object: 'view' })).toBe(1);
    expect(JSON.stringify(report.events)).not.toContain(table);
    expect(labelSets(report, 'db.queries')).toEqual([{ db: 'ledger', system: 'pglite' }]);
  });

  it("does not take live queries' own views, tables, functions and triggers for the application's DDL", async () => {
    const { live } = await import('@electric-sql/pglite/live');
    const liveDb = await PGlite.create({ extensions: { live } });
    cleanup.push(() => liveDb.close());
    const agent = testAgent();
    const attachment = instrumentPGlite(liveDb, agent);
    cleanup.push(
      () => attachment.detach(),
      () => agent.shutdown(200),
    );
    await liveDb.exec('create table items (id int primary key)');
    for (let i = 0; i < 3; i++) {
      const subscription = await liveDb.live.query('select * from items');
      await subscription.unsubscribe();
    }
    const report = await nextReport(agent);
    expect(eventFields(report, 'db.ddl')).toEqual([{ system: 'pglite', action: 'create', object: 'table' }]);
  }, 120_000);

  it('detach() puts the original methods back and recording stops', async () => {
    const agent = testAgent();
    const attachment = instrumentPGlite(db, agent);
    cleanup.push(() => agent.shutdown(200));
    expect(Object.hasOwn(db, 'query')).toBe(true);
    await db.query('select 1');
    attachment.detach();
    expect(Object.hasOwn(db, 'query')).toBe(false);
    expect(db.query).toBe(PGlite.prototype.query);
    expect(db.transaction).toBe(PGlite.prototype.transaction);
    await db.query('select 1');
    await db.exec('select 1');
    expect(counterTotal(await nextReport(agent), 'db.queries')).toBe(1);
  });

  it('detach() leaves the instance with fast properties, as it was before attaching', async () => {
    // Deleting the wrappers in the order they were added turned the instance into a dictionary of
    // properties for good, which slows every later property access on it.
    setFlagsFromString('--allow-natives-syntax');
    const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
    const fresh = await PGlite.create();
    try {
      expect(hasFastProperties(fresh)).toBe(true);
      const agent = testAgent();
      cleanup.push(() => agent.shutdown(200));
      instrumentPGlite(fresh, agent).detach();
      expect(hasFastProperties(fresh)).toBe(true);
      expect((await fresh.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await fresh.close();
    }
  }, 60_000);

  it('two attachments detached in either order: each stops only its own recording', async () => {
    const first = testAgent();
    const second = testAgent();
    cleanup.push(
      () => first.shutdown(200),
      () => second.shutdown(200),
    );
    const a1 = instrumentPGlite(db, first);
    const a2 = instrumentPGlite(db, second);
    a1.detach();
    await db.query('select 1');
    a2.detach();
    await db.query('select 2');
    await db.transaction(async (tx) => tx.query('select 3'));
    expect(counterTotal(await nextReport(first), 'db.queries')).toBe(0);
    expect(counterTotal(await nextReport(second), 'db.queries')).toBe(1);
  });

  it('reports a materialized view created with data (PostgreSQL tags it SELECT)', async () => {
    const agent = attach();
    const table = freshTable();
    await db.exec(`create table ${table} (x int)`);
    await db.query(`create materialized view ${table}_mv as select x from ${table}`);
    expect(eventFields(await nextReport(agent), 'db.ddl')).toEqual([
      { system: 'pglite', action: 'create', object: 'table' },
      { system: 'pglite', action: 'create', object: 'materialized_view' },
    ]);
  });

  it('an agent that fails inside never reaches the caller: queries answer and fail as before', async () => {
    const broken = testAgent();
    const failing = () => {
      throw new Error('agent bug');
    };
    const handle = { inc: failing, record: failing, set: failing };
    const faulty: Agent = {
      enabled: true,
      preview: () => broken.preview(),
      flush: () => broken.flush(),
      shutdown: (ms) => broken.shutdown(ms),
      gauge: () => handle,
      counter: () => handle,
      histogram: () => handle,
      describe: () => {},
      event: failing,
    };
    attach(faulty);
    await expect(db.query<{ x: number }>('select 1 as x')).resolves.toMatchObject({ rows: [{ x: 1 }] });
    await expect(db.query('selec 1')).rejects.toMatchObject({ code: '42601' });
    await expect(db.exec('create table if not exists broken_agent (x int)')).resolves.toHaveLength(1);
    await expect(db.transaction(async (tx) => (await tx.query('select 2 as y')).rows)).resolves.toEqual([
      { y: 2 },
    ]);
  });

  it('attaches nothing to a disabled agent: the instance keeps its own methods', async () => {
    const off = createAgent({ endpoint: 'http://127.0.0.1:9', nodeType: 'test', enabled: false });
    const before = [db.query, db.exec, db.transaction];
    const attachment = instrumentPGlite(db, off);
    expect([db.query, db.exec, db.transaction]).toEqual(before);
    attachment.detach();
    await expect(db.query<{ x: number }>('select 1 as x')).resolves.toMatchObject({ rows: [{ x: 1 }] });
  });
});
