// One ClickHouse server over HTTP, as the store uses it: the client and its settings, the three
// statement shapes (rows, a command, an insert), versions for ReplacingMergeTree updates, claims
// that exactly one of several collectors wins (and settings written once through them), and
// waiting for erase mutations.
import { createHash } from 'node:crypto';
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { CLUSTER_TABLES, type TableName } from './schema.js';
import { ident, join, type Sql, sql } from './sql.js';

export interface ClickHouseOptions {
  /** `http://host:8123` or `https://…`. */
  url: string;
  database: string;
  username?: string;
  password?: string;
  /** How long an erase waits for its mutations (default 5 minutes). */
  mutationTimeoutMs?: number;
  /** Retry keys per dedup lookup (default KEYS_PER_LOOKUP; tests make it small). */
  keysPerLookup?: number;
}

/** `clickhouse://[user[:password]@]host[:port]/database` (HTTP; `clickhouse+https://` for TLS). */
export function parseClickHouseUrl(url: string): ClickHouseOptions {
  const parsed = new URL(
    url.replace(/^clickhouse(\+https?)?:/, (_, tls) => (tls === '+https' ? 'https:' : 'http:')),
  );
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'tidewatch';
  if (!/^[a-z_][a-z0-9_]*$/i.test(database)) {
    throw new Error(`ClickHouse database name "${database}" must be letters, digits and _`);
  }
  return {
    url: `${parsed.protocol}//${parsed.hostname}:${parsed.port || (parsed.protocol === 'https:' ? 8443 : 8123)}`,
    database,
    username: decodeURIComponent(parsed.username) || 'default',
    password: decodeURIComponent(parsed.password),
  };
}

/** ClickHouse's max_query_size for this store's statements (the server's default is 256 KiB). */
const MAX_QUERY_SIZE = 2 * 1024 * 1024;

/** How long the first request of a start may take (ClickHouse answers it in milliseconds). */
export const START_TIMEOUT_MS = 10_000;

export type Row = Record<string, unknown>;

export class ClickHouseConnection {
  readonly client: ClickHouseClient;
  /** Versions for ReplacingMergeTree(version) updates: µs of the clock, unique within a process. */
  private lastVersion = 0;

  constructor(readonly options: ClickHouseOptions) {
    this.client = this.connect(options.database);
  }

  connect(database: string | undefined, requestTimeout = 300_000): ClickHouseClient {
    return createClient({
      url: this.options.url,
      username: this.options.username ?? 'default',
      password: this.options.password ?? '',
      ...(database ? { database } : {}),
      // Long fleet scans and erases: progress headers keep the idle connection alive meanwhile.
      request_timeout: requestTimeout,
      // The server closes an idle keep-alive socket after 3 s (keep_alive_timeout before 23.11).
      // The client's timer that retires sockets idle for 2.5 s fires late when the event loop is
      // busy, and an insert on a socket the server closed fails with ECONNRESET (seen: a bulk
      // import, a 50,000-row batch built between two inserts). Checking the idle time when a
      // socket is taken does not depend on the timer.
      keep_alive: { idle_socket_ttl: 2_000, eagerly_destroy_stale_sockets: true },
      // Every failure reaches us as a thrown error, which the collector answers and logs in its
      // own words; the client's own logger printed each one again, stack and all, to the console.
      log: { level: ClickHouseLogLevel.OFF },
      clickhouse_settings: {
        output_format_json_quote_64bit_integers: 0,
        max_query_size: String(MAX_QUERY_SIZE),
        send_progress_in_http_headers: 1,
        http_headers_progress_interval_ms: '10000',
      },
    });
  }

  async rows<T = Row>(query: Sql): Promise<T[]> {
    const result = await this.client.query({ query: query.text, format: 'JSONEachRow' });
    return result.json<T>();
  }

  async command(query: Sql): Promise<void> {
    await this.client.command({ query: query.text });
  }

  async insert(table: TableName, values: Row[]): Promise<void> {
    if (values.length === 0) return;
    await this.client.insert({ table, values, format: 'JSONEachRow' });
  }

  nextVersion(): number {
    this.lastVersion = Math.max(this.lastVersion + 1, Date.now() * 1000);
    return this.lastVersion;
  }

  async tableExists(table: string): Promise<boolean> {
    const [found] = await this.rows<{ n: number }>(
      sql`SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = ${table}`,
    );
    return Number(found?.n ?? 0) > 0;
  }

  /**
   * A claim that exactly one of several collectors wins: ClickHouse has no transactions or unique
   * keys, but creating a table is atomic, so of concurrent CREATEs of one name only one succeeds.
   */
  async claim(name: string, ddl?: Sql): Promise<boolean> {
    try {
      await this.command(ddl ?? sql`CREATE TABLE ${ident(name)} (claimed_at Int64) ENGINE = TinyLog`);
      return true;
    } catch (error) {
      if (/already exists|right now/i.test((error as Error).message)) return false;
      throw error;
    }
  }

  /** The stored value of a setting, storing `value` first if the key has none (Store.ensureSetting). */
  async ensureSetting(key: string, value: string): Promise<string> {
    const read = async () =>
      (await this.rows<{ value: string }>(sql`SELECT value FROM settings FINAL WHERE key = ${key}`))[0]
        ?.value;
    const stored = await read();
    if (stored !== undefined) return stored;
    const name = `setting_claim_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    if (await this.claim(name)) {
      await this.insert('settings', [{ key, value }]);
      return value;
    }
    // Another collector won the claim: its value is on the way.
    for (let wait = 0; wait < 300; wait++) {
      const value = await read();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `setting ${key} was claimed but never written (a collector died in between): drop table ${name} and restart`,
    );
  }

  /** Deletes are mutations that run in the background: answer only once none is pending. */
  async waitForMutations(): Promise<void> {
    const deadline = Date.now() + (this.options.mutationTimeoutMs ?? 300_000);
    const tables = CLUSTER_TABLES.map((t) => sql`${t}`);
    for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
      const [pending] = await this.rows<{ n: number }>(
        sql`SELECT count() AS n FROM system.mutations
            WHERE database = ${this.options.database} AND table IN (${join(tables)}) AND is_done = 0`,
      );
      if (Number(pending?.n ?? 0) === 0) return;
      if (Date.now() > deadline) throw new Error('ClickHouse has not finished the erase mutations yet');
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
