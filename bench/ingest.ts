// `npm run bench:ingest`: how many distinct RisingWave meta reports per second the collector
// acknowledges over loopback, on SQLite, PostgreSQL or ClickHouse, next to a no-op fastify route
// measured in the same run as the ceiling; and whether every acknowledged report is really in the
// store. With --collectors N, N collector processes share one store and the load is split evenly
// between them (what a load balancer does); bench:scale runs it with 1 and 2.
//
//   npx tsx bench/ingest.ts [--duration 15] [--rounds 5] [--warmup 2] [--connections 50] [--pipelining 1]
//                           [--targets noop,discard,sqlite,postgres,clickhouse] [--clusters 1000] [--pool N]
//                           [--collectors 1] [--ch-url http://127.0.0.1:8123]
//                           [--pg-url postgres://postgres@127.0.0.1:5432/test]
//                           [--node-args="--cpu-prof"] [--out bench/results/ingest.json]
//
// `discard` is the collector answering the same reports marked is_test: decoded and validated, answered
// 200, stored nowhere. It is what the collector's HTTP handling and decoding cost before any store,
// and so the most any store could reach on this machine.
//
// Servers run in child processes; autocannon runs in this process, so the load generator competes
// with the server (and with PostgreSQL) for the same cores. Every request carries a different
// report (its own session id and report time, one of --clusters tracking ids), pre-encoded before the
// load starts. Per request we remember whether it was sent, answered 2xx or answered otherwise, and
// afterwards compare with the rows in the store: every 2xx must be stored, nothing else may be
// stored except requests still in flight when the load generator hung up. Exit code 1 on a mismatch.
// All targets' servers run at once and are loaded in turn, --rounds slices of --duration/--rounds
// seconds each; a target's ratio to the ceiling is the median over rounds of its rate against the
// no-op rate of the same round, so a machine that slows down between minutes moves both alike.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { create, toBinary } from '@bufbuild/protobuf';
import { risingwaveWire as wire } from '@tidewatch/protocol';
import autocannonModule from 'autocannon';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { integerFlag } from './flags.js';

// ---------------------------------------------------------------------------------------------
// Options

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    pipelining: { type: 'string', default: '1' },
    targets: { type: 'string', default: 'noop,discard,sqlite,postgres' },
    clusters: { type: 'string', default: '1000' },
    pool: { type: 'string' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    'ch-url': { type: 'string', default: 'http://127.0.0.1:8123' },
    collectors: { type: 'string', default: '1' },
    'node-args': { type: 'string', default: '' },
    out: { type: 'string', default: join(root, 'bench/results/ingest.json') },
  },
  strict: true,
});

const duration = integerFlag('duration', flags.duration, 1);
const rounds = integerFlag('rounds', flags.rounds, 1);
const warmup = integerFlag('warmup', flags.warmup, 0);
const connections = integerFlag('connections', flags.connections, 1);
const pipelining = integerFlag('pipelining', flags.pipelining, 1);
const clusterCount = integerFlag('clusters', flags.clusters, 1);
const collectorCount = integerFlag('collectors', flags.collectors, 1);
const poolSize = flags.pool
  ? integerFlag('pool', flags.pool, 1)
  : Math.min(1_000_000, Math.max(200_000, (duration + warmup) * 15_000));
const targets = flags.targets.split(',').map((t) => t.trim());
for (const t of targets) {
  if (!['noop', 'discard', 'sqlite', 'postgres', 'clickhouse'].includes(t))
    throw new Error(`unknown target ${t}`);
}
const nodeArgs = flags['node-args'].split(' ').filter(Boolean);
const ADMIN_TOKEN = `bench-${randomBytes(16).toString('hex')}`;
const GOALS: Record<string, number> = { sqlite: 0.5, postgres: 0.35 };

function log(line: string): void {
  console.log(`[bench] ${line}`);
}

// ---------------------------------------------------------------------------------------------
// Distinct meta reports. Report i: tracking id clusters[i % clusterCount], session id
// `${runPrefix}-${i as 12 hex digits}` (so a stored row maps back to its request), report time base+i.

const runPrefix = randomUUID().slice(0, 23); // 8-4-4-4 of a random UUID
const trackingIds = Array.from({ length: clusterCount }, () => randomUUID());
const baseReportTime = Math.floor(Date.now() / 1000) - 86_400;
const versions = ['2.4.1', '2.3.2', '2.2.5', '2.1.3', '2.0.4', '1.10.2'];
const objectStores = ['s3', 's3', 's3', 'minio', 'gcs', 'azblob', 'fs', 'hdfs'];
const clusterTypes = [
  wire.TelemetryClusterType.KUBERNETES,
  wire.TelemetryClusterType.KUBERNETES,
  wire.TelemetryClusterType.CLOUD_HOSTED,
  wire.TelemetryClusterType.DOCKER_COMPOSE,
  wire.TelemetryClusterType.SINGLE_NODE,
];
const connectorUsage = [
  '{"source":[{"1":{"connector":"kafka","format":"plain","encode":"json"}}],"sink":[]}',
  '{"source":[{"1":{"connector":"kafka","format":"upsert","encode":"avro"}},{"4":{"connector":"postgres-cdc","format":"debezium","encode":"json"}}],"sink":[{"9":{"connector":"iceberg","format":"upsert","encode":"parquet"}}]}',
  '{"source":[],"sink":[]}',
];
const license =
  '{"sub":"rw-bench","iss":"prod.risingwave.com","tier":"paid","rwu_limit":64,"exp":1893456000}';

function sessionId(i: number): string {
  return `${runPrefix}-${i.toString(16).padStart(12, '0')}`;
}

function indexOfSession(session: string): number {
  if (!session.startsWith(runPrefix)) return -1;
  return Number.parseInt(session.slice(runPrefix.length + 1), 16);
}

function encodeReport(i: number, isTest = false): Buffer {
  const c = i % clusterCount;
  const jobs = 1 + (c % 5);
  const report = create(wire.MetaReportSchema, {
    base: {
      trackingId: trackingIds[c]!,
      sessionId: sessionId(i),
      systemData: {
        memory: { used: BigInt(2 ** 30 + (i % 4096) * 1_048_576), total: 17_179_869_184n },
        os: { name: 'Ubuntu', version: '22.04', kernelVersion: '5.15.0-1051-aws' },
        cpu: { available: 4 + (c % 3) * 4 },
      },
      upTime: BigInt(21_600 * (1 + (i % 40))),
      reportTime: BigInt(baseReportTime + i),
      nodeType: wire.TelemetryNodeType.META,
      isTest,
    },
    metaBackend: c % 7 === 0 ? wire.MetaBackend.ETCD : wire.MetaBackend.RDB,
    nodeCount: { meta: 1, compute: 1 + (c % 6), frontend: 1 + (c % 2), compactor: 1 + (c % 3) },
    rwVersion: {
      rwVersion: versions[c % versions.length]!,
      gitSha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    },
    streamJobCount: jobs,
    streamJobs: Array.from({ length: jobs }, (_, j) => ({
      tableId: 1000 + j,
      connectorName: j === 0 ? 'kafka' : j === 1 ? 'postgres-cdc' : undefined,
      planOptimizations: [],
    })),
    clusterType: clusterTypes[c % clusterTypes.length]!,
    objectStoreMediaType: objectStores[c % objectStores.length]!,
    connectorUsageJsonStr: connectorUsage[c % connectorUsage.length]!,
    licenseInfoJsonStr: license,
  });
  const bytes = toBinary(wire.MetaReportSchema, report);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Per-request bookkeeping shared by every autocannon client of one target.

const SENT = 1;
const OK = 2;
const NOT_OK = 3;

class Ledger {
  next = 0;
  state = new Uint8Array(poolSize);
  generatedOnTheFly = 0;

  /** `reuse`: the no-op server stores nothing, so it may see the same body twice; never encode during its load. */
  constructor(
    private readonly pool: Buffer[],
    private readonly reuse = false,
  ) {}

  take(): { index: number; body: Buffer } {
    const index = this.next++;
    if (this.reuse) return { index: -1, body: this.pool[index % this.pool.length]! };
    if (index >= this.state.length) {
      const grown = new Uint8Array(this.state.length * 2);
      grown.set(this.state);
      this.state = grown;
    }
    this.state[index] = SENT;
    let body = this.pool[index];
    if (!body) {
      // Pool exhausted (a long --duration): still distinct, only slower for the load generator.
      this.generatedOnTheFly++;
      body = encodeReport(index);
    }
    return { index, body };
  }

  answered(index: number, status: number): void {
    this.state[index] = status >= 200 && status < 300 ? OK : NOT_OK;
  }

  counts(): { sent: number; ok: number; notOk: number; unanswered: number } {
    let ok = 0;
    let notOk = 0;
    let unanswered = 0;
    for (let i = 0; i < this.next; i++) {
      const s = this.state[i];
      if (s === OK) ok++;
      else if (s === NOT_OK) notOk++;
      else unanswered++;
    }
    return { sent: this.next, ok, notOk, unanswered };
  }
}

// ---------------------------------------------------------------------------------------------
// autocannon (no bundled types)

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: { p50: number; p90: number; p99: number; average: number; max: number };
  requests: { total: number; average: number };
}
type AutocannonFn = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = autocannonModule as unknown as AutocannonFn;

async function load(
  url: string,
  ledger: Ledger,
  seconds: number,
  share = connections,
): Promise<AutocannonResult> {
  return autocannon({
    url: `${url}/api/v2/report/meta`,
    connections: share,
    pipelining,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        // The context is per client and, with one request entry, fresh for every request; with
        // pipelining 1 a client's response belongs to the request it sent last.
        setupRequest(req: Record<string, unknown>, context: { index?: number }) {
          const { index, body } = ledger.take();
          if (index >= 0) context.index = index;
          req.body = body;
          return req;
        },
        onResponse(status: number, _body: string, context: { index?: number }) {
          if (context.index !== undefined) ledger.answered(context.index, status);
        },
      },
    ],
  });
}

/** The load split evenly over several servers (one autocannon each, one shared ledger). */
async function loadAll(urls: string[], ledger: Ledger, seconds: number): Promise<AutocannonResult> {
  const share = Math.max(1, Math.round(connections / urls.length));
  const parts = await Promise.all(urls.map((url) => load(url, ledger, seconds, share)));
  if (parts.length === 1) return parts[0]!;
  const sum = (f: (r: AutocannonResult) => number) => parts.reduce((s, r) => s + f(r), 0);
  const total = sum((r) => r.requests.total);
  const worst = (f: (r: AutocannonResult) => number) => Math.max(...parts.map(f));
  return {
    duration: worst((r) => r.duration),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    non2xx: sum((r) => r.non2xx),
    '2xx': sum((r) => r['2xx']),
    // Percentiles of the parts cannot be merged exactly: the slowest server's are reported.
    latency: {
      p50: worst((r) => r.latency.p50),
      p90: worst((r) => r.latency.p90),
      p99: worst((r) => r.latency.p99),
      average: total ? sum((r) => r.latency.average * r.requests.total) / total : 0,
      max: worst((r) => r.latency.max),
    },
    requests: { total, average: sum((r) => r.requests.average) },
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes

interface Child {
  proc: ChildProcess;
  url: string;
  output: () => string;
}

const children = new Set<ChildProcess>();
/** Stores to remove even when the run is interrupted. */
const cleanups = new Set<() => Promise<void>>();

async function startChild(args: string[], label: string): Promise<Child> {
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    out = (out + chunk).slice(-8000);
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start within 30 s:\n${out}`)), 30_000);
    proc.stdout!.on('data', (chunk: string) => {
      out = (out + chunk).slice(-8000);
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
  proc.removeAllListeners('exit');
  return { proc, url, output: () => out };
}

async function stopChild(proc: ChildProcess, graceMs = 15_000): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    children.delete(proc);
    return proc.exitCode;
  }
  const exited = new Promise<number | null>((resolveExit) => proc.once('exit', (code) => resolveExit(code)));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  const code = await exited;
  clearTimeout(timer);
  children.delete(proc);
  return code;
}

function killAll(): void {
  for (const proc of children) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting (Linux /proc): how the cores were shared during the measured load.

const CLOCK_TICKS = 100;

function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

function processSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

interface CpuShare {
  /** Core-seconds used during the measured load, by whom. */
  server: number;
  loadGenerator: number;
  other: number;
  idle: number;
}

function cpuMeter(serverPids: (number | undefined)[]): () => CpuShare {
  const serverSeconds = () => serverPids.reduce<number>((s, pid) => s + processSeconds(pid), 0);
  const m0 = machineTicks();
  const s0 = serverSeconds();
  const l0 = process.cpuUsage();
  return () => {
    const m1 = machineTicks();
    const server = serverSeconds() - s0;
    const l = process.cpuUsage(l0);
    const loadGenerator = (l.user + l.system) / 1e6;
    const busy = (m1.busy - m0.busy) / CLOCK_TICKS;
    const idle = (m1.total - m0.total - (m1.busy - m0.busy)) / CLOCK_TICKS;
    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      server: round(server),
      loadGenerator: round(loadGenerator),
      other: round(Math.max(0, busy - server - loadGenerator)),
      idle: round(idle),
    };
  };
}

// ---------------------------------------------------------------------------------------------
// Collector metrics: the write batcher's histograms, diffed over the measured load.

interface Scrape {
  batchRowsSum: number;
  batchRowsCount: number;
  batchRequestsSum: number;
  storeSecondsSum: number;
  storeSecondsCount: number;
  accepted: number;
  buckets: Map<string, number>;
}

/** The metrics of several collectors, added up. */
async function scrapeAll(urls: string[]): Promise<Scrape> {
  const parts = await Promise.all(urls.map(scrape));
  const total = parts[0]!;
  for (const p of parts.slice(1)) {
    total.batchRowsSum += p.batchRowsSum;
    total.batchRowsCount += p.batchRowsCount;
    total.batchRequestsSum += p.batchRequestsSum;
    total.storeSecondsSum += p.storeSecondsSum;
    total.storeSecondsCount += p.storeSecondsCount;
    total.accepted += p.accepted;
    for (const [le, n] of p.buckets) total.buckets.set(le, (total.buckets.get(le) ?? 0) + n);
  }
  return total;
}

async function scrape(url: string): Promise<Scrape> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => {
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
    }
    return sum;
  };
  const buckets = new Map<string, number>();
  for (const m of text.matchAll(/^tidewatch_write_batch_rows_bucket\{le="([^"]+)"\} (\d+)/gm)) {
    buckets.set(m[1]!, Number(m[2]));
  }
  return {
    batchRowsSum: value('tidewatch_write_batch_rows_sum'),
    batchRowsCount: value('tidewatch_write_batch_rows_count'),
    batchRequestsSum: value('tidewatch_write_batch_requests_sum'),
    storeSecondsSum: value('tidewatch_store_write_seconds_sum'),
    storeSecondsCount: value('tidewatch_store_write_seconds_count'),
    accepted: value('tidewatch_reports_accepted_total'),
    buckets,
  };
}

interface BatchStats {
  commits: number;
  meanRowsPerCommit: number;
  medianRowsPerCommitBucket: string;
  meanCommitMs: number;
  /** Share of the measured wall time during which a write transaction was running. */
  storeBusy: number;
}

function batchStats(a: Scrape, b: Scrape, seconds: number): BatchStats {
  const commits = b.batchRowsCount - a.batchRowsCount;
  const rows = b.batchRowsSum - a.batchRowsSum;
  const storeSeconds = b.storeSecondsSum - a.storeSecondsSum;
  let median = '-';
  for (const [le, n] of b.buckets) {
    if (n - (a.buckets.get(le) ?? 0) >= commits / 2) {
      median = `<= ${le}`;
      break;
    }
  }
  return {
    commits,
    meanRowsPerCommit: commits ? Math.round((rows / commits) * 10) / 10 : 0,
    medianRowsPerCommitBucket: median,
    meanCommitMs: commits ? Math.round((storeSeconds / commits) * 1e5) / 100 : 0,
    storeBusy: Math.round((storeSeconds / seconds) * 100) / 100,
  };
}

/** Waits until the collector's acknowledged count stops moving (requests cut off by the load end). */
async function settle(urls: string[]): Promise<Scrape> {
  let last = await scrapeAll(urls);
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await scrapeAll(urls);
    if (now.accepted === last.accepted) return now;
    last = now;
  }
  return last;
}

// ---------------------------------------------------------------------------------------------
// Stores: a fresh one per target, read back after the collector stopped.

interface Store {
  url: string;
  sessions(): Promise<string[]>;
  cleanup(): Promise<void>;
}

async function sqliteStore(): Promise<Store> {
  const dir = join(tmpdir(), `tw-bench-${randomBytes(6).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'tidewatch.db');
  return {
    url: `sqlite:${file}`,
    async sessions() {
      const db = new SQLite(file, { readonly: true });
      try {
        return (db.prepare('select session_id from reports').all() as { session_id: string }[]).map(
          (r) => r.session_id,
        );
      } finally {
        db.close();
      }
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresStore(adminUrl: string): Promise<Store> {
  const name = `tw_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${name}`;
  return {
    url: dbUrl.toString(),
    async sessions() {
      const client = new pg.Client({ connectionString: dbUrl.toString() });
      await client.connect();
      try {
        const { rows } = await client.query<{ session_id: string }>('select session_id from reports');
        return rows.map((r) => r.session_id);
      } finally {
        await client.end();
      }
    },
    async cleanup() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One target: start, warm up, measure, stop, verify.

async function clickhouseStore(httpUrl: string): Promise<Store> {
  const name = `tw_bench_${randomBytes(6).toString('hex')}`;
  const run = async (query: string) => {
    const res = await fetch(httpUrl, { method: 'POST', body: query });
    const text = await res.text();
    if (!res.ok) throw new Error(`ClickHouse: ${text}`);
    return text;
  };
  return {
    url: `clickhouse://${new URL(httpUrl).host}/${name}`,
    async sessions() {
      // FINAL: what every answer of the store counts (a retried copy not merged yet is one).
      const text = await run(`SELECT session_id FROM ${name}.reports FINAL FORMAT TSV`);
      return text.split('\n').filter(Boolean);
    },
    async cleanup() {
      await run(`DROP DATABASE IF EXISTS ${name}`);
    },
  };
}

interface Verification {
  stored: number;
  acknowledged: number;
  refused: number;
  /** Sent, but the load generator hung up (end of the run) before the answer came. */
  cutOff: number;
  storedCutOff: number;
  acknowledgedMissing: number;
  storedUnexpected: number;
  ok: boolean;
}

interface TargetResult {
  target: string;
  /** Collector processes sharing the store (the load split evenly over them). */
  collectors: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  acknowledged: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  /** Each round's slice: its rate, and its ratio to the no-op rate of the same round. */
  rounds: { requestsPerSecond: number; ratioToCeiling: number | null }[];
  /** The median of the per-round ratios. */
  ratioToCeiling: number | null;
  goal: number | null;
  cpuCoreSeconds: CpuShare;
  /**
   * The server's CPU per acknowledged request (PostgreSQL's own not included): steadier than the
   * rate on a shared machine, where waiting for a core slows the rate but not the CPU it takes.
   */
  serverCpuUsPerRequest: number;
  /** Everything else's CPU per acknowledged request: on the postgres target, mostly PostgreSQL. */
  otherCpuUsPerRequest: number;
  batches?: BatchStats;
  verification?: Verification;
  note?: string;
}

function verify(ledger: Ledger, sessions: string[]): Verification {
  const seen = new Uint8Array(ledger.next);
  let storedUnexpected = 0;
  let storedCutOff = 0;
  for (const s of sessions) {
    const i = indexOfSession(s);
    if (i < 0 || i >= ledger.next || seen[i] || ledger.state[i] === NOT_OK) {
      storedUnexpected++;
      continue;
    }
    seen[i] = 1;
    if (ledger.state[i] === SENT) storedCutOff++;
  }
  let acknowledgedMissing = 0;
  for (let i = 0; i < ledger.next; i++) if (ledger.state[i] === OK && !seen[i]) acknowledgedMissing++;
  const c = ledger.counts();
  return {
    stored: sessions.length,
    acknowledged: c.ok,
    refused: c.notOk,
    cutOff: c.unanswered,
    storedCutOff,
    acknowledgedMissing,
    storedUnexpected,
    ok: acknowledgedMissing === 0 && storedUnexpected === 0 && sessions.length === c.ok + storedCutOff,
  };
}

/** A target whose servers are up, and what its measured slices gave so far. */
interface Running {
  target: string;
  ledger: Ledger;
  store: Store | undefined;
  servers: Child[];
  slices: { result: AutocannonResult; cpu: CpuShare }[];
  /** Collector metrics before its first measured slice and after its last one. */
  firstScrape?: Scrape;
  lastScrape?: Scrape;
}

/** Starts the target's server(s) on a fresh store and warms them up. */
async function startTarget(target: string, pool: Buffer[]): Promise<Running> {
  const running: Running = {
    target,
    // The no-op server and `discard` store nothing, so their bodies may repeat.
    ledger: new Ledger(pool, target === 'noop' || target === 'discard'),
    store: undefined,
    servers: [],
    slices: [],
  };
  if (target === 'noop') {
    running.servers.push(
      await startChild(['--import', 'tsx', join(here, 'noop-server.ts'), '--port', '0'], 'no-op server'),
    );
  } else {
    // `discard` runs on SQLite too: a store it never writes to.
    const onSqlite = target === 'sqlite' || target === 'discard';
    const store = onSqlite
      ? await sqliteStore()
      : target === 'clickhouse'
        ? await clickhouseStore(flags['ch-url'])
        : await postgresStore(flags['pg-url']);
    running.store = store;
    cleanups.add(store.cleanup);
    // SQLite serves one process; the others take --collectors of them, started one by one.
    const count = onSqlite ? 1 : collectorCount;
    for (let i = 0; i < count; i++) {
      running.servers.push(
        await startChild(
          [
            ...nodeArgs,
            join(root, 'packages/cli/bin/tidewatch.js'),
            'serve',
            '--port',
            '0',
            '--store',
            store.url,
            '--admin-token',
            ADMIN_TOKEN,
            '--log-level',
            'warn',
            // One load generator, one address, thousands of requests a second: throughput, not abuse.
            '--rate-limit-address',
            '0',
            '--rate-limit-cluster',
            '0',
            '--rate-limit-bytes',
            '0',
          ],
          `collector ${i + 1} (${target})`,
        ),
      );
    }
  }
  const urls = running.servers.map((s) => s.url);
  if (warmup > 0) {
    log(`${target}: ${urls.join(' ')}, warming up ${warmup} s`);
    await loadAll(urls, running.ledger, warmup);
    if (running.store) await settle(urls);
  }
  return running;
}

/** One measured slice of load on a running target. */
async function measureSlice(running: Running, seconds: number): Promise<number> {
  const isCollector = running.store !== undefined;
  const urls = running.servers.map((s) => s.url);
  if (isCollector && !running.firstScrape) running.firstScrape = await scrapeAll(urls);
  const meter = cpuMeter(running.servers.map((s) => s.proc.pid));
  const result = await loadAll(urls, running.ledger, seconds);
  const cpu = meter();
  // Requests cut off when the load stopped finish before the next slice (of any target) starts.
  if (isCollector) running.lastScrape = await settle(urls);
  running.slices.push({ result, cpu });
  return result['2xx'] / result.duration;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Stops the target's servers, checks its store against the ledger and sums up its slices. With
 * `ceilings` (the no-op rate of each round), the ratio is the median of the per-round ratios.
 */
async function finishTarget(running: Running, ceilings: number[] | null): Promise<TargetResult> {
  const { target, slices, store } = running;
  const isCollector = store !== undefined;
  for (const child of running.servers) {
    const exit = await stopChild(child.proc);
    if (isCollector && exit !== 0)
      throw new Error(`collector (${target}) exited with ${exit}:\n${child.output()}`);
  }
  const sum = (f: (slice: { result: AutocannonResult; cpu: CpuShare }) => number) =>
    slices.reduce((total, slice) => total + f(slice), 0);
  const seconds = sum((x) => x.result.duration);
  const acknowledged = sum((x) => x.result['2xx']);
  const serverSeconds = sum((x) => x.cpu.server);
  const rates = slices.map((x) => x.result['2xx'] / x.result.duration);
  const roundRatios = ceilings ? rates.map((rate, i) => rate / ceilings[i]!) : null;
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const out: TargetResult = {
    target,
    collectors: running.servers.length,
    requestsPerSecond: Math.round(acknowledged / seconds),
    // Per slice, autocannon's percentiles; across slices, their median (max: the largest).
    latencyMs: {
      p50: median(slices.map((x) => x.result.latency.p50)),
      p90: median(slices.map((x) => x.result.latency.p90)),
      p99: median(slices.map((x) => x.result.latency.p99)),
      mean: round2(median(slices.map((x) => x.result.latency.average))),
      max: Math.max(...slices.map((x) => x.result.latency.max)),
    },
    acknowledged,
    non2xx: sum((x) => x.result.non2xx),
    errors: sum((x) => x.result.errors),
    timeouts: sum((x) => x.result.timeouts),
    seconds: round2(seconds),
    rounds: rates.map((rate, i) => ({
      requestsPerSecond: Math.round(rate),
      ratioToCeiling: roundRatios ? Math.round(roundRatios[i]! * 1000) / 1000 : null,
    })),
    ratioToCeiling: roundRatios ? Math.round(median(roundRatios) * 1000) / 1000 : null,
    goal: GOALS[target] ?? null,
    serverCpuUsPerRequest: Math.round((serverSeconds / Math.max(1, acknowledged)) * 1e6),
    otherCpuUsPerRequest: Math.round((sum((x) => x.cpu.other) / Math.max(1, acknowledged)) * 1e6),
    cpuCoreSeconds: {
      server: round2(serverSeconds),
      loadGenerator: round2(sum((x) => x.cpu.loadGenerator)),
      other: round2(sum((x) => x.cpu.other)),
      idle: round2(sum((x) => x.cpu.idle)),
    },
  };
  // Between its own slices a collector is idle (the other targets are loaded): its commits and
  // store time over the whole span are those of its slices.
  if (running.firstScrape && running.lastScrape)
    out.batches = batchStats(running.firstScrape, running.lastScrape, seconds);
  if (store && target === 'discard') {
    // Every body was marked is_test: answered, never stored.
    const stored = (await store.sessions()).length;
    out.verification = {
      stored,
      acknowledged,
      refused: out.non2xx,
      cutOff: 0,
      storedCutOff: 0,
      acknowledgedMissing: 0,
      storedUnexpected: stored,
      ok: stored === 0,
    };
    log(
      `${target}: ${acknowledged} is_test reports answered, ${stored} stored ${stored === 0 ? '(ok)' : 'MISMATCH'}`,
    );
  } else if (store) {
    out.verification = verify(running.ledger, await store.sessions());
    const v = out.verification;
    log(
      `${target}: stored ${v.stored}, acknowledged ${v.acknowledged} (+${v.storedCutOff} of ${v.cutOff} cut off in flight), ` +
        `${v.ok ? 'every acknowledged report stored' : 'MISMATCH'}`,
    );
  }
  if (running.ledger.generatedOnTheFly > 0) {
    out.note = `pool of ${poolSize} exhausted: ${running.ledger.generatedOnTheFly} bodies encoded during the load`;
  }
  return out;
}

/** Stops whatever still runs of a target and removes its store (after a failure too). */
async function dropTarget(running: Running): Promise<void> {
  for (const child of running.servers) await stopChild(child.proc, 5000).catch(() => undefined);
  const store = running.store;
  if (store) {
    await store.cleanup().catch((e: unknown) => log(`cleanup of ${running.target} store failed: ${e}`));
    cleanups.delete(store.cleanup);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function printTable(results: TargetResult[]): void {
  const header = [
    'target',
    'req/s (2xx)',
    'p50 ms',
    'p99 ms',
    'non-2xx',
    'vs ceiling',
    'goal',
    'stored / acked',
  ];
  const rows = results.map((r) => {
    const v = r.verification;
    return [
      r.target === 'noop'
        ? 'no-op fastify (ceiling)'
        : r.target === 'discard'
          ? 'collector, is_test (no store)'
          : `${r.collectors === 1 ? 'collector' : `${r.collectors} collectors`} ${r.target}`,
      String(r.requestsPerSecond),
      r.latencyMs.p50.toFixed(1),
      r.latencyMs.p99.toFixed(1),
      String(r.non2xx + r.errors),
      r.ratioToCeiling === null
        ? r.target === 'noop'
          ? '100%'
          : '-'
        : `${(r.ratioToCeiling * 100).toFixed(1)}%`,
      r.goal === null
        ? '-'
        : `${r.goal * 100}% ${r.ratioToCeiling !== null && r.ratioToCeiling >= r.goal ? 'met' : 'MISSED'}`,
      v && r.target === 'discard'
        ? `${v.stored} stored ${v.ok ? 'ok' : 'MISMATCH'}`
        : v
          ? `${v.stored} / ${v.acknowledged}${v.storedCutOff ? ` +${v.storedCutOff} cut off` : ''} ${v.ok ? 'ok' : 'MISMATCH'}`
          : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, i > 0 && i < 5)).join('  ');
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');
  for (const r of results) {
    const c = r.cpuCoreSeconds;
    const b = r.batches;
    console.log(
      `  ${pad(r.target, 8)} cpu core-s over ${r.seconds} s: server ${c.server} (${r.serverCpuUsPerRequest} µs per 2xx), autocannon ${c.loadGenerator}, other processes ${c.other} (${r.otherCpuUsPerRequest} µs per 2xx${r.target === 'postgres' ? ', PostgreSQL' : ''}), idle ${c.idle}` +
        (b
          ? `; ${b.commits} commits, ${b.meanRowsPerCommit} rows/commit (median ${b.medianRowsPerCommitBucket}), ${b.meanCommitMs} ms/commit, store busy ${Math.round(b.storeBusy * 100)}%`
          : ''),
    );
    if (r.rounds.some((x) => x.ratioToCeiling !== null)) {
      const each = r.rounds.map((x) => `${((x.ratioToCeiling ?? 0) * 100).toFixed(1)}%`).join(' ');
      console.log(`  ${pad(r.target, 8)} vs the ceiling round by round: ${each} (median in the table)`);
    }
    if (r.note) console.log(`  ${pad(r.target, 8)} ${r.note}`);
    if (r.target !== 'postgres' && c.other > 0.15 * cpus().length * r.seconds) {
      console.log(
        `  ${pad(r.target, 8)} WARNING: other processes used ${c.other} core-s during this load: numbers skewed`,
      );
    }
  }
  console.log('');
  console.log(
    `  Load generator (autocannon, ${connections} connections, pipelining ${pipelining}) runs in this process and competes with` +
      ` the server${targets.includes('postgres') ? ' (and PostgreSQL)' : ''} for the machine's ${cpus().length} cores:` +
      ' absolute numbers understate a dedicated server; compare ratios.',
  );
  console.log(
    '  "stored / acked" covers warm-up and measured load; "cut off": requests in flight when autocannon hung up at the' +
      ' end of each, stored though never acknowledged.',
  );
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const started = Date.now();
  log(
    `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}; targets ${targets.join(', ')}; ` +
      `${duration} s per target after ${warmup} s warm-up`,
  );
  const quiet = machineTicks();
  await new Promise((r) => setTimeout(r, 1000));
  const quiet1 = machineTicks();
  const busyBefore = (quiet1.busy - quiet.busy) / Math.max(1, quiet1.total - quiet.total);
  const busyNote = `machine ${Math.round(busyBefore * 100)}% busy before the run`;
  log(busyBefore > 0.15 ? `WARNING: ${busyNote} (other processes will skew the numbers)` : busyNote);
  log(`encoding ${poolSize} distinct meta reports (${clusterCount} clusters)`);
  const t0 = performance.now();
  const pool: Buffer[] = new Array(poolSize);
  for (let i = 0; i < poolSize; i++) pool[i] = encodeReport(i);
  const meanBytes = Math.round(
    pool.slice(0, 1000).reduce((s, b) => s + b.length, 0) / Math.min(1000, poolSize),
  );
  log(`encoded in ${((performance.now() - t0) / 1000).toFixed(1)} s, ~${meanBytes} bytes each`);

  // Every target's servers run side by side; the load goes to one at a time, in rounds of one
  // slice each (the order turning every round). A shared machine's speed drifts over minutes (the
  // ceiling alone moved 12k-19k/s between runs): each round's ratio compares slices seconds apart.
  const running: Running[] = [];
  const results: TargetResult[] = [];
  try {
    // is_test copies for `discard`: a small pool does, since nothing is stored to collide.
    const testPool = targets.includes('discard')
      ? Array.from({ length: 4096 }, (_, i) => encodeReport(i, true))
      : [];
    for (const target of targets)
      running.push(await startTarget(target, target === 'discard' ? testPool : pool));
    const sliceSeconds = duration / rounds;
    log(
      `measuring ${rounds} round(s) of ${sliceSeconds.toFixed(1)} s per target, ${connections} connections`,
    );
    const ceilings: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = running.map((_, i) => running[(i + round) % running.length]!);
      const rates: string[] = [];
      for (const r of order) {
        const rate = await measureSlice(r, sliceSeconds);
        if (r.target === 'noop') ceilings[round] = rate;
        rates.push(`${r.target} ${Math.round(rate)}/s`);
      }
      log(`round ${round + 1}/${rounds}: ${rates.join(', ')}`);
    }
    for (const r of running)
      results.push(await finishTarget(r, r.target === 'noop' || ceilings.length === 0 ? null : ceilings));
  } finally {
    for (const r of running) await dropTarget(r);
  }
  const ceiling = results.find((r) => r.target === 'noop')?.requestsPerSecond ?? null;
  printTable(results);

  const failed = results.filter((r) => r.verification && !r.verification.ok);
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: { model: cpus()[0]?.model ?? 'unknown', count: cpus().length },
    options: {
      duration,
      rounds,
      warmup,
      connections,
      pipelining,
      clusters: clusterCount,
      pool: poolSize,
      targets,
      collectors: collectorCount,
    },
    reportBytes: meanBytes,
    machineBusyBeforeRun: Math.round(busyBefore * 100) / 100,
    note:
      'autocannon runs in the benchmark process on the same machine and competes with the server (and PostgreSQL) for its cores; ' +
      'ratioToCeiling compares 2xx/s with a no-op fastify route measured in the same run with the same load and bodies: ' +
      'the median over rounds of the ratio to the no-op rate of the same round (targets loaded in turn, servers all up).',
    ceilingRequestsPerSecond: ceiling,
    results,
    ok: failed.length === 0,
    wallSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
  mkdirSync(dirname(flags.out), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${flags.out} (${json.wallSeconds} s in total)`);
  if (failed.length > 0) {
    log(`FAILED: acknowledged and stored reports differ for ${failed.map((r) => r.target).join(', ')}`);
    return 1;
  }
  return 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping servers and removing temporary stores`);
    killAll();
    const deadline = new Promise((r) => setTimeout(r, 5000));
    Promise.race([Promise.allSettled([...cleanups].map((c) => c())), deadline]).finally(() =>
      process.exit(130),
    );
  });
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
  process.exitCode = 1;
} finally {
  killAll();
}
