// The SQLite writer thread seen from a plain script: a write in flight keeps the process alive
// until it is committed, and an idle store does not keep it running. And the checkpointer thread
// beside it: committed pages reach the database file without the writer checkpointing.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/services.js';
import { openStore } from '../open-store.js';

const dir = tempDir();
afterAll(() => dir.remove());
const storeModule = fileURLToPath(new URL('../../../dist/store/open-store.js', import.meta.url));

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
      const events = Array.from({ length: 400 }, (_, i) => ({
        dedupKey: `k${i}`,
        trackingId: `t${i % 20}`,
        receivedAt: Date.now(),
        receivedDay: '2026-11-26',
        eventTimeSec: i,
        stage: null,
        name: 'e',
        connectorName: null,
        catalogId: i,
        attributes: null,
        node: 'n',
        object: null,
        flags: null,
        raw,
      }));
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
