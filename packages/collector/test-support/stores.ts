// The store adapters every shared suite runs against: SQLite in a temp dir, PostgreSQL and
// ClickHouse in a fresh database each (both required under CI=true, see services.ts).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import { ClickHouseStore } from '../src/store/clickhouse/clickhouse-store.js';
import { LEGACY_EVENT_KEYS_SETTING } from '../src/store/legacy-event-keys.js';
import type { SqlStore } from '../src/store/sql/sql-store.js';
import type { Store } from '../src/store/store.js';
import { createClickHouseDatabase, createPostgresDatabase, type TestDatabase, tempDir } from './services.js';

export interface StoreTarget {
  name: 'sqlite' | 'postgres' | 'clickhouse';
  /** A fresh, empty store URL for each call. */
  freshUrl(): Promise<string>;
  cleanup(): Promise<void>;
}

export async function storeTargets(): Promise<StoreTarget[]> {
  const dir = tempDir();
  let n = 0;
  const targets: StoreTarget[] = [
    {
      name: 'sqlite',
      freshUrl: async () => `sqlite:${join(dir.path, `store-${n++}.db`)}`,
      cleanup: async () => dir.remove(),
    },
  ];
  for (const [name, create] of [
    ['postgres', createPostgresDatabase],
    ['clickhouse', createClickHouseDatabase],
  ] as const) {
    const target = await serverTarget(name, create);
    if (target) targets.push(target);
  }
  return targets;
}

/** A target on a database server: one fresh database per store, all dropped at cleanup. */
async function serverTarget(
  name: 'postgres' | 'clickhouse',
  create: () => Promise<TestDatabase | null>,
): Promise<StoreTarget | null> {
  const probe = await create();
  if (!probe) return null;
  const databases: TestDatabase[] = [probe];
  let first: string | null = probe.url;
  return {
    name,
    freshUrl: async () => {
      if (first) {
        const url = first;
        first = null;
        return url;
      }
      const db = await create();
      if (!db) throw new Error(`${name} went away during the test run`);
      databases.push(db);
      return db.url;
    },
    cleanup: async () => {
      await Promise.all(databases.map((d) => d.drop()));
    },
  };
}

/**
 * Takes a store back to what a collector before the legacy-key boundary left (no boundary
 * setting; the next migrate sets it). On ClickHouse every other setting goes too (the license
 * salt, the schema version): the tests that use this do not read them.
 */
export async function withoutLegacyBoundary(s: Store): Promise<void> {
  if (s instanceof ClickHouseStore) {
    await s.client.command({ query: 'TRUNCATE TABLE settings' });
    const claim = createHash('sha256').update(LEGACY_EVENT_KEYS_SETTING).digest('hex').slice(0, 16);
    await s.client.command({ query: `DROP TABLE IF EXISTS setting_claim_${claim}` });
    return;
  }
  const { db } = s as SqlStore;
  await db.deleteFrom('settings').where('key', '=', LEGACY_EVENT_KEYS_SETTING).execute();
  await sql`delete from kysely_migration where name = '0040_legacy_event_keys'`.execute(db);
}
