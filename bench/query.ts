// `npm run bench:query`: how fast the dashboard's query routes answer over a year of fleet history,
// on SQLite, PostgreSQL and ClickHouse, next to the same answers computed by plain SQL over the raw
// rows in the same run (which also checks that the routes answer right). ClickHouse has no Kysely
// connection: its answers are checked against the baseline computed on a SQL store of the run
// (filled from the same rows), and it shows no baseline time of its own.
//
//   npx tsx bench/query.ts [--reports 10000000] [--targets sqlite,postgres,clickhouse] [--requests 20]
//                          [--warmup 3] [--baseline-requests 5] [--baseline-warmup 1] [--batch 5000]
//                          [--fill-only] [--no-baseline]
//                          [--pg-url postgres://postgres@127.0.0.1:5432/test] [--ch-url http://127.0.0.1:8123]
//                          [--out bench/results/query.json]
//
// 1. Fill (cached). Each store is filled once per size and kept between runs: SQLite in
//    bench/.cache/query/sqlite-<N>.db, PostgreSQL in the database tw_bench_query_<N>. A marker table
//    (bench_fill) inside each store records the generator version, the size, the simulated period and
//    how many days are committed, so an interrupted fill resumes at its next day (the rows of a
//    half-written day are written again: their dedup keys make that harmless) and a filled store is
//    reused. The fleet is `tidewatch simulate`'s (packages/cli/src/simulate: 3,000 clusters per 10M
//    reports over 365 days, releases adopted over time, v1 JSON from old clusters, v2 protobuf and
//    event batches from new ones), with every non-meta report kept with the probability that brings
//    the total to --reports (meta reports are all kept: about a quarter of the rows) and about half of
//    the events (about 1% of rows). One cluster in ten also runs a Tidewatch agent (one report a day
//    with a latency histogram), for /query/metrics. Every wire body goes through the protocol
//    package's decoders and the collector's row builders, then straight to Store.writeBatch in
//    transactions of --batch rows (the bulk path: the store directly, not HTTP). Both stores are
//    filled in the same pass from the same decoded rows.
// 2. Measure. A real collector (startCollector, port 0) serves each filled store; every dashboard
//    route is requested over HTTP, sequentially: --warmup requests, then --requests timed ones,
//    cycling through parameter variants (last 30, 90 and 365 days of the data, filters, pages,
//    several clusters). The baseline computes the same answer with plain SQL over the raw rows
//    (reports, events, agent_reports) through the store's Kysely connection, and each route's answer
//    is compared with it: a mismatch is printed loudly and the exit code is 1.
// 3. Print a table and write bench/results/query.json.
//
// The machine may be shared (other test suites running): the load average at start and end is
// recorded next to the numbers.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import {
  decodeNativeReport,
  decodeV1Report,
  decodeV2Event,
  decodeV2EventBatchRaw,
  decodeV2Report,
  type ExpHistogramData,
  encodeReportProtobuf,
  HistogramMerger,
  type NodeType,
  quantile,
} from '@tidewatch/protocol';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { FleetSimulation, type WireItem } from '../packages/cli/src/simulate/activity.js';
import { agentLatencyMedian, agentReportOf } from '../packages/cli/src/simulate/agent-day.js';
import { DAY_MS, period, releaseAt } from '../packages/cli/src/simulate/fleet.js';
import { derivedUuid, Rng } from '../packages/cli/src/simulate/random.js';
import { startCollector } from '../packages/collector/src/collector.js';
import { agentReportWrite } from '../packages/collector/src/ingest/native-rows.js';
import { eventRow, reportRow } from '../packages/collector/src/ingest/rows.js';
import { adoption, connectorUsage, distribution } from '../packages/collector/src/query/shape.js';
import {
  BREAKDOWN_COLUMNS,
  clusterFacts,
  factsDistributionCounts,
} from '../packages/collector/src/store/answers.js';
import { openStore } from '../packages/collector/src/store/open-store.js';
import type { Database } from '../packages/collector/src/store/sql/schema.js';
import type { SqlStore } from '../packages/collector/src/store/sql/sql-store.js';
import type {
  ClusterFacts,
  DistributionName,
  Store,
  WriteBatch,
} from '../packages/collector/src/store/store.js';
import { integerFlag } from './flags.js';

// ---------------------------------------------------------------------------------------------
// Options

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

const { values: flags } = parseArgs({
  options: {
    reports: { type: 'string', default: '10000000' },
    targets: { type: 'string', default: 'sqlite,postgres' },
    requests: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    'baseline-requests': { type: 'string', default: '5' },
    'baseline-warmup': { type: 'string', default: '1' },
    batch: { type: 'string', default: '5000' },
    'fill-only': { type: 'boolean', default: false },
    // Times the routes only: no raw-SQL baseline, so no answer check (minutes instead of tens of
    // minutes at 10M; a run with baselines checks the answers).
    'no-baseline': { type: 'boolean', default: false },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    'ch-url': { type: 'string', default: 'http://127.0.0.1:8123' },
    // Names the cached stores (bench/.cache/<name>/, databases tw_bench_<name>_<N>). bench:scale
    // uses this same cache: a store filled by older code is migrated when the collector opens it.
    'cache-name': { type: 'string', default: 'query' },
    out: { type: 'string', default: join(root, 'bench/results/query.json') },
  },
  strict: true,
});

const REPORTS = integerFlag('reports', flags.reports, 1000);
if (!/^[a-z0-9_]+$/.test(flags['cache-name'])) throw new Error('--cache-name: letters, digits and _ only');
const CACHE = join(root, 'bench/.cache', flags['cache-name']);
const DB_NAME = `tw_bench_${flags['cache-name']}_${REPORTS}`;
const REQUESTS = integerFlag('requests', flags.requests, 1);
const WARMUP = integerFlag('warmup', flags.warmup, 0);
const BASELINE_REQUESTS = integerFlag('baseline-requests', flags['baseline-requests'], 1);
const BASELINE_WARMUP = integerFlag('baseline-warmup', flags['baseline-warmup'], 0);
const BATCH_ROWS = integerFlag('batch', flags.batch, 1);
const TARGETS = flags.targets.split(',').map((t) => t.trim()) as StoreKind[];
for (const t of TARGETS)
  if (t !== 'sqlite' && t !== 'postgres' && t !== 'clickhouse') throw new Error(`unknown target ${t}`);
if (TARGETS.includes('clickhouse') && !TARGETS.some((t) => t !== 'clickhouse') && !flags['fill-only'])
  throw new Error('clickhouse needs a SQL target in the same run (its answers are checked against it)');

type StoreKind = 'sqlite' | 'postgres' | 'clickhouse';

/** Bump when the generated rows change: cached stores of another version are filled again. */
const GENERATOR_VERSION = 1;
const SEED = 'tidewatch-bench-query';
const DAYS = 365;
const CLUSTERS_PER_10M = 3000;
/** One cluster in this many runs an agent (one report a day, for /query/metrics). */
const AGENT_EVERY = 10;
const ADMIN_TOKEN = `bench-query-${derivedUuid(SEED, 'token')}`;
const GOAL_P95_MS = 100;

function log(line: string): void {
  process.stderr.write(`[bench:query] ${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// The fill plan: how many clusters, which share of non-meta reports and events to keep.

interface FillPlan {
  generator: number;
  reports: number;
  clusters: number;
  days: number;
  /** The simulated "now": the end of the last complete UTC day when the fill started. */
  now: number;
  keepNonMeta: number;
  keepEvents: number;
}

function planFill(reports: number, now: number): FillPlan {
  const clusters = Math.max(30, Math.round((CLUSTERS_PER_10M * reports) / 10_000_000));
  // Expected reports at the simulator's cadence (every node every 6 hours) from the fleet plan.
  const sim = new FleetSimulation({ seed: SEED, clusters, days: DAYS, now, agents: false });
  const { start, planEnd } = period({ days: DAYS, now });
  let meta = 0;
  let other = 0;
  for (const c of sim.clusters) {
    if (c.isTest) continue;
    const from = Math.max(c.bornAt, start);
    const to = Math.min(c.silentAt ?? Number.POSITIVE_INFINITY, planEnd);
    const days = Math.max(0, (to - from) / DAY_MS);
    meta += 4 * days;
    other += 4 * days * (c.nodes.compute + c.nodes.frontend + c.nodes.compactor);
  }
  const keepNonMeta = Math.min(1, Math.max(0, (reports - meta) / other));
  return {
    generator: GENERATOR_VERSION,
    reports,
    clusters,
    days: DAYS,
    now,
    keepNonMeta,
    keepEvents: Math.min(1, 0.5 * Math.max(keepNonMeta, 0.2)),
  };
}

/** Deterministic, so a resumed fill keeps exactly the same items (FNV-1a, 32 bits). */
function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 4294967296;
}

function keep(item: WireItem, plan: FillPlan): boolean {
  if (item.kind === 'events') return unitHash(`${item.trackingId}|${item.receivedAt}|e`) < plan.keepEvents;
  if (item.path.endsWith('/meta')) return true;
  return unitHash(`${item.trackingId}|${item.receivedAt}|${item.path}`) < plan.keepNonMeta;
}

// ---------------------------------------------------------------------------------------------
// Stores and their markers

interface Marker extends FillPlan {
  daysDone: number;
  complete: boolean;
  fillSeconds: number;
  writeSeconds: number;
  stored: { reports: number; events: number; agentReports: number };
}

interface Target {
  kind: StoreKind;
  url: string;
  store: Store;
  /** The SQL connection (SQLite, PostgreSQL); null on ClickHouse. */
  db: Kysely<Database> | null;
  marker: Marker | null;
  /** This run's fill: time spent inside writeBatch, rows written. */
  busyMs: number;
  written: { reports: number; events: number; agentReports: number };
}

function pgDatabaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdminPg<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: flags['pg-url'] });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function storeUrl(kind: StoreKind): string {
  if (kind === 'clickhouse') return `clickhouse://${new URL(flags['ch-url']).host}/${DB_NAME}`;
  return kind === 'sqlite'
    ? `sqlite:${join(CACHE, `sqlite-${REPORTS}.db`)}`
    : pgDatabaseUrl(flags['pg-url'], `${DB_NAME}`);
}

/** Runs one statement on the ClickHouse server of --ch-url (DDL and bench bookkeeping). */
async function clickhouse(query: string): Promise<string> {
  const res = await fetch(flags['ch-url'], { method: 'POST', body: query });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text}`);
  return text;
}

/** ClickHouse keeps the marker in a file beside the other caches, valid while its database has rows. */
const clickhouseMarker = () => join(CACHE, `clickhouse-${REPORTS}.json`);

async function createPgDatabase(): Promise<void> {
  const name = `${DB_NAME}`;
  await withAdminPg(async (client) => {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database ${name}`);
  });
}

async function readTargetMarker(t: Pick<Target, 'kind' | 'db'>): Promise<Marker | null> {
  if (t.db) return readMarker(t.db);
  if (!existsSync(clickhouseMarker())) return null;
  const marker = JSON.parse(readFileSync(clickhouseMarker(), 'utf8')) as Marker;
  const rows = Number(await clickhouse(`SELECT count() FROM ${DB_NAME}.reports`));
  return rows > 0 || marker.daysDone === 0 ? marker : null;
}

async function writeTargetMarker(t: Target, marker: Marker): Promise<void> {
  if (t.db) await writeMarker(t.db, marker);
  else writeFileSync(clickhouseMarker(), `${JSON.stringify(marker)}\n`);
}

/** Bytes the store takes on disk (data, indexes and rollups), for the cost per stored report. */
async function storeBytes(t: Target): Promise<number> {
  if (t.kind === 'sqlite') {
    const path = t.url.slice('sqlite:'.length);
    return ['', '-wal'].reduce((sum, s) => sum + (existsSync(path + s) ? statSync(path + s).size : 0), 0);
  }
  if (t.kind === 'postgres') {
    const { rows } = await sql<{ n: string }>`select pg_database_size(current_database()) as n`.execute(
      t.db!,
    );
    return Number(rows[0]!.n);
  }
  return Number(
    await clickhouse(`SELECT sum(bytes_on_disk) FROM system.parts WHERE database = '${DB_NAME}' AND active`),
  );
}

async function readMarker(db: Kysely<Database>): Promise<Marker | null> {
  await sql`create table if not exists bench_fill (key text primary key, value text not null)`.execute(db);
  const { rows } = await sql<{ value: string }>`select value from bench_fill where key = 'state'`.execute(db);
  return rows[0] ? (JSON.parse(rows[0].value) as Marker) : null;
}

async function writeMarker(db: Kysely<Database>, marker: Marker): Promise<void> {
  const value = JSON.stringify(marker);
  await sql`insert into bench_fill (key, value) values ('state', ${value})
    on conflict (key) do update set value = excluded.value`.execute(db);
}

async function openTarget(kind: StoreKind): Promise<Target> {
  mkdirSync(CACHE, { recursive: true });
  if (kind === 'postgres') await createPgDatabase();
  const url = storeUrl(kind);
  const store = openStore(url);
  // On a cached store this runs the migrations added since it was filled (their backfill).
  const migrateStart = performance.now();
  await store.migrate();
  const migrateSeconds = (performance.now() - migrateStart) / 1000;
  if (migrateSeconds >= 1) log(`${kind}: migrations took ${migrateSeconds.toFixed(1)} s`);
  const db = kind === 'clickhouse' ? null : (store as SqlStore).db;
  const marker = await readTargetMarker({ kind, db });
  return { kind, url, store, db, marker, busyMs: 0, written: { reports: 0, events: 0, agentReports: 0 } };
}

/** Throws the store away and opens an empty one (another size, generator or period). */
async function resetTarget(t: Target): Promise<Target> {
  await t.store.close();
  if (t.kind === 'sqlite') {
    const path = t.url.slice('sqlite:'.length);
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  } else if (t.kind === 'clickhouse') {
    await clickhouse(`DROP DATABASE IF EXISTS ${DB_NAME}`);
    rmSync(clickhouseMarker(), { force: true });
  } else {
    await withAdminPg((client) => client.query(`drop database if exists ${DB_NAME} with (force)`));
  }
  return openTarget(t.kind);
}

function sameFill(m: Marker | null, plan: FillPlan): boolean {
  return (
    m !== null &&
    m.generator === plan.generator &&
    m.reports === plan.reports &&
    m.clusters === plan.clusters &&
    m.days === plan.days &&
    m.now === plan.now &&
    m.keepNonMeta === plan.keepNonMeta &&
    m.keepEvents === plan.keepEvents
  );
}

// ---------------------------------------------------------------------------------------------
// Fill

const REPORT_PATH = /^\/api\/(v1|v2)\/report\/([a-z]+)$/;

/** Decodes one wire item exactly as its public route (and POST /admin/import) would. */
function decodeInto(batch: WriteBatch, item: WireItem): void {
  // Whole ms, as `simulate` sends them to POST /admin/import (an ISO time): some simulated receive
  // times have a fraction (a cluster's birth time is not a whole ms).
  const receivedAt = Math.floor(item.receivedAt);
  if (item.kind === 'events') {
    const events =
      item.path === '/api/v2/report/events'
        ? decodeV2EventBatchRaw(item.body)
        : [{ event: decodeV2Event(item.body), raw: item.body }];
    for (const e of events) if (!e.event.isTest) batch.events.push(eventRow(e.event, e.raw, receivedAt));
    return;
  }
  const match = REPORT_PATH.exec(item.path);
  if (!match) throw new Error(`unexpected path ${item.path}`);
  const node = match[2] as NodeType;
  const report = match[1] === 'v2' ? decodeV2Report(node, item.body) : decodeV1Report(node, item.body);
  if (!report.isTest) batch.reports.push(reportRow(report, item.body, receivedAt));
}

/** A Tidewatch agent's daily report (one cluster in AGENT_EVERY), through the native decoder. */
function agentReports(sim: FleetSimulation, dayStart: number, now: number): WriteBatch['agentReports'] {
  const writes: NonNullable<WriteBatch['agentReports']> = [];
  for (const plan of sim.clusters) {
    if (plan.isTest || plan.index % AGENT_EVERY !== 0) continue;
    const rng = new Rng(SEED, 'agent', plan.index, dayStart);
    const at = dayStart + Math.floor(new Rng(SEED, 'agent-phase', plan.index).next() * DAY_MS);
    if (
      at < Math.max(plan.bornAt, sim.start) ||
      at >= (plan.silentAt ?? Number.POSITIVE_INFINITY) ||
      at > now
    )
      continue;
    const release = sim.releases[releaseAt(plan, at)]!;
    // The draws in this order, so that stores filled before the builder was shared stay valid.
    const latencies = Array.from({ length: 200 }, () =>
      rng.logNormal(agentLatencyMedian(plan, release), release.latencySigma),
    );
    const queries = rng.poisson(plan.queriesPerDay);
    const memoryUsed = Math.floor(plan.memoryTotal * (0.25 + rng.next() * 0.5));
    const errors = rng.poisson(queries * 0.003);
    const report = agentReportOf({
      plan,
      release,
      at,
      reportId: derivedUuid(SEED, 'agent', plan.index, at),
      sequence: Math.floor((at - plan.bornAt) / DAY_MS) + 1,
      sessionId: derivedUuid(SEED, 'agent-session', plan.index),
      intervalStartMs: at - DAY_MS,
      memoryUsed,
      process: { heapUsed: 80e6, eventLoopDelayP99: 0.012, uptime: 86_400, runtime: 'node v20.19.0' },
      cluster: {},
      queries,
      errors,
      connections: rng.int(1, 20),
      latencies,
    });
    const raw = encodeReportProtobuf(report);
    const decoded = decodeNativeReport(raw, 'application/x-protobuf');
    const receivedAt = at + 30 + Math.floor(rng.next() * 300);
    writes.push(agentReportWrite(decoded, raw, receivedAt, { names: new Set(), series: new Set() }).write);
  }
  return writes;
}

const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

async function countRows(t: Target): Promise<Marker['stored']> {
  const n = async (table: 'reports' | 'events' | 'agent_reports') =>
    t.db
      ? Number(
          (await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(t.db)).rows[0]!.n,
        )
      : Number(await clickhouse(`SELECT count() FROM ${DB_NAME}.${table} FINAL`));
  return { reports: await n('reports'), events: await n('events'), agentReports: await n('agent_reports') };
}

interface FillResult {
  kind: StoreKind;
  reused: boolean;
  /** This run: wall time of the pass, time inside writeBatch, rows written. */
  seconds: number;
  writeSeconds: number;
  rowsWritten: number;
  rowsPerSecond: number;
  /** The whole fill, over all runs (a resumed fill adds up). */
  totalFillSeconds: number;
  stored: Marker['stored'];
}

async function fill(targets: Target[], plan: FillPlan): Promise<void> {
  const sim = new FleetSimulation({
    seed: SEED,
    clusters: plan.clusters,
    days: plan.days,
    now: plan.now,
    agents: false,
  });
  const days = sim.days();
  const names = targets.map((t) => t.kind).join('+');
  const resumeAt = Math.min(...targets.map((t) => t.marker!.daysDone));
  if (resumeAt > 0)
    log(`${names}: resuming at day ${resumeAt + 1}/${days.length} (earlier days are replayed)`);
  const started = performance.now();
  let lastProgress = started;
  let reportsDone = 0;
  let eventsDone = 0;
  const alreadyStored = Math.min(...targets.map((t) => t.marker!.stored.reports));
  const inFlight = new Map<Target, Promise<void>>();
  // A resumed fill adds to the time of the earlier runs.
  const before = new Map(
    targets.map((t) => [t, { fill: t.marker!.fillSeconds, write: t.marker!.writeSeconds }]),
  );

  const submit = async (sinks: Target[], batch: WriteBatch) => {
    for (const t of sinks) {
      await inFlight.get(t);
      const t0 = performance.now();
      inFlight.set(
        t,
        t.store.writeBatch(batch).then((r) => {
          t.busyMs += performance.now() - t0;
          t.written.reports += r.reportsInserted;
          t.written.events += r.eventsInserted;
          t.written.agentReports += r.agentReportsInserted;
        }),
      );
    }
    reportsDone += batch.reports.length;
    eventsDone += batch.events.length;
  };
  const progress = (day: number, force = false) => {
    const now = performance.now();
    if (!force && now - lastProgress < 2000) return;
    lastProgress = now;
    const seconds = (now - started) / 1000;
    const rate = (reportsDone + eventsDone) / seconds;
    const left = Math.max(0, plan.reports - alreadyStored - reportsDone);
    log(
      `fill ${names}: day ${day}/${days.length} · ${(reportsDone / 1e6).toFixed(2)}M reports + ${eventsDone} events ` +
        `this run (target ${(plan.reports / 1e6).toFixed(2)}M) · ${Math.round(rate)} rows/s · ` +
        `elapsed ${duration(seconds)} · ETA ${duration(left / (reportsDone / seconds))}`,
    );
  };

  let batch: WriteBatch = { reports: [], events: [], agentReports: [] };
  for (let i = 0; i < days.length; i++) {
    const dayStart = days[i]!;
    const sinks = targets.filter((t) => t.marker!.daysDone <= i);
    let n = 0;
    for (const item of sim.day(dayStart, 0)) {
      // Let the stores' writes (PostgreSQL statements, the SQLite thread's answers) progress.
      if (++n % 200 === 0) await yieldLoop();
      if (sinks.length === 0 || !keep(item, plan)) continue;
      decodeInto(batch, item);
      if (batch.reports.length + batch.events.length >= BATCH_ROWS) {
        await submit(sinks, batch);
        batch = { reports: [], events: [], agentReports: [] };
        progress(i + 1);
      }
    }
    if (sinks.length === 0) continue;
    batch.agentReports!.push(...(agentReports(sim, dayStart, plan.now) ?? []));
    await submit(sinks, batch);
    batch = { reports: [], events: [], agentReports: [] };
    await Promise.all(sinks.map((t) => inFlight.get(t)));
    for (const t of sinks) {
      const m = t.marker!;
      m.daysDone = i + 1;
      m.fillSeconds = before.get(t)!.fill + (performance.now() - started) / 1000;
      m.writeSeconds = before.get(t)!.write + t.busyMs / 1000;
      await writeTargetMarker(t, m);
    }
    progress(i + 1);
  }
  progress(days.length, true);
  for (const t of targets) {
    const m = t.marker!;
    m.stored = await countRows(t);
    m.complete = true;
    await writeTargetMarker(t, m);
    if (t.kind === 'postgres') {
      // What autovacuum converges to on an insert-only table: statistics and the visibility map.
      log('postgres: vacuum analyze');
      await sql`vacuum analyze`.execute(t.db!);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Measure

interface Variant {
  label: string;
  path: string;
  /** The same answer by plain SQL over the raw rows (normalized like `normalize`). */
  baseline?: (db: Kysely<Database>) => Promise<unknown>;
  normalize?: (body: unknown) => unknown;
}

interface RouteSpec {
  route: string;
  variants: Variant[];
  /** What the baseline is, for the table's reader. */
  baselineNote?: string;
}

const shiftDay = (day: string, days: number) =>
  new Date(Date.parse(day) + days * DAY_MS).toISOString().slice(0, 10);

type Row = Record<string, unknown>;
async function rows(db: Kysely<Database>, query: ReturnType<typeof sql>): Promise<Row[]> {
  return (await query.execute(db)).rows as Row[];
}

/** Every (day, cluster) with a stored report: RisingWave or agent (what "active" means). */
const activeDays = (from: string, to: string) => sql`
  select received_day as day, tracking_id from reports where ci = 0 and received_day between ${from} and ${to}
  union all
  select received_day as day, tracking_id from agent_reports where ci = 0 and received_day between ${from} and ${to}`;

function baselineActive(from: string, to: string) {
  return async (db: Kysely<Database>) => {
    const found = await rows(
      db,
      sql`select day, count(distinct tracking_id) as clusters from (${activeDays(from, to)}) a group by day`,
    );
    const byDay = new Map(found.map((r) => [String(r.day), Number(r.clusters)]));
    const series = [];
    for (let d = from; d <= to; d = shiftDay(d, 1)) series.push({ day: d, clusters: byDay.get(d) ?? 0 });
    return series;
  };
}

const BREAKDOWN_COLUMN = BREAKDOWN_COLUMNS;
type By = keyof typeof BREAKDOWN_COLUMN;

function sortBreakdown(list: { value: string | null; clusters: number }[]) {
  return list.sort(
    (a, b) =>
      b.clusters - a.clusters ||
      (a.value === b.value ? 0 : a.value === null ? 1 : b.value === null ? -1 : a.value < b.value ? -1 : 1),
  );
}

function baselineBreakdown(kind: StoreKind, by: By, from: string, to: string) {
  return async (db: Kysely<Database>) => {
    const latest = sql`select * from (
        select tracking_id, ${sql.ref(BREAKDOWN_COLUMN[by])} as value,
          row_number() over (partition by tracking_id order by received_at desc, id desc) as rn
        from reports where node_type = 'meta' and received_day between ${from} and ${to}) m where rn = 1`;
    const query =
      by !== 'connector'
        ? sql`select value, count(*) as clusters from (${latest}) l group by value`
        : kind === 'sqlite'
          ? sql`select j.value as value, count(*) as clusters from (${latest}) l, json_each(l.value) j group by j.value`
          : sql`select j as value, count(*) as clusters
              from (${latest}) l, jsonb_array_elements_text(l.value::jsonb) j group by j`;
    const found = await rows(db, query);
    return sortBreakdown(
      found.map((r) => ({ value: r.value === null ? null : String(r.value), clusters: Number(r.clusters) })),
    );
  };
}

/** Each cluster's latest meta report in the range, from raw reports, as the store's ClusterFacts. */
async function rawLatestFacts(db: Kysely<Database>, from: string, to: string): Promise<ClusterFacts[]> {
  // Named like cluster_day_facts' columns, so the store's own mapper turns them into answers: the
  // baseline checks the SQL, not a second copy of the mapping.
  const found = await rows(
    db,
    sql`select * from (
        select tracking_id, received_day as day, received_at as facts_at, version, cluster_type,
          meta_backend, os_name, object_store, connectors, connector_usage, license_tier, memory_total,
          node_meta, node_compute, node_frontend, node_compactor, stream_job_count,
          row_number() over (partition by tracking_id order by received_at desc, id desc) as rn
        from reports where node_type = 'meta' and received_day between ${from} and ${to}) m
      where rn = 1 order by tracking_id`,
  );
  return found.map((r) => clusterFacts(r as unknown as Parameters<typeof clusterFacts>[0]));
}

const withoutExcluded = (body: unknown) => {
  const { excluded: _, ...rest } = body as Record<string, unknown>;
  return rest;
};

function baselineDistribution(of: DistributionName, from: string, to: string) {
  return async (db: Kysely<Database>) =>
    distribution(factsDistributionCounts(of, await rawLatestFacts(db, from, to)), of);
}

function baselineConnectors(from: string, to: string) {
  return async (db: Kysely<Database>) => {
    const facts = await rawLatestFacts(db, from, to);
    return { clusters: facts.length, ...connectorUsage(facts) };
  };
}

function baselineAdoption(from: string, to: string) {
  return async (db: Kysely<Database>) => {
    const perDay = (await baselineVersions(from, to)(db)) as Record<string, number[]>;
    const days: string[] = [];
    for (let d = from; d <= to; d = shiftDay(d, 1)) days.push(d);
    const counts = new Map(Object.entries(perDay).map(([v, c]) => [v === 'null' ? null : v, c] as const));
    return adoption(days, counts);
  };
}

/** One cluster's days (latest meta report of each day) and sessions, from raw reports. */
function baselineHistory(trackingId: string, from: string, to: string) {
  return async (db: Kysely<Database>) => {
    const days = await rows(
      db,
      sql`select received_day, version from (
          select received_day, version,
            row_number() over (partition by received_day order by received_at desc, id desc) as rn
          from reports where tracking_id = ${trackingId} and node_type = 'meta'
            and received_day between ${from} and ${to}) m
        where rn = 1 order by received_day`,
    );
    const sessions = await rows(
      db,
      sql`select count(*) as n from (
          select session_id, node_type from reports
          where tracking_id = ${trackingId} and received_day between ${from} and ${to} group by session_id, node_type
          union all
          select session_id, node_type from agent_reports
          where tracking_id = ${trackingId} and received_day between ${from} and ${to} group by session_id, node_type) s`,
    );
    return {
      days: days.map((d) => [String(d.received_day), d.version === null ? null : String(d.version)]),
      sessions: Number(sessions[0]!.n),
    };
  };
}

function normalizeHistory(body: unknown) {
  const b = body as { days: { day: string; version: string | null }[]; sessions: unknown[] };
  return { days: b.days.map((d) => [d.day, d.version]), sessions: b.sessions.length };
}

function baselineOverview(from: string, to: string) {
  return async (db: Kysely<Database>) => {
    const everything = activeDays('0000-01-01', to);
    const [spans] = await rows(
      db,
      sql`select count(*) as total,
          sum(case when first_day between ${from} and ${to} then 1 else 0 end) as new_clusters,
          sum(case when last_day between ${shiftDay(from, -7)} and ${shiftDay(to, -7)} then 1 else 0 end) as silent
        from (select tracking_id, min(day) as first_day, max(day) as last_day from (${everything}) a
              group by tracking_id) s`,
    );
    const [active] = await rows(
      db,
      sql`select count(distinct tracking_id) as n from (${activeDays(from, to)}) a`,
    );
    return {
      active: Number(active!.n),
      new: Number(spans!.new_clusters ?? 0),
      silent: Number(spans!.silent ?? 0),
      total: Number(spans!.total),
    };
  };
}

/** Per day, each active cluster's version: that of its latest meta report received by then. */
function baselineVersions(from: string, to: string) {
  return async (db: Kysely<Database>) => {
    const found = await rows(
      db,
      // One row per (cluster, day) with a stored report, carrying the version of that day's latest
      // meta report (if any); then each day takes the version of its cluster's last day with a meta
      // report (a running count of such days makes the groups).
      sql`with marks as (
          select tracking_id, received_day as day, null as version, 0 as has_meta
          from reports where ci = 0 and received_day <= ${to}
          union all
          select tracking_id, received_day as day, null as version, 0 as has_meta
          from agent_reports where ci = 0 and received_day <= ${to}
          union all
          select tracking_id, received_day as day, version, 1 as has_meta from (
            select tracking_id, received_day, version,
              row_number() over (partition by tracking_id, received_day order by received_at desc, id desc) as rn
            from reports where node_type = 'meta' and received_day <= ${to}) m
          where rn = 1),
        per_day as (
          select tracking_id, day, max(version) as version, max(has_meta) as has_meta
          from marks group by tracking_id, day),
        grouped as (
          select tracking_id, day, version,
            sum(has_meta) over (partition by tracking_id order by day rows unbounded preceding) as grp
          from per_day),
        filled as (
          select tracking_id, day,
            first_value(version) over (partition by tracking_id, grp order by day) as version
          from grouped)
        select day, version, count(*) as clusters from filled
        where day between ${from} and ${to} group by day, version`,
    );
    const days: string[] = [];
    for (let d = from; d <= to; d = shiftDay(d, 1)) days.push(d);
    const index = new Map(days.map((d, i) => [d, i]));
    const byVersion = new Map<string, number[]>();
    for (const r of found) {
      const key = String(r.version);
      const counts = byVersion.get(key) ?? new Array<number>(days.length).fill(0);
      byVersion.set(key, counts);
      counts[index.get(String(r.day))!] = Number(r.clusters);
    }
    return Object.fromEntries([...byVersion].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  };
}

function normalizeVersions(body: unknown) {
  const b = body as { versions: { version: string | null; clusters: number[] }[] };
  return Object.fromEntries(
    b.versions
      .map((v) => [String(v.version), v.clusters] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

/** The first page of the cluster list: first/last seen and latest meta facts from raw rows. */
function baselineClusters(limit: number, search?: string) {
  return async (db: Kysely<Database>) => {
    const like = search === undefined ? null : `%${search.toLowerCase()}%`;
    const filter = (column: string) =>
      like === null ? sql`` : sql`where lower(${sql.ref(column)}) like ${like}`;
    const found = await rows(
      db,
      sql`with seen as (
          select tracking_id, min(received_at) as first_seen, max(received_at) as last_seen from (
            select tracking_id, received_at from reports ${filter('tracking_id')}
            union all select tracking_id, received_at from events ${filter('tracking_id')}
            union all select tracking_id, received_at from agent_reports ${filter('tracking_id')}) a
          group by tracking_id),
        facts as (
          select * from (
            select tracking_id, version, cluster_type, meta_backend,
              row_number() over (partition by tracking_id order by received_at desc, id desc) as rn
            from reports where node_type = 'meta') m
          where rn = 1)
        select s.tracking_id, s.first_seen, s.last_seen, f.version, f.cluster_type, f.meta_backend
        from seen s left join facts f on f.tracking_id = s.tracking_id
        order by s.last_seen desc, s.tracking_id desc limit ${limit}`,
    );
    return found.map((r) => ({
      trackingId: String(r.tracking_id),
      firstSeen: Number(r.first_seen),
      lastSeen: Number(r.last_seen),
      version: (r.version as string | null) ?? null,
      clusterType: (r.cluster_type as string | null) ?? null,
      metaBackend: (r.meta_backend as string | null) ?? null,
    }));
  };
}

function normalizeClusters(body: unknown) {
  const b = body as { clusters: Record<string, unknown>[] };
  return b.clusters.map((c) => ({
    trackingId: c.trackingId,
    firstSeen: typeof c.firstSeen === 'string' ? Date.parse(c.firstSeen) : c.firstSeen,
    lastSeen: typeof c.lastSeen === 'string' ? Date.parse(c.lastSeen) : c.lastSeen,
    version: c.version ?? null,
    clusterType: c.clusterType ?? null,
    metaBackend: c.metaBackend ?? null,
  }));
}

/** One cluster: first/last seen, report counts per node type, events, latest version. */
function baselineCluster(trackingId: string) {
  return async (db: Kysely<Database>) => {
    const [seen] = await rows(
      db,
      sql`select min(received_at) as first_seen, max(received_at) as last_seen from (
          select received_at from reports where tracking_id = ${trackingId}
          union all select received_at from events where tracking_id = ${trackingId}
          union all select received_at from agent_reports where tracking_id = ${trackingId}) a`,
    );
    const perNode = await rows(
      db,
      sql`select node_type, count(*) as n from reports where tracking_id = ${trackingId} group by node_type`,
    );
    const [events] = await rows(db, sql`select count(*) as n from events where tracking_id = ${trackingId}`);
    const [meta] = await rows(
      db,
      sql`select version from reports where tracking_id = ${trackingId} and node_type = 'meta'
        order by received_at desc, id desc limit 1`,
    );
    const reports: Record<string, number> = { meta: 0, compute: 0, frontend: 0, compactor: 0 };
    for (const r of perNode) reports[String(r.node_type)] = Number(r.n);
    return {
      firstSeen: Number(seen!.first_seen),
      lastSeen: Number(seen!.last_seen),
      version: (meta?.version as string | null) ?? null,
      reports,
      events: Number(events!.n),
    };
  };
}

function normalizeCluster(body: unknown) {
  const b = body as Record<string, unknown>;
  const time = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : v);
  return {
    firstSeen: time(b.firstSeen),
    lastSeen: time(b.lastSeen),
    version: b.version ?? null,
    reports: b.reports,
    events: b.events,
  };
}

/** Events newest first: the route reads the raw table too, so this is the same query by hand. */
function baselineEvents(from: string, to: string, limit: number, stage?: string, connector?: string) {
  return async (db: Kysely<Database>) => {
    const found = await rows(
      db,
      sql`select id, tracking_id, received_at from events
        where received_day between ${from} and ${to} ${stage === undefined ? sql`` : sql`and stage = ${stage}`}
        ${connector === undefined ? sql`` : sql`and connector_name = ${connector}`}
        order by received_at desc, id desc limit ${limit}`,
    );
    return found.map((r) => ({ trackingId: String(r.tracking_id), receivedAt: Number(r.received_at) }));
  };
}

function normalizeEvents(body: unknown) {
  const b = body as { events: Record<string, unknown>[] };
  return b.events.map((e) => ({
    trackingId: e.trackingId,
    receivedAt: typeof e.receivedAt === 'string' ? Date.parse(e.receivedAt) : e.receivedAt,
  }));
}

const EVENT_GROUP_COLUMN = {
  day: 'received_day',
  stage: 'stage',
  name: 'name',
  connector: 'connector_name',
  trackingId: 'tracking_id',
} as const;

/** Events counted per group: the route reads the raw table too, so this is the same query by hand. */
function baselineEventCounts(by: keyof typeof EVENT_GROUP_COLUMN, from: string, to: string, name?: string) {
  return async (db: Kysely<Database>) => {
    const found = await rows(
      db,
      sql`select ${sql.ref(EVENT_GROUP_COLUMN[by])} as value, count(*) as events,
          count(distinct tracking_id) as clusters
        from events where received_day between ${from} and ${to} ${name === undefined ? sql`` : sql`and name = ${name}`}
        group by ${sql.ref(EVENT_GROUP_COLUMN[by])}`,
    );
    const counted = found.map((r) => ({
      value: r.value === null ? null : String(r.value),
      events: Number(r.events),
      clusters: Number(r.clusters),
    }));
    counted.sort((a, b) =>
      by === 'day'
        ? String(a.value).localeCompare(String(b.value))
        : b.events - a.events || String(a.value).localeCompare(String(b.value)),
    );
    return counted.slice(0, 100);
  };
}

/**
 * A fleet metric from the raw points (metric_points), merged in JS: SQL cannot merge exponential
 * histograms. Sums are compared to 9 significant digits: the route adds them in another order.
 */
function baselineMetric(name: string, from: string, to: string, by?: 'version') {
  return async (db: Kysely<Database>) => {
    const points = await rows(
      db,
      sql`select tracking_id, version, kind, value, histogram, received_at, report_id from metric_points
        where name = ${name} and received_day between ${from} and ${to} and ci = 0
          and tracking_id not in (select tracking_id from clusters where internal = 1)`,
    );
    let newest: Row | undefined;
    for (const p of points) {
      const at = Number(p.received_at);
      const newestAt = newest ? Number(newest.received_at) : Number.NEGATIVE_INFINITY;
      if (at > newestAt || (at === newestAt && String(p.report_id) > String(newest!.report_id))) newest = p;
    }
    const kind = newest ? String(newest.kind) : null;
    const groups = new Map<
      string | null,
      { clusters: Set<string>; total: number; merger: HistogramMerger }
    >();
    for (const p of points) {
      if (p.kind !== kind) continue;
      const value = by === 'version' ? (p.version as string | null) : 'all';
      let g = groups.get(value);
      if (!g) {
        g = { clusters: new Set(), total: 0, merger: new HistogramMerger() };
        groups.set(value, g);
      }
      g.clusters.add(String(p.tracking_id));
      g.total += Number(p.value);
      if (p.histogram !== null) g.merger.add(JSON.parse(String(p.histogram)) as ExpHistogramData);
    }
    const answer = [...groups].map(([value, g]) => {
      if (kind === 'counter') return { value, clusters: g.clusters.size, total: g.total };
      const merged = g.merger.result();
      return {
        value,
        clusters: g.clusters.size,
        count: merged.count,
        sum: merged.sum,
        p50: quantile(merged, 0.5),
        p90: quantile(merged, 0.9),
        p99: quantile(merged, 0.99),
      };
    });
    answer.sort((a, b) => b.clusters - a.clusters || String(a.value).localeCompare(String(b.value)));
    return metricAnswer({ kind, rows: answer });
  };
}

/** The part of a metric answer the baseline computes, sums to 9 significant digits. */
function metricAnswer(body: unknown) {
  const { kind, rows: answer } = body as {
    kind: string | null;
    rows: Record<string, number | string | null>[];
  };
  const digits = (x: unknown) => (typeof x === 'number' ? Number(x.toPrecision(9)) : x);
  return { kind, rows: answer.map((r) => ({ ...r, sum: digits(r.sum), total: digits(r.total) })) };
}

async function sampleClusters(db: Kysely<Database>, lastDay: string): Promise<string[]> {
  // Clusters active on the last day, spread over the id space: the ones the dashboard looks at.
  const found = await rows(
    db,
    sql`select tracking_id from cluster_days where day = ${lastDay} order by tracking_id limit 2000`,
  );
  const ids = found.map((r) => String(r.tracking_id));
  const step = Math.max(1, Math.floor(ids.length / 10));
  return ids.filter((_, i) => i % step === 0).slice(0, 10);
}

async function routeSpecs(kind: StoreKind, db: Kysely<Database>, lastDay: string): Promise<RouteSpec[]> {
  const ranges = [30, 90, 365].map((n) => ({ n, from: shiftDay(lastDay, -(n - 1)), to: lastDay }));
  const q = (from: string, to: string) => `from=${from}&to=${to}`;
  const ids = await sampleClusters(db, lastDay);
  const search = ids[0]!.slice(0, 4);
  const specs: RouteSpec[] = [
    {
      route: 'GET /query/overview',
      baselineNote: 'min/max day per cluster over raw reports',
      variants: ranges.map((r) => ({
        label: `${r.n}d`,
        path: `/query/overview?${q(r.from, r.to)}`,
        baseline: baselineOverview(r.from, r.to),
        normalize: (b) => (b as { clusters: unknown }).clusters,
      })),
    },
    {
      route: 'GET /query/active',
      baselineNote: 'count(distinct tracking_id) per received_day over raw reports',
      variants: ranges.map((r) => ({
        label: `${r.n}d`,
        path: `/query/active?${q(r.from, r.to)}`,
        baseline: baselineActive(r.from, r.to),
        normalize: (b) => (b as { series: unknown }).series,
      })),
    },
    {
      route: 'GET /query/versions',
      baselineNote: 'latest meta report per cluster-day, carried forward, over raw reports',
      variants: ranges.map((r) => ({
        label: `${r.n}d`,
        path: `/query/versions?${q(r.from, r.to)}`,
        baseline: baselineVersions(r.from, r.to),
        normalize: normalizeVersions,
      })),
    },
    ...(Object.keys(BREAKDOWN_COLUMN) as By[]).map((by) => ({
      route: `GET /query/breakdown?by=${by}`,
      baselineNote: 'row_number() over raw meta reports',
      variants: ranges.map((r) => ({
        label: `${r.n}d`,
        path: `/query/breakdown?by=${by}&${q(r.from, r.to)}`,
        baseline: baselineBreakdown(kind, by, r.from, r.to),
        normalize: (b: unknown) => (b as { rows: unknown }).rows,
      })),
    })),
    {
      route: 'GET /query/events',
      baselineNote: 'the same select on the raw events table',
      variants: [
        ...ranges.map((r) => ({
          label: `${r.n}d`,
          path: `/query/events?${q(r.from, r.to)}&limit=100`,
          baseline: baselineEvents(r.from, r.to, 100),
          normalize: normalizeEvents,
        })),
        ...ranges.map((r) => ({
          label: `${r.n}d stage=recovery`,
          path: `/query/events?${q(r.from, r.to)}&limit=100&stage=recovery`,
          baseline: baselineEvents(r.from, r.to, 100, 'recovery'),
          normalize: normalizeEvents,
        })),
        {
          label: '90d connector=kafka',
          path: `/query/events?${q(ranges[1]!.from, lastDay)}&limit=100&connector=kafka`,
          baseline: baselineEvents(ranges[1]!.from, lastDay, 100, undefined, 'kafka'),
          normalize: normalizeEvents,
        },
        ...ids.slice(0, 3).map((id) => ({
          label: `365d trackingId`,
          path: `/query/events?${q(ranges[2]!.from, lastDay)}&limit=100&trackingId=${id}`,
        })),
      ],
    },
    {
      route: 'GET /query/event-counts',
      baselineNote: 'the same group by on the raw events table',
      variants: [
        ...ranges.map((r) => ({
          label: `${r.n}d by=day`,
          path: `/query/event-counts?by=day&${q(r.from, r.to)}`,
          baseline: baselineEventCounts('day', r.from, r.to),
          normalize: (b: unknown) => (b as { rows: unknown }).rows,
        })),
        {
          label: '365d by=trackingId name=failure_recovery',
          path: `/query/event-counts?by=trackingId&name=failure_recovery&${q(ranges[2]!.from, lastDay)}`,
          baseline: baselineEventCounts('trackingId', ranges[2]!.from, lastDay, 'failure_recovery'),
          normalize: (b: unknown) => (b as { rows: unknown }).rows,
        },
        {
          label: '90d by=connector',
          path: `/query/event-counts?by=connector&${q(ranges[1]!.from, lastDay)}`,
          baseline: baselineEventCounts('connector', ranges[1]!.from, lastDay),
          normalize: (b: unknown) => (b as { rows: unknown }).rows,
        },
      ],
    },
    {
      route: 'GET /query/clusters',
      baselineNote: 'min/max received_at and latest meta facts per cluster over raw rows',
      variants: [
        {
          label: 'first page',
          path: '/query/clusters?limit=50',
          baseline: baselineClusters(50),
          normalize: normalizeClusters,
        },
        { label: 'version filter', path: `/query/clusters?limit=50&version=2.6.2` },
        { label: 'seenFrom', path: `/query/clusters?limit=50&seenFrom=${ranges[0]!.from}` },
      ],
    },
    {
      route: 'GET /query/clusters?search=',
      baselineNote: 'the list baseline with lower(tracking_id) like',
      variants: [
        {
          label: `search=${search}`,
          path: `/query/clusters?limit=50&search=${search}`,
          baseline: baselineClusters(50, search),
          normalize: normalizeClusters,
        },
        { label: 'search=ab', path: '/query/clusters?limit=50&search=ab' },
      ],
    },
    {
      route: 'GET /query/clusters/{id}',
      baselineNote: 'counts and latest meta report over raw rows (the route reads raw rows too)',
      variants: ids.map((id) => ({
        label: id.slice(0, 8),
        path: `/query/clusters/${id}`,
        baseline: baselineCluster(id),
        normalize: normalizeCluster,
      })),
    },
    ...(['computeNodes', 'memory', 'streamJobs'] as const).map((of) => ({
      route: `GET /query/distribution?of=${of}`,
      baselineNote: 'latest meta report per cluster by row_number() over raw reports',
      variants: ranges.map((r) => ({
        label: `${r.n}d`,
        path: `/query/distribution?of=${of}&${q(r.from, r.to)}`,
        baseline: baselineDistribution(of, r.from, r.to),
        normalize: withoutExcluded,
      })),
    })),
    {
      route: 'GET /query/connectors',
      baselineNote: 'latest connector_usage per cluster by row_number() over raw reports',
      variants: ranges.map((r) => ({
        label: `${r.n}d`,
        path: `/query/connectors?${q(r.from, r.to)}`,
        baseline: baselineConnectors(r.from, r.to),
        normalize: withoutExcluded,
      })),
    },
    {
      route: 'GET /query/adoption',
      baselineNote:
        'the versions baseline (carried forward over raw reports), then the same pickup arithmetic',
      variants: ranges.map((r) => ({
        label: `${r.n}d`,
        path: `/query/adoption?${q(r.from, r.to)}`,
        baseline: baselineAdoption(r.from, r.to),
        normalize: (b: unknown) => (b as { releases: unknown }).releases,
      })),
    },
    {
      route: 'GET /query/clusters/{id}/history',
      baselineNote: 'latest meta report per day and sessions by group by over raw reports',
      variants: ids.slice(0, 5).map((id) => ({
        label: `${id.slice(0, 8)} 365d`,
        path: `/query/clusters/${id}/history?${q(ranges[2]!.from, lastDay)}`,
        baseline: baselineHistory(id, ranges[2]!.from, lastDay),
        normalize: normalizeHistory,
      })),
    },
    {
      route: 'GET /query/metrics',
      variants: [{ label: 'names', path: '/query/metrics' }],
    },
    {
      route: 'GET /query/metrics/db.query.duration',
      baselineNote: 'raw metric points; histograms merged in JS',
      variants: ranges.flatMap((r) => [
        {
          label: `${r.n}d by=version`,
          path: `/query/metrics/db.query.duration?${q(r.from, r.to)}&by=version`,
          baseline: baselineMetric('db.query.duration', r.from, r.to, 'version'),
          normalize: metricAnswer,
        },
        {
          label: `${r.n}d`,
          path: `/query/metrics/db.query.duration?${q(r.from, r.to)}`,
          baseline: baselineMetric('db.query.duration', r.from, r.to),
          normalize: metricAnswer,
        },
      ]),
    },
  ];
  return specs;
}

interface Stats {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (x: number) => Math.round(x * 10) / 10;
  return { n: sorted.length, p50: round(at(0.5)), p95: round(at(0.95)), max: round(sorted.at(-1)!) };
}

interface RouteResult {
  route: string;
  store: StoreKind;
  route_ms: Stats;
  baseline_ms: Stats | null;
  baselineNote: string | null;
  speedup: number | null;
  goalMet: boolean;
  perVariant: { label: string; route_ms: Stats; baseline_ms: Stats | null; matches: boolean | null }[];
  mismatches: string[];
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Per store: the run's first fleet metric question, which builds the cells the store lacks. */
const firstMetricQuestionMs = new Map<StoreKind, number>();

/** `reference`: the SQL store whose raw-SQL baseline checks this store's answers (itself if SQL). */
async function measureStore(t: Target, lastDay: string, reference: Target): Promise<RouteResult[]> {
  const baseDb = reference.db!;
  // Another store's baseline checks the answers; its time is not this store's, so it is not shown.
  const timeBaseline = reference === t;
  const collector = await startCollector({
    store: t.url,
    adminToken: ADMIN_TOKEN,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
  });
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const get = async (path: string) => {
    // A keep-alive connection left idle during a long baseline may have been closed by the server.
    const res = await fetch(`${collector.url}${path}`, { headers }).catch(() =>
      fetch(`${collector.url}${path}`, { headers }),
    );
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as unknown;
  };
  const results: RouteResult[] = [];
  try {
    // Fleet metric cells are built by the first question that needs a day, then kept (DESIGN-LOG.md,
    // query side, session 6): that one-time cost is timed on its own, not mixed into a route's p95.
    const year = `from=${shiftDay(lastDay, -364)}&to=${lastDay}`;
    const first = await timed(() => get(`/query/metrics/db.query.duration?${year}&by=version`));
    firstMetricQuestionMs.set(t.kind, Math.round(first.ms));
    log(
      `${t.kind}: first metric question of the run (builds the fleet cells a store lacks): ${Math.round(first.ms)} ms`,
    );
    for (const spec of await routeSpecs(reference.kind, baseDb, lastDay)) {
      const routeSamples: number[] = [];
      const baseSamples: number[] = [];
      const perVariant = spec.variants.map(() => ({ route: [] as number[], base: [] as number[] }));
      const answers = new Map<number, unknown>();
      for (let i = 0; i < WARMUP; i++) await get(spec.variants[i % spec.variants.length]!.path);
      for (let i = 0; i < REQUESTS; i++) {
        const v = i % spec.variants.length;
        const { ms, value } = await timed(() => get(spec.variants[v]!.path));
        routeSamples.push(ms);
        perVariant[v]!.route.push(ms);
        if (!answers.has(v)) answers.set(v, value);
      }
      // Baselines: BASELINE_WARMUP untimed, then at least BASELINE_REQUESTS timed (every variant at
      // least once, for the answer check), cycling through the variants.
      const withBaseline = flags['no-baseline']
        ? []
        : spec.variants.map((v, i) => ({ v, i })).filter(({ v }) => v.baseline);
      const expected = new Map<number, unknown>();
      if (withBaseline.length > 0) {
        for (let i = 0; i < BASELINE_WARMUP; i++)
          await withBaseline[i % withBaseline.length]!.v.baseline!(baseDb);
        for (let i = 0; i < Math.max(BASELINE_REQUESTS, withBaseline.length); i++) {
          const { v, i: index } = withBaseline[i % withBaseline.length]!;
          const { ms, value } = await timed(() => v.baseline!(baseDb));
          if (timeBaseline) {
            baseSamples.push(ms);
            perVariant[index]!.base.push(ms);
          }
          if (!expected.has(index)) expected.set(index, value);
        }
      }
      const mismatches: string[] = [];
      const matches = spec.variants.map((v, i) => {
        // A variant not requested in this run (fewer --requests than variants) has no answer.
        if (!v.baseline || !expected.has(i) || !answers.has(i)) return null;
        const got = v.normalize ? v.normalize(answers.get(i) ?? null) : answers.get(i);
        const ok = isDeepStrictEqual(got, expected.get(i));
        if (!ok) {
          mismatches.push(v.label);
          log(`!!!!!!!! MISMATCH ${t.kind} ${spec.route} [${v.label}] ${v.path}`);
          log(`  route:    ${JSON.stringify(got).slice(0, 1500)}`);
          log(`  baseline: ${JSON.stringify(expected.get(i)).slice(0, 1500)}`);
        }
        return ok;
      });
      const route_ms = stats(routeSamples);
      const baseline_ms = baseSamples.length > 0 ? stats(baseSamples) : null;
      results.push({
        route: spec.route,
        store: t.kind,
        route_ms,
        baseline_ms,
        baselineNote: timeBaseline
          ? (spec.baselineNote ?? null)
          : `answers checked against ${reference.kind}'s raw-SQL baseline`,
        speedup: baseline_ms ? Math.round((baseline_ms.p50 / Math.max(route_ms.p50, 0.1)) * 10) / 10 : null,
        goalMet: route_ms.p95 <= GOAL_P95_MS,
        perVariant: spec.variants.map((v, i) => ({
          label: v.label,
          route_ms: stats(perVariant[i]!.route.length > 0 ? perVariant[i]!.route : [Number.NaN]),
          baseline_ms: perVariant[i]!.base.length > 0 ? stats(perVariant[i]!.base) : null,
          matches: matches[i] ?? null,
        })),
        mismatches,
      });
      const r = results.at(-1)!;
      log(
        `${t.kind} ${spec.route}: p50 ${route_ms.p50} ms, p95 ${route_ms.p95} ms` +
          (baseline_ms ? ` · baseline p50 ${baseline_ms.p50} ms` : '') +
          (mismatches.length > 0
            ? ' · MISMATCH'
            : r.perVariant.some((p) => p.matches)
              ? ' · answers match'
              : ''),
      );
    }
  } finally {
    await collector.close();
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Report

function table(results: RouteResult[]): string {
  const header = [
    'route',
    'store',
    'p50 ms',
    'p95 ms',
    'baseline p50',
    'baseline p95',
    'speed-up',
    'answer',
    'p95 ≤ 100 ms',
  ];
  const body = results.map((r) => [
    r.route,
    r.store,
    r.route_ms.p50.toFixed(1),
    r.route_ms.p95.toFixed(1),
    r.baseline_ms ? r.baseline_ms.p50.toFixed(1) : '-',
    r.baseline_ms ? r.baseline_ms.p95.toFixed(1) : '-',
    r.speedup === null ? '-' : `${r.speedup}×`,
    r.mismatches.length > 0 ? 'MISMATCH' : r.perVariant.some((p) => p.matches) ? 'same' : '-',
    r.goalMet ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 || i === 7 || i === 8 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const loadStart = loadavg();
  log(
    `${REPORTS.toLocaleString('en')} reports · targets ${TARGETS.join(', ')} · ${cpus().length} CPUs ` +
      `(load ${loadStart.map((l) => l.toFixed(2)).join(' ')}; the machine may be shared)`,
  );
  let targets: Target[] = [];
  for (const kind of TARGETS) targets.push(await openTarget(kind));

  // The period: a filled (or half-filled) store keeps its own; a new fill ends with yesterday.
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const known = targets.find(
    (t) => t.marker?.generator === GENERATOR_VERSION && t.marker.reports === REPORTS,
  );
  const plan = planFill(REPORTS, known?.marker?.now ?? today - 1);
  log(
    `fleet: ${plan.clusters} clusters over ${plan.days} days to ${new Date(plan.now).toISOString().slice(0, 10)}; ` +
      `non-meta reports kept ${(plan.keepNonMeta * 100).toFixed(1)}%, event batches ${(plan.keepEvents * 100).toFixed(1)}%`,
  );
  targets = await Promise.all(
    targets.map(async (t) => {
      if (sameFill(t.marker, plan)) return t;
      if (t.marker) log(`${t.kind}: the cached store is of another fill; emptying it`);
      const fresh = t.marker ? await resetTarget(t) : t;
      fresh.marker = {
        ...plan,
        daysDone: 0,
        complete: false,
        fillSeconds: 0,
        writeSeconds: 0,
        stored: { reports: 0, events: 0, agentReports: 0 },
      };
      return fresh;
    }),
  );
  const toFill = targets.filter((t) => !t.marker!.complete);
  for (const t of targets) if (t.marker!.complete) log(`${t.kind}: filled store reused (${t.url})`);
  const fills: FillResult[] = [];
  if (toFill.length > 0) {
    const t0 = performance.now();
    await fill(toFill, plan);
    const seconds = (performance.now() - t0) / 1000;
    for (const t of toFill) {
      const written = t.written.reports + t.written.events + t.written.agentReports;
      fills.push({
        kind: t.kind,
        reused: false,
        seconds: Math.round(seconds),
        writeSeconds: Math.round(t.busyMs / 1000),
        rowsWritten: written,
        rowsPerSecond: Math.round(written / seconds),
        totalFillSeconds: Math.round(t.marker!.fillSeconds),
        stored: t.marker!.stored,
      });
      log(
        `${t.kind}: filled ${written.toLocaleString('en')} rows in ${duration(seconds)} ` +
          `(${Math.round(written / seconds)} rows/s for the pass; ${duration(t.busyMs / 1000)} inside writeBatch)`,
      );
    }
  }
  for (const t of targets) {
    if (toFill.includes(t)) continue;
    const m = t.marker!;
    const written = m.stored.reports + m.stored.events + m.stored.agentReports;
    fills.push({
      kind: t.kind,
      reused: true,
      seconds: 0,
      writeSeconds: Math.round(m.writeSeconds),
      rowsWritten: 0,
      rowsPerSecond: Math.round(written / Math.max(1, m.fillSeconds)),
      totalFillSeconds: Math.round(m.fillSeconds),
      stored: m.stored,
    });
  }
  for (const t of targets) {
    const s = t.marker!.stored;
    log(`${t.kind}: ${s.reports} reports, ${s.events} events, ${s.agentReports} agent reports`);
  }
  if (flags['fill-only']) {
    for (const t of targets) await t.store.close();
    return;
  }

  const lastDay = new Date(plan.now).toISOString().slice(0, 10);
  const results: RouteResult[] = [];
  const reference = targets.find((t) => t.kind === 'postgres') ?? targets.find((t) => t.db)!;
  for (const t of targets) {
    if (t.kind === 'postgres') {
      // What autovacuum converges to after a migration that rewrote rows (cheap when nothing did).
      const t0 = performance.now();
      await sql`vacuum analyze`.execute(t.db!);
      log(`postgres: vacuum analyze ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    results.push(...(await measureStore(t, lastDay, t.db ? t : reference)));
  }
  const bytes = new Map<StoreKind, number>();
  for (const t of targets) bytes.set(t.kind, await storeBytes(t));
  for (const t of targets) await t.store.close();

  const loadEnd = loadavg();
  console.log(
    `\nTidewatch query routes, ${REPORTS.toLocaleString('en')} reports, ${plan.clusters} clusters, ` +
      `${plan.days} days (to ${lastDay}); ${REQUESTS} timed requests per route after ${WARMUP} warm-up, ` +
      `baseline ${BASELINE_WARMUP} warm-up + ${BASELINE_REQUESTS}+ runs; load average ${loadStart[0]!.toFixed(2)} → ${loadEnd[0]!.toFixed(2)} ` +
      `on ${cpus().length} CPUs (shared machine)\n`,
  );
  console.log(table(results));
  const missed = results.filter((r) => !r.goalMet);
  console.log(
    missed.length === 0
      ? '\nGoal met: every route p95 ≤ 100 ms.'
      : `\nGoal missed (p95 > 100 ms): ${missed.map((r) => `${r.route} on ${r.store} (${r.route_ms.p95} ms)`).join('; ')}`,
  );
  for (const f of fills) {
    console.log(
      `fill ${f.kind}: ${f.reused ? 'reused' : `${f.rowsWritten} rows in ${duration(f.seconds)}, ${f.rowsPerSecond} rows/s`}; ` +
        `whole fill ${duration(f.totalFillSeconds)} (${f.rowsPerSecond} rows/s over it; both stores filled in the ` +
        `same pass; ${duration(f.writeSeconds)} inside this store's writeBatch); stored ${f.stored.reports} reports, ${f.stored.events} events, ` +
        `${f.stored.agentReports} agent reports`,
    );
  }

  mkdirSync(dirname(flags.out), { recursive: true });
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: { model: cpus()[0]?.model ?? 'unknown', count: cpus().length },
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    loadAverage: { start: loadStart, end: loadEnd },
    note: 'shared machine: other test suites may run at the same time',
    size: {
      reportsTarget: REPORTS,
      clusters: plan.clusters,
      days: plan.days,
      lastDay,
      keepNonMeta: plan.keepNonMeta,
      keepEvents: plan.keepEvents,
      agentEvery: AGENT_EVERY,
    },
    stores: Object.fromEntries(
      targets.map((t) => {
        const s = t.marker!.stored;
        const b = bytes.get(t.kind)!;
        // Everything on disk (events, agent rows, indexes, rollups) per stored RisingWave report.
        return [t.kind, { ...s, bytes: b, bytesPerReport: Math.round(b / Math.max(1, s.reports)) }];
      }),
    ),
    fill: fills,
    firstMetricQuestionMs: Object.fromEntries(firstMetricQuestionMs),
    options: {
      requests: REQUESTS,
      warmup: WARMUP,
      baselineRequests: BASELINE_REQUESTS,
      batchRows: BATCH_ROWS,
    },
    goal: { p95Ms: GOAL_P95_MS, met: missed.length === 0 },
    results,
  };
  writeFileSync(flags.out, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${flags.out}`);
  const mismatched = results.filter((r) => r.mismatches.length > 0);
  if (mismatched.length > 0) {
    console.error(
      `\n!!!!!!!! ${mismatched.length} route(s) answered differently from the raw-SQL baseline: ` +
        mismatched.map((r) => `${r.route} on ${r.store} [${r.mismatches.join(', ')}]`).join('; '),
    );
    process.exitCode = 1;
  }
}

if (!existsSync(join(root, 'packages/collector/dist/store/sqlite/sqlite-writer.js'))) {
  throw new Error('the SQLite writer thread runs from packages/collector/dist: run `npm run build` first');
}
await main();
