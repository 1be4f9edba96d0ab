// `tidewatch serve --help`: every flag with its variable, default and meaning, one line each (the
// README's Configuration table says more). Keyed by the flag names of SERVE_OPTIONS: a test checks
// that every flag is here and in the README.
import { DEFAULT_CONFIG as D } from '@tidewatch/collector/light';

const MIB = 1024 * 1024;

/** [flag with its value, default, meaning] per serve flag. */
export const SERVE_FLAGS: Record<string, [string, string, string]> = {
  host: ['--host H', D.host, 'address to listen on (0.0.0.0 for all)'],
  port: ['--port P', String(D.port), 'port to listen on (0 picks a free one)'],
  store: [
    '--store URL',
    D.store,
    'sqlite:PATH, sqlite:///ABS/PATH, postgres://USER@HOST:PORT/DB, clickhouse://USER@HOST:8123/DB',
  ],
  'admin-token': [
    '--admin-token T',
    'created on first start',
    'an admin token to accept (16+ characters; prefer the variable, flags show in ps)',
  ],
  'body-limit': [
    '--body-limit BYTES',
    `${D.bodyLimit} (1 MiB)`,
    'largest ingest body after gzip is inflated',
  ],
  'headers-timeout': [
    '--headers-timeout MS',
    String(D.headersTimeout),
    'time to send the request headers (then 408)',
  ],
  'request-timeout': ['--request-timeout MS', String(D.requestTimeout), 'time to send the whole request'],
  'log-level': ['--log-level L', D.logLevel, 'fatal, error, warn, info, debug, trace or silent'],
  'log-format': [
    '--log-format F',
    D.logFormat,
    'json (a JSON object per line), text (readable lines) or auto (text at a terminal)',
  ],
  'trust-proxy': [
    '--trust-proxy P',
    'false',
    'believe X-Forwarded-For from: true (any), a hop count, or addresses/CIDRs',
  ],
  'rate-limit-address': [
    '--rate-limit-address N',
    String(D.rateLimitPerAddress),
    'ingest requests per client address per minute (0: off)',
  ],
  'rate-limit-cluster': [
    '--rate-limit-cluster N',
    String(D.rateLimitPerCluster),
    'ingest requests per tracking id per minute (0: off)',
  ],
  'rate-limit-bytes': [
    '--rate-limit-bytes N',
    `${D.rateLimitBytesPerAddress} (${D.rateLimitBytesPerAddress / MIB} MiB)`,
    'ingest body bytes per client address per minute (0: off)',
  ],
  'redis-url': [
    '--redis-url URL',
    'none',
    'redis://HOST:PORT: rate limits shared by every collector using it',
  ],
  'max-connections': ['--max-connections N', String(D.maxConnections), 'open TCP connections at most'],
  'max-connections-per-address': [
    '--max-connections-per-address N',
    String(D.maxConnectionsPerAddress),
    'open TCP connections from one address at most (0: no cap)',
  ],
  'max-inflight-bytes': [
    '--max-inflight-bytes N',
    `${D.maxInflightBytes} (${D.maxInflightBytes / MIB} MiB)`,
    'ingest body bytes held at once (0: no cap); past it 503 overloaded',
  ],
  'store-timeout': [
    '--store-timeout MS',
    String(D.storeTimeout),
    'a write not committed by then is answered 503 (0: wait for ever)',
  ],
  'cors-origin': ['--cors-origin O', 'none', 'a browser origin allowed to call the API (repeatable)'],
  'retention-months': [
    '--retention-months N',
    String(D.retentionMonths),
    'delete data older than N calendar months, at start and daily (0: keep all)',
  ],
  'store-license-subject': [
    '--store-license-subject',
    'off',
    "store a license's subject (a customer name) in clear, not hashed",
  ],
  'tls-cert': ['--tls-cert PEM', 'none', 'serve HTTPS with this certificate (with --tls-key)'],
  'tls-key': ['--tls-key PEM', 'none', 'the certificate’s unencrypted private key'],
};

export function serveHelp(envNameOf: (flag: string) => string): string {
  const rows = Object.entries(SERVE_FLAGS).map(([flag, [usage, fallback, meaning]]) => [
    usage,
    envNameOf(flag),
    fallback,
    meaning,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  ');
  return [
    'usage: tidewatch serve [flags]   (flags win over variables, which win over defaults)',
    '',
    line(['flag', 'variable', 'default', 'meaning']),
    ...rows.map(line),
    '',
    'TIDEWATCH_LICENSE_SALT sets the salt of the license-subject hash (default: generated once, kept in the store).',
    'SIGTERM or Ctrl-C stops gracefully; README: Configuration says more about each flag.',
  ].join('\n');
}
