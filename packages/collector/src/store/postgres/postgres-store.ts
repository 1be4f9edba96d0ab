// The production store: PostgreSQL through node-postgres. A committed transaction is the
// durability promise; BIGINT columns come back as numbers (all our values are below 2^53).
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../sql/schema.js';
import { SqlStore } from '../sql/sql-store.js';
import { preparedStatementsOption, preparingPool } from './prepared-pool.js';

const INT8_OID = 20;
/** Any fixed number: the key of the advisory lock that serializes first-start setup. */
const SETUP_LOCK_KEY = 7_370_447_001;

export function openPostgresStore(storeUrl: string, options: { poolSize?: number } = {}): SqlStore {
  const { url, prepare } = preparedStatementsOption(storeUrl);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection must not crash the process: the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: preparingPool(pool, prepare) as unknown as pg.Pool }),
  });
  return new SqlStore(db, {
    kind: 'postgres',
    types: { serial: 'bigserial', blob: 'bytea' },
    lockForSetup: async (trx) => {
      await sql`select pg_advisory_xact_lock(${SETUP_LOCK_KEY})`.execute(trx);
    },
  });
}
