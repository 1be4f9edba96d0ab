// The store adapters every shared suite runs against: SQLite in a temp dir, PostgreSQL and
// ClickHouse in a fresh database each (both required under CI=true, see services.ts).
import { join } from 'node:path';
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
