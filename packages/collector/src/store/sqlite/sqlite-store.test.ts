// The SQLite store's threads. The writer seen from a plain script: a write in flight keeps the
// process alive until it is committed, and an idle store does not keep it running. The
// checkpointer beside it: committed pages reach the database file without the writer
// checkpointing. The query thread: a long read holds up neither the event loop nor the writes.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { type Kysely, Migrator, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestCollector } from '../../../test-support/collector.js';
import { metaReport } from '../../../test-support/risingwave.js';
import { tempDir } from '../../../test-support/services.js';
import { openStore } from '../open-store.js';
import type { SqlStore } from '../sql/sql-store.js';
import { storeUnavailable } from '../store-errors.js';
import { WAL_SIZE_LIMIT } from './pragmas.js';
import { RequestThread } from './request-thread.js';
import type { QueryRequest, QueryResponse } from './sqlite-query-thread.js';

const dir = tempDir();
afterAll(() => dir.remove());
const storeModule = fileURLToPath(new URL('../../../dist/store/open-store.js', import.meta.url));
const sqliteStoreModule = fileURLToPath(
  new URL('../../../dist/store/sqlite/sqlite-store.js', import.meta.url),
);

/** An event row for Store.writeBatch, numbered `i`, with `fields` in place of the defaults. */
function event(i: number, fields: Record<string, unknown> = {}) {
  return {
    dedupKey: `k${i}`,
    trackingId: 't1',
    receivedAt: Date.now(),
    receivedDay: '2026-11-27',
    eventTimeSec: i,
    stage: null,
    name: 'e',
    connectorName: null,
    catalogId: i,
    attributes: null,
    node: 'n',
    object: null,
    flags: null,
    raw: new Uint8Array([i]),
    ...fields,
  };
}

describe('SQLite erase', () => {
  it("leaves none of an erased cluster's data in the database file or its WAL", async () => {
    const file = `${dir.path}/erase.db`;
    const store = openStore(`sqlite:${file}`);
    await store.migrate();
    // Distinctive text inside the cluster's rows (not its tracking id, which the block keeps).
    const secret = `secret-${randomUUID()}`;
    const rows = Array.from({ length: 200 }, (_, i) => ({
      dedupKey: `k${i}`,
      trackingId: 'erased',
      receivedAt: Date.UTC(2026, 10, 20),
      receivedDay: '2026-11-20',
      eventTimeSec: i,
      stage: null,
      name: `${secret}-name`,
      connectorName: `${secret}-connector`,
      catalogId: i,
      attributes: `{"about":"${secret}"}`,
      node: 'n',
      object: null,
      flags: null,
      raw: new TextEncoder().encode(`${secret}-raw-${i}`),
    }));
    await store.writeBatch({ reports: [], events: rows });
    await store.eraseCluster('erased');
    await store.close();
    for (const path of [file, `${file}-wal`]) {
      if (existsSync(path)) expect(readFileSync(path).includes(secret), path).toBe(false);
    }
  });
});

describe('SQLite file of another application', () => {
  it('is refused before anything is written to it, and a Tidewatch store or a new file is not', async () => {
    const file = `${dir.path}/someone-else.db`;
    const other = new SQLite(file);
    other.exec('create table customers (id integer primary key, name text)');
    other.close();
    expect(() => openStore(`sqlite:${file}`)).toThrow(
      `the SQLite file at ${file} is another application's database (it holds customers and no Tidewatch schema); nothing was written to it`,
    );
    expect(() => openStore(`sqlite:${file}`)).toThrow(
      expect.objectContaining({ code: 'store_foreign_file' }),
    );
    const after = new SQLite(file, { readonly: true });
    expect(after.prepare("select name from sqlite_master where type = 'table'").pluck().all()).toEqual([
      'customers',
    ]);
    expect(after.pragma('journal_mode', { simple: true })).toBe('delete'); // not switched to WAL
    after.close();
    // Only a view, or another Kysely application's migrations: also someone else's.
    const viewOnly = `${dir.path}/view-only.db`;
    const withView = new SQLite(viewOnly);
    withView.exec('create view v as select 1');
    withView.close();
    expect(() => openStore(`sqlite:${viewOnly}`)).toThrow(/another application's database \(it holds v and/);
    const otherKysely = `${dir.path}/other-kysely.db`;
    const migrated = new SQLite(otherKysely);
    migrated.exec(
      "create table kysely_migration (name text primary key, timestamp text); insert into kysely_migration values ('2024_01_01_create_users', '')",
    );
    migrated.close();
    expect(() => openStore(`sqlite:${otherKysely}`)).toThrow(
      /another application's database \(it holds kysely_migration/,
    );
    // A new file, then the same file as a Tidewatch store, open as before.
    const ours = `${dir.path}/ours.db`;
    const created = openStore(`sqlite:${ours}`);
    await created.migrate();
    await created.close();
    const reopened = openStore(`sqlite:${ours}`);
    expect(await reopened.migrate()).toEqual([]);
    await reopened.close();
  });
});

describe('SQLite file the collector may not write', () => {
  it('is refused before serving, naming the file and the user', () => {
    const sub = `${dir.path}/read-only`;
    chmodSync(dir.path, 0o755); // a temporary directory is its creator's alone
    mkdirSync(sub, { mode: 0o777 });
    chmodSync(sub, 0o777);
    const file = `${sub}/store.db`;
    new SQLite(file).close();
    chmodSync(file, 0o444);
    // As another user when the tests run as root, whom no file mode stops.
    const check = `import(${JSON.stringify(sqliteStoreModule)}).then((m) => m.assertWritableSqliteFile(${JSON.stringify(file)})).catch((e) => { console.log(e.message); })`;
    const [command, args] =
      process.getuid?.() === 0
        ? ['runuser', ['-u', 'nobody', '--', process.execPath, '-e', check]]
        : [process.execPath, ['-e', check]];
    const said = execFileSync(command as string, args as string[], { encoding: 'utf8' });
    expect(said).toMatch(
      /cannot serve the SQLite store at .*store.db: .*store.db is not writable by this user \(uid \d+\)/,
    );
  });
});

describe('SQLite migrations', () => {
  it('commit each migration whole or not at all, so a start cut short can start again', async () => {
    // A migration that stops after its first statement, as a signal or a full disk would stop one.
    const file = `${dir.path}/half-migrated.db`;
    const store = openStore(`sqlite:${file}`) as SqlStore;
    const halfway = new Migrator({
      db: store.db,
      provider: {
        getMigrations: async () => ({
          '0001_two_steps': {
            up: async (db: Kysely<unknown>) => {
              await sql`create table first_step (id integer)`.execute(db);
              throw new Error('stopped halfway');
            },
          },
        }),
      },
    });
    const { error } = await halfway.migrateUp();
    expect(String(error)).toMatch(/stopped halfway/);
    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(
      store.db,
    );
    expect(tables.rows.map((r) => r.name)).not.toContain('first_step');
    // The real migrations then run on the same file as on a new one.
    expect((await store.migrate()).length).toBeGreaterThan(10);
    await store.close();
  });
});

describe('SQLite store in a script', () => {
  it('a script that awaits a write and nothing else finishes it and exits 0', () => {
    const file = `${dir.path}/script.db`;
    // No server, no timer: only the pending write holds the event loop. Before the fix the
    // process exited with code 13 (unsettled top-level await) and the row was never written.
    const script = `
      const { openStore } = await import(${JSON.stringify(storeModule)});
      const store = openStore(${JSON.stringify(`sqlite:${file}`)});
      await store.migrate();
      const result = await store.writeBatch({ reports: [], events: [{
        dedupKey: 'k1', trackingId: 't1', receivedAt: Date.now(), receivedDay: '2026-11-26',
        eventTimeSec: 1, stage: null, name: 'e', connectorName: null, catalogId: 1, attributes: null,
        node: 'n', object: null, flags: null, raw: new Uint8Array([1, 2, 3]),
      }] });
      console.log(JSON.stringify(result));
      await store.close();
    `;
    writeFileSync(`${dir.path}/script.mjs`, script);
    const out = execFileSync(process.execPath, [`${dir.path}/script.mjs`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(JSON.parse(out)).toMatchObject({ eventsInserted: 1 });
    const db = new SQLite(file, { readonly: true });
    expect(db.prepare('select count(*) as n from events').get()).toEqual({ n: 1 });
    db.close();
  });
});

describe('SQLite checkpointer thread', () => {
  it('copies committed writes into the database file in the background', async () => {
    const file = `${dir.path}/checkpoint.db`;
    const store = openStore(`sqlite:${file}`);
    try {
      await store.migrate();
      const before = statSync(file).size;
      const raw = new Uint8Array(2048).fill(7);
      const events = Array.from({ length: 400 }, (_, i) => event(i, { trackingId: `t${i % 20}`, raw }));
      expect(await store.writeBatch({ reports: [], events })).toMatchObject({ eventsInserted: 400 });
      // ~1 MB committed: far below the writer's own checkpoint (32 MiB of WAL), so only the
      // checkpointer can have put it into the database file.
      const deadline = Date.now() + 10_000;
      while (statSync(file).size < before + 800_000 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(statSync(file).size).toBeGreaterThanOrEqual(before + 800_000);
    } finally {
      await store.close();
    }
  });
});

describe('SQLite WAL file', () => {
  it('shrinks back once a transaction larger than its limit has been checkpointed', async () => {
    const file = `${dir.path}/wal-limit.db`;
    const store = openStore(`sqlite:${file}`);
    try {
      await store.migrate();
      // ~40 MB in one transaction (an import, a retention pass): the WAL grows past its limit.
      const raw = new Uint8Array(100_000).fill(7);
      const events = Array.from({ length: 400 }, (_, i) => event(i, { trackingId: `t${i % 20}`, raw }));
      await store.writeBatch({ reports: [], events });
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(WAL_SIZE_LIMIT);
      // Once the checkpointer has copied it, the next write starts the WAL over and cuts it back.
      const deadline = Date.now() + 15_000;
      let n = 400;
      while (statSync(`${file}-wal`).size > WAL_SIZE_LIMIT && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await store.writeBatch({ reports: [], events: [event(n++)] });
      }
      expect(statSync(`${file}-wal`).size).toBeLessThanOrEqual(WAL_SIZE_LIMIT);
    } finally {
      await store.close();
    }
  });
});

describe('SQLite query thread', () => {
  it('runs a long read off the event loop: a write is acknowledged and timers fire before it ends', async () => {
    const store = openStore(`sqlite:${dir.path}/long-read.db`) as SqlStore;
    try {
      await store.migrate();
      await store.writeBatch({ reports: [], events: [event(0)] }); // the writer thread is up
      const order: string[] = [];
      // Counting to 20 million in a recursive query: a second or more of SQLite on one core.
      const longRead = sql<{
        n: number;
      }>`with recursive c(x) as (select 1 union all select x + 1 from c where x < 20000000) select count(*) as n from c`
        .execute(store.db)
        .then((result) => order.push(`read ${result.rows[0]?.n}`));
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push('timer');
      await store.writeBatch({ reports: [], events: [event(1)] });
      order.push('write acknowledged');
      await longRead;
      // On the main thread the read held everything until it ended: ['read 20000000', 'timer', ...].
      expect(order).toEqual(['timer', 'write acknowledged', 'read 20000000']);
    } finally {
      await store.close();
    }
  });

  it('answers a select while a transaction holds the read-write thread, without its uncommitted rows', async () => {
    const store = openStore(`sqlite:${dir.path}/read-beside-transaction.db`) as SqlStore;
    let release = () => {};
    try {
      await store.migrate();
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let inserted = () => {};
      const insertDone = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      // An erase or a retention pass is such a transaction, and can take seconds on a big store.
      const transaction = store.db.transaction().execute(async (trx) => {
        await trx.insertInto('settings').values({ key: 'in-flight', value: '1' }).execute();
        inserted();
        await held;
      });
      await insertDone;
      const keys = () =>
        store.db
          .selectFrom('settings')
          .select('key')
          .execute()
          .then((rows) => rows.map((r) => r.key));
      // With one connection for everything, this select waited for the commit (here: for ever).
      const during = await Promise.race([
        keys(),
        new Promise<string>((resolve) => setTimeout(() => resolve('waited for the transaction'), 5_000)),
      ]);
      expect(during).toBeInstanceOf(Array);
      expect(during).not.toContain('in-flight');
      release();
      await transaction;
      expect(await keys()).toContain('in-flight');
    } finally {
      release();
      await store.close();
    }
  });

  it('frees the read-write thread when a transaction cannot begin', async () => {
    const store = openStore(`sqlite:${dir.path}/failed-begin.db`) as SqlStore;
    try {
      await store.migrate();
      await sql`begin`.execute(store.db); // left open: the next begin fails
      const failure = await store.db
        .transaction()
        .execute(async () => {})
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({ message: expect.stringMatching(/within a transaction/) });
      // Kysely rolls back only a transaction that began; the thread was held for ever.
      const next = await Promise.race([
        sql`rollback`.execute(store.db).then(() => 'rolled back'),
        new Promise((resolve) => setTimeout(() => resolve('still held'), 5_000)),
      ]);
      expect(next).toBe('rolled back');
      await store.db
        .transaction()
        .execute((trx) => trx.insertInto('settings').values({ key: 'after', value: '1' }).execute());
      expect(
        await store.db.selectFrom('settings').select('value').where('key', '=', 'after').execute(),
      ).toEqual([{ value: '1' }]);
    } finally {
      await store.close();
    }
  });

  it('answers a cheap select while a long one runs', async () => {
    const store = openStore(`sqlite:${dir.path}/two-readers.db`) as SqlStore;
    try {
      await store.migrate();
      const order: string[] = [];
      // biome-ignore lint/suspicious/noExplicitAny: a recursive CTE outside the store's schema
      const db = store.db as unknown as Kysely<any>;
      // Counting to 20 million, as a select Kysely built (so it goes to a reader thread).
      const longRead = db
        .withRecursive('c(x)', (qb) =>
          qb
            .selectNoFrom(sql<number>`1`.as('x'))
            .unionAll((qb) =>
              qb.selectFrom('c').select(sql<number>`x + 1`.as('x')).where('x', '<', 20_000_000),
            ),
        )
        .selectFrom('c')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .execute()
        .then((rows) => order.push(`long ${rows[0]?.n}`));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const cheap = await store.db.selectFrom('settings').select('key').execute();
      order.push(`cheap ${cheap.length >= 0}`);
      await longRead;
      // With one reader the cheap select queued behind the long one: ['long 20000000', 'cheap true'].
      expect(order).toEqual(['cheap true', 'long 20000000']);
    } finally {
      await store.close();
    }
  });

  it('answers every query of many at once, and ingest between them', async () => {
    const c = await startTestCollector(`sqlite:${dir.path}/many-queries.db`);
    try {
      const id = randomUUID();
      expect((await c.postProto('/api/v2/report/meta', metaReport({ trackingId: id }))).status).toBe(200);
      const queries = Array.from({ length: 20 }, (_, i) =>
        c.get(i % 2 ? `/query/clusters/${id}` : '/query/versions?from=2026-01-01&to=2026-12-31', ADMIN_TOKEN),
      );
      const report = c.postProto('/api/v2/report/meta', metaReport({ trackingId: randomUUID() }));
      const answers = await Promise.all([...queries, report]);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    } finally {
      await c.close();
    }
  });

  it('gives back SQLite errors with their codes, and bytes as Buffers', async () => {
    const store = openStore(`sqlite:${dir.path}/errors.db`) as SqlStore;
    try {
      await store.migrate();
      const failure = await sql`selec 1`.execute(store.db).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'SQLITE_ERROR', message: expect.stringMatching(/syntax error/) });
      expect(storeUnavailable(failure)).toBeNull(); // a bug of ours, not the store's state
      // A Buffer cut from Node's shared pool goes as its own bytes and comes back a Buffer.
      const pooled = Buffer.from('tidewatch');
      const { rows } = await sql<{ b: Buffer }>`select ${pooled} as b`.execute(store.db);
      expect(Buffer.isBuffer(rows[0]?.b)).toBe(true);
      expect(rows[0]?.b.toString()).toBe('tidewatch');
      // The thread goes on after an error.
      expect((await sql<{ one: number }>`select 1 as one`.execute(store.db)).rows).toEqual([{ one: 1 }]);
    } finally {
      await store.close();
    }
  });

  it('answers a database locked by another process as the store’s state (503), not a bug', async () => {
    const file = `${dir.path}/locked.db`;
    const store = openStore(`sqlite:${file}`) as SqlStore;
    const holder = new SQLite(file);
    try {
      await store.migrate();
      holder.exec('begin immediate'); // holds the write lock past the thread's 5 s busy timeout
      const failure = await sql`insert into settings (key, value) values ('x', 'y')`
        .execute(store.db)
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
      expect(storeUnavailable(failure)).toMatchObject({ code: 'store_unavailable', status: 503 });
    } finally {
      holder.close();
      await store.close();
    }
  }, 20_000);
});

describe('SQLite request threads', () => {
  it('a reader thread refuses to write', async () => {
    const module = new URL('../../../dist/store/sqlite/sqlite-query-thread.js', import.meta.url);
    const file = `${dir.path}/reader.db`;
    new SQLite(file).exec('create table t (x integer)');
    const reader = new RequestThread<QueryRequest, QueryResponse>(module, file, 'a reader', {
      readOnly: true,
    });
    const writer = new RequestThread<QueryRequest, QueryResponse>(module, file, 'a writer');
    try {
      expect(await reader.request({ sql: 'insert into t values (1)', parameters: [] })).toMatchObject({
        error: { code: 'SQLITE_READONLY' },
      });
      expect(await writer.request({ sql: 'insert into t values (1)', parameters: [] })).toMatchObject({
        changes: 1,
      });
      expect(await reader.request({ sql: 'select x from t', parameters: [] })).toMatchObject({
        read: { rows: [[1]] },
      });
    } finally {
      await Promise.all([reader.stop(), writer.stop()]);
    }
  });

  it('answers a request sent to a new thread while the old one is still exiting', async () => {
    const module = new URL('../../../dist/store/sqlite/sqlite-query-thread.js', import.meta.url);
    const thread = new RequestThread<QueryRequest, QueryResponse>(
      module,
      `${dir.path}/restart.db`,
      'the query thread',
    );
    await thread.request({ sql: 'select 1', parameters: [] });
    const stopping = thread.stop();
    // A new thread takes this one; the old thread's exit must not fail it (it did: one shared list).
    const answer = await thread.request({
      sql: 'with recursive c(x) as (select 1 union all select x + 1 from c where x < 3000000) select count(*) as n from c',
      parameters: [],
    });
    expect(answer).toMatchObject({ read: { columns: ['n'], rows: [[3_000_000]] } });
    await stopping;
    await thread.stop();
  });
});
