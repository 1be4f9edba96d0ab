// `npm run bench:contention`: how long report POSTs and /healthz wait while dashboard users run
// heavy 400-day metric questions, on SQLite and PostgreSQL side by side (same data, same load). It
// is the evidence that SQLite reads on their own thread no longer stop ingest: before that, one
// 400-day /query/metrics question held the event loop and every report waited behind it.
//
//   npx tsx bench/contention.ts [--targets sqlite,postgres[,clickhouse]] [--seconds 60] [--clients 4] [--rate 50]
//                               [--clusters 80] [--days 399] [--meta-every 1] [--solo-runs 3]
//                               [--batch 5000] [--seed 1] [--port 0] [--refill]
//                               [--out bench/results/contention.json]
//
// The servers are the test suite's (TIDEWATCH_TEST_POSTGRES, default
// postgres://postgres@127.0.0.1:5432/test; TIDEWATCH_TEST_CLICKHOUSE, default http://127.0.0.1:8123).
//
// 1. Fill. --clusters clusters, each with one Tidewatch agent report a day for --days days ending
//    with yesterday (UTC; ~80% from the first day, the rest join later; 13 series: db.queries and
//    db.query.duration by label kind, db.query.errors by sqlstate_class, db.connections; versions
//    upgrade over the period) and, every --meta-every days, one RisingWave v2 meta report. The
//    generator is deterministic (seeded Rng, derived ids), so every store gets the same bytes. Every
//    store is filled through a real collector (`tidewatch serve` in a child process, started with
//    --retention-months 0: the default 13 months would expire the oldest days) and its documented
//    bulk path, POST /admin/import (admin token, backdated receivedAt, gzip NDJSON batches of
//    --batch lines); both stores are filled in the same pass. The SQLite store is kept as a template
//    in bench/.cache/contention/, named by the fill parameters and the UTC day the period ends, so a
//    second run on the same day skips its fill (/admin/import refuses lines older than 400 days: the
//    PostgreSQL store, filled fresh each run, holds the same rows as the cached template only while
//    both end on the same day; templates of other days are deleted). PostgreSQL and ClickHouse get a
//    fresh database each (test-support/services.ts), dropped at the end; PostgreSQL gets a
//    `vacuum analyze` after its fill (what autovacuum converges to).
// 2. Measure, one target at a time (its collector alone, started afresh; SQLite on a copy of the
//    template in a temporary directory):
//    - solo: the seven 400-day /query/metrics/{name} questions one at a time, a first (cold) pass,
//      then --solo-runs passes whose median is reported;
//    - loaded, for --seconds: --clients dashboard clients, each looping over the seven questions
//      (each starting at a different one); --rate new reports per second (alternately a RisingWave
//      v2 meta report and a v3 agent report of a cluster of the fill, each its own request with a
//      30 s timeout, sent on schedule whether or not earlier ones were answered, open loop); and a
//      GET /healthz every 200 ms. Then what is in flight is awaited.
// 3. Print a table comparing the targets and write --out.
//
// Exit code 1 if any report was not answered 200 (another status, a timeout or a network error),
// anything answered 5xx, a question failed, a /healthz probe failed, or a collector died. The
// collectors keep their default rate limits (12,000 ingest requests per address per minute: --rate
// above 200 gets 429s). The load generator runs in this process on the same machine, and the machine
// may be shared: the load average at the start and end is recorded next to the numbers.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type AgentReport, encodeReportProtobuf, histogramOf, type MetricSeries } from '@tidewatch/protocol';
import pg from 'pg';
import { derivedUuid, Rng } from '../packages/cli/src/simulate/random.js';
import { agentReport, counter, gauge } from '../packages/collector/test-support/agent-report.js';
import {
  type CollectorProcess,
  spawnCollector,
} from '../packages/collector/test-support/collector-process.js';
import { metaReport } from '../packages/collector/test-support/risingwave.js';
import {
  createClickHouseDatabase,
  createPostgresDatabase,
} from '../packages/collector/test-support/services.js';
import { integerFlag } from './flags.js';

// ---------------------------------------------------------------------------------------------
// Options

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const started = performance.now();

const { values: flags } = parseArgs({
  options: {
    targets: { type: 'string', default: 'sqlite,postgres' },
    seconds: { type: 'string', default: '60' },
    clients: { type: 'string', default: '4' },
    rate: { type: 'string', default: '50' },
    clusters: { type: 'string', default: '80' },
    days: { type: 'string', default: '399' },
    'meta-every': { type: 'string', default: '1' },
    'solo-runs': { type: 'string', default: '3' },
    batch: { type: 'string', default: '5000' },
    seed: { type: 'string', default: '1' },
    // The first of two consecutive ports (SQLite, PostgreSQL); 0: any free port.
    port: { type: 'string', default: '0' },
    // Fill the SQLite template again even if the cache has one.
    refill: { type: 'boolean', default: false },
    out: { type: 'string', default: join(root, 'bench/results/contention.json') },
  },
  strict: true,
});

type Kind = 'sqlite' | 'postgres' | 'clickhouse';

const TARGETS = flags.targets.split(',').map((t) => t.trim()) as Kind[];
for (const t of TARGETS)
  if (t !== 'sqlite' && t !== 'postgres' && t !== 'clickhouse') throw new Error(`unknown target ${t}`);
if (new Set(TARGETS).size !== TARGETS.length) throw new Error('--targets: each target once');
const SECONDS = integerFlag('seconds', flags.seconds, 1);
const CLIENTS = integerFlag('clients', flags.clients, 0);
const RATE = integerFlag('rate', flags.rate, 1);
const CLUSTERS = integerFlag('clusters', flags.clusters, 1, 100_000);
// The questions ask for --days + 1 days (the fill and today's loaded reports): 400 at most.
const DAYS = integerFlag('days', flags.days, 1, 399);
const META_EVERY = integerFlag('meta-every', flags['meta-every'], 0);
const SOLO_RUNS = integerFlag('solo-runs', flags['solo-runs'], 1);
const BATCH = integerFlag('batch', flags.batch, 1, 50_000);
const SEED = integerFlag('seed', flags.seed, 0);
const PORT = integerFlag('port', flags.port, 0, 65_534);

/** Bump when the generated bytes change: cached templates of another version are not used. */
const GENERATOR_VERSION = 1;
const DAY_MS = 86_400_000;
const CACHE = join(root, 'bench/.cache/contention');
const ADMIN_TOKEN = `bench-contention-${derivedUuid('bench-contention', 'token')}`;
const REPORT_TIMEOUT_MS = 30_000;
const QUERY_TIMEOUT_MS = 300_000;
const HEALTHZ_EVERY_MS = 200;
const HEALTHZ_TIMEOUT_MS = 60_000;

function log(line: string): void {
  console.log(`[bench:contention] ${line}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The fleet: deterministic wire bodies (the same seed and day give the same bytes).

const KINDS = ['select', 'insert', 'update', 'delete'] as const;
const SQLSTATE_CLASSES = ['23', '42', '40'] as const;
const AGENT_VERSIONS = ['0.9.0', '1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0', '2.0.0', '2.1.0'];
const CLUSTER_TYPES = ['kubernetes', 'single_node', 'docker_compose', 'cloud_hosted'];

const trackingIdOf = (i: number) => derivedUuid('bench-contention', SEED, 'cluster', i);

/** One daily agent report of cluster i (13 series), its draws from r. */
function agentReportOf(r: Rng, i: number, at: number, sequence: number, versionIndex: number): AgentReport {
  const metrics: MetricSeries[] = [];
  for (const kind of KINDS) metrics.push(counter('db.queries', r.int(0, 5000), { kind }));
  for (const c of SQLSTATE_CLASSES)
    metrics.push(counter('db.query.errors', r.int(0, 30), { sqlstate_class: c }));
  metrics.push(gauge('db.connections', r.int(1, 40)));
  for (const kind of KINDS) {
    const values = Array.from({ length: 24 }, () => r.logNormal(0.004 * (1 + versionIndex / 10), 0.8));
    metrics.push({
      name: 'db.query.duration',
      unit: 's',
      description: 'db.query.duration',
      kind: 'histogram',
      labels: { kind },
      value: 0,
      histogram: histogramOf(values, 5, 64),
    });
  }
  return agentReport({
    reportId: derivedUuid('bench-contention', SEED, 'report', i, sequence, at),
    sequence,
    trackingId: trackingIdOf(i),
    sessionId: derivedUuid('bench-contention', SEED, 'session', i, Math.floor(at / (30 * DAY_MS))),
    nodeType: 'frontend',
    version: AGENT_VERSIONS[versionIndex]!,
    gitSha: `g${versionIndex}abcdef`,
    clusterType: CLUSTER_TYPES[i % CLUSTER_TYPES.length]!,
    intervalStartMs: at - DAY_MS,
    intervalEndMs: at,
    system: {
      memoryUsed: 2_000_000_000,
      memoryTotal: 8_589_934_592,
      osName: 'Linux',
      osVersion: 'Debian 12',
      osKernel: '6.1.0',
      cpuAvailable: 4,
    },
    process: { heapUsed: 80_000_000, eventLoopDelayP99: 0.012, uptime: 86_400, runtime: 'node v20.20.2' },
    cluster: { stream_jobs: r.int(0, 50) },
    metrics,
  });
}

interface ImportLine {
  receivedAt: number;
  path: string;
  contentType: string;
  body: string;
}

/**
 * The fill, a batch of NDJSON lines at a time. Day 0 is `DAYS` days before `end` (the start of a
 * UTC day); each cluster reports at its own time of day, from the day it joins.
 */
function* fillBatches(end: number): Generator<{ lines: string[]; day: number }> {
  const startDay = end / DAY_MS - DAYS;
  const r = new Rng('bench-contention', SEED, 'fill');
  const joinDay = Array.from({ length: CLUSTERS }, () =>
    r.chance(0.8) ? 0 : r.int(0, Math.max(0, DAYS - 30)),
  );
  const offset = Array.from({ length: CLUSTERS }, () => r.int(0, DAY_MS - 3_600_000));
  const sequence = new Array<number>(CLUSTERS).fill(0);
  let lines: string[] = [];
  const line = (l: ImportLine) => lines.push(JSON.stringify(l));
  for (let d = 0; d < DAYS; d++) {
    const dayStart = (startDay + d) * DAY_MS;
    for (let i = 0; i < CLUSTERS; i++) {
      if (d < joinDay[i]!) continue;
      const at = dayStart + offset[i]!;
      const versionIndex = Math.min(
        AGENT_VERSIONS.length - 1,
        Math.floor(((d + (i % 60)) / (DAYS + 60)) * AGENT_VERSIONS.length),
      );
      const report = agentReportOf(r, i, at, ++sequence[i]!, versionIndex);
      line({
        receivedAt: at + 100,
        path: '/api/v3/report',
        contentType: 'application/x-protobuf',
        body: Buffer.from(encodeReportProtobuf(report)).toString('base64'),
      });
      if (META_EVERY > 0 && (d + i) % META_EVERY === 0) {
        const meta = metaReport({
          trackingId: trackingIdOf(i),
          sessionId: derivedUuid('bench-contention', SEED, 'rw-session', i),
          reportTime: Math.floor((at + 5000) / 1000),
          upTime: (d - joinDay[i]!) * 86_400 + 3600,
          version: `2.${Math.min(6, Math.floor(versionIndex * 0.9))}.0`,
        });
        line({
          receivedAt: at + 5000,
          path: '/api/v2/report/meta',
          contentType: 'application/x-protobuf',
          body: Buffer.from(meta).toString('base64'),
        });
      }
      if (lines.length >= BATCH) {
        yield { lines, day: d };
        lines = [];
      }
    }
  }
  if (lines.length > 0) yield { lines, day: DAYS - 1 };
}

/** A report of the loaded phase (n even: a RisingWave v2 meta report; odd: a v3 agent report). */
function loadReport(r: Rng, n: number): { path: string; body: Uint8Array } {
  const i = n % CLUSTERS;
  const at = Date.now();
  if (n % 2 === 0) {
    return {
      path: '/api/v2/report/meta',
      body: metaReport({
        trackingId: trackingIdOf(i),
        sessionId: derivedUuid('bench-contention', 'load', process.pid, n),
        reportTime: Math.floor(at / 1000),
      }),
    };
  }
  return {
    path: '/api/v3/report',
    body: encodeReportProtobuf(agentReportOf(r, i, at, 1_000_000 + n, AGENT_VERSIONS.length - 1)),
  };
}

// ---------------------------------------------------------------------------------------------
// Collectors (child processes) and cleanup

const collectors = new Set<CollectorProcess>();
/** Run at the end, also after a failure or a signal: temporary files, the PostgreSQL database. */
const cleanups: (() => Promise<void> | void)[] = [];

interface Collector {
  process: CollectorProcess;
  url: string;
  /** Lines the collector logged at level error or fatal (pino JSON on stdout). */
  errorLines: () => string[];
}

async function startCollector(store: string, port: number): Promise<Collector> {
  const proc = await spawnCollector([
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--store',
    store,
    '--admin-token',
    ADMIN_TOKEN,
    '--log-level',
    'warn',
    '--retention-months',
    '0',
  ]);
  collectors.add(proc);
  const errors: string[] = [];
  let partial = '';
  proc.child.stdout!.setEncoding('utf8');
  proc.child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (/"level":"(error|fatal)"/.test(l) && errors.length < 100) errors.push(l);
  });
  return { process: proc, url: proc.url, errorLines: () => errors };
}

/** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
async function stopCollector(c: CollectorProcess, graceMs = 15_000): Promise<number | null> {
  const child = c.child;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await c.exited.catch(() => null);
    clearTimeout(timer);
  }
  collectors.delete(c);
  return child.exitCode;
}

function killAll(): void {
  for (const c of collectors) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  }
}

async function runCleanups(): Promise<void> {
  killAll();
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop()!;
    try {
      await cleanup();
    } catch (e) {
      log(`cleanup failed: ${e instanceof Error ? e.message : e}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Stores

/** A fresh database of the test suite's server for `kind`, dropped at the end; its store URL. */
async function freshDatabase(kind: 'postgres' | 'clickhouse'): Promise<string> {
  const database = kind === 'postgres' ? await createPostgresDatabase() : await createClickHouseDatabase();
  if (!database) throw new Error(`${kind} is not reachable: it cannot be a target`);
  cleanups.push(() => database.drop());
  return database.url;
}

interface ImportTotals {
  lines: number;
  reports: number;
  agentReports: number;
  duplicates: number;
  expired: number;
  discarded: number;
  blocked: number;
}

interface FillPlan {
  generator: number;
  clusters: number;
  days: number;
  metaEvery: number;
  seed: number;
  /** The end of the period: the start of the UTC day the fill ran. */
  end: string;
}

interface FillResult {
  kind: Kind;
  reused: boolean;
  seconds: number;
  totals: ImportTotals;
}

const planKey = (p: FillPlan) =>
  `sqlite-g${p.generator}-c${p.clusters}-d${p.days}-m${p.metaEvery}-s${p.seed}-${p.end}`;

function emptyTotals(): ImportTotals {
  return { lines: 0, reports: 0, agentReports: 0, duplicates: 0, expired: 0, discarded: 0, blocked: 0 };
}

async function importBatch(url: string, lines: string[], totals: ImportTotals): Promise<void> {
  const body = gzipSync(Buffer.from(lines.join('\n')), { level: 1 });
  const res = await fetch(`${url}/admin/import`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
    },
    body,
    signal: AbortSignal.timeout(600_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/admin/import answered ${res.status}: ${text.slice(0, 1000)}`);
  const a = JSON.parse(text) as {
    lines: number;
    imported: { reports: number; agentReports: number };
    duplicates: number;
    expired: number;
    discarded: number;
    blocked: number;
  };
  totals.lines += a.lines;
  totals.reports += a.imported.reports;
  totals.agentReports += a.imported.agentReports;
  totals.duplicates += a.duplicates;
  totals.expired += a.expired;
  totals.discarded += a.discarded;
  totals.blocked += a.blocked;
}

/** Fills the given stores in one pass, each through its own collector; returns their import totals. */
async function fill(stores: { kind: Kind; url: string }[], plan: FillPlan): Promise<ImportTotals[]> {
  const end = Date.parse(`${plan.end}T00:00:00Z`);
  const running = await Promise.all(stores.map((s, i) => startCollector(s.url, PORT === 0 ? 0 : PORT + i)));
  const totals = stores.map(() => emptyTotals());
  const inflight: (Promise<void> | null)[] = stores.map(() => null);
  const t0 = performance.now();
  let lastPrint = t0;
  try {
    for (const { lines, day } of fillBatches(end)) {
      for (let i = 0; i < stores.length; i++) {
        // One batch in flight per store, the next one built meanwhile.
        if (inflight[i]) await inflight[i];
        inflight[i] = importBatch(running[i]!.url, lines, totals[i]!);
        // A failure surfaces when awaited; keep it from being reported as unhandled before that.
        inflight[i]!.catch(() => undefined);
      }
      if (performance.now() - lastPrint > 5000) {
        lastPrint = performance.now();
        log(
          `fill: day ${day + 1}/${DAYS}, ` +
            stores.map((s, i) => `${s.kind} ${totals[i]!.lines} lines`).join(', ') +
            `, ${((lastPrint - t0) / 1000).toFixed(0)} s`,
        );
      }
    }
    for (const p of inflight) if (p) await p;
  } finally {
    for (const c of running) {
      const code = await stopCollector(c.process);
      if (code !== 0) log(`fill collector exited with ${code}: ${c.process.stderr().slice(-2000)}`);
    }
  }
  return totals;
}

// ---------------------------------------------------------------------------------------------
// Measurement

function percentile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);

interface SoloResult {
  query: string;
  rows: number;
  firstMs: number;
  medianMs: number;
}

interface TargetResult {
  kind: Kind;
  loadAverage: { start: number[]; end: number[] };
  solo: SoloResult[];
  queries: {
    answered: number;
    medianMs: number | null;
    maxMs: number | null;
    errors: Record<string, number>;
  };
  reports: {
    sent: number;
    answered: number;
    medianMs: number | null;
    p90Ms: number | null;
    p99Ms: number | null;
    maxMs: number | null;
    statuses: Record<string, number>;
    non200: number;
    timeouts: number;
    networkErrors: number;
    networkErrorCauses: Record<string, number>;
    lost: number;
    errorSamples: string[];
  };
  healthz: { probes: number; failures: number; medianMs: number | null; maxMs: number | null };
  drainSeconds: number;
  collector: { exitCode: number | null; diedDuringRun: boolean; errorLogLines: string[] };
  fiveHundreds: number;
}

/** The seven heavy questions: 400 days (--days + 1) ending today. */
function questions(end: number): { label: string; path: string }[] {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const range = `from=${day(end - DAYS * DAY_MS)}&to=${day(end)}`;
  return [
    ['db.query.duration', 'trackingId'],
    ['db.query.duration', 'label:kind'],
    ['db.queries', 'trackingId'],
    ['db.queries', 'label:kind'],
    ['db.query.errors', 'label:sqlstate_class'],
    ['db.connections', 'trackingId'],
    ['db.query.errors', 'trackingId'],
  ].map(([name, by]) => ({ label: `${name} by ${by}`, path: `/query/metrics/${name}?${range}&by=${by}` }));
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function measure(kind: Kind, store: string, port: number, end: number): Promise<TargetResult> {
  const collector = await startCollector(store, port);
  const { url } = collector;
  const qs = questions(end);
  let fiveHundreds = 0;
  const ask = async (path: string): Promise<{ ms: number; rows: number }> => {
    const s = performance.now();
    const res = await fetch(url + path, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
    });
    const body = await res.text();
    const ms = performance.now() - s;
    if (res.status >= 500) fiveHundreds++;
    if (res.status !== 200)
      throw new HttpStatusError(res.status, `answered ${res.status}: ${body.slice(0, 200)}`);
    return { ms, rows: (JSON.parse(body) as { rows?: unknown[] }).rows?.length ?? 0 };
  };

  try {
    // ---- solo: one question at a time ----
    const solo: SoloResult[] = [];
    const firsts: { ms: number; rows: number }[] = [];
    for (const q of qs) firsts.push(await ask(q.path));
    const runs: number[][] = qs.map(() => []);
    for (let run = 0; run < SOLO_RUNS; run++)
      for (let i = 0; i < qs.length; i++) runs[i]!.push((await ask(qs[i]!.path)).ms);
    for (let i = 0; i < qs.length; i++) {
      solo.push({
        query: qs[i]!.label,
        rows: firsts[i]!.rows,
        firstMs: round(firsts[i]!.ms)!,
        medianMs: round(percentile(runs[i]!, 0.5))!,
      });
      log(
        `${kind} solo: ${qs[i]!.label.padEnd(40)} ${String(solo[i]!.medianMs).padStart(8)} ms ` +
          `(first ${solo[i]!.firstMs} ms, ${solo[i]!.rows} rows)`,
      );
    }

    // ---- loaded ----
    const loadStart = loadavg();
    const startAt = performance.now();
    const endAt = startAt + SECONDS * 1000;
    const running = () => performance.now() < endAt;
    const inflight = new Set<Promise<void>>();
    const track = (p: Promise<void>) => {
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    };

    const queryMs: number[] = [];
    const queryErrors: Record<string, number> = {};
    const clientLoop = async (k: number) => {
      let i = (k * 2) % qs.length;
      while (running()) {
        try {
          queryMs.push((await ask(qs[i]!.path)).ms);
        } catch (e) {
          const cause = (e as { cause?: { code?: string } }).cause?.code;
          const what = e instanceof Error ? `${e.name} ${e.message}${cause ? ` (${cause})` : ''}` : String(e);
          const key = `${qs[i]!.label}: ${what}`.slice(0, 120);
          queryErrors[key] = (queryErrors[key] ?? 0) + 1;
        }
        i = (i + 1) % qs.length;
      }
    };

    const reportMs: number[] = [];
    const statuses: Record<string, number> = {};
    let timeouts = 0;
    let networkErrors = 0;
    const networkErrorCauses: Record<string, number> = {};
    const errorSamples: string[] = [];
    const r = new Rng('bench-contention', SEED, 'load');
    let sent = 0;
    const sendReport = async (n: number) => {
      const { path, body } = loadReport(r, n);
      const s = performance.now();
      try {
        const res = await fetch(url + path, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf' },
          body,
          signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
        });
        const text = await res.text();
        reportMs.push(performance.now() - s);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 500) fiveHundreds++;
        if (res.status !== 200 && errorSamples.length < 5)
          errorSamples.push(`${res.status} ${text.slice(0, 200)}`);
      } catch (e) {
        const name = e instanceof Error ? e.name : '';
        if (name === 'TimeoutError' || name === 'AbortError') timeouts++;
        else {
          networkErrors++;
          // fetch says only "fetch failed": the socket's error is its cause (ECONNRESET, ...).
          const cause = (e as { cause?: { code?: string; message?: string } }).cause;
          const key = cause?.code ?? cause?.message ?? 'unknown';
          networkErrorCauses[key] = (networkErrorCauses[key] ?? 0) + 1;
        }
        if (errorSamples.length < 5) errorSamples.push(`${name}: ${e instanceof Error ? e.message : e}`);
      }
    };
    const ingestLoop = async () => {
      const interval = 1000 / RATE;
      while (running()) {
        const wait = startAt + sent * interval - performance.now();
        if (wait > 0) await sleep(wait);
        if (!running()) break;
        track(sendReport(sent++));
      }
    };

    const healthMs: number[] = [];
    let healthFailures = 0;
    const healthLoop = async () => {
      let n = 0;
      while (running()) {
        const wait = startAt + n * HEALTHZ_EVERY_MS - performance.now();
        if (wait > 0) await sleep(wait);
        if (!running()) break;
        n++;
        track(
          (async () => {
            const s = performance.now();
            try {
              const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HEALTHZ_TIMEOUT_MS) });
              await res.text();
              if (res.status >= 500) fiveHundreds++;
              if (res.status === 200) healthMs.push(performance.now() - s);
              else healthFailures++;
            } catch {
              healthFailures++;
            }
          })(),
        );
      }
    };

    log(
      `${kind}: loaded for ${SECONDS} s: ${CLIENTS} query clients, ${RATE} reports/s, /healthz every ${HEALTHZ_EVERY_MS} ms`,
    );
    const progress = setInterval(() => {
      log(
        `${kind}: t=${((performance.now() - startAt) / 1000).toFixed(0)} s, questions answered ${queryMs.length}, ` +
          `reports answered ${reportMs.length}/${sent} (max ${Math.round(Math.max(0, ...reportMs))} ms), ` +
          `/healthz max ${Math.round(Math.max(0, ...healthMs))} ms`,
      );
    }, 10_000);
    try {
      await Promise.all([
        ...Array.from({ length: CLIENTS }, (_, k) => clientLoop(k)),
        ingestLoop(),
        healthLoop(),
      ]);
    } finally {
      clearInterval(progress);
    }
    const loadEnd = performance.now();
    await Promise.allSettled([...inflight]);
    const drainSeconds = (performance.now() - loadEnd) / 1000;
    const loadEndAvg = loadavg();
    const diedDuringRun =
      collector.process.child.exitCode !== null || collector.process.child.signalCode !== null;
    const exitCode = await stopCollector(collector.process);
    const non200 = Object.entries(statuses)
      .filter(([s]) => s !== '200')
      .reduce((a, [, n]) => a + n, 0);
    return {
      kind,
      loadAverage: { start: loadStart, end: loadEndAvg },
      solo,
      queries: {
        answered: queryMs.length,
        medianMs: round(percentile(queryMs, 0.5)),
        maxMs: round(percentile(queryMs, 1)),
        errors: queryErrors,
      },
      reports: {
        sent,
        answered: reportMs.length,
        medianMs: round(percentile(reportMs, 0.5)),
        p90Ms: round(percentile(reportMs, 0.9)),
        p99Ms: round(percentile(reportMs, 0.99)),
        maxMs: round(percentile(reportMs, 1)),
        statuses,
        non200,
        timeouts,
        networkErrors,
        networkErrorCauses,
        lost: timeouts + networkErrors,
        errorSamples,
      },
      healthz: {
        probes: healthMs.length + healthFailures,
        failures: healthFailures,
        medianMs: round(percentile(healthMs, 0.5)),
        maxMs: round(percentile(healthMs, 1)),
      },
      drainSeconds: Math.round(drainSeconds * 10) / 10,
      collector: { exitCode, diedDuringRun, errorLogLines: collector.errorLines().slice(0, 10) },
      fiveHundreds,
    };
  } finally {
    await stopCollector(collector.process);
  }
}

/** Why a target's run does not count: reports not all answered 200, 5xx, failed questions, ... */
function problems(r: TargetResult): string[] {
  const p: string[] = [];
  if (r.reports.answered + r.reports.lost !== r.reports.sent)
    p.push(`${r.reports.sent - r.reports.answered - r.reports.lost} reports never settled`);
  if (r.reports.non200 > 0)
    p.push(`${r.reports.non200} reports answered other than 200 ${JSON.stringify(r.reports.statuses)}`);
  if (r.reports.lost > 0)
    p.push(
      `${r.reports.lost} reports lost (${r.reports.timeouts} timeouts, ${r.reports.networkErrors} network errors)`,
    );
  if (r.fiveHundreds > 0) p.push(`${r.fiveHundreds} answers 5xx`);
  const queryErrors = Object.values(r.queries.errors).reduce((a, n) => a + n, 0);
  if (queryErrors > 0) p.push(`${queryErrors} questions failed ${JSON.stringify(r.queries.errors)}`);
  if (r.healthz.failures > 0) p.push(`${r.healthz.failures} /healthz probes failed`);
  if (r.collector.diedDuringRun) p.push('the collector died during the run');
  if (r.collector.errorLogLines.length > 0)
    p.push(`the collector logged ${r.collector.errorLogLines.length}+ errors`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Report

function table(results: TargetResult[]): string {
  const ms = (x: number | null) =>
    x === null ? '-' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;
  const rows: [string, ...string[]][] = [];
  const row = (label: string, f: (r: TargetResult) => string) => rows.push([label, ...results.map(f)]);
  for (let i = 0; i < (results[0]?.solo.length ?? 0); i++)
    row(`solo ${results[0]!.solo[i]!.query}`, (r) => ms(r.solo[i]!.medianMs));
  rows.push(['']);
  row('report wait median', (r) => ms(r.reports.medianMs));
  row('report wait p90', (r) => ms(r.reports.p90Ms));
  row('report wait p99', (r) => ms(r.reports.p99Ms));
  row('report wait max', (r) => ms(r.reports.maxMs));
  row('reports sent / answered 200', (r) => `${r.reports.sent} / ${r.reports.statuses['200'] ?? 0}`);
  row('reports non-200', (r) => String(r.reports.non200));
  row('reports lost (timeout, network)', (r) => String(r.reports.lost));
  row('/healthz median', (r) => ms(r.healthz.medianMs));
  row('/healthz max', (r) => ms(r.healthz.maxMs));
  row('questions answered', (r) => String(r.queries.answered));
  row('question median', (r) => ms(r.queries.medianMs));
  row('question max', (r) => ms(r.queries.maxMs));
  row(
    'load average start → end',
    (r) => `${r.loadAverage.start[0]!.toFixed(2)} → ${r.loadAverage.end[0]!.toFixed(2)}`,
  );
  row('verdict', (r) => (problems(r).length === 0 ? 'ok' : 'FAILED'));
  const header = ['', ...results.map((r) => r.kind)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((r) => (r.length === 1 ? '' : line(r))),
  ].join('\n');
}

async function main(): Promise<number> {
  const loadStart = loadavg();
  log(
    `targets ${TARGETS.join(', ')} · ${CLUSTERS} clusters × ${DAYS} days · ${SECONDS} s, ${CLIENTS} clients, ` +
      `${RATE} reports/s · ${cpus().length} CPUs (load ${loadStart.map((l) => l.toFixed(2)).join(' ')}; the machine may be shared)`,
  );
  if (!existsSync(join(root, 'packages/cli/dist')) || !existsSync(join(root, 'packages/collector/dist')))
    throw new Error('the collector runs from packages/*/dist: run `npm run build` first');

  // ---- fill ----
  const end = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const plan: FillPlan = {
    generator: GENERATOR_VERSION,
    clusters: CLUSTERS,
    days: DAYS,
    metaEvery: META_EVERY,
    seed: SEED,
    end: new Date(end).toISOString().slice(0, 10),
  };
  mkdirSync(CACHE, { recursive: true });
  const template = join(CACHE, `${planKey(plan)}.db`);
  const templateInfo = `${template.slice(0, -3)}.json`;
  // Templates that end on another day are of no use to a PostgreSQL fill today (and half-written
  // ones of an interrupted run are of no use at all).
  for (const f of readdirSync(CACHE)) {
    const m = /^sqlite-g\d+-c\d+-d\d+-m\d+-s\d+-(\d{4}-\d{2}-\d{2})\./.exec(f);
    if (m && (m[1] !== plan.end || f.includes('.partial'))) {
      log(`removing the stale template file ${f}`);
      rmSync(join(CACHE, f), { force: true });
    }
  }
  if (flags.refill) for (const f of [template, `${template}-wal`, templateInfo]) rmSync(f, { force: true });
  const haveTemplate = existsSync(template) && existsSync(templateInfo);

  const toFill: { kind: Kind; url: string }[] = [];
  const partial = `${template}.partial`;
  if (TARGETS.includes('sqlite') && !haveTemplate) {
    for (const s of ['', '-wal', '-shm']) rmSync(partial + s, { force: true });
    cleanups.push(() => {
      for (const s of ['', '-wal', '-shm']) rmSync(partial + s, { force: true });
    });
    toFill.push({ kind: 'sqlite', url: `sqlite:${partial}` });
  }
  let pgUrl: string | null = null;
  if (TARGETS.includes('postgres')) {
    pgUrl = await freshDatabase('postgres');
    toFill.push({ kind: 'postgres', url: pgUrl });
  }
  let chUrl: string | null = null;
  if (TARGETS.includes('clickhouse')) {
    chUrl = await freshDatabase('clickhouse');
    toFill.push({ kind: 'clickhouse', url: chUrl });
  }

  const fills: FillResult[] = [];
  if (haveTemplate && TARGETS.includes('sqlite')) {
    const info = JSON.parse(readFileSync(templateInfo, 'utf8')) as {
      seconds: number;
      totals: ImportTotals;
    };
    fills.push({ kind: 'sqlite', reused: true, seconds: info.seconds, totals: info.totals });
    log(`sqlite: the cached template is reused (${template}; filled in ${info.seconds} s)`);
  }
  if (toFill.length > 0) {
    log(`fill: ${toFill.map((t) => t.kind).join(' and ')} through /admin/import, days to ${plan.end}`);
    const t0 = performance.now();
    const totals = await fill(toFill, plan);
    const seconds = Math.round((performance.now() - t0) / 100) / 10;
    for (let i = 0; i < toFill.length; i++) {
      const t = toFill[i]!;
      fills.push({ kind: t.kind, reused: false, seconds, totals: totals[i]! });
      log(`fill ${t.kind}: ${JSON.stringify(totals[i])} in ${seconds} s`);
      if (totals[i]!.expired + totals[i]!.discarded + totals[i]!.blocked + totals[i]!.duplicates > 0)
        throw new Error(`fill ${t.kind}: lines were not all stored: ${JSON.stringify(totals[i])}`);
      if (t.kind === 'sqlite') {
        if (existsSync(`${partial}-wal`)) renameSync(`${partial}-wal`, `${template}-wal`);
        renameSync(partial, template);
        writeFileSync(templateInfo, `${JSON.stringify({ plan, seconds, totals: totals[i] }, null, 2)}\n`);
      }
    }
  }
  const stored = new Set(fills.map((f) => `${f.totals.reports}/${f.totals.agentReports}`));
  if (stored.size > 1) throw new Error(`the targets hold different data: ${JSON.stringify(fills)}`);
  if (pgUrl) {
    const t0 = performance.now();
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query('vacuum analyze').finally(() => client.end());
    log(`postgres: vacuum analyze ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  // ---- measure, one target at a time ----
  const results: TargetResult[] = [];
  for (const [index, kind] of TARGETS.entries()) {
    const port = PORT === 0 ? 0 : PORT + index;
    if (kind === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'tw-bench-contention-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const db = join(dir, 'tidewatch.db');
      copyFileSync(template, db);
      if (existsSync(`${template}-wal`)) copyFileSync(`${template}-wal`, `${db}-wal`);
      results.push(await measure(kind, `sqlite:${db}`, port, end));
      rmSync(dir, { recursive: true, force: true });
    } else {
      results.push(await measure(kind, kind === 'postgres' ? pgUrl! : chUrl!, port, end));
    }
    const r = results.at(-1)!;
    log(
      `${kind}: reports ${r.reports.sent} sent, median ${r.reports.medianMs} ms, p99 ${r.reports.p99Ms} ms, ` +
        `max ${r.reports.maxMs} ms; /healthz max ${r.healthz.maxMs} ms; ${r.queries.answered} questions answered`,
    );
  }

  const loadEnd = loadavg();
  const wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  console.log(
    `\nTidewatch ingest and /healthz under heavy metric questions: ${CLUSTERS} clusters × ${DAYS} days ` +
      `(to ${plan.end}), ${SECONDS} s loaded with ${CLIENTS} dashboard clients and ${RATE} reports/s; ` +
      `solo = median of ${SOLO_RUNS} after a first pass; load average ${loadStart[0]!.toFixed(2)} → ${loadEnd[0]!.toFixed(2)} ` +
      `on ${cpus().length} CPUs (shared machine)\n`,
  );
  console.log(table(results));
  for (const f of fills) {
    console.log(
      `fill ${f.kind}: ${f.reused ? 'cached template, filled' : 'filled'} in ${f.seconds} s: ` +
        `${f.totals.reports} reports, ${f.totals.agentReports} agent reports (${f.totals.lines} lines)`,
    );
  }
  const failed = results
    .map((r) => ({ kind: r.kind, problems: problems(r) }))
    .filter((f) => f.problems.length > 0);
  for (const f of failed) console.log(`FAILED ${f.kind}: ${f.problems.join('; ')}`);
  for (const r of results) for (const s of r.reports.errorSamples) console.log(`  ${r.kind} sample: ${s}`);
  for (const r of results)
    for (const l of r.collector.errorLogLines) console.log(`  ${r.kind} log: ${l.slice(0, 300)}`);
  console.log(`whole run ${wallSeconds} s`);

  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: { model: cpus()[0]?.model ?? 'unknown', count: cpus().length },
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    loadAverage: { start: loadStart, end: loadEnd },
    note:
      'shared machine: other test suites may run at the same time; the load generator runs in the bench process, ' +
      'PostgreSQL on the same machine',
    options: {
      targets: TARGETS,
      seconds: SECONDS,
      clients: CLIENTS,
      rate: RATE,
      soloRuns: SOLO_RUNS,
      reportTimeoutMs: REPORT_TIMEOUT_MS,
      healthzEveryMs: HEALTHZ_EVERY_MS,
    },
    fill: { plan, batchLines: BATCH, stores: fills },
    questions: questions(end).map((q) => q.path),
    results,
    ok: failed.length === 0,
    wallSeconds,
  };
  mkdirSync(dirname(resolve(flags.out)), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${flags.out}`);
  return failed.length === 0 ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping collectors and removing temporary files`);
    const deadline = sleep(10_000);
    void Promise.race([runCleanups(), deadline]).finally(() => process.exit(130));
  });
}
process.once('exit', killAll);

try {
  process.exitCode = await main();
} catch (error) {
  console.error(
    `[bench:contention] failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`,
  );
  process.exitCode = 1;
} finally {
  await runCleanups();
}
