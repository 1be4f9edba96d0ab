// What a careless or hostile host, collector or disk can do to the agent, and what the agent must
// still promise: nothing thrown into the host, no memory or sockets held, the schedule kept.
import { execFileSync } from 'node:child_process';
import fs, { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../test/fake-clock.js';
import { agentFor, cleanup, collector, DAY, MINUTE, tempDir } from '../test/harness.js';
import { Disk } from './disk.js';
import { AgentError } from './errors.js';
import { loadTrackingId } from './identity.js';
import { createAgent } from './index.js';
import { type AgentOptions, unrefTimer } from './options.js';

/** A value that even String() cannot turn into text. */
const unprintable = () => Object.create(null) as object;

describe('agent under a hostile host', () => {
  it('keeps only what it cuts from a long event string, not the whole string', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const stub = await collector();
    const { agent } = agentFor(stub.url, { clock: new FakeClock(), dataDir: null });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20; i++) {
      // A fresh 4 MB string per event, which the host drops at once.
      const text = `${i}`.padEnd(4_000_000, 'x');
      agent.event('log.line', { text });
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 20 kept cuts of 1,024 characters; before the fix each kept its 4 MB original (~80 MB).
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    const report = await agent.preview();
    expect(report!.events).toHaveLength(20);
    expect(report!.events[3]!.fields['text']).toBe(`3${'x'.repeat(1023)}`);
  });

  it('never throws a value that cannot be printed back into the host, and keeps its schedule', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    let calls = 0;
    const { agent } = agentFor(stub.url, {
      clock,
      dataDir: tempDir(),
      interval: DAY,
      isLeader: true,
      clusterFacts: () => {
        calls++;
        if (calls <= 2) throw unprintable(); // the preview's call, then the first report's
        return { nodes: 3 };
      },
    });
    const fields = {
      get boom(): string {
        throw unprintable();
      },
    };
    expect(() => agent.event('odd', fields)).not.toThrow();
    await agent.preview(); // started (this preview is the first clusterFacts call: it throws, uncounted)
    await clock.advance(5 * MINUTE);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(1));
    await clock.advance(DAY);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(2));
    expect(stub.accepted[1]!.cluster).toEqual({ nodes: 3 });
    expect(stub.accepted[0]!.drops.errors).toBeGreaterThanOrEqual(2); // the event and clusterFacts
  });

  it('reports memory used against the same total it reports (the cgroup limit in a container)', async () => {
    const { agent } = agentFor('http://127.0.0.1:9', { clock: new FakeClock(), dataDir: null });
    const { system } = (await agent.preview())!;
    expect(system.memoryTotal).toBeGreaterThan(0);
    expect(system.memoryUsed).toBeGreaterThan(0);
    // The machine's used memory against a container's limit could exceed it.
    expect(system.memoryUsed).toBeLessThanOrEqual(system.memoryTotal!);
  });

  it('gives a typed error for options whose value cannot be printed', () => {
    const bad: Partial<AgentOptions>[] = [
      { endpoint: 10n as unknown as string },
      { interval: unprintable() as unknown as number },
      { timeout: unprintable() as unknown as number },
      { endpoint: unprintable() as unknown as string },
    ];
    for (const options of bad) {
      expect(() =>
        createAgent({ endpoint: 'http://127.0.0.1:9', nodeType: 'x', env: {}, ...options }),
      ).toThrow(AgentError);
    }
  });

  it('starts a fresh cycle when state.json says the last report is in the future', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const dataDir = tempDir();
    const ahead = clock.now() + 365 * DAY;
    writeFileSync(
      path.join(dataDir, 'state.json'),
      JSON.stringify({
        format: 1,
        nextSequence: 4,
        lastReportMs: ahead,
        lastSuccessMs: ahead,
        noticeShownMs: 1,
      }),
    );
    const { agent } = agentFor(stub.url, { clock, dataDir });
    await agent.preview();
    await clock.advance(5 * MINUTE);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(1));
    expect(stub.accepted[0]!.sequence).toBe(4);
  });

  it('sends a report larger than spoolMaxBytes once instead of dropping it unsent', async () => {
    const stub = await collector();
    const { agent } = agentFor(stub.url, { clock: new FakeClock(), dataDir: tempDir(), spoolMaxBytes: 100 });
    agent.counter('queries').inc();
    await agent.flush();
    await agent.flush();
    expect(stub.accepted).toHaveLength(2);
    expect(stub.accepted[1]!.drops.reports).toBe(0);
  });

  it('closes each connection once the status is known, even if the answer streams forever', async () => {
    let open = 0;
    let streamed = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(Number(req.headers['x-test'] ?? 503), { 'content-type': 'text/plain' });
        const timer = setInterval(() => {
          streamed += 65536;
          res.write(Buffer.alloc(65536));
        }, 5);
        res.on('close', () => clearInterval(timer));
      });
    });
    server.on('connection', (socket) => {
      open++;
      socket.on('close', () => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { agent } = agentFor(url, { clock: new FakeClock(), dataDir: null });
    await agent.flush(); // 503: the report stays spooled for a retry
    await agent.flush();
    await vi.waitFor(() => expect(open).toBe(0), { timeout: 2000 });
    expect(streamed).toBeLessThan(4 * 1024 * 1024);
  });

  it('skips a FIFO left where state.json should be, instead of waiting for a writer for ever', async () => {
    const stub = await collector();
    const dataDir = tempDir();
    execFileSync('mkfifo', [path.join(dataDir, 'state.json')]); // stands in for a hung mount
    const { agent } = agentFor(stub.url, { dataDir });
    expect(await agent.preview()).toMatchObject({ sequence: 1 });
    await agent.flush();
    expect(stub.accepted).toHaveLength(1);
  });

  it('gives every agent that starts on a fresh dataDir at the same moment the same tracking id', async () => {
    const stub = await collector();
    const dataDir = tempDir();
    const agents = Array.from(
      { length: 4 },
      () => agentFor(stub.url, { dataDir, trackingId: undefined, clock: new FakeClock() }).agent,
    );
    const ids = await Promise.all(agents.map(async (agent) => (await agent.preview())!.trackingId));
    expect(new Set(ids).size).toBe(1);
    expect(readFileSync(path.join(dataDir, 'tracking-id'), 'utf8').trim()).toBe(ids[0]);
  });

  it('sends nothing more once shut down, even when flush() is called after', async () => {
    const stub = await collector();
    const { agent } = agentFor(stub.url, { dataDir: tempDir(), clock: new FakeClock() });
    await agent.shutdown();
    const sent = stub.accepted.length;
    await agent.flush();
    expect(stub.accepted).toHaveLength(sent);
  });

  it('lets a timer go whatever the host made of setTimeout (a number from a polyfill)', () => {
    expect(() => unrefTimer(7)).not.toThrow();
    expect(() => unrefTimer(undefined)).not.toThrow();
    const real = setTimeout(() => {}, 60_000);
    unrefTimer(real);
    expect(real.hasRef()).toBe(false);
    clearTimeout(real);
  });

  it('keeps labels and fields named like Object methods in a host that froze Object.prototype', () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const script = [
      `import { createAgent } from ${JSON.stringify(path.join(here, 'index.ts'))};`,
      'Object.freeze(Object.prototype);',
      "const agent = createAgent({ endpoint: 'http://127.0.0.1:9', nodeType: 'frozen', dataDir: null, env: {}, logger: { warn() {} } });",
      "agent.counter('frozen.count', { constructor: 'x', tostring: 'y' }).inc(3);",
      "agent.event('frozen.event', { constructor: 'z', valueOf: 1 });",
      'const report = await agent.preview();',
      "const m = report.metrics.find((m) => m.name === 'frozen.count');",
      'console.log(JSON.stringify({ labels: m?.labels, fields: report.events[0]?.fields }));',
      'await agent.shutdown(100);',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, TSX_TSCONFIG_PATH: path.join(here, '../test/tsconfig.child.json') },
      encoding: 'utf8',
    });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      labels: { constructor: 'x', tostring: 'y' },
      fields: { constructor: 'z', valueOf: 1 },
    });
  });

  it('keeps its tracking id across starts on a filesystem without hard links (vfat, FUSE mounts)', async () => {
    const dataDir = tempDir();
    const realLink = fs.promises.link;
    fs.promises.link = async () => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    };
    syncBuiltinESMExports();
    try {
      const ids = [];
      for (let start = 0; start < 3; start++) {
        const logs: string[] = [];
        const disk = new Disk(dataDir, (m) => logs.push(m));
        ids.push(await loadTrackingId(disk, null));
        expect(disk.memoryOnly).toBe(false);
        expect(logs).toEqual([]);
      }
      expect(new Set(ids).size).toBe(1);
    } finally {
      fs.promises.link = realLink;
      syncBuiltinESMExports();
    }
  });

  it('replaces a tracking-id file that holds "." or "..", which the collector would refuse', async () => {
    for (const bad of ['.', '..']) {
      const dataDir = tempDir();
      fs.writeFileSync(path.join(dataDir, 'tracking-id'), `${bad}\n`);
      const id = await loadTrackingId(new Disk(dataDir, () => {}), null);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(fs.readFileSync(path.join(dataDir, 'tracking-id'), 'utf8').trim()).toBe(id);
    }
  });

  it("catches a rejected promise its logger returns from another realm (a vm context's, not instanceof Promise)", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { agent } = agentFor('http://127.0.0.1:9', {
        clock: new FakeClock(),
        dataDir: null,
        logger: { warn: () => runInNewContext('Promise.reject(new Error("log sink down"))') },
      });
      agent.counter('c', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']))).inc();
      await agent.preview(); // the notice and the warning are logged by now
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
