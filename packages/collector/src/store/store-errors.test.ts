// Which store failures are answered 503 (the store's state) and which stay 500 (our bug), with
// errors the real drivers throw.
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createClickHouseDatabase, createPostgresDatabase, tempDir } from '../../test-support/services.js';
import { CollectorError } from '../errors.js';
import { outageLogger } from '../http/outage-log.js';
import { storeReason, storeUnavailable } from './store-errors.js';

const dir = tempDir();
const database = await createPostgresDatabase(); // null (skipped, with a warning) only outside CI
const clickhouseDb = await createClickHouseDatabase();
afterAll(async () => {
  await database?.drop();
  dir.remove();
});

async function thrown(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('store errors', () => {
  it.skipIf(!database)(
    'PostgreSQL: a statement timeout is the store’s state (with a hint), a missing table is not',
    async () => {
      const client = new pg.Client({ connectionString: database!.url });
      await client.connect();
      try {
        await client.query("set statement_timeout = '10ms'");
        const timedOut = storeUnavailable(await thrown(() => client.query('select pg_sleep(1)')));
        expect(timedOut).toMatchObject({ code: 'store_unavailable', status: 503 });
        expect(timedOut!.message).toMatch(
          /canceling statement due to statement timeout.*statement_timeout set on the collector’s role/,
        );
        expect(storeUnavailable(await thrown(() => client.query('select * from no_such_table')))).toBeNull();
      } finally {
        await client.end();
      }
      // A server nobody listens on.
      const refused = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:9/x' });
      expect(storeUnavailable(await thrown(() => refused.connect()))).toMatchObject({ status: 503 });
    },
  );

  it('SQLite: a database locked by another writer is the store’s state, a syntax error is not', () => {
    const path = join(dir.path, 'locked.db');
    const holder = new SQLite(path);
    holder.exec('create table t (x)');
    holder.exec('begin immediate');
    const other = new SQLite(path, { timeout: 10 });
    try {
      const busy = (() => {
        try {
          other.exec('insert into t values (1)');
        } catch (error) {
          return error;
        }
      })();
      expect(storeUnavailable(busy)).toMatchObject({ code: 'store_unavailable', status: 503 });
      const syntax = (() => {
        try {
          other.exec('selec 1');
        } catch (error) {
          return error;
        }
      })();
      expect(storeUnavailable(syntax)).toBeNull();
    } finally {
      holder.exec('rollback');
      holder.close();
      other.close();
    }
  });
});

describe.skipIf(!clickhouseDb)('ClickHouse errors', () => {
  it('a memory limit is the store’s state, a syntax error is not', async () => {
    const client = createClient({ url: `http://${new URL(clickhouseDb!.url).host}` });
    try {
      const limited = await thrown(() =>
        client.query({
          query: 'SELECT groupArray(number) FROM numbers(1000000)',
          clickhouse_settings: { max_memory_usage: '1000000' },
        }),
      );
      expect(storeUnavailable(limited)).toMatchObject({ code: 'store_unavailable', status: 503 });
      expect(storeUnavailable(await thrown(() => client.query({ query: 'SELEC 1' })))).toBeNull();
    } finally {
      await client.close();
    }
  });
});

describe('store reasons', () => {
  it('tell an operator behind a transaction pooler to turn prepared statements off', () => {
    const error = Object.assign(new Error('prepared statement "tw_0" already exists'), { code: '42P05' });
    expect(storeReason(error)).toMatch(
      /already exists \(a connection pooler in transaction mode.*add \?prepare=off to the store URL\)$/,
    );
  });
});

describe('the outage log', () => {
  it('keeps a store that fails every other commit to one line per 10 s, and ends it after 10 s without a 503', () => {
    vi.useFakeTimers();
    try {
      const info = vi.fn();
      const warn = vi.fn();
      const outages = outageLogger({ log: { info } } as never);
      const error = new CollectorError('store_unavailable', 'the store could not commit this write', 503);
      // Flapping for 15 s: a 503, then a commit, 100 times.
      for (let i = 0; i < 100; i++) {
        outages.log({ warn } as never, error, '/api/v2/report/{node}');
        outages.over('store_unavailable');
        vi.advanceTimersByTime(150);
      }
      expect(warn).toHaveBeenCalledTimes(2); // at 0 s and at 10 s
      expect(info).not.toHaveBeenCalled();
      // Then only commits: one line with the whole outage.
      outages.over('store_unavailable');
      vi.advanceTimersByTime(10_000);
      expect(info).toHaveBeenCalledTimes(1);
      expect(info.mock.calls[0]![0]).toMatchObject({ code: 'store_unavailable', answered: 100, seconds: 15 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives the count of answers not logged one by one when the collector stops', () => {
    const warn = vi.fn();
    const outages = outageLogger({ log: { warn } } as never);
    const error = new CollectorError('shutting_down', 'the collector is shutting down', 503);
    for (let i = 0; i < 491; i++) outages.log({ warn } as never, error, '/api/v2/report/{node}');
    expect(warn).toHaveBeenCalledTimes(1);
    outages.flush();
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1]![0]).toMatchObject({
      code: 'shutting_down',
      answered: 491,
      notLoggedOneByOne: 490,
    });
    outages.flush(); // nothing new since
    expect(warn).toHaveBeenCalledTimes(2);
  });
});
