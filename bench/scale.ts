// `npm run bench:scale`: the numbers behind docs/deploy.md's capacity model, in one run.
//
//   npx tsx bench/scale.ts [--reports 10000000] [--duration 10] [--connections 50]
//                          [--requests 10] [--warmup 2] [--baseline-requests 1] [--baseline-warmup 0]
//                          [--no-baseline] [--skip-ingest] [--skip-query] [--out bench/results/scale.json]
//
// 1. Ingest throughput with 1 and 2 collector processes on one shared store (PostgreSQL and
//    ClickHouse; SQLite serves one process), by bench/ingest.ts --collectors N: distinct RisingWave
//    meta reports acknowledged per second, the collectors' CPU, and a check that every acknowledged
//    report is stored.
// 2. The dashboard routes' latency on ClickHouse next to PostgreSQL and SQLite over the same
//    simulated fleet of --reports reports, and the bytes each store takes per stored report, by
//    bench/query.ts --targets sqlite,postgres,clickhouse (filled once per size and cached in
//    bench/.cache/query and the databases tw_bench_query_<N>, shared with bench:query; ClickHouse's answers are checked
//    against PostgreSQL's raw-SQL baseline).
// 3. Both results and a summary in bench/results/scale.json.
//
// The two benches run as child processes with their own options (each is also a command of its
// own); this file only orchestrates and summarizes.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    reports: { type: 'string', default: '10000000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    requests: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    // The raw-SQL baseline only checks the answers here; at 10M one run of it takes seconds to
    // half a minute per route.
    'baseline-requests': { type: 'string', default: '1' },
    'baseline-warmup': { type: 'string', default: '0' },
    // No raw-SQL baseline at all: the answers are not checked (at 10M the baselines take ~25 min).
    'no-baseline': { type: 'boolean', default: false },
    'skip-ingest': { type: 'boolean', default: false },
    'skip-query': { type: 'boolean', default: false },
    out: { type: 'string', default: join(root, 'bench/results/scale.json') },
  },
  strict: true,
});

const partOut = (name: string) => join(root, `bench/results/scale-${name}.json`);

function log(line: string): void {
  process.stderr.write(`[bench:scale] ${line}\n`);
}

/** Runs another bench script to its end, its output passed through. */
async function run(script: string, args: string[]): Promise<void> {
  log(`tsx ${script} ${args.join(' ')}`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
}

interface IngestResult {
  target: string;
  collectors: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number };
  cpuCoreSeconds: { server: number; loadGenerator: number; other: number; idle: number };
  seconds: number;
  verification?: { ok: boolean };
}

interface QueryResult {
  route: string;
  store: string;
  route_ms: { p50: number; p95: number };
  mismatches: string[];
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

async function main(): Promise<void> {
  const load = loadavg();
  const ingest: IngestResult[] = [];
  if (!flags['skip-ingest']) {
    for (const collectors of [1, 2]) {
      const out = partOut(`ingest-${collectors}`);
      await run('bench/ingest.ts', [
        '--targets',
        'postgres,clickhouse',
        '--collectors',
        String(collectors),
        '--duration',
        flags.duration,
        '--connections',
        flags.connections,
        '--out',
        out,
      ]);
      ingest.push(...readJson<{ results: IngestResult[] }>(out).results);
    }
  }
  let query: { size: unknown; stores: Record<string, unknown>; results: QueryResult[] } | null = null;
  if (!flags['skip-query']) {
    const out = partOut('query');
    await run('bench/query.ts', [
      '--reports',
      flags.reports,
      '--targets',
      'sqlite,postgres,clickhouse',
      // The same cache as bench:query: a 10M fill it made is reused and only ClickHouse is added.
      '--cache-name',
      'query',
      '--requests',
      flags.requests,
      '--warmup',
      flags.warmup,
      '--baseline-requests',
      flags['baseline-requests'],
      '--baseline-warmup',
      flags['baseline-warmup'],
      ...(flags['no-baseline'] ? ['--no-baseline'] : []),
      '--out',
      out,
    ]);
    query = readJson(out);
  }

  // Reports/s per collector core: acknowledged reports over the collectors' own CPU seconds.
  const throughput = ingest.map((r) => ({
    store: r.target,
    collectors: r.collectors,
    reportsPerSecond: r.requestsPerSecond,
    p99Ms: r.latencyMs.p99,
    collectorCoreSeconds: r.cpuCoreSeconds.server,
    reportsPerCollectorCoreSecond: Math.round(
      (r.requestsPerSecond * r.seconds) / Math.max(0.01, r.cpuCoreSeconds.server),
    ),
    machineIdleCoreSeconds: r.cpuCoreSeconds.idle,
    everyAcknowledgedStored: r.verification?.ok ?? null,
  }));
  const latency: Record<string, Record<string, { p50: number; p95: number }>> = {};
  for (const r of query?.results ?? []) {
    latency[r.route] ??= {};
    latency[r.route]![r.store] = { p50: r.route_ms.p50, p95: r.route_ms.p95 };
  }
  const summary = {
    date: new Date().toISOString(),
    cpu: { model: cpus()[0]?.model ?? 'unknown', count: cpus().length },
    loadAverage: { start: load, end: loadavg() },
    note:
      'shared 2-core machine: load generator, collectors and stores compete for the same cores; ' +
      'see the part files for every detail',
    reports: query?.size ?? null,
    throughput,
    bytes: query?.stores ?? null,
    routeLatencyMs: latency,
    mismatches: (query?.results ?? [])
      .filter((r) => r.mismatches.length > 0)
      .map((r) => `${r.route} on ${r.store}`),
    parts: {
      ingest: flags['skip-ingest'] ? null : [partOut('ingest-1'), partOut('ingest-2')],
      query: flags['skip-query'] ? null : partOut('query'),
    },
  };
  mkdirSync(dirname(flags.out), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify(summary, null, 2)}\n`);
  console.log('\nTidewatch scale-out summary');
  for (const t of throughput) {
    console.log(
      `  ingest ${t.store}, ${t.collectors} collector(s): ${t.reportsPerSecond} reports/s, ` +
        `${t.reportsPerCollectorCoreSecond} reports per collector core-second, p99 ${t.p99Ms} ms` +
        (t.everyAcknowledgedStored === false ? ' MISMATCH' : ''),
    );
  }
  for (const [kind, s] of Object.entries(summary.bytes ?? {})) {
    console.log(
      `  ${kind}: ${(s as { bytesPerReport: number }).bytesPerReport} bytes on disk per stored report`,
    );
  }
  log(`wrote ${flags.out}`);
  if (summary.mismatches.length > 0 || throughput.some((t) => t.everyAcknowledgedStored === false)) {
    process.exitCode = 1;
  }
}

await main();
