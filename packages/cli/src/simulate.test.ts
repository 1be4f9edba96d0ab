// The real `tidewatch simulate` command against a real collector: backdated history through the
// admin import, determinism (a rerun stores nothing twice), the public-route mode, usage errors.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  startTestCollector,
  type TestCollector,
} from '../../collector/test-support/collector.js';
import { tempDir } from '../../collector/test-support/services.js';
import { FleetSimulation } from './simulate/activity.js';
import { DAY_MS, releaseAt } from './simulate/fleet.js';

const BIN = fileURLToPath(new URL('../bin/tidewatch.js', import.meta.url));
const dir = tempDir();
afterAll(() => dir.remove());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function tidewatch(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir.path, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** "stored N reports, M events, K agent reports" from the summary. */
function stored(stdout: string) {
  const m = /stored\s+([\d,]+) reports, ([\d,]+) events, ([\d,]+) agent reports/.exec(stdout);
  if (!m) throw new Error(`no "stored" line in:\n${stdout}`);
  const num = (s: string) => Number(s.replaceAll(',', ''));
  return { reports: num(m[1]!), events: num(m[2]!), agentReports: num(m[3]!) };
}

interface ClusterAnswer {
  firstSeen: string;
  lastSeen: string;
  version: string | null;
  clusterType: string | null;
  metaBackend: string | null;
  nodeCount: Record<string, number> | null;
  reports: Record<string, number>;
  events: number;
  agentReports: number;
}

interface Expected {
  first: number;
  last: number;
  /** Receive time of the last meta report, 0 if none. */
  lastMeta: number;
  reports: number;
  events: number;
  agentReports: number;
}

/** Per (non-test) cluster: what the simulation sends with a receive time from `emitFrom` on. */
function expectedPerCluster(sim: FleetSimulation, emitFrom: number): Map<string, Expected> {
  const testIds = new Set(sim.clusters.filter((p) => p.isTest).map((p) => p.trackingId));
  const out = new Map<string, Expected>();
  for (const day of sim.days()) {
    for (const item of sim.day(day, emitFrom)) {
      if (testIds.has(item.trackingId)) continue;
      const e = out.get(item.trackingId) ?? {
        first: item.receivedAt,
        last: item.receivedAt,
        lastMeta: 0,
        reports: 0,
        events: 0,
        agentReports: 0,
      };
      e.first = Math.min(e.first, item.receivedAt);
      e.last = Math.max(e.last, item.receivedAt);
      if (item.kind === 'report') e.reports++;
      if (item.kind === 'agent') e.agentReports++;
      e.events += item.events;
      if (item.path.endsWith('/meta')) e.lastMeta = Math.max(e.lastMeta, item.receivedAt);
      out.set(item.trackingId, e);
    }
  }
  return out;
}

const sumOf = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

const NOW = Date.now() - 60_000;
const options = { seed: '1', clusters: 20, days: 10, now: NOW, agents: true };
const fleetArgs = [
  '--clusters',
  '20',
  '--days',
  '10',
  '--seed',
  '1',
  '--agents',
  '--now',
  new Date(NOW).toISOString(),
];

describe('tidewatch simulate --token: history through /admin/import', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector(`sqlite:${join(dir.path, 'history.db')}`);
    return () => c.close();
  });
  const cluster = async (id: string) => {
    const res = await c.get(`/query/clusters/${id}`);
    return { status: res.status, body: (await res.json()) as ClusterAnswer };
  };

  it('stores a fleet with backdated first/last seen, v2 meta facts, events and agent reports', async () => {
    const run = await tidewatch(['simulate', ...fleetArgs, '--target', c.url, '--token', ADMIN_TOKEN]);
    expect(run.stderr).not.toMatch(/tidewatch:/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^simulated 20 clusters over 10 days \(seed 1\)/);
    const first = stored(run.stdout);
    expect(first.reports).toBeGreaterThan(500);
    expect(first.events).toBeGreaterThan(0);
    expect(first.agentReports).toBeGreaterThan(0);
    // Not a TTY: the progress bar prints plain lines, up to 100%.
    expect(run.stderr).toMatch(/^100% days 10\/10 /m);

    // What the fleet sent, per cluster, straight from the simulation the command ran.
    const sim = new FleetSimulation(options);
    const sent = expectedPerCluster(sim, Number.NEGATIVE_INFINITY);
    expect(sent.size).toBeGreaterThan(10);
    let withEvents = 0;
    let v2Meta = 0;
    for (const [id, want] of sent) {
      const plan = sim.clusters.find((p) => p.trackingId === id)!;
      const { status, body } = await cluster(id);
      expect(status).toBe(200);
      // Backdated: first and last seen are the receive times of the history, inside the period.
      expect(body.firstSeen).toBe(new Date(want.first).toISOString());
      expect(body.lastSeen).toBe(new Date(want.last).toISOString());
      expect(want.first).toBeGreaterThanOrEqual(Math.max(sim.start, plan.bornAt));
      expect(want.last).toBeLessThanOrEqual(NOW);
      expect(sumOf(body.reports)).toBe(want.reports);
      expect(body.events).toBe(want.events);
      expect(body.agentReports).toBe(want.agentReports);
      const release = sim.releases[releaseAt(plan, want.lastMeta)]!;
      if (release.protocol === 'v2' && want.lastMeta > 0) {
        v2Meta++;
        expect(body).toMatchObject({
          version: release.version,
          gitSha: release.gitSha,
          nodeCount: plan.nodes,
        });
        if (release.hasClusterType) expect(body.clusterType).toBe(plan.clusterType);
      }
      if (body.events > 0) withEvents++;
    }
    expect(v2Meta).toBeGreaterThan(sent.size / 2);
    expect(withEvents).toBeGreaterThan(0);
    // The clusters that send is_test are validated and dropped.
    for (const plan of sim.clusters.filter((p) => p.isTest))
      expect((await cluster(plan.trackingId)).status).toBe(404);
  });

  it('stores nothing twice when the same seed runs again', async () => {
    const id = new FleetSimulation(options).clusters.find((p) => !p.isTest)!.trackingId;
    const before = (await cluster(id)).body;
    const run = await tidewatch(['simulate', ...fleetArgs, '--target', c.url, '--token', ADMIN_TOKEN]);
    expect(run.code).toBe(0);
    expect(stored(run.stdout)).toEqual({ reports: 0, events: 0, agentReports: 0 });
    expect(run.stdout).toMatch(/[1-9][\d,]* already stored/);
    expect((await cluster(id)).body).toEqual(before);
  });

  it("says how many items of an erased cluster the collector dropped, apart from is_test's", async () => {
    const id = new FleetSimulation(options).clusters.find((p) => !p.isTest)!.trackingId;
    expect((await c.del(`/admin/clusters/${id}`)).status).toBe(200);
    const run = await tidewatch(['simulate', ...fleetArgs, '--target', c.url, '--token', ADMIN_TOKEN]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/; [1-9][\d,]* items of erased \(blocked\) clusters dropped/);
    expect((await cluster(id)).status).toBe(404);
    expect((await c.del(`/admin/blocked/${id}`)).status).toBe(200);
  });

  it('says when the token is wrong or not an admin token', async () => {
    const wrong = await tidewatch([
      'simulate',
      ...fleetArgs,
      '--target',
      c.url,
      '--token',
      'not-a-real-token',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/refused the token \(401/);
    const { newToken } = await import('@tidewatch/collector');
    const read = newToken('read', 'simulate test', Date.now(), null);
    await c.collector.store.putToken(read.record);
    const reader = await tidewatch(['simulate', ...fleetArgs, '--target', c.url, '--token', read.secret]);
    expect(reader.code).toBe(1);
    expect(reader.stderr).toMatch(/not an admin token \(403\)/);
  });
});

describe('tidewatch simulate without a token: the last day, to the public routes', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector(`sqlite:${join(dir.path, 'public.db')}`);
    return () => c.close();
  });

  it('sends only the last 24 hours, received now', async () => {
    const startedAt = Date.now();
    const run = await tidewatch(['simulate', ...fleetArgs, '--target', c.url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/only the last day was sent, to the public ingest routes/);
    expect(run.stdout).toMatch(/--token/);

    const sim = new FleetSimulation(options);
    const sent = expectedPerCluster(sim, sim.end - DAY_MS);
    expect(sent.size).toBeGreaterThan(0);
    for (const [id, want] of sent) {
      expect(want.first).toBeGreaterThanOrEqual(sim.end - DAY_MS);
      const body = (await (await c.get(`/query/clusters/${id}`)).json()) as ClusterAnswer;
      // Received by the collector's clock during this run, not backdated.
      expect(Date.parse(body.firstSeen)).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(sumOf(body.reports)).toBe(want.reports);
      expect(body.agentReports).toBe(want.agentReports);
    }
    // A cluster that only sent before the last day is not there at all.
    const old = expectedPerCluster(sim, Number.NEGATIVE_INFINITY);
    const gone = [...old.keys()].find((id) => !sent.has(id));
    if (gone) expect((await c.get(`/query/clusters/${gone}`)).status).toBe(404);
  });
});

describe('tidewatch simulate usage', () => {
  it.each([
    [['--clusters', '0', '--days', '3'], /--clusters must be an integer from 1/],
    [['--clusters', '5', '--days', 'abc'], /--days must be an integer from 1 to 365, not "abc"/],
    [['--days', '3'], /--clusters is required/],
    [['--clusters', '5', '--days', '3', '--target', 'ftp://x'], /--target must be an http/],
    [['--clusters', '5', '--days', '3', '--bogus'], /bogus/],
    // A day that is not in the calendar, which Date.parse would roll over to March 2.
    [['--clusters', '5', '--days', '3', '--now', '2026-02-30'], /--now must be an ISO 8601 time/],
    [['--clusters', '5', '--days', '3', '--seed', ''], /--seed is empty/],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const run = await tidewatch(['simulate', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('names the URL when the collector cannot be reached (exit 1)', async () => {
    const run = await tidewatch([
      'simulate',
      '--clusters',
      '2',
      '--days',
      '2',
      '--target',
      'http://127.0.0.1:9',
      '--token',
      'x',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot reach the collector at http:\/\/127\.0\.0\.1:9/);
  });

  it('takes the collector from TIDEWATCH_URL, as `tidewatch query` does', async () => {
    const env = { ...process.env, TIDEWATCH_URL: 'http://127.0.0.1:9' };
    const run = await tidewatch(['simulate', '--clusters', '2', '--days', '2'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot reach the collector at http:\/\/127\.0\.0\.1:9 \(/);
  });

  it('prints its help', async () => {
    const run = await tidewatch(['simulate', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--token T\s+an admin token/);
  });
});
