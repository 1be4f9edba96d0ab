// The production store: PostgreSQL through node-postgres. A committed transaction is the
// durability promise; BIGINT columns come back as numbers (all our values are below 2^53).
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { CollectorError } from '../../errors.js';
import type { Database } from '../sql/schema.js';
import { SqlStore } from '../sql/sql-store.js';
import { preparedStatementsOption, preparingPool } from './prepared-pool.js';

const INT8_OID = 20;
/** Any fixed number: the key of the advisory lock that serializes first-start setup. */
const SETUP_LOCK_KEY = 7_370_447_001;

/** The first key of the cluster locks (advisory locks with two int keys: this, and a slot). */
const CLUSTER_LOCK_CLASS = 737_044;
/**
 * Clusters share this many lock slots: a batch of thousands of clusters (an import) takes at most
 * this many locks, well inside PostgreSQL's lock table (64 per connection by default, shared),
 * and an erase or internal tag holds up only the writes of the clusters in its slot, for as long
 * as it runs.
 */
const CLUSTER_LOCK_SLOTS = 64;

/** The distinct lock slots of these clusters, ascending. */
function clusterLockSlots(trackingIds: readonly string[]): number[] {
  const slots = new Set<number>();
  for (const id of trackingIds) {
    let h = 0;
    for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
    slots.add((h >>> 0) % CLUSTER_LOCK_SLOTS);
  }
  return [...slots].sort((a, b) => a - b);
}

/** Connections one collector keeps open at most, unless the store URL says `pool=N`. */
export const DEFAULT_POOL_SIZE = 10;

/**
 * `pool=N` on the store URL (1 to 1,000): the connections this collector may keep. Several
 * collectors on a role with a connection limit, or behind a pooler with a small pool, need the
 * sum of theirs to fit (docs/deploy.md). Taken off the URL before node-postgres reads it.
 */
export function poolSizeOption(storeUrl: string): { url: string; poolSize: number } {
  const match = /[?&]pool=([^&]*)/.exec(storeUrl);
  if (!match) return { url: storeUrl, poolSize: DEFAULT_POOL_SIZE };
  const n = /^\d{1,4}$/.test(match[1]!) ? Number(match[1]) : Number.NaN;
  if (!(n >= 1 && n <= 1000)) {
    throw new CollectorError(
      'invalid_store',
      `postgres store URL: pool=${match[1]} is not a number of connections from 1 to 1000`,
    );
  }
  return { url: storeUrl.replace(/([?&])pool=[^&]*&?/, '$1').replace(/[?&]$/, ''), poolSize: n };
}

export function openPostgresStore(storeUrl: string, options: { poolSize?: number } = {}): SqlStore {
  const sized = poolSizeOption(storeUrl);
  const { url, prepare } = preparedStatementsOption(sized.url);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? sized.poolSize,
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
    lockClusters: async (trx, trackingIds, mode) => {
      const slots = clusterLockSlots(trackingIds);
      if (slots.length === 0) return;
      // In slot order, so that two writes waiting on two erases cannot wait on each other.
      await (mode === 'write'
        ? sql`select pg_advisory_xact_lock_shared(${CLUSTER_LOCK_CLASS}, slot)
              from (select unnest(${slots}::int[]) as slot order by slot) s`
        : sql`select pg_advisory_xact_lock(${CLUSTER_LOCK_CLASS}, ${slots[0]!})`
      ).execute(trx);
    },
  });
}
