// The collector's configuration: one typed object, read from flags and environment in one place
// (the CLI), with the defaults documented in the README's configuration table.
export interface CollectorConfig {
  host: string;
  port: number;
  /** `sqlite:PATH` or `postgres://...` (CONTRACT.md). */
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
}

export const DEFAULT_CONFIG: CollectorConfig = {
  host: '127.0.0.1',
  port: 8080,
  store: 'sqlite:./data/tidewatch.db',
  bodyLimit: 1024 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  maxBatchRows: 2000,
  logLevel: 'info',
};
