import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase } from '../../../test-support/services.js';
import { PREPARE_MARK, preparedStatementsOption, preparingPool } from './prepared-pool.js';

describe('preparedStatementsOption', () => {
  it('reads prepare=on|off from the store URL and hands pg the URL without it', () => {
    const cases: [string, string, boolean][] = [
      ['postgres://u@h:5432/db', 'postgres://u@h:5432/db', true],
      ['postgres://u@h/db?prepare=off', 'postgres://u@h/db', false],
      ['postgres://u@h/db?prepare=OFF&sslmode=require', 'postgres://u@h/db?sslmode=require', false],
      ['postgres://u@h/db?sslmode=require&prepare=on', 'postgres://u@h/db?sslmode=require', true],
      ['postgres://u@h/db?a=1&prepare=0&b=2', 'postgres://u@h/db?a=1&b=2', false],
    ];
    for (const [given, url, prepare] of cases) {
      expect(preparedStatementsOption(given)).toEqual({ url, prepare });
    }
  });

  it('refuses a value that is neither on nor off, naming the parameter', () => {
    expect(() => preparedStatementsOption('postgres://u@h/db?prepare=maybe')).toThrow(
      /prepare=maybe is not on or off/,
    );
    expect(() => preparedStatementsOption('postgres://u@h/db?prepare=%E0%A4%A')).toThrow(/is not on or off/);
  });
});

const database = await createPostgresDatabase();

// Registered only when PostgreSQL runs (under CI=true createPostgresDatabase throws instead).
if (database) {
  describe('preparingPool (PostgreSQL)', () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    const prepared = preparingPool(pool);
    afterAll(async () => {
      await prepared.end();
      await database.drop();
    });

    const preparedOn = async (client: Awaited<ReturnType<typeof prepared.connect>>) =>
      (
        (await client.query(
          'select name, statement from pg_prepared_statements order by name',
        )) as pg.QueryResult
      ).rows;

    it('runs a marked statement prepared once per connection, with its answers unchanged', async () => {
      const client = await prepared.connect();
      try {
        const text = 'select $1::int + $2::int as n';
        const first = (await client.query(PREPARE_MARK + text, [1, 2])) as pg.QueryResult;
        const second = (await client.query(PREPARE_MARK + text, [40, 2])) as pg.QueryResult;
        expect(first.rows).toEqual([{ n: 3 }]);
        expect(second.rows).toEqual([{ n: 42 }]);
        const statements = await preparedOn(client);
        expect(statements).toHaveLength(1);
        expect(statements[0].statement).toBe(text); // the mark is not sent
        expect(statements[0].name).toMatch(/^tw_\d+$/);
      } finally {
        client.release();
      }
    });

    it('survives its connection dropping mid-query: the query fails, the process lives on, the pool serves again', async () => {
      const client = await prepared.connect();
      const pid = ((await client.query('select pg_backend_pid() as pid')) as pg.QueryResult).rows[0].pid;
      const slow = client.query('select pg_sleep(30)').then(
        () => null,
        (error: unknown) => error,
      );
      // As a PostgreSQL restart or failover would: the server ends the backend under the query.
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      await expect
        .poll(async () => (await admin.query('select pg_terminate_backend($1) as ok', [pid])).rows[0].ok)
        .toBe(true);
      await admin.end();
      expect(await slow).toMatchObject({ code: '57P01' }); // admin_shutdown
      client.release();
      // Without a listener, pg's 'error' event on the checked-out client ended the process.
      const again = await prepared.connect();
      try {
        expect(((await again.query('select 1 as n')) as pg.QueryResult).rows).toEqual([{ n: 1 }]);
      } finally {
        again.release();
      }
    });

    it('with prepare off, runs marked statements unnamed', async () => {
      const unprepared = preparingPool(new pg.Pool({ connectionString: database.url, max: 1 }), false);
      const client = await unprepared.connect();
      try {
        const answer = (await client.query(`${PREPARE_MARK}select $1::int * 2 as n`, [21])) as pg.QueryResult;
        expect(answer.rows).toEqual([{ n: 42 }]);
        expect(await preparedOn(client)).toEqual([]);
      } finally {
        client.release();
        await unprepared.end();
      }
    });

    it('leaves unmarked statements unnamed, and reports a marked statement’s error as PostgreSQL’s', async () => {
      const client = await prepared.connect();
      try {
        const before = (await preparedOn(client)).length;
        expect(((await client.query('select $1::text as t', ['x'])) as pg.QueryResult).rows).toEqual([
          { t: 'x' },
        ]);
        expect(await preparedOn(client)).toHaveLength(before);
        await expect(client.query(`${PREPARE_MARK}select 1 / $1::int as q`, [0])).rejects.toMatchObject({
          code: '22012', // division_by_zero
        });
        // The connection is still usable and the statement still runs with good input.
        expect(
          ((await client.query(`${PREPARE_MARK}select 1 / $1::int as q`, [1])) as pg.QueryResult).rows,
        ).toEqual([{ q: 1 }]);
      } finally {
        client.release();
      }
    });
  });
}
