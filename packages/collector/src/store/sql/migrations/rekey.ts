// Rewriting old-format retry keys (migration 0038_retry_keys_time_first).
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { MigrationDialect } from './migration-dialect.js';

/**
 * Gives the rows of `table` whose retry key does not start with their own time (the old format)
 * the key `key` computes, a page of ids at a time (a store may hold millions of old rows).
 */
export async function rekey(
  db: Kysely<unknown>,
  dialect: MigrationDialect,
  spec: {
    table: string;
    time: string;
    columns: RawBuilder<unknown>;
    key: (row: Record<string, unknown>) => string | null;
  },
): Promise<void> {
  const time = sql.ref(spec.time);
  // The key's first 14 characters are the time in hex: what the old format never had.
  const prefix =
    dialect.kind === 'sqlite' ? sql`printf('%014x', ${time})` : sql`lpad(to_hex(${time}), 14, '0')`;
  const table = sql.table(spec.table);
  let after = 0;
  for (;;) {
    const { rows } = await sql<Record<string, unknown>>`select id, dedup_key, ${spec.columns} from ${table}
      where id > ${after} and substr(dedup_key, 1, 14) <> ${prefix} order by id limit 1000`.execute(db);
    if (rows.length === 0) return;
    for (const row of rows) {
      const key = spec.key(row);
      if (key === null || key === row.dedup_key) continue;
      await sql`update ${table} set dedup_key = ${key} where id = ${row.id}
        and not exists (select 1 from ${table} where dedup_key = ${key})`.execute(db);
    }
    after = Number(rows.at(-1)!.id);
  }
}
