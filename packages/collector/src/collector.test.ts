// Starting a collector: the first admin token is minted only by a start that is actually serving.
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { capturedLog } from '../test-support/collector.js';
import { tempDir } from '../test-support/services.js';
import { startCollector } from './collector.js';

const dir = tempDir();
afterAll(() => dir.remove());

describe('first start', () => {
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
  it('logs the migrations a start applied (a new store, an upgrade), and nothing when there were none', async () => {
    const store = `sqlite:${dir.path}/schema-log.db`;
    const starts: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const log = capturedLog();
      const collector = await startCollector(
        { store, host: '127.0.0.1', port: 0, logLevel: 'info' },
        { logStream: log.stream },
      );
      await collector.close();
      starts.push(log.lines.filter((l) => l.includes('store schema')));
    }
    expect(starts[0]).toHaveLength(1);
    const line = JSON.parse(starts[0]![0]!) as { msg: string; migrations: string[] };
    expect(line.msg).toMatch(/^store schema updated: \d+ steps applied \(0001_initial … \d{4}_\w+\)$/);
    expect(line.migrations).toContain('0037_event_counts_index');
    expect(starts[1]).toEqual([]);
  });
});

describe('a configured admin token (--admin-token)', () => {
  it('is valid while configured: a rotated secret revokes the old one, and the revocation is audited', async () => {
    const store = `sqlite:${dir.path}/configured.db`;
    const old = 'old-configured-admin-token-0123';
    const rotated = 'new-configured-admin-token-4567';
    const status = async (url: string, token: string) =>
      (await fetch(`${url}/admin/blocked`, { headers: { authorization: `Bearer ${token}` } })).status;
    const start = (adminToken: string) =>
      startCollector({ store, host: '127.0.0.1', port: 0, logLevel: 'silent', adminToken });

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
    } finally {
      await second.close();
    }

    // Started again with the same secret: nothing more is revoked.
    const third = await start(rotated);
    expect(await status(third.url, rotated)).toBe(200);
    await third.close();

    // A collector of the same store started without the secret (a host missing the variable)
    // neither revokes it for the others nor mints an admin token of its own.
    const withSecret = await start(rotated);
    const without = await startCollector({ store, host: '127.0.0.1', port: 0, logLevel: 'silent' });
    try {
      expect(without.createdAdminToken).toBeNull();
      expect(await status(withSecret.url, rotated)).toBe(200);
      expect(await status(without.url, rotated)).toBe(200);
    } finally {
      await without.close();
      await withSecret.close();
    }
  });
});
