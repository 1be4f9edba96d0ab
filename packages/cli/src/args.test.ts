// `tidewatch serve` flags and environment for abuse controls, privacy and security.

import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG } from '@tidewatch/collector';
import { describe, expect, it } from 'vitest';
import { envNameOf, joinNegativeValues, SERVE_OPTIONS, serveConfig, UsageError } from './args.js';
import { SERVE_FLAGS, serveHelp } from './serve-help.js';

describe('serve flags: abuse controls, privacy, security', () => {
  it('defaults to no trusted proxy, generous limits, no CORS, 13 months, hashed license subject, plain HTTP', () => {
    const config = serveConfig([], {});
    expect(config).toMatchObject({
      trustProxy: false,
      rateLimitPerAddress: 12_000,
      rateLimitPerCluster: 1_200,
      rateLimitBytesPerAddress: 256 * 1024 * 1024,
      maxConnections: 10_000,
      maxConnectionsPerAddress: 1_000,
      corsOrigins: [],
      retentionMonths: 13,
      storeLicenseSubject: false,
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.tlsCert).toBeUndefined();
    expect(config.rateLimitPerAddress).toBe(DEFAULT_CONFIG.rateLimitPerAddress);
  });

  it('takes only redis:// and rediss:// Redis addresses (anything else would be tried as a socket path)', () => {
    expect(serveConfig(['--redis-url', 'rediss://cache:6380'], {}).redisUrl).toBe('rediss://cache:6380');
    for (const bad of ['http://x', 'localhost:6379', '/tmp/redis.sock']) {
      expect(() => serveConfig(['--redis-url', bad], {}), bad).toThrow(UsageError);
      expect(() => serveConfig([], { TIDEWATCH_REDIS_URL: bad }), bad).toThrow(/redis:\/\//);
    }
  });

  it('reads every setting from flags, and from the environment when no flag is given', () => {
    const flags = serveConfig(
      [
        '--trust-proxy',
        '10.0.0.0/8,127.0.0.1',
        '--rate-limit-address',
        '0',
        '--rate-limit-cluster',
        '50',
        '--rate-limit-bytes',
        '1048576',
        '--redis-url',
        'redis://127.0.0.1:6379',
        '--max-connections',
        '500',
        '--max-connections-per-address',
        '0',
        '--cors-origin',
        'https://a.example',
        '--cors-origin',
        'http://localhost:5173',
        '--retention-months',
        '0',
        '--store-license-subject',
        '--tls-cert',
        'c.pem',
        '--tls-key',
        'k.pem',
      ],
      { TIDEWATCH_RATE_LIMIT_CLUSTER: '7' },
    );
    expect(flags).toMatchObject({
      trustProxy: ['10.0.0.0/8', '127.0.0.1'],
      rateLimitPerAddress: 0,
      rateLimitPerCluster: 50,
      rateLimitBytesPerAddress: 1_048_576,
      redisUrl: 'redis://127.0.0.1:6379',
      maxConnections: 500,
      maxConnectionsPerAddress: 0,
      corsOrigins: ['https://a.example', 'http://localhost:5173'],
      retentionMonths: 0,
      storeLicenseSubject: true,
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
    });
    const env = serveConfig([], {
      TIDEWATCH_TRUST_PROXY: '2',
      TIDEWATCH_CORS_ORIGINS: 'https://a.example,https://b.example',
      TIDEWATCH_STORE_LICENSE_SUBJECT: '1',
      TIDEWATCH_LICENSE_SALT: 'pepper',
      TIDEWATCH_RETENTION_MONTHS: '24',
      TIDEWATCH_MAX_CONNECTIONS_PER_ADDRESS: '32',
      TIDEWATCH_RATE_LIMIT_BYTES: '0',
    });
    expect(env).toMatchObject({
      trustProxy: 2,
      corsOrigins: ['https://a.example', 'https://b.example'],
      storeLicenseSubject: true,
      licenseSalt: 'pepper',
      retentionMonths: 24,
      maxConnectionsPerAddress: 32,
      rateLimitBytesPerAddress: 0,
    });
    // An on/off variable takes 1/true or 0/false/empty; `yes` silently meant off.
    expect(serveConfig([], { TIDEWATCH_STORE_LICENSE_SUBJECT: 'true' }).storeLicenseSubject).toBe(true);
    expect(serveConfig([], { TIDEWATCH_STORE_LICENSE_SUBJECT: '' }).storeLicenseSubject).toBe(false);
    expect(() => serveConfig([], { TIDEWATCH_STORE_LICENSE_SUBJECT: 'yes' })).toThrow(
      /TIDEWATCH_STORE_LICENSE_SUBJECT must be 1 or true \(on\), or 0, false or empty \(off\), not "yes"/,
    );
    expect(serveConfig(['--trust-proxy', 'true'], {}).trustProxy).toBe(true);
    expect(serveConfig(['--store-timeout', '0'], {}).storeTimeout).toBe(0);
    expect(serveConfig([], { TIDEWATCH_STORE_TIMEOUT: '5000' }).storeTimeout).toBe(5000);
    expect(() => serveConfig([], { TIDEWATCH_RETENTION_MONTHS: '' })).toThrow(
      /TIDEWATCH_RETENTION_MONTHS \(--retention-months\) must be an integer/,
    );
    expect(() => serveConfig([], { TIDEWATCH_HOST: ' ' })).toThrow(
      /TIDEWATCH_HOST \(--host\) must not be empty/,
    );
  });

  it('names the environment variable when a bad value came from it, and the flag when from the flag', () => {
    expect(() => serveConfig([], { TIDEWATCH_ADMIN_TOKEN: 'short' })).toThrow(
      /^TIDEWATCH_ADMIN_TOKEN \(--admin-token\) must be at least 16 characters/,
    );
    expect(() => serveConfig([], { TIDEWATCH_RATE_LIMIT_CLUSTER: '-1' })).toThrow(
      /^TIDEWATCH_RATE_LIMIT_CLUSTER \(--rate-limit-cluster\) must be an integer/,
    );
    expect(() => serveConfig([], { TIDEWATCH_CORS_ORIGINS: 'example.com' })).toThrow(
      /^TIDEWATCH_CORS_ORIGINS \(--cors-origin\) must be an origin/,
    );
    // The flag wins over the variable, so a bad flag is named as the flag.
    expect(() => serveConfig(['--port', 'abc'], { TIDEWATCH_PORT: '8080' })).toThrow(
      /^--port must be an integer/,
    );
    expect(() => serveConfig(['--port=abc'], { TIDEWATCH_PORT: '8080' })).toThrow(
      /^--port must be an integer/,
    );
  });

  it('refuses values that cannot be right, with a message', () => {
    const bad: [string[], RegExp][] = [
      [['--trust-proxy', 'everyone'], /--trust-proxy takes/],
      [['--cors-origin', 'https://a.example/path'], /--cors-origin must be an origin/],
      [['--cors-origin', '*'], /--cors-origin must be an origin/],
      [['--tls-cert', 'c.pem'], /--tls-cert and --tls-key go together/],
      [['--rate-limit-address=-1'], /--rate-limit-address must be an integer/],
      [['--max-connections', '0'], /--max-connections must be an integer/],
      [['--max-connections-per-address=-1'], /--max-connections-per-address must be an integer/],
      // Not numbers at all, though Number() reads them as some: '' as 0, hex, exponents.
      [['--port', ''], /--port must be an integer/],
      [['--port', '0x10'], /--port must be an integer/],
      [['--port', '4.12e4'], /--port must be an integer/],
      [['--rate-limit-address', ''], /--rate-limit-address must be an integer/],
      [['--store-timeout', '1.5'], /--store-timeout must be an integer/],
      [['--host', ''], /--host must not be empty/],
      [['--retention-months', 'forever'], /--retention-months must be an integer/],
      [['--admin-token', 'fifteen-chars15'], /--admin-token must be at least 16 characters/],
    ];
    for (const [argv, message] of bad) {
      expect(() => serveConfig(argv, {}), argv.join(' ')).toThrow(UsageError);
      expect(() => serveConfig(argv, {}), argv.join(' ')).toThrow(message);
    }
    // The same rule for the environment; 16 characters is enough.
    expect(() => serveConfig([], { TIDEWATCH_ADMIN_TOKEN: 'short' })).toThrow(/at least 16 characters/);
    expect(() => serveConfig([], { TIDEWATCH_ADMIN_TOKEN: '' })).toThrow(
      /^TIDEWATCH_ADMIN_TOKEN \(--admin-token\) is empty: set a long random secret.*or remove the setting/,
    );
    expect(serveConfig(['--admin-token', 'sixteen-chars-16'], {}).adminToken).toBe('sixteen-chars-16');
  });
});

describe('serve --help', () => {
  it('lists every serve flag with its variable and default, as the README does', () => {
    const help = serveHelp(envNameOf);
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const flag of Object.keys(SERVE_OPTIONS)) {
      expect(SERVE_FLAGS[flag], flag).toBeDefined();
      expect(help).toMatch(new RegExp(`^--${flag}\\b.*${envNameOf(flag)}`, 'm'));
      expect(readme, `README: Configuration lists --${flag}`).toMatch(
        new RegExp(`^\\| [^|]*\`--${flag}\\b`, 'm'),
      );
    }
    expect(Object.keys(SERVE_FLAGS).sort()).toEqual(Object.keys(SERVE_OPTIONS).sort());
    // Defaults are the collector's own.
    expect(help).toMatch(new RegExp(`^--port P .* ${DEFAULT_CONFIG.port} `, 'm'));
  });
});

describe('negative flag values', () => {
  it('reads `--flag -1` as `--flag=-1`, so that the flag says what it takes (not "ambiguous")', () => {
    expect(joinNegativeValues(['serve', '--port', '-1', '--store', 'sqlite:x.db'])).toEqual([
      'serve',
      '--port=-1',
      '--store',
      'sqlite:x.db',
    ]);
    expect(joinNegativeValues(['query', 'active', '--limit', '-.5'])).toEqual([
      'query',
      'active',
      '--limit=-.5',
    ]);
    // Not a number, after `--`, or after a short flag or a flag with its value: left alone.
    expect(joinNegativeValues(['--port', '-h'])).toEqual(['--port', '-h']);
    expect(joinNegativeValues(['--', '--port', '-1'])).toEqual(['--', '--port', '-1']);
    expect(joinNegativeValues(['-p', '-1', '--port=2', '-3'])).toEqual(['-p', '-1', '--port=2', '-3']);
    expect(() => serveConfig(joinNegativeValues(['--port', '-1']), {})).toThrow(
      /--port must be an integer from 0 to 65535, not "-1"/,
    );
  });
});
