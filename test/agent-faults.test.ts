// The agent under faults, in its host's process: a real collector (`tidewatch serve`, a child
// process) behind a real HTTP front that answers 500s, hangs, resets connections, answers slowly
// (within and past the agent's timeout) and 429 with Retry-After; and a dataDir that fills up or is
// read-only (a tmpfs when this machine lets us mount one). Meanwhile the host works in a tight loop.
// Asserted: the host never sees an exception, its event loop is never held up past a generous bound,
// and once the collector answers again every report is delivered and stored exactly once (every
// sequence number, each under its own report id) with the host's counter totals exact.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Agent, createAgent } from '@tidewatch/agent';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../packages/collector/src/store/open-store.js';
import type { SqlStore } from '../packages/collector/src/store/sql/sql-store.js';
import {
  type CollectorProcess,
  spawnCollector,
} from '../packages/collector/test-support/collector-process.js';
import { IN_CI } from '../packages/collector/test-support/services.js';

type Fault = 'forward' | '500' | 'hang' | 'reset' | 'slow' | 'too-slow' | '429';

/** Agent settings: a report every 200 ms, retries from 50 ms, 400 ms per attempt. */
const AGENT_TIMEOUT = 400;
/** Generous: the agent's own work takes a few ms per tick; a loaded CI machine adds noise, not seconds. */
const MAX_LOOP_DELAY_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real HTTP server in front of the collector that does whatever `fault` says for each request. */
async function faultFront(target: string) {
  const sockets = new Set<Socket>();
  const front = {
    fault: 'forward' as Fault,
    requests: 0,
    forwarded: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    url: '',
  };
  /** Passes the request to the collector; `answerAfter` delays the answer (not the store). */
  const forward = async (
    req: http.IncomingMessage,
    body: Buffer,
    res: http.ServerResponse,
    answerAfter = 0,
  ) => {
    front.forwarded++;
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'content-encoding'])
      if (req.headers[h]) headers[h] = String(req.headers[h]);
    try {
      const answer = await fetch(`${target}${req.url}`, { method: 'POST', body, headers });
      const text = await answer.text();
      if (answerAfter > 0) await sleep(answerAfter);
      if (!res.destroyed) res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
    } catch {
      res.destroy();
    }
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      front.requests++;
      const body = Buffer.concat(chunks);
      switch (front.fault) {
        case 'forward':
          return void forward(req, body, res);
        case '500':
          return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}');
        case '429':
          return void res.writeHead(429, { 'retry-after': '1' }).end('{"error":"rate_limited"}');
        case 'hang':
          return; // never answers; the agent's timeout must end it
        case 'reset':
          return void req.socket.destroy();
        case 'slow': // answers within the agent's timeout
          return void setTimeout(() => void forward(req, body, res), AGENT_TIMEOUT / 4);
        case 'too-slow': // stores the report, but answers after the agent gave up: its retry must not store it twice
          return void forward(req, body, res, AGENT_TIMEOUT * 2);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  front.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return front;
}

/** A directory on its own small tmpfs, when this machine allows mounting (root in a container); else null. */
function tmpfs(sizeKiB: number): { dir: string; remountReadOnly(): void; remove(): void } | null {
  const dir = mkdtempSync(path.join(tmpdir(), 'tw-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    // CI runs as root: a weaker fallback there would hide that the real fault was never tried.
    if (IN_CI) throw new Error(`cannot mount a tmpfs under CI=true: ${(error as Error).message}`);
    return null;
  }
  return {
    dir,
    remountReadOnly: () => execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore' }),
    remove: () => {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const problems: unknown[] = [];
const onProblem = (error: unknown) => problems.push(error);
const work = mkdtempSync(path.join(tmpdir(), 'tw-faults-'));
let collector: CollectorProcess;
let store: SqlStore;
let front: Awaited<ReturnType<typeof faultFront>>;

beforeAll(async () => {
  process.on('unhandledRejection', onProblem);
  process.on('uncaughtException', onProblem);
  const storeUrl = `sqlite:${path.join(work, 'faults.db')}`;
  collector = await spawnCollector(['--store', storeUrl, '--admin-token', 'faults-test-admin-token-01']);
  store = openStore(storeUrl) as SqlStore;
  front = await faultFront(collector.url);
});
afterAll(async () => {
  process.off('unhandledRejection', onProblem);
  process.off('uncaughtException', onProblem);
  await front?.close();
  await store?.close();
  collector?.child.kill('SIGTERM');
  await collector?.exited;
  rmSync(work, { recursive: true, force: true });
});

/** The host: a tight loop of hot-path calls, as a database would make, for as long as it runs. */
function host(agent: Agent) {
  const ops = agent.counter('host.ops');
  const latency = agent.histogram('host.seconds');
  let calls = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const timer = setInterval(() => {
    for (let i = 0; i < 200; i++) {
      ops.inc();
      latency.record(0.001 * (i + 1));
    }
    calls += 200;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      loop.disable();
      return { calls, maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6 };
    },
  };
}

function agentFor(trackingId: string, dataDir: string | null, warnings: string[]): Agent {
  return createAgent({
    endpoint: front.url,
    nodeType: 'faults',
    trackingId,
    dataDir,
    interval: 200,
    firstReportDelay: 50,
    jitter: 0,
    retryBase: 50,
    maxBackoff: 300,
    timeout: AGENT_TIMEOUT,
    env: {},
    logger: { warn: (m) => warnings.push(m) },
  });
}

/** What the collector stored for one agent: report sequences and the host counter's total. */
async function stored(trackingId: string) {
  const reports = await store.db
    .selectFrom('agent_reports')
    .select(['sequence', 'report_id'])
    .where('tracking_id', '=', trackingId)
    .orderBy('sequence')
    .execute();
  const total = await sql<{ total: number | null }>`select sum(value) as total from metric_points
    where tracking_id = ${trackingId} and name = 'host.ops'`.execute(store.db);
  return {
    sequences: reports.map((r) => Number(r.sequence)),
    reportIds: new Set(reports.map((r) => r.report_id)),
    opsTotal: Number(total.rows[0]?.total ?? 0),
  };
}

/**
 * Runs the agent through `phases` (fault, ms), then lets the collector answer and shuts down; or,
 * with `deliverAtEnd: false`, shuts down while the last fault lasts (what is left stays spooled).
 */
async function runThrough(
  trackingId: string,
  dataDir: string | null,
  phases: [Fault, number][],
  deliverAtEnd = true,
) {
  const warnings: string[] = [];
  const forwardedBefore = front.forwarded;
  const requestsBefore = front.requests;
  const agent = agentFor(trackingId, dataDir, warnings);
  const h = host(agent);
  for (const [fault, ms] of phases) {
    front.fault = fault;
    await sleep(ms);
  }
  const loop = h.stop();
  if (deliverAtEnd) {
    front.fault = 'forward';
    await agent.flush();
  }
  await agent.shutdown(deliverAtEnd ? 5000 : 300);
  front.fault = 'forward';
  return {
    ...loop,
    ...(await stored(trackingId)),
    warnings,
    requests: front.requests - requestsBefore,
    forwarded: front.forwarded - forwardedBefore,
  };
}

/** Every report from 1 to the last, each once under its own id, and not one host call lost or doubled. */
function expectDeliveredOnce(r: Awaited<ReturnType<typeof runThrough>>, calls = r.calls) {
  expect(r.sequences.length).toBeGreaterThan(2);
  expect(r.sequences).toEqual(Array.from({ length: r.sequences.length }, (_, i) => i + 1));
  expect(r.reportIds.size).toBe(r.sequences.length);
  expect(r.opsTotal).toBe(calls);
  expect(problems).toEqual([]);
  expect(r.maxMs).toBeLessThan(MAX_LOOP_DELAY_MS);
}

const summary = (what: string, r: Awaited<ReturnType<typeof runThrough>>) =>
  console.log(
    `agent faults, ${what}: ${r.requests} requests reached the front, ${r.forwarded} reached the collector; ` +
      `${r.sequences.length} reports stored, each once (sequences 1..${r.sequences.length}); host made ` +
      `${r.calls} calls, counter total ${r.opsTotal} (exact); event loop p99 ${r.p99Ms.toFixed(1)} ms, ` +
      `max ${r.maxMs.toFixed(1)} ms; ${r.warnings.length} warnings; no exception reached the host`,
  );

describe('the agent under network and disk faults', () => {
  it('survives 500s, hangs, resets, slow answers and 429s, then delivers every report exactly once', async () => {
    const dataDir = path.join(work, 'network');
    const r = await runThrough('faults-network', dataDir, [
      ['forward', 300],
      ['500', 600],
      ['hang', 900],
      ['reset', 600],
      ['too-slow', 1000],
      ['429', 1200],
      ['slow', 600],
      ['500', 400],
    ]);
    expectDeliveredOnce(r);
    // The 'too-slow' phase stored reports the agent never saw acknowledged: its retries were deduplicated.
    expect(r.forwarded).toBeGreaterThan(r.sequences.length);
    summary('network (500, hang, reset, answers past the timeout, 429 Retry-After, slow)', r);
  });

  it('keeps working on a dataDir that fills up, and delivers what it kept once the collector is back', async () => {
    const fs = tmpfs(24);
    const dataDir = fs ? fs.dir : path.join(work, 'full');
    try {
      // Without a tmpfs the spool's own bound is what fills: a few reports' worth of bytes.
      const r = await runThrough('faults-full', dataDir, [
        ['forward', 300],
        ['500', 2500],
      ]);
      expectDeliveredOnce(r);
      if (fs) {
        const { blocks, bfree } = statfsSync(dataDir);
        console.log(`(tmpfs of 24 KiB, ${bfree} of ${blocks} blocks free at the end)`);
        expect(r.warnings.some((w) => /keeping telemetry in memory only/.test(w))).toBe(true);
      }
      summary(fs ? 'a full dataDir (24 KiB tmpfs)' : 'a full dataDir (no tmpfs here: a plain directory)', r);
    } finally {
      fs?.remove();
    }
  });

  it('keeps working on a read-only dataDir, sending what an earlier process left there', async () => {
    const fs = tmpfs(256);
    if (!fs) {
      // Mounting needs root; elsewhere a dataDir under a file is just as unwritable.
      const blocker = path.join(work, 'not-a-dir');
      writeFileSync(blocker, '');
      const r = await runThrough('faults-readonly', path.join(blocker, 'telemetry'), [['500', 1500]]);
      expectDeliveredOnce(r);
      summary('an unwritable dataDir (no tmpfs here: a path under a file)', r);
      return;
    }
    try {
      // An earlier process of this host shut down while the collector failed: its last reports
      // stayed in the spool. Then the disk went read-only, and the host started again.
      const earlier = await runThrough('faults-readonly', fs.dir, [['500', 600]], false);
      fs.remountReadOnly();
      const r = await runThrough('faults-readonly', fs.dir, [
        ['500', 1200],
        ['reset', 400],
      ]);
      expectDeliveredOnce(r, earlier.calls + r.calls);
      expect(r.sequences.length).toBeGreaterThan(earlier.sequences.length);
      summary('a read-only dataDir (tmpfs remounted read-only, with the spool of an earlier process)', {
        ...r,
        calls: earlier.calls + r.calls,
      });
    } finally {
      fs.remove();
    }
  });
});
