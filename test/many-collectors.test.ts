// Scale-out end to end (issue 5): three `tidewatch serve` processes start together on one fresh
// PostgreSQL or ClickHouse store (migrations and the first admin token must not race), RisingWave
// reports go through all of them (some retried through a different collector, some sent to two
// at the same moment), one collector is killed with SIGKILL mid-load, and afterwards every
// acknowledged report is stored exactly once.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../packages/collector/src/store/open-store.js';
import { metaReport, nodeReport } from '../packages/collector/test-support/risingwave.js';
import { tempDir } from '../packages/collector/test-support/services.js';
import { storeTargets } from '../packages/collector/test-support/stores.js';

const BIN = fileURLToPath(new URL('../packages/cli/bin/tidewatch.js', import.meta.url));
const REPORTS = 480;
const CLUSTERS = 24;
const CONCURRENCY = 12;

const targets = (await storeTargets()).filter((t) => t.name !== 'sqlite');
const dir = tempDir();
afterAll(async () => {
  for (const t of targets) await t.cleanup();
  dir.remove();
}, 180_000); // dropping databases on a busy shared machine

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

interface Collector {
  url: string;
  child: ChildProcess;
  /** The `dashboard:` line: names an admin token only on the process that created it. */
  dashboard: string;
  dead: boolean;
}

/** Starts `tidewatch serve` on the store and waits until it listens. */
async function serve(store: string): Promise<Collector> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--port', '0', '--store', store, '--log-level', 'warn'],
    {
      cwd: dir.path,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const stderr: string[] = [];
  child.stderr!.on('data', (d) => stderr.push(String(d)));
  const exited = once(child, 'exit');
  const lines: string[] = [];
  return new Promise<Collector>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no dashboard line; stderr: ${stderr.join('')}`)),
      60_000,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (!line.startsWith('dashboard:')) return;
      clearTimeout(timer);
      const url = /^listening on (\S+)$/m.exec(lines.join('\n'))![1]!;
      resolve({ url, child, dashboard: line, dead: false });
    });
    void exited.then(([code]) => reject(new Error(`serve exited with ${code}: ${stderr.join('')}`)));
  });
}

interface Report {
  trackingId: string;
  node: 'meta' | 'compute';
  body: Uint8Array;
}

function makeReports(run: string): Report[] {
  return Array.from({ length: REPORTS }, (_, i) => {
    const trackingId = `${run}-cluster-${i % CLUSTERS}`;
    const o = { trackingId, sessionId: `${run}-session`, reportTime: 1_764_000_000 + i };
    return i % 4 === 0
      ? { trackingId, node: 'meta', body: metaReport(o) }
      : { trackingId, node: 'compute', body: nodeReport('compute', o) };
  });
}

/** One POST; true only for an acknowledgement (200, stored). Connection errors are false. */
async function post(c: Collector, r: Report): Promise<boolean> {
  try {
    const response = await fetch(`${c.url}/api/v2/report/${r.node}`, {
      method: 'POST',
      body: r.body,
      headers: { 'content-type': 'application/x-protobuf' },
      signal: AbortSignal.timeout(20_000),
    });
    const body = (await response.json()) as { status?: string };
    return response.status === 200 && body.status === 'stored';
  } catch {
    return false;
  }
}

/** Sends until a live collector acknowledges, starting at `first`; as a load balancer would. */
async function deliver(collectors: Collector[], r: Report, first: number): Promise<number> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const i = (first + attempt) % collectors.length;
    if (collectors[i]!.dead) continue;
    if (await post(collectors[i]!, r)) return i;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`report of ${r.trackingId} was never acknowledged`);
}

describe.each(targets)('three collectors on one $name store', (target) => {
  it('start together, and store every acknowledged report exactly once through retries and a SIGKILL', async () => {
    const store = await target.freshUrl();
    // Started at the same moment on a store nobody migrated yet.
    const collectors = await Promise.all([serve(store), serve(store), serve(store)]);
    const withToken = collectors.filter((c) => /#token=tw_/.test(c.dashboard));
    expect(withToken).toHaveLength(1);

    const reports = makeReports(`${target.name}-${Date.now()}`);
    let acknowledged = 0;
    let retried = 0;
    let raced = 0;
    const victim = collectors[1]!;
    let next = 0;
    const worker = async () => {
      while (next < reports.length) {
        const i = next++;
        const r = reports[i]!;
        const first = i % collectors.length;
        if (i % 7 === 3) {
          // The same report to two collectors at the same moment (a client retry racing).
          raced++;
          await Promise.all([deliver(collectors, r, first), deliver(collectors, r, first + 1)]);
        } else {
          const by = await deliver(collectors, r, first);
          if (i % 5 === 0) {
            // Acknowledged, then resent through another collector (the answer was lost).
            retried++;
            await deliver(collectors, r, by + 1);
          }
        }
        acknowledged++;
        if (acknowledged === Math.floor(REPORTS / 3) && !victim.dead) {
          victim.dead = true;
          victim.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(acknowledged).toBe(REPORTS);
    expect(victim.child.signalCode ?? (await once(victim.child, 'exit'))[1]).toBe('SIGKILL');
    expect(retried).toBeGreaterThan(0);
    expect(raced).toBeGreaterThan(0);

    // Read back from the store itself: each cluster holds exactly the reports sent for it.
    const expected = new Map<string, { meta: number; compute: number }>();
    for (const r of reports) {
      const counts = expected.get(r.trackingId) ?? { meta: 0, compute: 0 };
      counts[r.node]++;
      expected.set(r.trackingId, counts);
    }
    const reader = openStore(store);
    try {
      for (const [trackingId, counts] of expected) {
        const cluster = await reader.getCluster(trackingId);
        expect(cluster?.reports, trackingId).toEqual({ ...counts, frontend: 0, compactor: 0 });
      }
      const tokens = await reader.listTokens();
      expect(tokens.filter((t) => t.role === 'admin' && t.revokedAt === null)).toHaveLength(1);
    } finally {
      await reader.close();
    }
  }, 180_000);
});
