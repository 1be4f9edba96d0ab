// Starting a collector: the first admin token is minted only by a start that is actually serving.
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
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
