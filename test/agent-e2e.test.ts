// End to end: the real agent (@tidewatch/agent) against a real collector over real HTTP, with a
// real store (SQLite in a temp dir; PostgreSQL too for the metrics round trip). These are the
// "Done when" checks of issue 3: metrics and events arrive with the right totals and quantiles,
// an outage of several intervals loses and duplicates nothing, a SIGKILL loses nothing, and a
// disabled agent opens no connection and writes no file.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Agent, type AgentOptions, createAgent } from '@tidewatch/agent';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../packages/agent/test/fake-clock.js';
import type { ClickHouseStore } from '../packages/collector/src/store/clickhouse/clickhouse-store.js';
import { sql as chSql, ident, join } from '../packages/collector/src/store/clickhouse/sql.js';
import type { SqlStore } from '../packages/collector/src/store/sql/sql-store.js';
import type { Store } from '../packages/collector/src/store/store.js';
import { startTestCollector, type TestCollector } from '../packages/collector/test-support/collector.js';
import { storeTargets } from '../packages/collector/test-support/stores.js';

/** A cluster's rows of an agent table as stored (no query route returns them raw). */
async function storedRows(
  store: Store,
  table: 'agent_events' | 'agent_reports',
  columns: string[],
  trackingId: string,
): Promise<Record<string, unknown>[]> {
  if (store.kind === 'clickhouse') {
    return (store as ClickHouseStore).rows<Record<string, unknown>>(
      chSql`SELECT ${join(columns.map(ident))} FROM ${ident(table)} FINAL WHERE tracking_id = ${trackingId}`,
    );
  }
  const db = (store as SqlStore).db;
  return db
    .selectFrom(table)
    .select(columns as never[])
    .where('tracking_id', '=', trackingId)
    .execute() as Promise<Record<string, unknown>[]>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const targets = await storeTargets();
const sqlite = targets.find((t) => t.name === 'sqlite')!;
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tw-e2e-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function collectorOn(storeUrl: string, port = 0): Promise<TestCollector> {
  const c = await startTestCollector(storeUrl, { port });
  cleanup.push(() => c.close());
  return c;
}

function agentFor(endpoint: string, options: Partial<AgentOptions>): Agent {
  const agent = createAgent({
    endpoint,
    nodeType: 'pglite',
    version: '1.2.3',
    jitter: 0,
    env: {}, // the test decides what the operator's environment says, not the CI runner
    logger: { warn: () => {} },
    ...options,
  });
  cleanup.push(() => agent.shutdown(500));
  return agent;
}

/** A port nobody listens on right now, so that a collector can be stopped and started on it again. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-normal durations in seconds: median `median`, shape `sigma`. */
function lognormal(random: () => number, n: number, median: number, sigma: number): number[] {
  const values: number[] = [];
  while (values.length < n) {
    const u = 1 - random();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    values.push(median * Math.exp(sigma * z));
  }
  return values;
}

const exactQuantile = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;

/** File names in a directory of dataDir (interrupted writes left out); none if it does not exist. */
function listDir(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith('.tmp-'))
      .sort();
  } catch {
    return [];
  }
}
/** Spooled (not yet acknowledged) reports: `<created ms>-<sequence>-<report id>.<pb|json>`. */
const spooled = (dataDir: string) => listDir(path.join(dataDir, 'spool'));
/** Audit copies of acknowledged reports, named like the spool files (sentMax is set high). */
const sent = (dataDir: string) => listDir(path.join(dataDir, 'sent'));
const idOf = (name: string) => name.slice(27, 63);

interface StoredReport {
  reportId: string;
  sessionId: string;
  sequence: number;
}

async function storedReports(c: TestCollector, trackingId: string): Promise<StoredReport[]> {
  const rows = await storedRows(
    c.collector.store,
    'agent_reports',
    ['report_id', 'session_id', 'sequence'],
    trackingId,
  );
  return rows
    .map((r) => ({
      reportId: String(r.report_id),
      sessionId: String(r.session_id),
      sequence: Number(r.sequence),
    }))
    .sort((a, b) => a.sequence - b.sequence);
}

async function nativeRequests(c: TestCollector): Promise<Record<string, number>> {
  const byStatus: Record<string, number> = {};
  for (const v of (await c.collector.metrics.requests.get()).values) {
    if (v.labels.route === '/api/v3/report') byStatus[String(v.labels.status)] = v.value;
  }
  return byStatus;
}

async function deduplicated(c: TestCollector): Promise<number> {
  return (await c.collector.metrics.deduplicated.get()).values.reduce((sum, v) => sum + v.value, 0);
}

type MetricAnswer = { kind: string | null; rows: Record<string, unknown>[] };

async function metric(c: TestCollector, name: string, query = ''): Promise<MetricAnswer> {
  const res = await c.get(`/query/metrics/${name}${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as MetricAnswer;
}

describe.each(targets)('agent to collector over HTTP ($name store)', (target) => {
  it('metrics recorded by the agent appear in /query/metrics with the right totals and quantiles', async () => {
    const c = await collectorOn(await target.freshUrl());
    const trackingId = `e2e-metrics-${target.name}`;
    // The schedule never fires during the test: every report comes from flush().
    const agent = agentFor(c.url, { trackingId, dataDir: tempDir(), firstReportDelay: DAY, interval: DAY });
    const queries = agent.counter('e2e.queries', undefined, { unit: '{query}', description: 'Queries run' });
    const selects = agent.counter('e2e.queries', { kind: 'select' });
    const sessions = agent.gauge('e2e.sessions', undefined, { unit: '{session}', description: 'Sessions' });
    const latency = agent.histogram('e2e.query.duration', undefined, { unit: 's', description: 'Latency' });

    for (const n of [1, 4, 10, 3]) queries.inc(n);
    selects.inc(7);
    selects.inc(2);
    for (const v of [4, 9, 6]) sessions.set(v);
    const random = seeded(42);
    const first = lognormal(random, 5000, 0.02, 1);
    for (const v of first) latency.record(v);
    agent.event('backup.finished', { ok: true, seconds: 12.5, target: 's3' });
    await agent.flush();

    expect(await metric(c, 'e2e.queries')).toMatchObject({
      kind: 'counter',
      rows: [{ value: 'all', clusters: 1, total: 27 }],
    });
    expect(await metric(c, 'e2e.queries', '?by=version')).toMatchObject({
      rows: [{ value: '1.2.3', total: 27 }],
    });
    expect((await metric(c, 'e2e.queries', '?by=version')).rows).toHaveLength(1);
    expect(await metric(c, 'e2e.queries', '?by=nodeType')).toMatchObject({
      rows: [{ value: 'pglite', total: 27 }],
    });
    expect(await metric(c, 'e2e.sessions')).toMatchObject({
      kind: 'gauge',
      rows: [{ value: 'all', last: 6, min: 6, max: 6 }],
    });
    const expectQuantiles = (answer: MetricAnswer, values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const row = answer.rows[0]!;
      expect(answer.kind).toBe('histogram');
      expect(row['count']).toBe(values.length);
      const sum = values.reduce((s, v) => s + v, 0);
      expect(Math.abs((row['sum'] as number) - sum) / sum).toBeLessThan(1e-9);
      for (const [q, key] of [
        [0.5, 'p50'],
        [0.9, 'p90'],
        [0.99, 'p99'],
      ] as const) {
        const exact = exactQuantile(sorted, q);
        const got = row[key] as number;
        expect(Math.abs(got - exact) / exact, `${key}: ${got} vs exact ${exact}`).toBeLessThanOrEqual(0.02);
      }
    };
    expectQuantiles(await metric(c, 'e2e.query.duration'), first);

    const events = await storedRows(c.collector.store, 'agent_events', ['name', 'fields'], trackingId);
    expect(events.map((e) => ({ name: e.name, fields: JSON.parse(String(e.fields)) }))).toEqual([
      { name: 'backup.finished', fields: { ok: true, seconds: 12.5, target: 's3' } },
    ]);
    const reports = await storedRows(
      c.collector.store,
      'agent_reports',
      ['node_type', 'version', 'ci', 'sequence'],
      trackingId,
    );
    expect(reports.map((r) => ({ ...r, ci: Number(r.ci), sequence: Number(r.sequence) }))).toEqual([
      { node_type: 'pglite', version: '1.2.3', ci: 0, sequence: 1 },
    ]);

    // A run under CI is stored but stays out of fleet statistics unless asked for.
    const ciAgent = agentFor(c.url, {
      trackingId: `e2e-ci-${target.name}`,
      dataDir: null,
      firstReportDelay: DAY,
      env: { CI: 'true' },
    });
    ciAgent.counter('e2e.queries').inc(1000);
    await ciAgent.flush();
    expect((await metric(c, 'e2e.queries')).rows).toMatchObject([{ total: 27, clusters: 1 }]);
    expect((await metric(c, 'e2e.queries', '?includeCi=true')).rows).toMatchObject([
      { total: 1027, clusters: 2 },
    ]);

    // The next report carries only what happened since the previous one.
    queries.inc(2);
    selects.inc(3);
    sessions.set(11);
    const second = lognormal(random, 1000, 0.2, 0.5);
    for (const v of second) latency.record(v);
    await agent.flush();
    expect((await metric(c, 'e2e.queries')).rows).toMatchObject([{ value: 'all', total: 32 }]);
    expect((await metric(c, 'e2e.sessions')).rows).toMatchObject([{ last: 11, min: 6, max: 11 }]);
    // Quantiles of both intervals together: the histograms are merged, not averaged.
    expectQuantiles(await metric(c, 'e2e.query.duration'), [...first, ...second]);
    expect((await storedReports(c, trackingId)).map((r) => r.sequence)).toEqual([1, 2]);
  });
});

describe('agent delivery against a real collector (sqlite store)', () => {
  it('collector down for several intervals, then back: every report delivered exactly once', async () => {
    const port = await freePort();
    const storeUrl = await sqlite.freshUrl();
    const dataDir = tempDir();
    const trackingId = 'e2e-outage';
    let c = await collectorOn(storeUrl, port);
    const clock = new FakeClock(Date.now());
    const agent = agentFor(c.url, {
      trackingId,
      dataDir,
      clock,
      random: seeded(7),
      firstReportDelay: MINUTE,
      interval: HOUR,
      retryBase: MINUTE,
      maxBackoff: 10 * MINUTE,
      sentMax: 1000,
    });
    const work = agent.counter('e2e.outage.work');
    await agent.preview(); // started: state loaded, first report scheduled
    // Between fake-clock timers, wait until the agent re-armed its alarm: it does so only once the
    // work the timer started (disk writes with fsync, HTTP) is over, however slow the machine is.
    const idle = () =>
      vi.waitFor(() => expect(clock.pending).toBeGreaterThan(0), { timeout: 10_000, interval: 5 });

    work.inc(1);
    await clock.advance(MINUTE, idle); // the first report, collector up
    await vi.waitFor(() => expect(sent(dataDir)).toHaveLength(1));
    expect(await nativeRequests(c)).toEqual({ '200': 1 });

    await c.close();
    for (let hour = 0; hour < 4; hour++) {
      work.inc(10);
      await clock.advance(HOUR, idle); // a report each interval, and retries with backoff in between
    }
    await vi.waitFor(() => expect(spooled(dataDir)).toHaveLength(4));
    const whileDown = spooled(dataDir);
    expect(sent(dataDir)).toHaveLength(1);

    c = await collectorOn(storeUrl, port); // the same address and the same store
    await clock.advance(10 * MINUTE, idle); // the pending retry (backoff is capped at 10 minutes)
    await vi.waitFor(() => expect(spooled(dataDir)).toEqual([]));
    work.inc(100);
    await agent.flush();

    const ids = sent(dataDir).map(idOf);
    expect(ids).toHaveLength(6);
    expect(ids).toEqual(expect.arrayContaining(whileDown.map(idOf)));
    const stored = await storedReports(c, trackingId);
    expect(stored.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(stored.map((r) => r.reportId))).toEqual(new Set(ids));
    // Each spooled report crossed the wire once after the restart: no resend, nothing deduplicated.
    expect(await nativeRequests(c)).toEqual({ '200': 5 });
    expect(await deduplicated(c)).toBe(0);
    expect((await metric(c, 'e2e.outage.work')).rows).toMatchObject([{ total: 141 }]);
    expect(spooled(dataDir)).toEqual([]);
  });

  it('an agent process killed with SIGKILL mid-run and restarted on the same dataDir loses nothing', async () => {
    const port = await freePort();
    const storeUrl = await sqlite.freshUrl();
    const dataDir = tempDir();
    const trackingId = 'e2e-crash';
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const atKill: string[] = []; // spooled or acknowledged when a process died
    const moments: string[] = [];
    let c = await collectorOn(storeUrl, port);

    // 1st process: some reports acknowledged, then the collector goes away and reports pile up in
    // the spool; killed at a random moment while they do.
    const first = await host(c.url, dataDir, trackingId);
    await vi.waitFor(() => expect(sent(dataDir).length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    await c.close();
    await vi.waitFor(() => expect(spooled(dataDir).length).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    const firstKill = Math.floor(Math.random() * 100);
    await pause(firstKill);
    await kill(first);
    moments.push(`1st killed ${firstKill} ms after its 3rd report was spooled`);
    const leftBehind = spooled(dataDir);
    expect(leftBehind.length).toBeGreaterThanOrEqual(3);
    atKill.push(...leftBehind.map(idOf), ...sent(dataDir).map(idOf));

    // 2nd process on the same dataDir: adds to the spool while the collector is still down, then
    // the collector comes back and it is killed at a random moment (often in the middle of the drain,
    // sometimes between an acknowledgement and the removal of the spool file).
    const second = await host(c.url, dataDir, trackingId);
    await vi.waitFor(
      () => expect(spooled(dataDir).filter((n) => !leftBehind.includes(n)).length).toBeGreaterThanOrEqual(1),
      { timeout: 10_000 },
    );
    c = await collectorOn(storeUrl, port); // the same address and the same store
    const secondKill = Math.floor(Math.random() * 150);
    await pause(secondKill);
    await kill(second);
    moments.push(`2nd killed ${secondKill} ms after the collector came back`);
    atKill.push(...spooled(dataDir).map(idOf), ...sent(dataDir).map(idOf));
    const why = moments.join('; ');

    // 3rd process: drains what is left, reports a while, and shuts down cleanly (SIGTERM).
    const third = await host(c.url, dataDir, trackingId);
    await vi.waitFor(() => expect(spooled(dataDir), why).toEqual([]), { timeout: 10_000 });
    const acked = sent(dataDir).length;
    await vi.waitFor(() => expect(sent(dataDir).length).toBeGreaterThan(acked + 1), { timeout: 10_000 });
    await stop(third); // the host shuts the agent down, which delivers its last report
    expect(spooled(dataDir), why).toEqual([]);

    const stored = await storedReports(c, trackingId);
    const storedIds = stored.map((r) => r.reportId);
    expect(new Set(storedIds).size, why).toBe(storedIds.length); // none stored twice
    // Everything that was spooled or acknowledged when a process died is in the store, and so is
    // every report any of the processes saw acknowledged.
    expect(storedIds, why).toEqual(expect.arrayContaining([...atKill, ...sent(dataDir).map(idOf)]));

    // Sequence numbers: one per report, contiguous within each process, carried across restarts.
    // The only report that may be missing is one a process was building when it died (its sequence
    // number persisted, its spool file not yet written): a gap of at most one at each restart.
    const bySession = new Map<string, number[]>();
    for (const r of stored) bySession.set(r.sessionId, [...(bySession.get(r.sessionId) ?? []), r.sequence]);
    const runs = [...bySession.values()].sort((a, b) => a[0]! - b[0]!);
    expect(runs, why).toHaveLength(3);
    expect(runs[0]![0], why).toBe(1);
    for (const [i, seqs] of runs.entries()) {
      expect(seqs.at(-1)! - seqs[0]! + 1, why).toBe(seqs.length);
      if (i === 0) continue;
      const gap = seqs[0]! - runs[i - 1]!.at(-1)! - 1;
      expect(gap, why).toBeGreaterThanOrEqual(0);
      expect(gap, why).toBeLessThanOrEqual(1);
    }
  });
});

describe('a disabled agent', () => {
  it('disabled means zero connections and zero files (enabled: false, TIDEWATCH_TELEMETRY=off, DO_NOT_TRACK=1)', async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const dataDir = path.join(tempDir(), 'telemetry');

    const saved = { ...process.env };
    cleanup.push(() => {
      for (const key of ['DO_NOT_TRACK', 'TIDEWATCH_TELEMETRY']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    });
    const cases: [string, Partial<AgentOptions>, Record<string, string> | null][] = [
      ['enabled: false', { enabled: false, env: {} }, null],
      ['env option TIDEWATCH_TELEMETRY=off', { env: { TIDEWATCH_TELEMETRY: 'off' } }, null],
      ['env option DO_NOT_TRACK=1', { env: { DO_NOT_TRACK: '1' } }, null],
      // The agent's default: the real process environment, stronger than `enabled: true`.
      ['process.env DO_NOT_TRACK=1', { env: undefined, enabled: true }, { DO_NOT_TRACK: '1' }],
      ['process.env TIDEWATCH_TELEMETRY=off', { env: undefined }, { TIDEWATCH_TELEMETRY: 'off' }],
    ];
    const logs: string[] = [];
    for (const [name, options, processEnv] of cases) {
      delete process.env['DO_NOT_TRACK'];
      delete process.env['TIDEWATCH_TELEMETRY'];
      Object.assign(process.env, processEnv ?? {});
      const agent = agentFor(endpoint, {
        trackingId: 'e2e-disabled',
        dataDir,
        firstReportDelay: 0,
        interval: 10,
        retryBase: 10,
        logger: { warn: (m) => logs.push(m) },
        ...options,
      });
      expect(agent.enabled, name).toBe(false);
      agent.counter('e2e.disabled.c').inc();
      agent.counter('e2e.disabled.c', { kind: 'select' }).inc(5);
      agent.gauge('e2e.disabled.g').set(3);
      agent.histogram('e2e.disabled.h').record(0.5);
      agent.event('backup.finished', { ok: true });
      expect(await agent.preview(), name).toBeNull();
      await agent.flush();
      await new Promise((resolve) => setTimeout(resolve, 50)); // a few would-be intervals
      await agent.shutdown();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connections).toBe(0);
    expect(existsSync(dataDir)).toBe(false);
    expect(logs).toEqual([]); // not even the first-start notice
  });
});

// --- child processes for the crash test -------------------------------------------------------

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/**
 * Starts a host process running the agent on a fast real-time schedule (TypeScript through tsx,
 * @tidewatch/protocol mapped to its source), recording all the time; SIGTERM shuts it down cleanly.
 */
async function host(endpoint: string, dataDir: string, trackingId: string): Promise<ChildProcess> {
  const script = [
    `import { createAgent } from ${JSON.stringify(path.join(here, '../packages/agent/src/index.ts'))};`,
    `const agent = createAgent({ endpoint: ${JSON.stringify(endpoint)}, dataDir: ${JSON.stringify(dataDir)},`,
    `  trackingId: ${JSON.stringify(trackingId)}, nodeType: 'crash-e2e', interval: 100, firstReportDelay: 50,`,
    `  jitter: 0, retryBase: 50, maxBackoff: 100, timeout: 1000, sentMax: 10000, env: {},`,
    `  logger: { warn() {} } });`,
    `const work = agent.counter('e2e.crash.work');`,
    `const latency = agent.histogram('e2e.crash.latency');`,
    `setInterval(() => { work.inc(); latency.record(Math.random() / 100); }, 1);`,
    `process.on('SIGTERM', () => void agent.shutdown(3000).then(() => process.exit(0)));`,
    `console.log('ready');`,
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: {
      ...process.env,
      TSX_TSCONFIG_PATH: path.join(here, '../packages/agent/test/tsconfig.child.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
}
