// `npm run soak`: the collector (`tidewatch serve` in a child process) at a steady request rate for
// a long time, with a mix of valid, duplicate and hostile requests; then memory growth, p99 latency
// per minute, and stored vs acknowledged rows. Not part of `npm test`.
//
//   npm run soak -- [--minutes 10] [--rate 1000] [--store sqlite|postgres|URL]
//                   [--pg-url postgres://postgres@127.0.0.1:5432/test] [--max-in-flight 500]
//
// Mix (of --rate requests per second): 80% new valid requests (v2 meta and compute reports, v2
// event batches of 3, v3 agent reports with 3 metrics), 10% duplicates of acknowledged ones (a
// retry stores nothing), 10% hostile requests from the committed corpus (each must get its
// manifest's 4xx). The load is open-loop: requests start on schedule whether or not earlier ones
// were answered (at most --max-in-flight at once; more would be counted as skipped).
// Exit code 1 on any 5xx, network error, wrong hostile answer, or stored != acknowledged.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeReportProtobuf } from '@tidewatch/protocol';
import pg from 'pg';
import { openStore } from '../packages/collector/src/store/open-store.js';
import type { SqlStore } from '../packages/collector/src/store/sql/sql-store.js';
import { agentReport, counter, gauge, histogram } from '../packages/collector/test-support/agent-report.js';
import { spawnCollector } from '../packages/collector/test-support/collector-process.js';
import { loadCorpus } from '../packages/collector/test-support/ingest-corpus.js';
import { eventBatch, metaReport, nodeReport } from '../packages/collector/test-support/risingwave.js';
import { rowCounts } from '../packages/collector/test-support/row-counts.js';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    store: { type: 'string', default: 'sqlite' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    'max-in-flight': { type: 'string', default: '500' },
  },
  strict: true,
});
const minutes = Number(flags.minutes);
const rate = Number(flags.rate);
const maxInFlight = Number(flags['max-in-flight']);
if (!(minutes > 0) || !(rate > 0) || !(maxInFlight > 0))
  throw new Error('--minutes, --rate, --max-in-flight must be > 0');

const log = (line: string) => console.log(`[soak] ${line}`);
const work = mkdtempSync(join(tmpdir(), 'tw-soak-'));

/** A fresh store: a SQLite file in a temp dir, a new PostgreSQL database, or the URL given. */
async function freshStore(): Promise<{ url: string; drop(): Promise<void> }> {
  if (flags.store === 'sqlite') return { url: `sqlite:${join(work, 'soak.db')}`, drop: async () => {} };
  if (flags.store !== 'postgres') return { url: flags.store, drop: async () => {} };
  const name = `tidewatch_soak_${process.pid}`;
  const admin = new pg.Client({ connectionString: flags['pg-url'] });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(flags['pg-url']);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: flags['pg-url'] });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Request {
  route: string;
  body: Uint8Array;
  headers: Record<string, string>;
  /** Rows it stores when new: reports, events, agent reports. */
  rows: [number, number, number];
  /** For hostile requests: the status the corpus manifest expects. */
  expect?: number;
}

const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const run = randomUUID().slice(0, 8);
const CLUSTERS = 500;

function newRequest(i: number): Request {
  const trackingId = `soak-${run}-${i % CLUSTERS}`;
  switch (i % 4) {
    case 0:
      return {
        route: '/api/v2/report/meta',
        body: metaReport({ trackingId, reportTime: i }),
        headers: PROTOBUF,
        rows: [1, 0, 0],
      };
    case 1:
      return {
        route: '/api/v2/report/compute',
        body: nodeReport('compute', { trackingId, reportTime: i }),
        headers: PROTOBUF,
        rows: [1, 0, 0],
      };
    case 2:
      return {
        route: '/api/v2/report/events',
        body: eventBatch(
          ['create', 'drop', 'recover'].map((n) => ({ trackingId, name: `${n}-${i}`, eventTimeSec: i })),
        ),
        headers: PROTOBUF,
        rows: [0, 3, 0],
      };
    default:
      return {
        route: '/api/v3/report',
        body: encodeReportProtobuf(
          agentReport({
            trackingId,
            sequence: i,
            metrics: [
              counter('soak.queries', i),
              gauge('soak.connections', i % 50),
              histogram('soak.seconds', [0.01, 0.2]),
            ],
          }),
        ),
        headers: PROTOBUF,
        rows: [0, 0, 1],
      };
  }
}

const hostile = loadCorpus()
  .filter((k) => k.status >= 400)
  .map(
    (k): Request => ({ route: k.route, body: k.body, headers: k.headers, rows: [0, 0, 0], expect: k.status }),
  );

// ---------------------------------------------------------------------------------------------
// Per-minute statistics

interface Minute {
  latencies: number[];
  statuses: Map<string, number>;
  failures: number;
}
const perMinute: Minute[] = [];
const minuteOf = (at: number) => {
  const m = Math.floor(at / 60_000);
  while (perMinute.length <= m) perMinute.push({ latencies: [], statuses: new Map(), failures: 0 });
  return perMinute[m]!;
};
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

interface Sample {
  at: number;
  rss: number;
  heap: number;
}

/** User + system CPU seconds a process used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return Number.NaN;
  }
}

async function memory(url: string): Promise<Sample | null> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { at: 0, rss: value('process_resident_memory_bytes'), heap: value('nodejs_heap_size_used_bytes') };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const store = await freshStore();
  const collector = await spawnCollector([
    '--store',
    store.url,
    '--admin-token',
    `soak-admin-${run}-0123456789`,
    // 1,000 requests a second from one address is the load, not an attack: no rate limits.
    '--rate-limit-address',
    '0',
    '--rate-limit-cluster',
    '0',
    '--rate-limit-bytes',
    '0',
  ]);
  log(
    `collector pid ${collector.pid} at ${collector.url}, store ${flags.store}; ${rate} requests/s for ${minutes} min`,
  );

  const acked = { reports: 0, events: 0, agentReports: 0 };
  const ackedRequests: Request[] = [];
  const problems: string[] = [];
  let sent = 0;
  let skipped = 0;
  let inFlight = 0;
  let next = 0;
  const counts = { valid: 0, duplicate: 0, hostile: 0, hostileRight: 0 };

  const fire = async (req: Request, kind: 'valid' | 'duplicate' | 'hostile', startedAt: number) => {
    counts[kind]++;
    inFlight++;
    const t0 = performance.now();
    let status = 0;
    try {
      const res = await fetch(`${collector.url}${req.route}`, {
        method: 'POST',
        body: req.body,
        headers: req.headers,
      });
      await res.arrayBuffer();
      status = res.status;
    } catch (error) {
      problems.push(`network error: ${(error as Error).message}`);
    }
    inFlight--;
    const minute = minuteOf(startedAt);
    minute.latencies.push(performance.now() - t0);
    minute.statuses.set(String(status), (minute.statuses.get(String(status)) ?? 0) + 1);
    if (status === 0 || status >= 500) {
      minute.failures++;
      if (status >= 500) problems.push(`${status} on ${req.route}`);
      return;
    }
    if (kind === 'hostile') {
      if (status === req.expect) counts.hostileRight++;
      else problems.push(`hostile ${req.route} answered ${status}, expected ${req.expect}`);
    } else if (status !== 200) problems.push(`${kind} ${req.route} answered ${status}`);
    else if (kind === 'valid') {
      acked.reports += req.rows[0];
      acked.events += req.rows[1];
      acked.agentReports += req.rows[2];
      ackedRequests.push(req);
      if (ackedRequests.length > 5000) ackedRequests.splice(0, 1000); // keep memory flat
    }
  };

  const samples: Sample[] = [];
  const started = performance.now();
  const end = started + minutes * 60_000;
  const sampler = setInterval(() => {
    void memory(collector.url).then((s) => s && samples.push({ ...s, at: performance.now() - started }));
  }, 5000);
  let lastMinuteLogged = -1;

  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      if (now >= end) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor(((now - started) * rate) / 1000);
      for (; sent < due; sent++) {
        if (inFlight >= maxInFlight) {
          skipped++;
          continue;
        }
        const at = now - started;
        const slot = sent % 10;
        if (slot === 9) void fire(hostile[sent % hostile.length]!, 'hostile', at);
        else if (slot === 8 && ackedRequests.length > 0) {
          void fire(ackedRequests[sent % ackedRequests.length]!, 'duplicate', at);
        } else void fire(newRequest(next++), 'valid', at);
      }
      const m = Math.floor((now - started) / 60_000);
      if (m > lastMinuteLogged && m > 0) {
        lastMinuteLogged = m;
        const done = perMinute[m - 1];
        if (done) {
          const sorted = [...done.latencies].sort((a, b) => a - b);
          log(`minute ${m}: ${sorted.length} requests, p99 ${quantile(sorted, 0.99).toFixed(1)} ms`);
        }
      }
    }, 5);
  });
  clearInterval(sampler);
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  const last = await memory(collector.url);
  if (last) samples.push({ ...last, at: performance.now() - started });

  const collectorCpu = cpuSeconds(collector.pid);
  const generatorCpu = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  // Stored vs acknowledged: the store was fresh and hostile requests store nothing, so every row
  // must be an acknowledged one, each once.
  const reader = openStore(store.url) as SqlStore;
  const rows = await rowCounts(reader);
  await reader.close();
  collector.child.kill('SIGTERM');
  const exitCode = await collector.exited;
  await store.drop();
  rmSync(work, { recursive: true, force: true });

  // Report
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  console.log('\nminute  requests   req/s    p50 ms   p99 ms   max ms   5xx+net  collector RSS MB  heap MB');
  perMinute.forEach((m, i) => {
    const sorted = [...m.latencies].sort((a, b) => a - b);
    const s = samples.filter((x) => x.at < (i + 1) * 60_000).at(-1);
    console.log(
      `${String(i + 1).padStart(6)}  ${String(sorted.length).padStart(8)}  ${(sorted.length / 60).toFixed(0).padStart(6)}  ` +
        `${quantile(sorted, 0.5).toFixed(1).padStart(8)} ${quantile(sorted, 0.99).toFixed(1).padStart(8)} ` +
        `${(sorted.at(-1) ?? 0).toFixed(1).padStart(8)}  ${String(m.failures).padStart(7)}  ` +
        `${s ? mb(s.rss).padStart(16) : '               -'}  ${s ? mb(s.heap).padStart(7) : '      -'}`,
    );
  });
  const firstMinute = samples.find((s) => s.at >= 60_000) ?? samples[0];
  const final = samples.at(-1);
  console.log(
    `\nrequests: ${sent} scheduled, ${skipped} skipped (over --max-in-flight), ${counts.valid} valid, ` +
      `${counts.duplicate} duplicates, ${counts.hostile} hostile (${counts.hostileRight} answered as the corpus says)`,
  );
  if (firstMinute && final) {
    console.log(
      `memory of the collector: RSS ${mb(samples[0]!.rss)} MB at start, ${mb(firstMinute.rss)} MB after the first minute, ` +
        `${mb(final.rss)} MB at the end (growth after warm-up ${mb(final.rss - firstMinute.rss)} MB); ` +
        `heap ${mb(firstMinute.heap)} → ${mb(final.heap)} MB; peak RSS ${mb(Math.max(...samples.map((s) => s.rss)))} MB`,
    );
  }
  console.log(
    `CPU: collector ${collectorCpu.toFixed(1)} s, load generator ${generatorCpu.toFixed(1)} s ` +
      `over ${((performance.now() - started) / 1000).toFixed(0)} s of wall time`,
  );
  console.log(
    `stored vs acknowledged: reports ${rows.reports}/${acked.reports}, events ${rows.events}/${acked.events}, ` +
      `agent reports ${rows.agent_reports}/${acked.agentReports}; collector exited ${exitCode}`,
  );
  if (
    rows.reports !== acked.reports ||
    rows.events !== acked.events ||
    rows.agent_reports !== acked.agentReports
  ) {
    problems.push('stored rows differ from acknowledged ones');
  }
  if (problems.length > 0) {
    console.log(
      `FAILED: ${problems.length} problems, first: ${[...new Set(problems)].slice(0, 5).join('; ')}`,
    );
    return 1;
  }
  console.log(
    'OK: no 5xx, no network error, every hostile request refused as expected, stored = acknowledged',
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
