import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { host, kill, killChildren, spawnHost, spawnNode } from '../test/children.js';
import { type StubCollector, startCollector } from '../test/collector-stub.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let stub: StubCollector | undefined;
afterEach(async () => {
  killChildren();
  await stub?.close();
});

const spooledIds = (dataDir: string) =>
  readdirSync(path.join(dataDir, 'spool'))
    .filter((n) => !n.startsWith('.tmp-'))
    .map((n) => n.slice(27, 63));

describe('a host killed with SIGKILL', () => {
  it('loses no spooled report: the restarted process delivers each one exactly once', async () => {
    let up = false;
    stub = await startCollector(() => (up ? 200 : 503));
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tw-crash-'));

    const first = await host(stub.url, dataDir);
    await vi.waitFor(() => expect(spooledIds(dataDir).length).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    await kill(first); // mid-run: timers, writes and retries in flight
    const spooled = spooledIds(dataDir);
    expect(stub.accepted).toHaveLength(0);

    up = true;
    const second = await host(stub.url, dataDir);
    await vi.waitFor(
      () => expect(stub!.accepted.map((r) => r.reportId)).toEqual(expect.arrayContaining(spooled)),
      { timeout: 10_000 },
    );
    await vi.waitFor(() => expect(stub!.accepted.length).toBeGreaterThan(spooled.length), {
      timeout: 10_000,
    });
    await kill(second);

    const ids = stub.accepted.map((r) => r.reportId);
    expect(new Set(ids).size).toBe(ids.length); // nothing stored twice
    const sequences = stub.accepted.map((r) => r.sequence);
    expect(new Set(sequences).size).toBe(sequences.length); // the counter survived the crash
    const sessions = new Set(stub.accepted.map((r) => r.sessionId));
    expect(sessions.size).toBe(2);
  });

  it('lets the host exit on its own: the agent holds no timer or socket open', async () => {
    stub = await startCollector(() => 'hang');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tw-exit-'));
    const script = [
      `import { createAgent } from ${JSON.stringify(path.join(here, 'index.ts'))};`,
      `const a = createAgent({ endpoint: ${JSON.stringify(stub.url)}, dataDir: ${JSON.stringify(dataDir)},`,
      `  nodeType: 'exit-test', firstReportDelay: 0, interval: 1000, timeout: 120_000, env: {},`,
      `  logger: { warn() {} } });`,
      `a.counter('c').inc();`,
      `setTimeout(() => console.log('done'), 300);`,
    ].join('\n');
    const child = spawnNode(['--input-type=module', '-e', script]);
    const started = Date.now();
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    // Not held by the hanging request, which would keep it for its 120 s timeout; the margin is for
    // a slow start of tsx on a loaded machine.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(stub.requests).toBeGreaterThanOrEqual(1);
  }, 90_000);

  /** Runs child-short-lived.ts to its natural end; its output and exit code. */
  async function shortLived(endpoint: string, dataDir: string) {
    const child = spawnHost('child-short-lived.ts', endpoint, dataDir);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { out, code };
  }

  it('lets a script that awaits flush() and shutdown() as its last steps run to its end', async () => {
    stub = await startCollector();
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-short-'));
    const { out, code } = await shortLived(stub.url, dir);
    expect(out).toBe('after flush\nafter shutdown\n');
    expect(code).toBe(0);
    expect(stub.accepted.length).toBeGreaterThanOrEqual(1);
  }, 30_000);

  // Node 20's recursive mkdir spins forever under /proc; the agent must go memory-only instead.
  if (process.platform === 'linux') {
    it('goes memory-only for a dataDir under /proc, and the host still exits', async () => {
      stub = await startCollector();
      const { out, code } = await shortLived(stub.url, '/proc/tidewatch-test/data');
      expect(out).toBe('after flush\nafter shutdown\n');
      expect(code).toBe(0);
      expect(stub.accepted.length).toBeGreaterThanOrEqual(1);
    }, 30_000);
  }

  it('a default logger writing to a stderr whose reader is gone does not crash the host (EPIPE)', async () => {
    stub = await startCollector();
    const child = spawnHost('child-closed-stderr.ts', stub.url, 'none');
    child.stderr!.destroy(); // the reader goes away (a log pipe that died)
    child.stdin!.write('go\n');
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect({ code, out }).toEqual({ code: 0, out: 'alive\n' });
  }, 20_000);
});
