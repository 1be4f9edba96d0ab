// The PostgreSQL store's own URL parameters: pool=N bounds the connections one collector keeps.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase } from '../../../test-support/services.js';
import { DEFAULT_POOL_SIZE, openPostgresStore, poolSizeOption } from './postgres-store.js';

describe('poolSizeOption', () => {
  it('reads pool=N from the store URL and hands pg the URL without it', () => {
    expect(poolSizeOption('postgres://u@h/db')).toEqual({
      url: 'postgres://u@h/db',
      poolSize: DEFAULT_POOL_SIZE,
    });
    expect(poolSizeOption('postgres://u@h/db?pool=3')).toEqual({ url: 'postgres://u@h/db', poolSize: 3 });
    expect(poolSizeOption('postgres://u@h/db?sslmode=require&pool=40&prepare=off')).toEqual({
      url: 'postgres://u@h/db?sslmode=require&prepare=off',
      poolSize: 40,
    });
    for (const bad of ['0', '-1', '1001', '2.5', 'ten', '']) {
      expect(() => poolSizeOption(`postgres://u@h/db?pool=${bad}`), bad).toThrow(
        `postgres store URL: pool=${bad} is not a number of connections from 1 to 1000`,
      );
    }
  });
});

const database = await createPostgresDatabase(); // null (skipped, with a warning) only outside CI
afterAll(async () => {
  await database?.drop();
});

describe.skipIf(!database)('a PostgreSQL store with pool=2', () => {
  it('keeps at most two connections however many reads run at once', async () => {
    const url = new URL(database!.url);
    url.searchParams.set('pool', '2');
    const store = openPostgresStore(url.toString());
    const watcher = new pg.Client({ connectionString: database!.url });
    await watcher.connect();
    try {
      await store.migrate();
      const day = new Date().toISOString().slice(0, 10);
      // Reads that wait on a lock hold their connections: as many as the pool allows.
      await watcher.query('begin');
      await watcher.query('lock table cluster_days in access exclusive mode');
      const reads = Array.from({ length: 20 }, () =>
        store.activeClusterCount({ fromDay: day, toDay: day, includeCi: false }),
      );
      const connections = async () => {
        // pg_stat_activity is read once per transaction unless the snapshot is dropped.
        await watcher.query('select pg_stat_clear_snapshot()');
        const { rows } = await watcher.query<{ n: string }>(
          'select count(*) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
        );
        return Number(rows[0]!.n);
      };
      // Wait for the pool to fill (not a fixed sleep), then check it stays filled at two.
      await expect.poll(connections, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      await new Promise((r) => setTimeout(r, 300));
      const held = await connections();
      await watcher.query('rollback');
      expect(held).toBe(2);
      expect(await Promise.all(reads)).toEqual(Array.from({ length: 20 }, () => 0));
    } finally {
      await watcher.end();
      await store.close();
    }
  });
});

describe.skipIf(!database)('a role that may not create tables', () => {
  it('is refused at start with what to do, not "cannot reach the store"', async () => {
    const admin = new pg.Client({ connectionString: database!.url });
    await admin.connect();
    const role = `tw_no_create_${process.pid}`;
    try {
      await admin.query(`drop role if exists ${role}`);
      await admin.query(`create role ${role} login`);
      const url = new URL(database!.url);
      url.username = role;
      const store = openPostgresStore(url.toString());
      try {
        await expect(store.migrate()).rejects.toThrow(
          /^cannot set up the store: permission denied for (schema public|table kysely_migration) \(the collector's role must own the store's tables, or be able to create them/,
        );
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`drop role if exists ${role}`).catch(() => {});
      await admin.end();
    }
  });
});
