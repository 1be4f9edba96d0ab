// `serve`'s flags and environment, and the parts every command shares (integers, the store and
// collector addresses, usage errors); the other commands read their own flags with parseArgs.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type CollectorConfig, DEFAULT_CONFIG, type Store, sqliteFile } from '@tidewatch/collector/light';

export class UsageError extends Error {}

export function integer(value: string, name: string, min: number, max: number): number {
  // Decimal digits only: Number() would take '' as 0 (an empty TIDEWATCH_RATE_LIMIT_ADDRESS turned
  // the limit off), '0x10' as 16 and '4.1e4' as 41000.
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, not "${value}"`);
  return n;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LOG_FORMATS = ['auto', 'json', 'text'] as const;

/**
 * `--port -1` read as `--port=-1`: parseArgs refuses a value that starts with a dash as
 * "ambiguous" and suggests `--port=-XYZ`, which hides the real problem; joined, the flag's own
 * check says which values it takes. Only negative numbers after a long flag, before any `--`.
 */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') return joined.concat(argv.slice(i));
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(token) && next !== undefined && /^-\.?\d/.test(next)) {
      joined.push(`${token}=${next}`);
      i++;
    } else joined.push(token);
  }
  return joined;
}

/** The environment variable that stands in for a serve flag. */
export function envNameOf(flag: string): string {
  return flag === 'cors-origin'
    ? 'TIDEWATCH_CORS_ORIGINS'
    : `TIDEWATCH_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** The flags of `tidewatch serve`; each has a TIDEWATCH_* variable (envNameOf). */
export const SERVE_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  store: { type: 'string' },
  'admin-token': { type: 'string' },
  'body-limit': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'trust-proxy': { type: 'string' },
  'rate-limit-address': { type: 'string' },
  'rate-limit-cluster': { type: 'string' },
  'rate-limit-bytes': { type: 'string' },
  'redis-url': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-address': { type: 'string' },
  'max-inflight-bytes': { type: 'string' },
  'store-timeout': { type: 'string' },
  'cors-origin': { type: 'string', multiple: true },
  'retention-months': { type: 'string' },
  'store-license-subject': { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;

/**
 * TIDEWATCH_* variables read elsewhere: the CLI's queries, the agent (TELEMETRY, TELEMETRY_DEBUG),
 * the demo (ENDPOINT, INTERVAL_MS, FIRST_REPORT_MS, DATA_DIR) and the tests.
 */
const OTHER_VARIABLES = new Set(
  [
    'URL',
    'TOKEN',
    'LICENSE_SALT',
    'TELEMETRY',
    'TELEMETRY_DEBUG',
    'ENDPOINT',
    'INTERVAL_MS',
    'FIRST_REPORT_MS',
    'DATA_DIR',
    'BIN',
  ].map((name) => `TIDEWATCH_${name}`),
);

/**
 * TIDEWATCH_* variables that nothing reads, each with the serve variable it is closest to (a
 * misspelt TIDEWATCH_STORE silently opened the default store instead). Tests' TIDEWATCH_TEST_*
 * are left alone.
 */
export function unknownVariables(env: NodeJS.ProcessEnv): { name: string; closest: string | null }[] {
  const known = Object.keys(SERVE_OPTIONS).map(envNameOf);
  return Object.keys(env)
    .filter((name) => name.startsWith('TIDEWATCH_') && !name.startsWith('TIDEWATCH_TEST_'))
    .filter((name) => !known.includes(name) && !OTHER_VARIABLES.has(name))
    .map((name) => {
      const [closest] = known
        .map((k) => [k, editDistance(name, k)] as const)
        .sort((a, b) => a[1] - b[1])
        .filter(([, d]) => d <= 2);
      return { name, closest: closest?.[0] ?? null };
    });
}

/** Levenshtein distance; by hand, as the only use is a one-off hint over ~20 short names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

export function serveConfig(argv: string[], env: NodeJS.ProcessEnv): CollectorConfig {
  try {
    return readServeConfig(argv, env);
  } catch (error) {
    // Messages name the flag; when the value came from the environment instead, name the variable
    // the operator has to fix (a systemd unit or a container spec, not the command line).
    if (!(error instanceof UsageError)) throw error;
    const flag = /^--([a-z-]+)/.exec(error.message)?.[1];
    const fromFlag = argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));
    if (!flag || fromFlag || env[envNameOf(flag)] === undefined) throw error;
    throw new UsageError(`${envNameOf(flag)} (--${flag})${error.message.slice(flag.length + 2)}`);
  }
}

function readServeConfig(argv: string[], env: NodeJS.ProcessEnv): CollectorConfig {
  const { values } = parseArgs({
    args: argv,
    options: SERVE_OPTIONS,
    strict: true,
  });
  const flag = (name: keyof typeof values, envName: string): string | undefined => {
    const value = values[name] ?? env[envName];
    return typeof value === 'string' ? value : undefined;
  };
  const number = (name: keyof typeof values, envName: string, fallback: number, min: number, max: number) => {
    const value = flag(name, envName);
    return value === undefined ? fallback : integer(value, `--${name}`, min, max);
  };
  const tlsCert = flag('tls-cert', 'TIDEWATCH_TLS_CERT');
  const tlsKey = flag('tls-key', 'TIDEWATCH_TLS_KEY');
  if (Boolean(tlsCert) !== Boolean(tlsKey)) {
    throw new UsageError('--tls-cert and --tls-key go together (a PEM certificate and its PEM key)');
  }
  const corsOrigins = values['cors-origin'] ?? env.TIDEWATCH_CORS_ORIGINS?.split(',') ?? [];
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new UsageError(
        `--cors-origin must be an origin like https://example.com (no path), not "${origin}"`,
      );
    }
  }
  const storeLicenseSubject =
    values['store-license-subject'] ??
    switchVariable(env.TIDEWATCH_STORE_LICENSE_SUBJECT, 'TIDEWATCH_STORE_LICENSE_SUBJECT');
  const logLevel = values['log-level'] ?? env.TIDEWATCH_LOG_LEVEL ?? DEFAULT_CONFIG.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const logFormat = values['log-format'] ?? env.TIDEWATCH_LOG_FORMAT ?? DEFAULT_CONFIG.logFormat;
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, not "${logFormat}"`);
  }
  const port = values.port ?? env.TIDEWATCH_PORT;
  const bodyLimit = values['body-limit'] ?? env.TIDEWATCH_BODY_LIMIT;
  const milliseconds = (flag: 'headers-timeout' | 'request-timeout', envName: string, fallback: number) => {
    const value = values[flag] ?? env[envName];
    return value === undefined ? fallback : integer(value, `--${flag}`, 100, 3_600_000);
  };
  const headersTimeout = milliseconds(
    'headers-timeout',
    'TIDEWATCH_HEADERS_TIMEOUT',
    DEFAULT_CONFIG.headersTimeout,
  );
  const requestTimeout = milliseconds(
    'request-timeout',
    'TIDEWATCH_REQUEST_TIMEOUT',
    DEFAULT_CONFIG.requestTimeout,
  );
  if (requestTimeout < headersTimeout) {
    throw new UsageError(
      '--request-timeout must be at least --headers-timeout (the body comes after the headers)',
    );
  }
  const host = values.host ?? env.TIDEWATCH_HOST ?? DEFAULT_CONFIG.host;
  if (host.trim() === '') {
    // An empty host makes Node listen on every interface: never by accident.
    throw new UsageError(
      '--host must not be empty (0.0.0.0 listens on every interface, 127.0.0.1 on this machine only)',
    );
  }
  const adminToken = values['admin-token'] ?? env.TIDEWATCH_ADMIN_TOKEN;
  // An empty variable (`TIDEWATCH_ADMIN_TOKEN=` in a compose file) is refused, not read as unset:
  // the operator meant to configure a secret, and unset would mint a token of its own.
  if (adminToken === '') {
    throw new UsageError(
      '--admin-token is empty: set a long random secret (at least 16 characters), or remove the setting to have a first start create an admin token',
    );
  }
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new UsageError('--admin-token must be at least 16 characters (use a long random secret)');
  }
  return {
    ...DEFAULT_CONFIG,
    host,
    port: port === undefined ? DEFAULT_CONFIG.port : integer(port, '--port', 0, 65535),
    store: values.store ?? env.TIDEWATCH_STORE ?? DEFAULT_CONFIG.store,
    adminToken,
    bodyLimit:
      bodyLimit === undefined
        ? DEFAULT_CONFIG.bodyLimit
        : integer(bodyLimit, '--body-limit', 1024, 64 * 1024 * 1024),
    headersTimeout,
    requestTimeout,
    logLevel: logLevel as CollectorConfig['logLevel'],
    logFormat: logFormat as CollectorConfig['logFormat'],
    trustProxy: trustProxy(flag('trust-proxy', 'TIDEWATCH_TRUST_PROXY')),
    rateLimitPerAddress: number(
      'rate-limit-address',
      'TIDEWATCH_RATE_LIMIT_ADDRESS',
      DEFAULT_CONFIG.rateLimitPerAddress,
      0,
      1e9,
    ),
    rateLimitPerCluster: number(
      'rate-limit-cluster',
      'TIDEWATCH_RATE_LIMIT_CLUSTER',
      DEFAULT_CONFIG.rateLimitPerCluster,
      0,
      1e9,
    ),
    rateLimitBytesPerAddress: number(
      'rate-limit-bytes',
      'TIDEWATCH_RATE_LIMIT_BYTES',
      DEFAULT_CONFIG.rateLimitBytesPerAddress,
      0,
      2 ** 50,
    ),
    redisUrl: redisUrl(flag('redis-url', 'TIDEWATCH_REDIS_URL')),
    maxConnections: number(
      'max-connections',
      'TIDEWATCH_MAX_CONNECTIONS',
      DEFAULT_CONFIG.maxConnections,
      1,
      1e6,
    ),
    storeTimeout: number(
      'store-timeout',
      'TIDEWATCH_STORE_TIMEOUT',
      DEFAULT_CONFIG.storeTimeout,
      0,
      3_600_000,
    ),
    maxConnectionsPerAddress: number(
      'max-connections-per-address',
      'TIDEWATCH_MAX_CONNECTIONS_PER_ADDRESS',
      DEFAULT_CONFIG.maxConnectionsPerAddress,
      0,
      1e6,
    ),
    maxInflightBytes: number(
      'max-inflight-bytes',
      'TIDEWATCH_MAX_INFLIGHT_BYTES',
      DEFAULT_CONFIG.maxInflightBytes,
      0,
      2 ** 40,
    ),
    corsOrigins,
    retentionMonths: number(
      'retention-months',
      'TIDEWATCH_RETENTION_MONTHS',
      DEFAULT_CONFIG.retentionMonths,
      0,
      1200,
    ),
    storeLicenseSubject,
    licenseSalt: env.TIDEWATCH_LICENSE_SALT,
    tlsCert,
    tlsKey,
  };
}

/**
 * `--trust-proxy`: `true` (every proxy), a hop count, or comma-separated proxy addresses/CIDRs
 * (`10.0.0.0/8,127.0.0.1`). Unset or `false`: the TCP peer is the client.
 */
export function trustProxy(value: string | undefined): CollectorConfig['trustProxy'] {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return integer(value, '--trust-proxy', 1, 100);
  const proxies = value.split(',').map((p) => p.trim());
  if (proxies.some((p) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(p))) {
    throw new UsageError(
      `--trust-proxy takes true, a hop count, or proxy addresses/CIDRs separated by commas, not "${value}"`,
    );
  }
  return proxies;
}

/** An on/off variable: `1`/`true` or `0`/`false`/empty; anything else (a `yes` read as off) is refused. */
function switchVariable(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new UsageError(`${name} must be 1 or true (on), or 0, false or empty (off), not "${value}"`);
}

export function storeUrl(values: { store?: string | undefined }, env: NodeJS.ProcessEnv): string {
  return values.store ?? env.TIDEWATCH_STORE ?? DEFAULT_CONFIG.store;
}

/**
 * The store of a command that works on an existing one (token, audit). The default store is a
 * path relative to the current directory: run from anywhere else, such a command would create a
 * new empty store there and mint tokens the running collector never sees. So the default must
 * exist; a store named with --store or TIDEWATCH_STORE is opened (or created) as asked.
 */
export function existingStoreUrl(values: { store?: string | undefined }, env: NodeJS.ProcessEnv): string {
  const url = storeUrl(values, env);
  // Only SQLite files can be created by mistake: a server store that does not exist fails to open.
  if (!url.startsWith('sqlite:') || url === 'sqlite::memory:') return url;
  const path = sqliteFile(url) ?? resolve(url.slice('sqlite:'.length));
  if (existsSync(path)) return url;
  if (values.store !== undefined || env.TIDEWATCH_STORE !== undefined) {
    // A typo would create a new, empty store, and tokens no collector ever sees.
    throw new UsageError(
      `no store at ${path}: --store must name the collector's existing store (start the collector on it first)`,
    );
  }
  throw new UsageError(
    `no store at ${path}: run this where the collector runs (its default store, ${url}, is relative to ` +
      'the directory it was started in), or name the store with --store URL or TIDEWATCH_STORE',
  );
}

/**
 * Sets up the store's schema if it is new, and refuses to upgrade an existing one: `tidewatch
 * token` or `audit` run against a live store must not migrate it behind its collectors' backs
 * (an older collector still serving it would then be refused at its next start). Upgrading is
 * starting the new version's collector (docs/deploy.md, Upgrading).
 */
export async function migrateNewOnly(store: Store): Promise<void> {
  await store.migrate((step) => {
    if (step.phase === 'pending' && !step.newStore) {
      throw new UsageError(
        `the store was written by an older Tidewatch and needs upgrading (${step.names.join(', ')}); ` +
          'upgrade it by starting this version of the collector on it (docs/deploy.md, Upgrading), then run this again',
      );
    }
  });
}

/** A Redis address (redis:// or rediss://); anything else would be tried as a socket path. */
function redisUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let protocol = '';
  try {
    protocol = new URL(value).protocol;
  } catch {
    // Not a URL at all: refused below.
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new UsageError(
      `--redis-url must be a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379), not "${value}"`,
    );
  }
  return value;
}

/**
 * The collector a client command talks to (`query`, `simulate`): --target, else TIDEWATCH_URL, else
 * the default address; an http(s) URL, or a UsageError that says so (`127.0.0.1:8080` without the
 * scheme was reported as a collector that cannot be reached).
 */
export function targetUrl(values: { target?: string | undefined }, env: NodeJS.ProcessEnv): string {
  const target = (values.target ?? env.TIDEWATCH_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`--target must be a URL such as http://127.0.0.1:8080, not "${target}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `--target must be an http:// or https:// URL such as http://127.0.0.1:8080, not "${target}"`,
    );
  }
  return target;
}
