// The collector's configuration: one typed object, read from flags and environment in one place
// (the CLI), with the defaults documented in the README's configuration table.
export interface CollectorConfig {
  host: string;
  port: number;
  /** `sqlite:PATH`, `postgres://...` (or `postgresql://`) or `clickhouse://...` (CONTRACT.md, README "Stores"). */
  store: string;
  /** An admin token to accept; when unset, the first start creates one and prints it. */
  adminToken?: string | undefined;
  /** Largest ingest body in bytes, after gzip is inflated. */
  bodyLimit: number;
  /** Milliseconds a client may take to send its request headers; then 408 and the connection closes. */
  headersTimeout: number;
  /** Milliseconds a client may take to send its whole request, body included (at least headersTimeout). */
  requestTimeout: number;
  /** Rows per write transaction (group commit). */
  maxBatchRows: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * `json`: one JSON object per line (for log shippers); `text`: one readable line per entry;
   * `auto`: text when stdout is a terminal, JSON otherwise.
   */
  logFormat: 'auto' | 'json' | 'text';

  /**
   * Which proxies' `X-Forwarded-For` to believe for the client address: false (none: the TCP peer
   * is the client), true (any), a hop count, or addresses/CIDRs of the proxies.
   */
  trustProxy: boolean | number | string[];
  /** Ingest requests per client address per minute (0: no limit). See README: Abuse controls. */
  rateLimitPerAddress: number;
  /** Ingest requests per tracking id per minute (0: no limit). */
  rateLimitPerCluster: number;
  /**
   * Ingest body bytes (after gzip) per client address per minute (0: no limit): what bounds the
   * decoding CPU one address can buy, which the request count does not.
   */
  rateLimitBytesPerAddress: number;
  /** `redis://HOST:PORT`: share the rate limits between collectors; unset: each process alone. */
  redisUrl?: string | undefined;
  /** Open TCP connections at most; more are closed at once. */
  maxConnections: number;
  /**
   * Open TCP connections from one client address at most (0: no cap); more from it are closed at
   * once. Not applied behind a trusted proxy (trustProxy), whose own address every connection has.
   */
  maxConnectionsPerAddress: number;
  /**
   * Ingest body bytes held at once, across all clients (0: no cap); a request past it is answered
   * 503 `overloaded` with Retry-After before its body is read (abuse/inflight-bytes.ts).
   */
  maxInflightBytes: number;
  /**
   * An ingest write the store has not committed after this many ms is answered 503 (a stalled
   * store must not hold every request and its body in memory); 0: wait for ever.
   */
  storeTimeout: number;
  /** Origins allowed to call the API from a browser (CORS); empty: none (the dashboard is same-origin). */
  corsOrigins: string[];
  /** Months raw rows and rollups are kept (by receive day); 0 keeps everything. */
  retentionMonths: number;
  /** Store the license's `sub` (a customer name) in clear instead of as a salted hash. */
  storeLicenseSubject: boolean;
  /** Salt of the license-subject hash; unset: one is generated once per store and kept in it. */
  licenseSalt?: string | undefined;
  /** PEM files: serve HTTPS with this certificate and key (both or neither). */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

/**
 * Rate limit arithmetic (README: Abuse controls). RisingWave never retries, so a refused report is
 * lost: the limits must never bite a real fleet, only a flood. Each node sends one report right
 * after start and then every 6 h. A company running 1,000 clusters of 10 nodes behind one NAT
 * address sends about 10,000 / 360 min ≈ 28 reports a minute, and 10,000 in the minute after
 * restarting all of them at once: under 12,000 per address per minute. One cluster of 500 nodes
 * restarting sends 500 reports: under 1,200 per tracking id per minute. Events have their own budget
 * per tracking id, ten times that (EVENT_BUDGET_FACTOR): 2.3+ nodes post a batch every 10 s and at
 * every 100 events, 2.0–2.2 nodes one request per event, with no cap on how often. Bytes: the
 * 10,000 reports of that restart are ~50 MB (a meta report is a few KiB), and an agent's report
 * ~64 KiB: 256 MiB per address per minute, while one address is held to ~4 of the largest (1 MiB)
 * bodies a second, ~50–80 ms of decoding CPU.
 */
export const DEFAULT_CONFIG: CollectorConfig = {
  host: '127.0.0.1',
  port: 8080,
  store: 'sqlite:./data/tidewatch.db',
  bodyLimit: 1024 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  maxBatchRows: 2000,
  logLevel: 'info',
  logFormat: 'auto',
  trustProxy: false,
  rateLimitPerAddress: 12_000,
  rateLimitPerCluster: 1_200,
  rateLimitBytesPerAddress: 256 * 1024 * 1024,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1_000,
  maxInflightBytes: 32 * 1024 * 1024,
  storeTimeout: 30_000,
  corsOrigins: [],
  retentionMonths: 13,
  storeLicenseSubject: false,
};
