// The command line's help texts, kept apart so that printing them loads no command's module.

export const HELP = `tidewatch: telemetry for RisingWave and databases on Node.js

usage:
  tidewatch serve [--host H] [--port P] [--store URL] [--admin-token T] [--body-limit BYTES] [--log-level L]
      [--headers-timeout MS] [--request-timeout MS]
      [--trust-proxy true|HOPS|CIDRS] [--rate-limit-address N] [--rate-limit-cluster N] [--rate-limit-bytes N] [--redis-url URL]
      [--max-connections N] [--max-connections-per-address N] [--max-inflight-bytes N] [--store-timeout MS]
      [--cors-origin ORIGIN]... [--retention-months N] [--store-license-subject]
      [--tls-cert PEM --tls-key PEM]        (README: Configuration)
  tidewatch token create --role read|admin [--label TEXT] [--expires-days N] | list | revoke ID   [--store URL]
  tidewatch audit [--limit N] [--json] [--store URL]     the audit log of admin actions, newest first
  tidewatch simulate --clusters N --days D [--target URL] [--token T] [--seed S] [--agents] [--now TIME]
      a realistic fleet through the real wire formats; with an admin --token, D days of history go to
      /admin/import with backdated receive times, without one only the last day goes to the public
      ingest routes (tidewatch simulate --help)
  tidewatch query <question> [--from D] [--to D] [--json] [--target URL] [--token T]
      the query API as aligned tables; questions: overview, active, versions, adoption, breakdown,
      distribution, connectors, clusters, events, event-counts, metrics, agent-events, cluster,
      history (tidewatch query --help says what each answers)
  tidewatch --version

environment: TIDEWATCH_HOST, TIDEWATCH_PORT, TIDEWATCH_STORE, TIDEWATCH_ADMIN_TOKEN,
             TIDEWATCH_BODY_LIMIT, TIDEWATCH_LOG_LEVEL, TIDEWATCH_HEADERS_TIMEOUT,
             TIDEWATCH_REQUEST_TIMEOUT, TIDEWATCH_TRUST_PROXY, TIDEWATCH_RATE_LIMIT_ADDRESS,
             TIDEWATCH_RATE_LIMIT_CLUSTER, TIDEWATCH_RATE_LIMIT_BYTES, TIDEWATCH_REDIS_URL,
             TIDEWATCH_MAX_CONNECTIONS, TIDEWATCH_MAX_CONNECTIONS_PER_ADDRESS, TIDEWATCH_MAX_INFLIGHT_BYTES,
             TIDEWATCH_STORE_TIMEOUT,
             TIDEWATCH_CORS_ORIGINS (comma-separated),
             TIDEWATCH_RETENTION_MONTHS, TIDEWATCH_STORE_LICENSE_SUBJECT=1, TIDEWATCH_LICENSE_SALT,
             TIDEWATCH_TLS_CERT, TIDEWATCH_TLS_KEY; for query: TIDEWATCH_URL, TIDEWATCH_TOKEN
store URLs:  sqlite:PATH (default sqlite:./data/tidewatch.db, relative to the working directory),
             postgres://USER@HOST:PORT/DB, clickhouse://USER@HOST:8123/DB`;

export const TOKEN_USAGE = `usage: tidewatch token create --role read|admin [--label TEXT] [--expires-days N] [--store URL]
       tidewatch token list [--store URL]
       tidewatch token revoke ID [--store URL]`;

/** \`tidewatch token --help\`. */
export const TOKEN_HELP = `${TOKEN_USAGE}

Manages access tokens directly in the store (run it where the store is reachable; the collector
may be running). A token is shown once, at create; the store keeps only its hash.
  create    a new token: --role read (query routes, the dashboard) or admin (also /admin routes);
            --label names it in \`token list\` and the audit log; --expires-days N (1 to 36500)
            makes it stop working after N days (default: never)
  list      every token: id, role, state (active, expired, revoked), created, expires, label
  revoke ID stops token ID at once (its id from \`token list\`); exit code 1 if no active token has it
  --store URL   the collector's existing store (default: TIDEWATCH_STORE, else sqlite:./data/tidewatch.db)`;

/** \`tidewatch audit --help\`. */
export const AUDIT_HELP = `usage: tidewatch audit [--limit N] [--json] [--store URL]

The audit log of admin actions, newest first, read directly from the store: erasures, unblocks,
tokens created and revoked, imports and internal tags, each with its time and actor.
  --limit N     how many entries (1 to 10000, default 50)
  --json        entries as JSON (details as JSON objects, as GET /admin/audit answers them)
  --store URL   the collector's existing store (default: TIDEWATCH_STORE, else sqlite:./data/tidewatch.db)`;
