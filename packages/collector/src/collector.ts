// Starts a collector process: open and migrate the store, make sure an admin token exists, serve.
// Shutdown stops accepting, lets in-flight requests finish (their writes commit), then closes the
// store.

import { createServer } from 'node:net';
import type { Logger } from 'pino';
import { hashToken, newToken, tokenRecord } from './auth/tokens.js';
import { type CollectorConfig, DEFAULT_CONFIG } from './config.js';
import { CollectorError } from './errors.js';
import { logDestination, startupLogger } from './http/logging.js';
import { tlsFiles } from './http/tls-files.js';
import { buildServer, type Collector, type ServerRuntime } from './server.js';
import { openStore } from './store/open-store.js';
import { type ServeLock, takeServeLock } from './store/sqlite/serve-lock.js';
import { assertWritableSqliteFile } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/store.js';
import { sqliteFile } from './store/store-url.js';

export interface RunningCollector extends Collector {
  /** `http://HOST:PORT`, with the port actually bound (for `--port 0`). */
  url: string;
  /** The admin token created on this start (first start only), shown once. */
  createdAdminToken: string | null;
  close(): Promise<void>;
}

const CONFIGURED = 'configured (--admin-token)';

/**
 * The configured token is accepted as admin; without one, the first start mints one (unless an
 * admin token exists). A rotated secret revokes the one configured before it, and the revocation
 * is audited. A start without any secret revokes nothing: collectors share a store, and one host
 * missing the variable must not lock every other collector's admin out (it revoked the shared
 * secret and minted a token of its own); a removed secret is revoked with `tidewatch token revoke`.
 */
async function ensureAdminToken(
  store: Store,
  configured: string | undefined,
  log: Pick<Logger, 'warn'>,
): Promise<string | null> {
  const now = Date.now();
  const current = configured ? hashToken(configured) : null;
  for (const token of await store.listTokens()) {
    if (current === null) break;
    if (token.label !== CONFIGURED || token.revokedAt !== null || token.hash === current) continue;
    if (!(await store.revokeToken(token.id, now))) continue;
    await store.appendAudit({
      at: now,
      actor: 'collector',
      action: 'token_revoke',
      target: token.id,
      details: JSON.stringify({ reason: 'no longer configured (--admin-token)' }),
    });
    // Other collectors of the store still configured with it answer 401 to it from now on.
    log.warn(
      { token: token.id },
      `revoked the admin secret configured before (${token.id}): --admin-token changed; collectors sharing this store must restart with the new one`,
    );
  }
  if (configured) {
    await store.putToken(tokenRecord(configured, 'admin', CONFIGURED, now));
    return null;
  }
  const token = newToken('admin', 'created on first start', now);
  if (!(await store.createFirstAdminToken(token.record))) return null;
  await store.appendAudit({
    at: now,
    actor: 'collector',
    action: 'token_create',
    target: token.record.id,
    details: JSON.stringify({ role: 'admin', label: token.record.label }),
  });
  return token.secret;
}

/**
 * Runs the store's migrations, saying what happens: a backfill over millions of rows can take
 * minutes, so an upgrade names each step as it goes; a new store says once that it is created.
 */
async function migrateLogged(store: Store, log: Logger): Promise<void> {
  const started = Date.now();
  let upgrading = false;
  let announcedNew = false;
  const migrated = await store.migrate((step) => {
    if (step.phase === 'applied') {
      if (upgrading) log.info({ migration: step.name, ms: step.ms }, `store schema: ${step.name} applied`);
      return;
    }
    upgrading = !step.newStore;
    // ClickHouse announces each rollup it creates: a new store is said once.
    if (!upgrading && announcedNew) return;
    announcedNew ||= !upgrading;
    const steps = `${step.names.length} step${step.names.length === 1 ? '' : 's'}`;
    // A new store's steps are listed once, in the line that says they were applied.
    if (!upgrading) log.info('store schema: a new store, creating it');
    else
      log.info(
        { migrations: step.names },
        `store schema: upgrading, ${steps} to apply before serving (on a large store this may take minutes)`,
      );
  });
  if (migrated.length === 0) {
    // It announced steps, then found them applied once it held the migration lock: another
    // collector starting on the same store did them (a review saw an "upgrading" line left open).
    if (upgrading) log.info('store schema: already upgraded by another collector starting at the same time');
    return;
  }
  const range = migrated.length > 1 ? `${migrated[0]} … ${migrated.at(-1)}` : migrated[0];
  log.info(
    { migrations: migrated, ms: Date.now() - started },
    `store schema updated: ${migrated.length} step${migrated.length === 1 ? '' : 's'} applied (${range})`,
  );
}

/**
 * Fails at once when the address is taken (a second collector, say), before the store is opened:
 * an upgrade's migrations or the retention pass can take minutes, and a store path that does not
 * exist yet would be created for nothing. The real listen still catches a port taken in between.
 */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

export async function startCollector(
  overrides: Partial<CollectorConfig> = {},
  given: ServerRuntime = {},
): Promise<RunningCollector> {
  const config: CollectorConfig = { ...DEFAULT_CONFIG, ...overrides };
  const runtime = { ...given, logStream: given.logStream ?? (await logDestination(config.logFormat)) };
  // Before the store is opened: a mistyped TLS path must not wait for (or leave behind) a new
  // store, or an upgrade's migrations, before it is reported.
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) {
    throw new CollectorError(
      'invalid_tls',
      'TLS needs both a certificate (--tls-cert) and its key (--tls-key)',
    );
  }
  const tls = config.tlsCert && config.tlsKey ? tlsFiles(config.tlsCert, config.tlsKey) : undefined;
  await checkPortFree(config.host, config.port);
  const store = openStore(config.store);
  let lock: ServeLock | undefined;
  let collector: Collector | undefined;
  try {
    // Before migrations: a second collector on the file must change nothing in it.
    const file = sqliteFile(config.store);
    if (file) {
      assertWritableSqliteFile(file);
      lock = takeServeLock(file);
    }
    await migrateLogged(store, startupLogger(config.logLevel, runtime.logStream));
    collector = await buildServer(store, config, tls ? { ...runtime, tls } : runtime);
    await collector.app.listen({ host: config.host, port: config.port });
    runtime.onListening?.();
    // Only once listening: a first start that fails (the port taken, say) must not mint the one
    // admin token that is shown only on the start that creates it.
    const createdAdminToken = await ensureAdminToken(store, config.adminToken, collector.app.log);
    const address = collector.app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const app = collector.app;
    let closing: Promise<void> | null = null;
    return {
      ...collector,
      url: `${config.tlsCert ? 'https' : 'http'}://${host}:${port}`,
      createdAdminToken,
      close() {
        closing ??= (async () => {
          await app.close();
          await store.close();
          lock?.release();
        })();
        return closing;
      },
    };
  } catch (error) {
    await collector?.app.close().catch(() => {});
    await store.close().catch(() => {});
    lock?.release();
    throw error;
  }
}
