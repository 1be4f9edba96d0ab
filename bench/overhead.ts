// `npm run bench:overhead`: what attaching the agent costs a real database workload. The same
// workload runs with the integration detached and attached, in alternating rounds within this one
// process, on PGlite (in this process) and through node-postgres on the running PostgreSQL.
//
//   npx tsx bench/overhead.ts [--rounds 40] [--slices 10] [--slice-ms 25] [--ticks 6] [--control]
//                             [--cost-only] [--targets pglite,pg] [--pg-url postgres://postgres@127.0.0.1:5432/test]
//                             [--out bench/results/overhead.json]
//
// Method.
// - Workloads (examples/pglite/bank.ts): `tpcb`, pgbench's TPC-B-like transaction (update an account,
//   read it back, update a teller and a branch, insert a history row; in PGlite's transaction(), or
//   BEGIN…COMMIT on one pg client), and `select`, a point select by primary key. One client in a
//   closed loop; the PGlite loop yields to the event loop every 16 operations, as a server does
//   between requests, so that timers and the agent's own work get to run.
// - Twins: each target is two identical databases (two PGlite instances filled alike; two pg
//   connections to one database). One has the integration attached (instrumentPGlite/instrumentPg)
//   for the whole first half of the rounds, the other never; halfway they swap (detach, attach the
//   other, warm up again), so a difference between the twins cancels out. Nothing is attached or
//   detached between slices: that re-optimized the caller's code every slice, a cost a process that
//   attaches once never pays (measured: 1-2% of throughput with 25 ms slices).
// - Alternating runs: a round is --slices pairs of --slice-ms runs, one on each twin, the order
//   alternating. Short alternating slices put both modes under the same load from the neighbours
//   on this shared machine; a round adds up each mode's operations and time.
// - Throughput is operations per second of a run; latency is timed by this loop around each
//   operation, so it includes whatever the integration adds. Per workload we report the medians
//   over --rounds rounds and the median of the per-round ratios (with / without), not means: a round hit by
//   a neighbour's burst moves a mean, not a median. "Noise" is the spread of the per-round ratios
//   (half the interquartile range); p99 is "within noise" when its median ratio is within 1 ± noise.
//   The same ratio over each mode's fastest 99% of operations (their summed latencies) is printed
//   too: it leaves out the GC pauses and neighbours' bursts that make most of the noise.
// - Report ticks: in --ticks rounds per workload an attached slice forces a real report
//   (agent.flush(): snapshot, protobuf, gzip, spool write with fsync, HTTP to a real collector in a
//   child process, isTest so nothing is stored) and lasts until the report was acknowledged, so its
//   whole cost lands in the attached mode's time. Separately, with the series the
//   workload created, ten ticks on an idle process measure the tick's CPU time (process.cpuUsage)
//   and the event-loop delay it causes (monitorEventLoopDelay, 1 ms resolution, max per tick).
// - `--control` (A/A): nothing is attached and no tick is forced, the twins only take turns: the
//   ratios then show what the method itself reads when there is no difference (bias and noise).
// The machine is shared (other jobs run on its 2 cores): compare the ratios, not the absolute numbers.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { type Agent, createAgent } from '@tidewatch/agent';
import { instrumentPg } from '@tidewatch/integrations/pg';
import { instrumentPGlite } from '@tidewatch/integrations/pglite';
import pg from 'pg';
import {
  type BankSize,
  fillStatements,
  POINT_SELECT,
  randomTransfer,
  SCHEMA,
  transferPGlite,
  transferPg,
} from '../examples/pglite/bank.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '40' },
    slices: { type: 'string', default: '10' },
    'slice-ms': { type: 'string', default: '25' },
    ticks: { type: 'string', default: '6' },
    control: { type: 'boolean', default: false },
    'cost-only': { type: 'boolean', default: false },
    targets: { type: 'string', default: 'pglite,pg' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    out: { type: 'string', default: join(root, 'bench/results/overhead.json') },
  },
  strict: true,
});
const ROUNDS = Number(flags.rounds);
const SLICES = Number(flags.slices);
const SLICE_MS = Number(flags['slice-ms']);
const TICKS = Number(flags.ticks);
const TARGETS = flags.targets.split(',');
const BANK: BankSize = { branches: 1, tellersPerBranch: 10, accountsPerBranch: 10_000 };
const log = (message: string) => console.log(message);

// --- one target: a database (as two twins), its workloads, and how to attach the integration ------
type Operation = () => Promise<unknown>;
/** One database connection or instance: its workloads and how to attach the integration to it. */
interface Twin {
  workloads: Record<'tpcb' | 'select', Operation>;
  attach(agent: Agent): { detach(): void };
}
interface Target {
  name: string;
  /**
   * Two identical instances (PGlite) or connections (pg): one runs attached, the other not, so no
   * slice attaches or detaches anything. (Attaching and detaching around every 25 ms slice
   * re-optimized the caller's code each time and charged that to the attached mode: 1-2% that a
   * process attaching once never pays.) Halfway through, they swap roles.
   */
  twins: [Twin, Twin];
  close(): Promise<void>;
  /** Queries the integration sees per operation of each workload. */
  queriesPerOp: Record<'tpcb' | 'select', number>;
  /** Yield to the event loop every this many operations (pg's sockets do it on every query). */
  yieldEvery: number;
}

async function pgliteTarget(): Promise<Target> {
  const accounts = BANK.branches * BANK.accountsPerBranch;
  const twin = async () => {
    const db = await PGlite.create();
    await db.exec(SCHEMA);
    for (const statement of fillStatements(BANK)) await db.exec(statement);
    return {
      db,
      workloads: {
        tpcb: () => transferPGlite(db, randomTransfer(BANK)),
        select: () => db.query(POINT_SELECT, [1 + Math.floor(Math.random() * accounts)]),
      },
      attach: (agent: Agent) => instrumentPGlite(db, agent),
    };
  };
  const twins = [await twin(), await twin()] as const;
  return {
    name: 'pglite',
    twins: [twins[0], twins[1]],
    queriesPerOp: { tpcb: 5, select: 1 }, // BEGIN/COMMIT of transaction() are not the caller's
    close: async () => {
      for (const t of twins) await t.db.close();
    },
    yieldEvery: 16,
  };
}

async function pgTarget(adminUrl: string): Promise<Target | null> {
  const name = `tidewatch_bench_overhead_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (error) {
    log(`pg: PostgreSQL not reachable at ${adminUrl} (${(error as Error).message}): skipped`);
    return null;
  }
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  // Two connections to the one database: the twins share its tables, caches and server.
  const clients = [
    new pg.Client({ connectionString: url.toString() }),
    new pg.Client({ connectionString: url.toString() }),
  ] as const;
  for (const client of clients) await client.connect();
  await clients[0].query(SCHEMA);
  for (const statement of fillStatements(BANK)) await clients[0].query(statement);
  await clients[0].query('vacuum analyze');
  const accounts = BANK.branches * BANK.accountsPerBranch;
  const twin = (client: pg.Client): Twin => ({
    workloads: {
      tpcb: () => transferPg(client, randomTransfer(BANK)),
      select: () => client.query(POINT_SELECT, [1 + Math.floor(Math.random() * accounts)]),
    },
    attach: (agent) => instrumentPg(client, agent),
  });
  return {
    name: 'pg',
    twins: [twin(clients[0]), twin(clients[1])],
    queriesPerOp: { tpcb: 7, select: 1 }, // BEGIN, 5 statements, COMMIT
    async close() {
      for (const client of clients) await client.end();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
    yieldEvery: 0,
  };
}

// --- one slice: a closed loop for SLICE_MS in one mode ----------------------------------------------
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** Operations, time and per-operation latencies (ms) of one mode within a round (buffer reused). */
class Samples {
  readonly latencies = new Float64Array(1_000_000);
  ops = 0;
  ms = 0;
  cpuMs = 0;
  reset(): void {
    this.ops = 0;
    this.ms = 0;
    this.cpuMs = 0;
  }
  /**
   * The p99 latency, and the operations per second of operation time over the fastest 99% of the
   * operations: the slowest 1% are where garbage-collection pauses (3-6 ms, ~17 per second on
   * PGlite) and the neighbours' bursts land, and leaving them out of both modes halves the
   * spread of the per-round ratios.
   */
  latency(): { p99Ms: number; fastest99OpsPerSecond: number } {
    const sorted = this.latencies.subarray(0, this.ops).sort();
    const keep = Math.floor(0.99 * this.ops);
    let ms = 0;
    for (let i = 0; i < keep; i++) ms += sorted[i]!;
    return {
      p99Ms: sorted[Math.min(this.ops - 1, keep)]!,
      fastest99OpsPerSecond: (keep / ms) * 1000,
    };
  }
}

/**
 * Runs `op` in a closed loop for SLICE_MS, adding operations, time and latencies to `into`. With a
 * `tick`, a report is forced at the start and the slice lasts until it finished too, so that all of
 * the tick's work (whatever part of it runs between operations) is charged to this mode.
 */
async function slice(op: Operation, yieldEvery: number, into: Samples, tick: (() => Promise<void>) | null) {
  let ticking = tick !== null;
  const tickDone = tick?.().then(() => {
    ticking = false;
  });
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + SLICE_MS;
  let now = start;
  let n = 0;
  while ((now < end || ticking) && into.ops < into.latencies.length) {
    await op();
    const after = performance.now();
    into.latencies[into.ops++] = after - now;
    now = after;
    if (yieldEvery > 0 && ++n % yieldEvery === 0) {
      await yieldToLoop();
      now = performance.now();
    }
  }
  into.ms += now - start;
  const used = process.cpuUsage(cpu);
  into.cpuMs += (used.user + used.system) / 1000;
  await tickDone;
}

// --- statistics ------------------------------------------------------------------------------------
const quantile = (values: number[], q: number) => {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
};
const median = (values: number[]) => quantile(values, 0.5);
const halfIqr = (values: number[]) => (quantile(values, 0.75) - quantile(values, 0.25)) / 2;
const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Run {
  opsPerSecond: number;
  p99Ms: number;
  fastest99OpsPerSecond: number;
  /** This process's CPU time per operation (less sensitive to the neighbours than wall time). */
  cpuUsPerOp: number;
  ops: number;
  ms: number;
}

interface WorkloadResult {
  target: string;
  workload: string;
  rounds: number;
  withoutAgent: { opsPerSecond: number; p99Ms: number };
  withAgent: { opsPerSecond: number; p99Ms: number };
  throughputRatio: number;
  throughputNoise: number;
  /** The same over each mode's fastest 99% of operations (Samples.latency): less noise, same goal. */
  fastest99ThroughputRatio: number;
  fastest99ThroughputNoise: number;
  p99Ratio: number;
  p99Noise: number;
  /** Median over rounds of (CPU per operation with) / (without): > 1 is what the integration costs. */
  cpuPerOpRatio: number;
  cpuPerOpNoise: number;
  cpuUsPerOp: { without: number; with: number };
  /** Queries per operation (a transfer is several) times the integration's ns per query. */
  integrationUsPerOp: number;
  /** Throughput ratio implied by that cost and the CPU an operation takes without the agent. */
  impliedThroughputRatio: number;
  /** The same with the integration's cost measured with cold CPU caches (integrationColdCost). */
  integrationColdUsPerOp: number;
  impliedThroughputRatioCold: number;
  /** All operations over all time of each mode, tick slices included (a mean, not a median). */
  throughputRatioAllRoundsPooled: number;
  ticksDuringMeasuredRuns: number;
  /** met: median ratio ≥ 0.99; within noise: 0.99 inside median ± noise; not met: below that band. */
  throughputVerdict: 'met' | 'within noise' | 'not met';
  p99WithinNoise: boolean;
}

const otherTwin = (twin: 0 | 1): 0 | 1 => (twin === 0 ? 1 : 0);

async function measure(
  target: Target,
  workload: 'tpcb' | 'select',
  agent: Agent,
  nsPerQuery: number,
  coldNsPerQuery: number,
): Promise<WorkloadResult> {
  const tickRounds = new Set(
    Array.from({ length: flags.control ? 0 : TICKS }, (_, i) => Math.floor(((i + 0.5) * ROUNDS) / TICKS)),
  );
  // A/A control: "attaching" changes nothing.
  const attach = (twin: 0 | 1) => (flags.control ? { detach() {} } : target.twins[twin].attach(agent));
  const offSamples = new Samples();
  const onSamples = new Samples();
  let ticks = 0;
  // The attached twin's index; the other one runs without the integration.
  let attachedTwin: 0 | 1 = 1;
  let attachment = attach(attachedTwin);
  const runSlice = (attached: boolean, tick: boolean) =>
    slice(
      target.twins[attached ? attachedTwin : otherTwin(attachedTwin)].workloads[workload],
      target.yieldEvery,
      attached ? onSamples : offSamples,
      tick ? () => agent.flush() : null,
    );
  const runRound = async (r: number): Promise<{ off: Run; on: Run }> => {
    offSamples.reset();
    onSamples.reset();
    for (let i = 0; i < SLICES; i++) {
      const attachedFirst = (i + r) % 2 === 0; // off-on, on-off, …: each mode goes first equally often
      const tick = tickRounds.has(r) && i === SLICES >> 1;
      if (tick) ticks++;
      await runSlice(attachedFirst, tick && attachedFirst);
      await runSlice(!attachedFirst, tick && !attachedFirst);
    }
    const result = (x: Samples): Run => ({
      opsPerSecond: (x.ops / x.ms) * 1000,
      ...x.latency(),
      cpuUsPerOp: (x.cpuMs * 1000) / x.ops,
      ops: x.ops,
      ms: x.ms,
    });
    return { off: result(offSamples), on: result(onSamples) };
  };
  await runRound(-1); // warm-up in both modes: JIT, the database's caches, the integration's handles
  const off: Run[] = [];
  const on: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r === ROUNDS >> 1) {
      // The twins swap roles, so that a difference between them cancels out; then a warm-up again.
      attachment.detach();
      attachedTwin = otherTwin(attachedTwin);
      attachment = attach(attachedTwin);
      await runRound(-1);
    }
    const round = await runRound(r);
    off.push(round.off);
    on.push(round.on);
  }
  attachment.detach();
  const tput = on.map((x, i) => x.opsPerSecond / off[i]!.opsPerSecond);
  const fastest99 = on.map((x, i) => x.fastest99OpsPerSecond / off[i]!.fastest99OpsPerSecond);
  const p99 = on.map((x, i) => x.p99Ms / off[i]!.p99Ms);
  const throughputRatio = median(tput);
  const p99Ratio = median(p99);
  const p99Noise = halfIqr(p99);
  const cpu = on.map((x, i) => x.cpuUsPerOp / off[i]!.cpuUsPerOp);
  const integrationUsPerOp = (target.queriesPerOp[workload] * nsPerQuery) / 1000;
  const integrationColdUsPerOp = (target.queriesPerOp[workload] * coldNsPerQuery) / 1000;
  const cpuOff = median(off.map((x) => x.cpuUsPerOp));
  const impliedRatio = (integrationUs: number) => round(cpuOff / (cpuOff + integrationUs));
  const total = (runs: Run[]) => runs.reduce((t, x) => t + x.ops, 0) / runs.reduce((t, x) => t + x.ms, 0);
  return {
    target: target.name,
    workload,
    rounds: ROUNDS,
    withoutAgent: {
      opsPerSecond: Math.round(median(off.map((x) => x.opsPerSecond))),
      p99Ms: round(median(off.map((x) => x.p99Ms))),
    },
    withAgent: {
      opsPerSecond: Math.round(median(on.map((x) => x.opsPerSecond))),
      p99Ms: round(median(on.map((x) => x.p99Ms))),
    },
    throughputRatio: round(throughputRatio),
    throughputNoise: round(halfIqr(tput)),
    fastest99ThroughputRatio: round(median(fastest99)),
    fastest99ThroughputNoise: round(halfIqr(fastest99)),
    p99Ratio: round(p99Ratio),
    p99Noise: round(p99Noise),
    cpuPerOpRatio: round(median(cpu)),
    cpuPerOpNoise: round(halfIqr(cpu)),
    cpuUsPerOp: {
      without: round(median(off.map((x) => x.cpuUsPerOp)), 2),
      with: round(median(on.map((x) => x.cpuUsPerOp)), 2),
    },
    integrationUsPerOp: round(integrationUsPerOp, 3),
    impliedThroughputRatio: impliedRatio(integrationUsPerOp),
    integrationColdUsPerOp: round(integrationColdUsPerOp, 3),
    impliedThroughputRatioCold: impliedRatio(integrationColdUsPerOp),
    throughputRatioAllRoundsPooled: round(total(on) / total(off)),
    ticksDuringMeasuredRuns: ticks,
    throughputVerdict:
      throughputRatio >= 0.99 ? 'met' : throughputRatio + halfIqr(tput) >= 0.99 ? 'within noise' : 'not met',
    p99WithinNoise: Math.abs(p99Ratio - 1) <= Math.max(p99Noise, 0.01),
  };
}

interface TickCost {
  cpuMsMedian: number;
  cpuMsMax: number;
  wallMsMedian: number;
  /** Worst timer lateness while a tick ran, median over the ticks. */
  loopDelayMsMedian: number;
  loopDelayMsMax: number;
  /** The same, in an equally long idle window without a tick: what the shared machine does anyway. */
  idleLoopDelayMsMedian: number;
}

/**
 * Twenty report ticks on an otherwise idle process, with the series the workloads created; after
 * each, an idle window as long as the tick took, watched the same way, as the control.
 */
async function tickCost(agent: Agent): Promise<TickCost> {
  const cpu: number[] = [];
  const wall: number[] = [];
  const delays: number[] = [];
  const idleDelays: number[] = [];
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // The monitor's own 1 ms period is not delay.
  const maxDelayMs = () => Math.max(0, delay.max / 1e6 - 1);
  delay.enable();
  for (let i = 0; i < 20; i++) {
    await sleep(20);
    delay.reset();
    const t0 = performance.now();
    const before = process.cpuUsage();
    await agent.flush();
    const used = process.cpuUsage(before);
    const took = performance.now() - t0;
    cpu.push((used.user + used.system) / 1000);
    wall.push(took);
    await sleep(5); // let the monitor take its last sample
    delays.push(maxDelayMs());
    delay.reset();
    await sleep(took + 5);
    idleDelays.push(maxDelayMs());
  }
  delay.disable();
  return {
    cpuMsMedian: round(median(cpu), 2),
    cpuMsMax: round(Math.max(...cpu), 2),
    wallMsMedian: round(median(wall), 1),
    loopDelayMsMedian: round(median(delays), 2),
    loopDelayMsMax: round(Math.max(...delays), 2),
    idleLoopDelayMsMedian: round(median(idleDelays), 2),
  };
}

// --- the integration's own cost per query, free of the database's noise ------------------------------
/**
 * A driver stand-in whose query() answers at once (PGlite: a resolved promise; pg: a callback in a
 * microtask, or pg's own promise around one), and how to attach the real integration to it.
 */
function standIn(kind: 'pglite' | 'pg', agent: Agent) {
  const answer = { rows: [], fields: [], command: 'SELECT', affectedRows: 0 };
  // pg answers a callback when one is given (the integration gives one) and otherwise makes its
  // own promise around that callback, with a catch that retakes an error's stack (pg/lib/client.js);
  // the stand-in does the same, so that the cost measured is what attaching adds to pg's path.
  const answerLater = (callback: (error: unknown, result: unknown) => void) =>
    queueMicrotask(() => callback(null, answer));
  const pgPromise = () =>
    new Promise((resolve, reject) => {
      answerLater((error, result) => (error ? reject(error) : resolve(result)));
    }).catch((error: Error) => {
      Error.captureStackTrace(error);
      throw error;
    });
  const driver = {
    query: (_text: unknown, _values?: unknown, callback?: unknown) => {
      if (typeof callback === 'function') return answerLater(callback as never);
      return kind === 'pg' ? pgPromise() : Promise.resolve(answer);
    },
    exec: async () => [answer],
    transaction: async (fn: (tx: unknown) => Promise<unknown>) => fn(driver),
  };
  const attach = () =>
    kind === 'pglite'
      ? instrumentPGlite(driver as unknown as PGlite, agent)
      : instrumentPg(driver as unknown as pg.Client, agent);
  return { driver, attach };
}

/**
 * ns per query() that the integration adds, warm: the fastest of 7 rounds of 200,000 calls each
 * way on the stand-in (the fastest is the least disturbed by the neighbours), after a warm-up.
 */
async function integrationCost(kind: 'pglite' | 'pg', agent: Agent): Promise<number> {
  const { driver, attach } = standIn(kind, agent);
  const loop = async (n: number) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await driver.query(POINT_SELECT, [i]);
    return ((performance.now() - t0) * 1e6) / n;
  };
  const calls = 200_000;
  let off = Number.POSITIVE_INFINITY;
  let on = Number.POSITIVE_INFINITY;
  const attachment = attach();
  await loop(calls); // warm-up, attached and not
  attachment.detach();
  await loop(calls);
  for (let r = 0; r < 7; r++) {
    off = Math.min(off, await loop(calls));
    const a = attach();
    on = Math.min(on, await loop(calls));
    a.detach();
  }
  return Math.max(0, on - off);
}

/**
 * The same cost with cold CPU caches, as between the queries of a real database (whose own work
 * evicts the integration's code and data): before each timed call, a write to every cache line of
 * an 8 MiB buffer. Median over 15 rounds of the mean of 300 calls each way. This is the number the
 * database benchmark should be compared with; the warm one is a floor.
 */
async function integrationColdCost(kind: 'pglite' | 'pg', agent: Agent): Promise<number> {
  const { driver, attach } = standIn(kind, agent);
  const sweep = new Uint8Array(8 << 20);
  const timedCold = async (n: number) => {
    let total = 0n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < sweep.length; j += 64) sweep[j]!++;
      const t0 = process.hrtime.bigint();
      await driver.query(POINT_SELECT, [i]);
      total += process.hrtime.bigint() - t0;
    }
    return Number(total) / n;
  };
  const warm = async () => {
    for (let i = 0; i < 5000; i++) await driver.query(POINT_SELECT, [i]);
  };
  const added: number[] = [];
  for (let r = 0; r < 15; r++) {
    await warm();
    const off = await timedCold(300);
    const a = attach();
    await warm();
    const on = await timedCold(300);
    a.detach();
    added.push(on - off);
  }
  return Math.max(0, median(added));
}

// --- a real collector in a child process, to receive the forced reports ----------------------------
async function startCollector(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      join(root, 'packages/cli/bin/tidewatch.js'),
      'serve',
      ...['--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'],
      ...['--store', `sqlite:${join(dir, 'collector.db')}`],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening on (http:\S+)$/.exec(line);
      if (match) resolveUrl(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`collector exited (${code})`)));
  });
  return { url, child };
}

// --- main ------------------------------------------------------------------------------------------
const started = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'tidewatch-overhead-'));
const collector = await startCollector(dir);
const stopCollector = async () => {
  if (collector.child.exitCode !== null) return;
  const exited = new Promise((r) => collector.child.once('exit', r));
  collector.child.kill('SIGTERM');
  await exited;
};
process.once('SIGINT', () => {
  collector.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  process.exit(130);
});

log(
  `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'} (a SHARED machine: other jobs ` +
    'run on the same cores, so absolute numbers move between runs; the with/without ratios are what counts)',
);
log(`load average ${loadavg()[0]!.toFixed(1)} at the start`);
log(
  `${ROUNDS} rounds of ${SLICES} alternating ${SLICE_MS} ms slices per mode and workload; ${TICKS} forced report ticks per workload`,
);

const results: WorkloadResult[] = [];
const tickCosts: Record<string, TickCost> = {};
const integrationNsPerQuery: Record<string, number> = {};
const integrationColdNsPerQuery: Record<string, number> = {};
try {
  for (const name of TARGETS) {
    const target = name === 'pglite' ? await pgliteTarget() : await pgTarget(flags['pg-url']);
    if (!target) continue;
    const agent = createAgent({
      endpoint: collector.url,
      nodeType: `bench-${name}`,
      dataDir: join(dir, `agent-${name}`), // spool and audit copies on disk, as in production
      firstReportDelay: 86_400_000, // only the forced ticks report
      isTest: true,
      env: {}, // measured whatever DO_NOT_TRACK says in this shell
      logger: { warn: (m) => !m.startsWith('tidewatch: this software') && log(`agent: ${m}`) },
    });
    try {
      const kind = target.name === 'pglite' ? 'pglite' : 'pg';
      const nsPerQuery = await integrationCost(kind, agent);
      const coldNsPerQuery = await integrationColdCost(kind, agent);
      integrationNsPerQuery[name] = round(nsPerQuery, 0);
      integrationColdNsPerQuery[name] = round(coldNsPerQuery, 0);
      log(
        `${name}: the integration adds ${Math.round(nsPerQuery)} ns per query warm (no-op driver, fastest of 7), ` +
          `${Math.round(coldNsPerQuery)} ns with cold CPU caches (median of 15)`,
      );
      if (flags['cost-only']) continue; // only the integration's own cost (finally still closes)
      for (const workload of ['tpcb', 'select'] as const) {
        log(`${name} ${workload}: running`);
        const r = await measure(target, workload, agent, nsPerQuery, coldNsPerQuery);
        results.push(r);
        log(
          `${name} ${workload}: throughput ratio ${r.throughputRatio} ± ${r.throughputNoise} ` +
            `(fastest 99%: ${r.fastest99ThroughputRatio} ± ${r.fastest99ThroughputNoise}), p99 ratio ` +
            `${r.p99Ratio} ± ${r.p99Noise}, CPU/op ratio ${r.cpuPerOpRatio}; ${r.ticksDuringMeasuredRuns} ticks`,
        );
      }
      const attachment = target.twins[0].attach(agent);
      await target.twins[0].workloads.select(); // the integration's series exist in the tick
      attachment.detach();
      tickCosts[name] = await tickCost(agent);
    } finally {
      await agent.shutdown();
      await target.close();
    }
  }
} finally {
  await stopCollector();
  rmSync(dir, { recursive: true, force: true });
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
const fixed = (x: number, digits = 3) => x.toFixed(digits);
console.log(
  `\n${'target'.padEnd(7)}${'workload'.padEnd(9)}${pad('ops/s off', 10)}${pad('ops/s on', 10)}${pad('ratio', 7)}` +
    `${pad('p99 ms off', 11)}${pad('p99 ms on', 10)}${pad('ratio', 7)}${pad('CPU µs/op off', 15)}${pad('on', 7)}${pad('ratio', 7)}`,
);
for (const r of results) {
  console.log(
    `${r.target.padEnd(7)}${r.workload.padEnd(9)}${pad(r.withoutAgent.opsPerSecond, 10)}${pad(r.withAgent.opsPerSecond, 10)}` +
      `${pad(fixed(r.throughputRatio), 7)}${pad(fixed(r.withoutAgent.p99Ms), 11)}${pad(fixed(r.withAgent.p99Ms), 10)}` +
      `${pad(fixed(r.p99Ratio), 7)}${pad(fixed(r.cpuUsPerOp.without, 1), 15)}${pad(fixed(r.cpuUsPerOp.with, 1), 7)}` +
      `${pad(fixed(r.cpuPerOpRatio), 7)}`,
  );
}
console.log('\ngoals (medians of per-round ratios, ± half their interquartile range):');
for (const r of results) {
  console.log(
    `  ${r.target} ${r.workload}: throughput with agent ≥ 99% of without: ` +
      `${r.throughputVerdict} (${fixed(r.throughputRatio)} ± ${fixed(r.throughputNoise)}; ` +
      `pooled over all rounds, tick slices included: ${fixed(r.throughputRatioAllRoundsPooled)}; ` +
      `fastest 99% of operations: ${fixed(r.fastest99ThroughputRatio)} ± ${fixed(r.fastest99ThroughputNoise)}); ` +
      `p99 within noise: ${r.p99WithinNoise ? 'yes' : 'NO'} (${fixed(r.p99Ratio)} ± ${fixed(r.p99Noise)}); ` +
      `CPU per operation ${fixed(r.cpuPerOpRatio)} ± ${fixed(r.cpuPerOpNoise)}; implied by the integration's ` +
      `${fixed(r.integrationUsPerOp)} µs per operation: ${fixed(r.impliedThroughputRatio, 4)} warm, ` +
      `${fixed(r.impliedThroughputRatioCold, 4)} with cold caches (${fixed(r.integrationColdUsPerOp)} µs)`,
  );
}
for (const [name, t] of Object.entries(tickCosts)) {
  console.log(
    `report tick (${name}, on disk, HTTP to a collector): ${t.cpuMsMedian} ms CPU median (max ${t.cpuMsMax}), ` +
      `${t.wallMsMedian} ms wall; worst event-loop delay during a tick ${t.loopDelayMsMedian} ms median ` +
      `(max ${t.loopDelayMsMax}) vs ${t.idleLoopDelayMsMedian} ms in equally long idle windows`,
  );
}
const [load1] = loadavg();
console.log(
  `machine: load average ${load1!.toFixed(1)} on ${cpus().length} cores at the end (SHARED: compare ratios, not absolute numbers; ` +
    'rerun if a ratio sits inside its noise band)',
);

const json = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: { model: cpus()[0]?.model ?? 'unknown', count: cpus().length },
  options: {
    rounds: ROUNDS,
    slices: SLICES,
    sliceMs: SLICE_MS,
    ticksPerWorkload: flags.control ? 0 : TICKS,
    control: flags.control,
    targets: TARGETS,
    bank: BANK,
  },
  note:
    'Shared machine (other jobs on the same cores). Each round runs without and with the integration back to back ' +
    '(order alternating); ratios are medians of per-round ratios, noise is half their interquartile range.',
  loadAverageAtEnd: round(loadavg()[0]!, 2),
  integrationNsPerQuery,
  integrationColdNsPerQuery,
  results,
  reportTick: tickCosts,
  wallSeconds: Math.round((Date.now() - started) / 100) / 10,
};
if (!flags['cost-only']) {
  mkdirSync(dirname(flags.out), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${flags.out} (${json.wallSeconds} s in total)`);
}
