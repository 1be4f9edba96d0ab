// Flags and environment for every command, read in this one place (STYLE.md).
import { parseArgs } from 'node:util';
import { type CollectorConfig, DEFAULT_CONFIG } from '@tidewatch/collector';

export class UsageError extends Error {}

function integer(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, not "${value}"`);
  return n;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function serveConfig(argv: string[], env: NodeJS.ProcessEnv): CollectorConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      store: { type: 'string' },
      'admin-token': { type: 'string' },
      'body-limit': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  const logLevel = values['log-level'] ?? env.TIDEWATCH_LOG_LEVEL ?? DEFAULT_CONFIG.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
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
  const adminToken = values['admin-token'] ?? env.TIDEWATCH_ADMIN_TOKEN;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new UsageError('--admin-token must be at least 16 characters (use a long random secret)');
  }
  return {
    ...DEFAULT_CONFIG,
    host: values.host ?? env.TIDEWATCH_HOST ?? DEFAULT_CONFIG.host,
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
  };
}

export function storeUrl(values: { store?: string | undefined }, env: NodeJS.ProcessEnv): string {
  return values.store ?? env.TIDEWATCH_STORE ?? DEFAULT_CONFIG.store;
}
