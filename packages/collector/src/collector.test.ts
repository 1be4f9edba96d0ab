// Starting a collector: the first admin token is minted only by a start that is actually serving.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { Migrator } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { capturedLog } from '../test-support/collector.js';
import { createClickHouseDatabase, tempDir } from '../test-support/services.js';
import { startCollector } from './collector.js';
import { openStore } from './store/open-store.js';
import { migrationProvider } from './store/sql/migrations/index.js';
import type { SqlStore } from './store/sql/sql-store.js';

const dir = tempDir();
const clickhouseDb = await createClickHouseDatabase(); // null (skipped, with a warning) only outside CI
afterAll(() => dir.remove());

describe('first start', () => {
  it('fails on a taken port before it opens (or creates) the store', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const file = `${dir.path}/never-created.db`;
    await expect(
      startCollector({ store: `sqlite:${file}`, host: '127.0.0.1', port, logLevel: 'silent' }),
    ).rejects.toThrow(/EADDRINUSE/);
    taken.close();
    expect(existsSync(file)).toBe(false);
  });

  it('mints the admin token on the start that serves, not on one that failed to listen', async () => {
    const store = `sqlite:${dir.path}/first-start.db`;
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    await expect(startCollector({ store, host: '127.0.0.1', port, logLevel: 'silent' })).rejects.toThrow(
      /EADDRINUSE/,
    );
    taken.close();
    const collector = await startCollector({ store, host: '127.0.0.1', port: 0, logLevel: 'silent' });
    try {
      expect(collector.createdAdminToken).toMatch(/^tw_/);
      const res = await fetch(`${collector.url}/query/overview`, {
        headers: { authorization: `Bearer ${collector.createdAdminToken}` },
      });
      expect(res.status).toBe(200);
    } finally {
      await collector.close();
    }
    const again = await startCollector({ store, host: '127.0.0.1', port: 0, logLevel: 'silent' });
    expect(again.createdAdminToken).toBeNull(); // shown once
    await again.close();
  });
});

describe('the store schema', () => {
  /** The lines about the store's schema that one start logged. */
  async function startLogging(store: string): Promise<{ msg: string; migrations?: string[] }[]> {
    const log = capturedLog();
    const collector = await startCollector(
      { store, host: '127.0.0.1', port: 0, logLevel: 'info' },
      { logStream: log.stream },
    );
    await collector.close();
    return log.lines
      .filter((l) => l.includes('store schema'))
      .map((l) => JSON.parse(l) as { msg: string; migrations?: string[] });
  }

  it('logs that a new store is created, each step of an upgrade as it goes, and nothing when current', async () => {
    const store = `sqlite:${dir.path}/schema-log.db`;
    const created = await startLogging(store);
    expect(created.map((l) => l.msg)).toEqual([
      'store schema: a new store, creating it',
      expect.stringMatching(/^store schema updated: \d+ steps applied \(0001_initial … \d{4}_\w+\)$/),
    ]);
    expect(created[0]!.migrations).toBeUndefined(); // listed once, in the line after
    expect(created[1]!.migrations?.[0]).toBe('0001_initial');
    expect(await startLogging(store)).toEqual([]);

    // A store an older collector left at an earlier migration: the upgrade names every step.
    const old = openStore(`sqlite:${dir.path}/schema-old.db`) as SqlStore;
    const migrator = new Migrator({
      db: old.db,
      provider: migrationProvider({ kind: 'sqlite', types: { serial: 'integer', blob: 'blob' } }),
    });
    expect((await migrator.migrateTo('0033_cluster_day_spans')).error).toBeUndefined();
    const pending = (await migrator.getMigrations()).filter((m) => !m.executedAt).map((m) => m.name);
    await old.close();
    expect(pending.length).toBeGreaterThan(0);
    const upgraded = await startLogging(`sqlite:${dir.path}/schema-old.db`);
    expect(upgraded.map((l) => l.msg)).toEqual([
      `store schema: upgrading, ${pending.length} step${pending.length === 1 ? '' : 's'} to apply before serving (on a large store this may take minutes)`,
      ...pending.map((name) => `store schema: ${name} applied`),
      expect.stringMatching(/^store schema updated: /),
    ]);
    expect(upgraded.at(-1)?.migrations).toEqual(pending);
  });
});

describe('a configured admin token (--admin-token)', () => {
  it('is valid while configured: a rotated secret revokes the old one, and the revocation is audited', async () => {
    const store = `sqlite:${dir.path}/configured.db`;
    const old = 'old-configured-admin-token-0123';
    const rotated = 'new-configured-admin-token-4567';
    const status = async (url: string, token: string) =>
      (await fetch(`${url}/admin/blocked`, { headers: { authorization: `Bearer ${token}` } })).status;
    const log = capturedLog();
    const start = (adminToken: string) =>
      startCollector(
        { store, host: '127.0.0.1', port: 0, logLevel: 'warn', adminToken },
        { logStream: log.stream },
      );
    const revokedLines = () =>
      log.lines.filter((l) => l.includes('revoked the admin secret configured before'));

    const first = await start(old);
    expect(await status(first.url, old)).toBe(200);
    await first.close();

    const second = await start(rotated);
    try {
      expect(await status(second.url, rotated)).toBe(200);
      expect(await status(second.url, old)).toBe(401);
      const audit = await fetch(`${second.url}/admin/audit`, {
        headers: { authorization: `Bearer ${rotated}` },
      });
      const { entries } = (await audit.json()) as { entries: { action: string; details: unknown }[] };
      expect(entries.filter((e) => e.action === 'token_revoke')).toHaveLength(1);
      // Said where the operator looks: other collectors of the store now refuse the old secret.
      expect(revokedLines()).toHaveLength(1);
      expect(JSON.parse(revokedLines()[0]!)).toMatchObject({
        level: 'warn',
        msg: /must restart with the new one/,
      });
    } finally {
      await second.close();
    }

    // Started again with the same secret: nothing more is revoked.
    const third = await start(rotated);
    expect(await status(third.url, rotated)).toBe(200);
    await third.close();
    expect(revokedLines()).toHaveLength(1);

    // A collector of the same store started without the secret (a host missing the variable)
    // neither revokes it for the others nor mints an admin token of its own. (One at a time: a
    // SQLite file serves one collector; on PostgreSQL they would run side by side.)
    const without = await startCollector({ store, host: '127.0.0.1', port: 0, logLevel: 'silent' });
    try {
      expect(without.createdAdminToken).toBeNull();
      expect(await status(without.url, rotated)).toBe(200);
    } finally {
      await without.close();
    }
  });
});

describe('a ClickHouse store that does not answer, or refuses', () => {
  it('a host that takes the connection and never answers is reported within seconds', async () => {
    const silent = createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      await expect(
        startCollector({ store: `clickhouse://default@127.0.0.1:${port}/x`, port: 0, logLevel: 'silent' }),
      ).rejects.toMatchObject({
        code: 'store_unreachable',
        message: expect.stringMatching(/^cannot reach the store: .*Timeout/i),
      });
    } finally {
      silent.close();
    }
  }, 30_000);

  it.skipIf(!clickhouseDb)('a wrong password is refused as such, not as "cannot reach"', async () => {
    const url = new URL(clickhouseDb!.url);
    url.password = 'not-the-password';
    await expect(
      startCollector({ store: url.toString(), port: 0, logLevel: 'silent' }),
    ).rejects.toMatchObject({
      code: 'store_setup',
      message: expect.stringMatching(
        /^cannot set up the store: .*Code: 19[2-3].*the user of the store URL needs its password right/s,
      ),
    });
  });
});
