// Real services for tests. Under CI=true a missing service fails the run (never a silent skip);
// on a developer machine the tests that need it are skipped with a message saying why.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false';

const ADMIN_URL = process.env.TIDEWATCH_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh PostgreSQL database for one test file, or null (outside CI) when none is reachable.
 * `options`: what follows `create database <name>`, e.g. an ICU collation.
 */
export async function createPostgresDatabase(options = ''): Promise<TestDatabase | null> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (error) {
    const message = `PostgreSQL is not reachable at ${ADMIN_URL}: ${(error as Error).message}`;
    if (IN_CI) throw new Error(`${message} (CI=true: service-backed tests must run, not skip)`);
    console.warn(`skipping PostgreSQL tests: ${message}`);
    return null;
  }
  const name = `tidewatch_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${name} ${options}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

const CLICKHOUSE_URL = process.env.TIDEWATCH_TEST_CLICKHOUSE ?? 'http://127.0.0.1:8123';

/** Runs one statement on the test ClickHouse server (its HTTP interface). */
async function clickhouse(statement: string): Promise<string> {
  const response = await fetch(CLICKHOUSE_URL, {
    method: 'POST',
    body: statement,
    signal: AbortSignal.timeout(120_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`ClickHouse answered ${response.status}: ${text.trim()}`);
  return text;
}

/**
 * A fresh ClickHouse database name for one store (`clickhouse://…/name`), or null (outside CI) when
 * no server answers. The store creates the database itself on migrate.
 */
export async function createClickHouseDatabase(): Promise<TestDatabase | null> {
  try {
    await clickhouse('SELECT 1');
  } catch (error) {
    const message = `ClickHouse is not reachable at ${CLICKHOUSE_URL}: ${(error as Error).message}`;
    if (IN_CI)
      throw new Error(`${message} (CI=true: service-backed tests must run, not skip; .ci/run starts it)`);
    console.warn(`skipping ClickHouse tests: ${message}`);
    return null;
  }
  const name = `tidewatch_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = new URL(CLICKHOUSE_URL);
  return {
    url: `clickhouse://${url.host}/${name}`,
    drop: async () => {
      await clickhouse(`DROP DATABASE IF EXISTS ${name}`);
    },
  };
}

export interface TempDir {
  path: string;
  remove(): void;
}

export function tempDir(prefix = 'tidewatch-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

const REDIS_URL = process.env.TIDEWATCH_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** The Redis for shared rate limits, or null (outside CI) when none answers. */
export async function redisForTests(): Promise<string | null> {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 3000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return REDIS_URL;
  } catch (error) {
    const message = `Redis is not reachable at ${REDIS_URL}: ${(error as Error).message}`;
    if (IN_CI) throw new Error(`${message} (CI=true: service-backed tests must run, not skip)`);
    console.warn(`skipping Redis tests: ${message}`);
    return null;
  } finally {
    client.disconnect();
  }
}
