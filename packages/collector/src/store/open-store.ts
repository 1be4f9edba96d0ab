// Turns a store URL (CONTRACT.md: `sqlite:PATH`, `postgres://...`, `clickhouse://...`) into an adapter.
import { CollectorError } from '../errors.js';
import { openClickHouseStore } from './clickhouse/clickhouse-store.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';
import { sqliteFile } from './store-url.js';

export function openStore(url: string, cwd: string = process.cwd()): Store {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0)
      throw new CollectorError('invalid_store', 'sqlite: needs a path, e.g. sqlite:./data/tidewatch.db');
    return openSqliteStore(sqliteFile(url, cwd) ?? path);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    // Without a database, PostgreSQL picks the one named after the user: most often `postgres`,
    // the server's own, which would quietly fill with Tidewatch's tables.
    if (namesNoDatabase(url))
      throw new CollectorError(
        'invalid_store',
        'the postgres store URL names no database: add one, e.g. postgres://USER@HOST:5432/tidewatch (create it first: createdb tidewatch)',
      );
    return openPostgresStore(url);
  }
  if (/^clickhouse(\+https?)?:\/\//.test(url)) return openClickHouseStore(url);
  throw new CollectorError(
    'invalid_store',
    `unknown store URL "${url.replace(/\/\/[^@/]*@/, '//***@')}": use sqlite:PATH, postgres://USER@HOST:PORT/DB or clickhouse://USER@HOST:8123/DB`,
  );
}

/** A postgres URL that names no database, in its path or as `?database=`. */
function namesNoDatabase(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false; // the driver reports what is wrong with it
  }
  return !decodeURIComponent(parsed.pathname.replace(/^\//, '')) && !parsed.searchParams.get('database');
}
