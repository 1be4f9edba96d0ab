// The store adapters every shared suite runs against: SQLite in a temp dir, and PostgreSQL in a
// fresh database (required under CI=true, see services.ts).
import { join } from 'node:path';
import { createPostgresDatabase, tempDir } from './services.js';

export interface StoreTarget {
  name: 'sqlite' | 'postgres';
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
  const databases: { drop(): Promise<void> }[] = [];
  const probe = await createPostgresDatabase();
  if (probe) {
    databases.push(probe);
    let first: string | null = probe.url;
    targets.push({
      name: 'postgres',
      freshUrl: async () => {
        if (first) {
          const url = first;
          first = null;
          return url;
        }
        const db = await createPostgresDatabase();
        if (!db) throw new Error('PostgreSQL went away during the test run');
        databases.push(db);
        return db.url;
      },
      cleanup: async () => {
        await Promise.all(databases.map((d) => d.drop()));
      },
    });
  }
  return targets;
}
