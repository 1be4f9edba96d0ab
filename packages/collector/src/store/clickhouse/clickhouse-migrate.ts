// Setting up a ClickHouse store at start: the database, every table, the rollups with their
// materialized views (a rollup created on a store that already has rows is filled from them), and
// the schema version that keeps an older collector from writing to a newer store.

import { CollectorError } from '../../errors.js';
import { boundaryValue, LEGACY_EVENT_KEYS_SETTING } from '../legacy-event-keys.js';
import type { MigrationProgress } from '../store.js';
import { type ClickHouseConnection, START_TIMEOUT_MS } from './clickhouse-connection.js';
import { createTableSql, createViewSql, ROLLUPS, TABLES } from './schema.js';
import { ident, type Sql, sql } from './sql.js';

/** This version's ClickHouse schema: raise it with every change an older version must not write to. */
export const CLICKHOUSE_SCHEMA = 1;
const CLICKHOUSE_SCHEMA_SETTING = 'clickhouse_schema';

/**
 * Creates the database, its tables, rollups and views (idempotent, safe for collectors starting
 * together), refusing a store of a newer schema before anything in it changes, and records this
 * version's schema.
 */
export async function migrateClickHouse(
  ch: ClickHouseConnection,
  progress?: MigrationProgress,
): Promise<string[]> {
  const applied: string[] = [];
  // The first request of a start: bounded, so that a host that takes the connection and never
  // answers is reported within seconds, not after the long queries' 5 minutes.
  const admin = ch.connect(undefined, START_TIMEOUT_MS);
  try {
    await admin.command({ query: sql`CREATE DATABASE IF NOT EXISTS ${ident(ch.options.database)}`.text });
  } catch (error) {
    const reason = (error as Error).message || String((error as { code?: unknown }).code ?? error);
    // The server answered and refused (a password, a user, rights): not a matter of reaching it.
    if (/\bCode: \d+/.test(reason) || /^\d+$/.test(String((error as { code?: unknown }).code ?? ''))) {
      throw new CollectorError(
        'store_setup',
        `cannot set up the store: ${reason} (the user of the store URL needs its password right, and rights to create the database, its tables and views, and to delete from them; see docs/deploy.md)`,
        503,
      );
    }
    throw new CollectorError(
      'store_unreachable',
      `cannot reach the store: ${reason} (is clickhouse-server running and listening for HTTP at ${ch.options.url}? Check the host and port of the store URL)`,
      503,
    );
  } finally {
    await admin.close();
  }
  const newStore = !(await ch.tableExists('reports'));
  const storedSchema = await checkSchemaVersion(ch, newStore, progress);
  for (const table of TABLES) await idempotentDdl(ch, createTableSql(table), table.name);
  const fills = await fillStates(ch);
  for (const rollup of ROLLUPS) {
    // The collector that creates a rollup fills it from the rows stored before it existed, after
    // its views are in place: a row written meanwhile reaches it through a view, the backfill or
    // both, and both is harmless (min, max and latest do not change with a second copy). A setting
    // says `started` before the claim and `done` after the last month: a rollup whose fill
    // started and never finished (a collector killed mid-upgrade) is filled again by the next
    // start. Rollups created before that setting existed have none and count as filled.
    // Collectors that start while another one fills also fill it (harmless, see above).
    // Looked up first: a failed CREATE is logged as an error by the client, at every start.
    const missing = !(await ch.tableExists(rollup.name));
    const unfinished = !missing && fills.get(rollup.name) === 'started';
    // Said before anything is written: a caller that must not upgrade the store (the CLI) stops
    // here, before an empty rollup table exists that no later start would fill.
    if (missing || unfinished) progress?.({ phase: 'pending', names: [rollup.name], newStore });
    if (missing) await ch.insert('settings', [{ key: `${FILL_SETTING}${rollup.name}`, value: 'started' }]);
    const created = missing && (await ch.claim(rollup.name, rollup.ddl));
    for (const view of rollup.views) await idempotentDdl(ch, createViewSql(rollup, view), view.name);
    if (created || unfinished) {
      const started = Date.now();
      // Month by month: one statement over years of rows could outgrow the server's memory.
      for (const view of rollup.views) {
        const months = await ch.rows<{ month: number }>(
          sql`SELECT DISTINCT toYYYYMM(received_day) AS month FROM ${ident(view.source)} ORDER BY month`,
        );
        for (const { month } of months) {
          const where = sql`toYYYYMM(received_day) = ${Number(month)}`;
          await ch.command(sql`INSERT INTO ${ident(rollup.name)} ${view.select(where)}`);
        }
      }
      await ch.insert('settings', [{ key: `${FILL_SETTING}${rollup.name}`, value: 'done' }]);
      applied.push(rollup.name);
      progress?.({ phase: 'applied', name: rollup.name, ms: Date.now() - started });
    }
  }
  // Once per store, at the first start of this version (SQL stores: migration 0040); before the
  // schema is recorded, so that a store that says schema 1 always has it.
  const setting = sql`SELECT value FROM settings FINAL WHERE key = ${LEGACY_EVENT_KEYS_SETTING}`;
  if ((await ch.rows(setting)).length === 0) {
    const someEvent = await ch.rows(sql`SELECT 1 FROM events LIMIT 1`);
    await ch.ensureSetting(LEGACY_EVENT_KEYS_SETTING, boundaryValue(someEvent.length > 0, Date.now()));
  }
  if (storedSchema < CLICKHOUSE_SCHEMA) {
    const started = Date.now();
    await ch.insert('settings', [{ key: CLICKHOUSE_SCHEMA_SETTING, value: String(CLICKHOUSE_SCHEMA) }]);
    // Said as applied, as it was said pending: the start log then closes the upgrade it opened.
    const step = `${CLICKHOUSE_SCHEMA_SETTING} ${CLICKHOUSE_SCHEMA}`;
    applied.push(step);
    progress?.({ phase: 'applied', name: step, ms: Date.now() - started });
  }
  return applied;
}

/**
 * ClickHouse has no migration table: a setting says which schema this store has, and a version
 * older than the one that wrote it refuses the store before changing anything in it, as on SQL
 * stores (versions before this one do not check it: docs/deploy.md, Upgrading). The newest
 * version's number wins. An older schema is an upgrade still to do: said as pending, so that a
 * caller that must not upgrade the store (the CLI) stops before anything is written.
 */
async function checkSchemaVersion(
  ch: ClickHouseConnection,
  newStore: boolean,
  progress?: MigrationProgress,
): Promise<number> {
  if (!(await ch.tableExists('settings'))) {
    // Its schema is recorded with the settings table: one step, applied under the same name.
    if (!newStore)
      progress?.({
        phase: 'pending',
        names: [`${CLICKHOUSE_SCHEMA_SETTING} ${CLICKHOUSE_SCHEMA}`],
        newStore,
      });
    return 0;
  }
  const rows = await ch.rows<{ value: string }>(
    sql`SELECT value FROM settings WHERE key = ${CLICKHOUSE_SCHEMA_SETTING}`,
  );
  const stored = Math.max(0, ...rows.map((r) => Number(r.value)).filter(Number.isFinite));
  if (stored > CLICKHOUSE_SCHEMA) {
    throw new CollectorError(
      'store_newer',
      `the store was upgraded by a newer Tidewatch: its ClickHouse schema ${stored} is unknown to this version (${CLICKHOUSE_SCHEMA}). ` +
        'Run the version that upgraded it (or a later one), or restore the backup taken before that upgrade',
      503,
    );
  }
  if (stored < CLICKHOUSE_SCHEMA && !newStore) {
    progress?.({
      phase: 'pending',
      names: [`${CLICKHOUSE_SCHEMA_SETTING} ${CLICKHOUSE_SCHEMA}`],
      newStore,
    });
  }
  return stored;
}

/**
 * `rollup_fill:<rollup name>`: `started` or `done` (settings keep the last value written). Only a
 * start that finds the rollup missing writes `started`, before it claims it.
 */
export const FILL_SETTING = 'rollup_fill:';

/** Each rollup's fill state, by rollup name (settings are read once per start). */
async function fillStates(ch: ClickHouseConnection): Promise<Map<string, string>> {
  const rows = await ch.rows<{ key: string; value: string }>(
    sql`SELECT key, value FROM settings FINAL WHERE startsWith(key, ${FILL_SETTING})`,
  );
  return new Map(rows.map((r) => [r.key.slice(FILL_SETTING.length), r.value]));
}

/**
 * CREATE … IF NOT EXISTS, safe when several collectors start together: 18.16 may answer "is
 * creating right now" to the second one; then the table is there (or soon is).
 */
async function idempotentDdl(ch: ClickHouseConnection, ddl: Sql, table: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await ch.command(ddl);
      return;
    } catch (error) {
      if (attempt >= 50 || !/right now|already exists/i.test((error as Error).message)) throw error;
      if (await ch.tableExists(table).catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
