// Named prepared statements for the ingest path on PostgreSQL.
//
// Kysely's PostgreSQL driver sends every statement unnamed, so PostgreSQL parses and plans each
// batch insert again on every transaction. Measured on the reports insert (9 rows, one
// connection, backend CPU from /proc): 530 µs per batch unnamed against 320 µs named, the parse
// and plan being about half of a small batch's statement. The store marks the statements worth
// preparing (fixed shapes that repeat: the write path's inserts and rollups, at most
// PREPARED_MAX_ROWS rows) with PREPARE_MARK; this pool hands Kysely clients that run a marked
// statement under a name, so each connection parses it once and reuses the plan.
//
// Memory bounds it: a prepared statement costs the backend ~60 KiB plus ~11 KiB per row of a
// 35-column insert (pg_backend_memory_contexts), per connection, so the sixteen shapes of the
// reports insert take ~2.4 MiB; after a bench:ingest run each backend held 8.5–10.8 MB in all
// (pg_log_backend_memory_contexts), its caches included. Larger batches stay unnamed (their parse is spread over many rows anyway), and at
// most MAX_NAMES distinct texts are named.
//
// Named statements live in a server connection, so a pooler that hands one client's transactions
// to different server connections (PgBouncer in transaction mode without max_prepared_statements) cannot carry them:
// `?prepare=off` on the store URL turns them off (the mark is then only removed).
import type pg from 'pg';
import { CollectorError } from '../../errors.js';

/**
 * Prefix of a statement text that PostgreSQL may keep as a named prepared statement (removed here
 * before sending; sql/sql-runner.ts adds it), and the largest multi-row insert marked: row counts
 * 1..16 give 16 shapes per table.
 */
export const PREPARE_MARK = '/*tw:prepare*/';
export const PREPARED_MAX_ROWS = 16;

const MAX_NAMES = 512;

/** Statement text (without the mark) → its name, shared by every connection of the process. */
const names = new Map<string, string>();

function nameOf(text: string): string | null {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMES) return null;
    name = `tw_${names.size}`;
    names.set(text, name);
  }
  return name;
}

type Query = (config: unknown, values?: unknown) => Promise<unknown>;

/** What Kysely's PostgreSQL driver uses of a pooled client. */
interface DriverClient {
  query: Query;
  release(destroy?: boolean): void;
}

/**
 * Reads and removes `prepare=on|off` from a postgres:// store URL (default on), so that pg never
 * sees a parameter it does not know.
 */
export function preparedStatementsOption(url: string): { url: string; prepare: boolean } {
  const match = /[?&]prepare=([^&]*)/.exec(url);
  if (!match) return { url, prepare: true };
  const value = match[1]!.toLowerCase(); // on/off need no decoding, and a bad %-escape must not throw
  if (!['on', 'off', 'true', 'false', '1', '0'].includes(value)) {
    throw new CollectorError(
      'invalid_store',
      `postgres store URL: prepare=${match[1]} is not on or off (off runs every statement unnamed, for PgBouncer in transaction mode without max_prepared_statements)`,
    );
  }
  const rest = url.replace(/([?&])prepare=[^&]*&?/, '$1').replace(/[?&]$/, '');
  return { url: rest, prepare: value === 'on' || value === 'true' || value === '1' };
}

/** The `pool` Kysely's PostgresDialect takes: pg's pool, with marked statements prepared (or not). */
export function preparingPool(
  pool: pg.Pool,
  prepare = true,
): { connect(): Promise<DriverClient>; end(): Promise<void> } {
  return {
    async connect() {
      const client = await pool.connect();
      const query = client.query.bind(client) as Query;
      // pg emits 'error' on a checked-out client whose connection drops (a PostgreSQL restart, a
      // terminated backend, a cut network); the pool listens only while a client is idle, and an
      // 'error' without a listener ends the process. The query in flight fails on its own (and
      // its write is answered 503); the broken client is destroyed on release, not reused. A FATAL
      // error (the server ending the session: a terminated backend, a shutdown) marks it broken
      // too: it reaches the query before the connection's end does, and a client released in
      // between went back to the pool and failed the next query as well.
      let broken = false;
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      const noteFatal = (error: unknown) => {
        if ((error as { severity?: unknown } | null)?.severity === 'FATAL') broken = true;
        throw error;
      };
      return {
        query(config, values) {
          if (typeof config !== 'string' || !config.startsWith(PREPARE_MARK)) {
            return query(config, values).catch(noteFatal);
          }
          const text = config.slice(PREPARE_MARK.length);
          const name = prepare ? nameOf(text) : null;
          return (name === null ? query(text, values) : query({ name, text, values })).catch(noteFatal);
        },
        release: (destroy) => {
          client.off('error', onError);
          client.release(destroy || broken);
        },
      };
    },
    end: () => pool.end(),
  };
}
