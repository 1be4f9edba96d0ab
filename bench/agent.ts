// `npm run bench:agent` (npx tsx bench/agent.ts): the agent's hot path against the floor (a bare
// Float64Array increment) and its peers, in one run, plus the cost of one report tick.
//
//   npx tsx bench/agent.ts [--calls 5000000] [--rounds 7] [--out bench/results/agent.json]
//
// Method.
// - ns/call: each case is a small function that makes `calls` calls in a loop (the same loop shape
//   for every case, so loop overhead is in the floor too). After a warm-up that lets V8 optimize,
//   we time `rounds` runs with process.hrtime and keep the fastest (the least disturbed by GC and
//   the OS). Histogram cases cycle through the same 4096 pre-generated lognormal latencies.
// - bytes/call: without --expose-gc we cannot force a collection, so we measure the growth of
//   v8's used heap (v8.getHeapStatistics().used_heap_size) across 50,000 calls, and keep the
//   measurement only if no garbage collection ran in between (watched with a PerformanceObserver
//   on 'gc' entries); up to 20 tries, smallest clean delta wins. Zero-allocation code shows 0
//   (a few bytes of noise at most, reported as measured); allocating code shows its bytes per call.
// - report tick: 500 series (300 labelled counters, 100 gauges, 100 histograms with 1,000 lognormal
//   values each) are snapshotted and encoded to protobuf, as the agent does on its schedule (it
//   yields to the event loop after the snapshot and after every hundred series encoded). CPU
//   time is process.cpuUsage() around each slice, summed per tick (median and max of 30 ticks); the
//   longest slice is how long the tick holds the host's event loop at most: per slice the smaller
//   of its CPU (all threads) and its wall time, both upper bounds of the main thread's time in it
//   (also printed: the CPU alone, the wall clock, and the wall clock less the garbage collections
//   that fell into it, which tells a slow slice from a collection that happened to run in it);
//   the event loop's delay is watched by perf_hooks.monitorEventLoopDelay (1 ms resolution),
//   reset before each tick and read after it (median and max over the ticks; the max includes any
//   GC pause that hit).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { DDSketch } from '@datadog/sketches-js';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import * as hdr from 'hdr-histogram-js';
import promClient from 'prom-client';
import { Collectors } from '../packages/agent/src/collectors.js';
import { resolveOptions } from '../packages/agent/src/options.js';
import { Registry } from '../packages/agent/src/registry.js';
import { buildReport, noDrops } from '../packages/agent/src/report.js';
import {
  encodeReportProtobuf,
  encodeReportProtobufPieces,
} from '../packages/protocol/src/native/protobuf.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '5000000' },
    rounds: { type: 'string', default: '7' },
    out: { type: 'string', default: 'bench/results/agent.json' },
  },
});
const CALLS = Number(args.calls);
const ROUNDS = Number(args.rounds);

// Lognormal latencies in seconds (median ~7 ms), shared by every histogram case.
const SECONDS = new Float64Array(4096);
const MICROS = new Float64Array(4096);
for (let i = 0; i < SECONDS.length; i++) {
  const z = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  SECONDS[i] = Math.exp(-5 + 1.5 * z);
  MICROS[i] = Math.max(1, Math.round(SECONDS[i]! * 1e6));
}

// --- the cases --------------------------------------------------------------------------------
type Loop = (n: number) => void;
let sink: unknown;

const ours = new Registry(2000, 1024, () => {});
const ourCounter = ours.counter('queries');
const ourLabelled = ours.counter('queries.by_kind', { kind: 'select' });
const ourHistogram = ours.histogram('query.duration');

const floor = new Float64Array(16);

const prom = new promClient.Registry();
const promCounter = new promClient.Counter({ name: 'queries', help: 'q', registers: [prom] });
const promLabelled = new promClient.Counter({
  name: 'queries_by_kind',
  help: 'q',
  labelNames: ['kind'],
  registers: [prom],
});
const promBound = promLabelled.labels({ kind: 'select' });
const promHistogram = new promClient.Histogram({
  name: 'query_duration_seconds',
  help: 'q',
  registers: [prom],
});

class NoopReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}
const meterProvider = new MeterProvider({ readers: [new NoopReader()] });
const meter = meterProvider.getMeter('bench');
const otelCounter = meter.createCounter('queries');
const otelHistogram = meter.createHistogram('query.duration', { unit: 's' });
const otelAttributes = { kind: 'select' };

const hdrHistogram = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 3_600_000_000,
  numberOfSignificantValueDigits: 2,
});
const sketch = new DDSketch({ relativeAccuracy: 0.01 });

const CASES: { name: string; group: 'counter' | 'histogram'; loop: Loop }[] = [
  {
    name: 'floor: Float64Array[0]++',
    group: 'counter',
    loop: (n) => {
      const f = floor;
      for (let i = 0; i < n; i++) f[0]!++;
    },
  },
  {
    name: 'tidewatch counter.inc()',
    group: 'counter',
    loop: (n) => {
      const h = ourCounter;
      for (let i = 0; i < n; i++) h.inc();
    },
  },
  {
    name: 'tidewatch labelled handle .inc()',
    group: 'counter',
    loop: (n) => {
      const h = ourLabelled;
      for (let i = 0; i < n; i++) h.inc();
    },
  },
  {
    name: 'prom-client Counter.inc()',
    group: 'counter',
    loop: (n) => {
      const h = promCounter;
      for (let i = 0; i < n; i++) h.inc();
    },
  },
  {
    name: 'prom-client Counter.inc({kind})',
    group: 'counter',
    loop: (n) => {
      const h = promLabelled;
      for (let i = 0; i < n; i++) h.inc({ kind: 'select' });
    },
  },
  {
    name: 'prom-client labels(kind) child .inc()',
    group: 'counter',
    loop: (n) => {
      const h = promBound;
      for (let i = 0; i < n; i++) h.inc();
    },
  },
  {
    name: 'otel Counter.add(1)',
    group: 'counter',
    loop: (n) => {
      const h = otelCounter;
      for (let i = 0; i < n; i++) h.add(1);
    },
  },
  {
    name: 'otel Counter.add(1, {kind})',
    group: 'counter',
    loop: (n) => {
      const h = otelCounter;
      for (let i = 0; i < n; i++) h.add(1, otelAttributes);
    },
  },
  // Control for the allocation measurement: must show ~16-32 bytes per call.
  {
    name: 'control: allocates [i] per call',
    group: 'counter',
    loop: (n) => {
      for (let i = 0; i < n; i++) sink = [i];
    },
  },
  {
    name: 'floor: Float64Array[i&15] += v',
    group: 'histogram',
    loop: (n) => {
      const f = floor;
      const v = SECONDS;
      for (let i = 0; i < n; i++) f[i & 15]! += v[i & 4095]!;
    },
  },
  {
    name: 'tidewatch histogram.record(v)',
    group: 'histogram',
    loop: (n) => {
      const h = ourHistogram;
      const v = SECONDS;
      for (let i = 0; i < n; i++) h.record(v[i & 4095]!);
    },
  },
  {
    name: 'prom-client Histogram.observe(v)',
    group: 'histogram',
    loop: (n) => {
      const h = promHistogram;
      const v = SECONDS;
      for (let i = 0; i < n; i++) h.observe(v[i & 4095]!);
    },
  },
  {
    name: 'otel Histogram.record(v)',
    group: 'histogram',
    loop: (n) => {
      const h = otelHistogram;
      const v = SECONDS;
      for (let i = 0; i < n; i++) h.record(v[i & 4095]!);
    },
  },
  {
    name: 'hdr-histogram-js recordValue(µs)',
    group: 'histogram',
    loop: (n) => {
      const h = hdrHistogram;
      const v = MICROS;
      for (let i = 0; i < n; i++) h.recordValue(v[i & 4095]!);
    },
  },
  {
    name: 'DDSketch.accept(v)',
    group: 'histogram',
    loop: (n) => {
      const h = sketch;
      const v = SECONDS;
      for (let i = 0; i < n; i++) h.accept(v[i & 4095]!);
    },
  },
];

// --- measurement ------------------------------------------------------------------------------
let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });
const flushObserver = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Best ns per call of each case. Rounds are interleaved (every case once per round) so that a
 * burst of load from the shared machine hits all cases alike instead of one case's block.
 */
function nsPerCallAll(cases: { loop: Loop; calls: number }[]): number[] {
  const best = cases.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of cases.entries()) {
      const t = process.hrtime.bigint();
      c.loop(c.calls);
      best[i] = Math.min(best[i]!, Number(process.hrtime.bigint() - t) / c.calls);
    }
  }
  return best;
}

async function bytesPerCall(loop: Loop): Promise<number | null> {
  const calls = 50_000;
  let best: number | null = null;
  for (let attempt = 0; attempt < 20; attempt++) {
    await flushObserver();
    const before = gcs;
    const heap = getHeapStatistics().used_heap_size;
    loop(calls);
    const delta = getHeapStatistics().used_heap_size - heap;
    await flushObserver();
    if (gcs !== before) continue; // a collection ran: the delta means nothing
    const perCall = Math.max(0, delta) / calls;
    best = best === null ? perCall : Math.min(best, perCall);
    if (best === 0) break;
  }
  return best;
}

// --- report tick --------------------------------------------------------------------------------
async function reportTick() {
  const registry = new Registry(2000, 1024, () => {});
  const counters = Array.from({ length: 300 }, (_, i) =>
    registry.counter(`requests.${i % 30}`, { route: `r${i}` }),
  );
  const gauges = Array.from({ length: 100 }, (_, i) => registry.gauge(`pool.size.${i}`));
  const histograms = Array.from({ length: 100 }, (_, i) => registry.histogram(`latency.${i}`));
  const collectors = new Collectors();
  await collectors.start();
  const options = resolveOptions({
    endpoint: 'http://127.0.0.1:9',
    nodeType: 'bench',
    dataDir: null,
    env: {},
  });
  const fill = () => {
    for (const [i, c] of counters.entries()) c.inc(i);
    for (const [i, g] of gauges.entries()) g.set(i);
    for (const [i, h] of histograms.entries()) {
      for (let k = 0; k < 1000; k++) h.record(SECONDS[(i * 31 + k) & 4095]!);
    }
  };
  // As the agent does it: snapshot, yield to the event loop, encode.
  const snapshot = () =>
    buildReport({
      options,
      trackingId: 'bench',
      sessionId: 'bench',
      reportId: '00000000-0000-4000-8000-000000000000',
      sequence: 1,
      intervalStartMs: 0,
      nowMs: Date.now(),
      cluster: {},
      events: [],
      drops: noDrops(),
      registry,
      collectors,
      reset: true,
    });
  const tickSync = () => encodeReportProtobuf(snapshot()).length;
  for (let i = 0; i < 20; i++) {
    fill();
    tickSync(); // warm-up
  }
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const cpu: number[] = [];
  const delays: number[] = [];
  // CPU time of the longest synchronous slice of each tick: how long the tick itself holds the
  // event loop, whatever the OS does to the process on a shared machine (the monitor's delay
  // below includes that, too).
  const slices: number[] = [];
  // The same slices by the wall clock, and the garbage collections that ran inside them: a slice
  // that a collection fell into holds the loop for the collection too, whatever allocated the garbage.
  const wallSlices: number[] = [];
  /** Per tick, the longest slice's hold on the event loop: min(CPU of all threads, wall). */
  const holds: number[] = [];
  const wallSlicesWithoutGc: number[] = [];
  const gcPauses: { start: number; end: number }[] = [];
  const gcWatch = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, end: e.startTime + e.duration });
  });
  gcWatch.observe({ entryTypes: ['gc'] });
  const gcInside = (start: number, end: number) =>
    gcPauses.reduce((ms, g) => ms + Math.max(0, Math.min(end, g.end) - Math.max(start, g.start)), 0);
  let bytes = 0;
  delay.enable();
  for (let i = 0; i < 30; i++) {
    fill();
    await new Promise((resolve) => setTimeout(resolve, 5));
    delay.reset(); // this tick's delay only (not the fill, not earlier cases' garbage)
    // As the agent does it (agent.ts): the snapshot and the first piece in one slice, then one
    // slice per piece of a hundred series, with the event loop free in between.
    let micros = 0;
    let longest = 0;
    let longestHold = 0;
    const walls: [number, number][] = [];
    let start = process.cpuUsage();
    let wallStart = performance.now();
    const pieces = encodeReportProtobufPieces(snapshot());
    bytes = 0;
    for (;;) {
      const next = pieces.next();
      const used = process.cpuUsage(start);
      const wallEnd = performance.now();
      walls.push([wallStart, wallEnd]);
      micros += used.user + used.system;
      longest = Math.max(longest, used.user + used.system);
      // The main thread ran for at most the slice's wall time and at most the CPU of all threads:
      // the smaller of the two is how long the slice held the loop at most. (The CPU of all
      // threads alone can read more than the wall time allows: Linux credits another thread's
      // running time when it next accounts for it, which may fall inside our slice.)
      longestHold = Math.max(longestHold, Math.min((used.user + used.system) / 1000, wallEnd - wallStart));
      if (next.done) break;
      bytes += next.value.length;
      await new Promise((resolve) => setImmediate(resolve));
      start = process.cpuUsage();
      wallStart = performance.now();
    }
    slices.push(longest / 1000);
    holds.push(longestHold);
    await new Promise((resolve) => setImmediate(resolve)); // the observer reports a GC entry later
    wallSlices.push(Math.max(...walls.map(([a, b]) => b - a)));
    wallSlicesWithoutGc.push(Math.max(...walls.map(([a, b]) => b - a - gcInside(a, b))));
    cpu.push(micros / 1000);
    await new Promise((resolve) => setTimeout(resolve, 3)); // let the monitor's timer record it
    delays.push(delay.max / 1e6);
  }
  delay.disable();
  gcWatch.disconnect();
  collectors.stop();
  cpu.sort((a, b) => a - b);
  delays.sort((a, b) => a - b);
  return {
    series: 500,
    reportBytes: bytes,
    cpuMsMedian: cpu[cpu.length >> 1]!,
    cpuMsMax: cpu[cpu.length - 1]!,
    eventLoopDelayMsMedian: delays[delays.length >> 1]!,
    maxEventLoopDelayMs: delays[delays.length - 1]!,
    longestSliceCpuMs: Math.max(...slices),
    longestSliceHoldMs: Math.max(...holds),
    longestSliceWallMs: Math.max(...wallSlices),
    longestSliceWallMsWithoutGc: Math.max(...wallSlicesWithoutGc),
  };
}

// --- run ----------------------------------------------------------------------------------------
const rows: { name: string; group: string; nsPerCall: number; bytesPerCall: number | null; ratio: number }[] =
  [];
for (const c of CASES) {
  c.loop(Math.min(CALLS, 1_000_000)); // warm-up: let V8 optimize the loop and the call inside
  c.loop(Math.min(CALLS, 1_000_000));
}
// Slow peers get fewer calls so that the run stays short; ns/call is per call either way.
const timings = nsPerCallAll(
  CASES.map((c) => ({
    loop: c.loop,
    calls: c.name.startsWith('prom-client') || c.name.startsWith('otel') ? Math.ceil(CALLS / 10) : CALLS,
  })),
);
for (const [i, c] of CASES.entries()) {
  rows.push({
    name: c.name,
    group: c.group,
    nsPerCall: timings[i]!,
    bytesPerCall: await bytesPerCall(c.loop),
    ratio: 0,
  });
}
for (const row of rows) {
  const floorRow = rows.find((r) => r.group === row.group && r.name.startsWith('floor'))!;
  row.ratio = row.nsPerCall / floorRow.nsPerCall;
}
const tick = await reportTick();

const ns = (name: string) => rows.find((r) => r.name === name)!.nsPerCall;
const ourRecord = ns('tidewatch histogram.record(v)');
const goals = {
  counterWithin2xFloor: ns('tidewatch counter.inc()') <= 2 * ns('floor: Float64Array[0]++'),
  labelledWithin2xFloor: ns('tidewatch labelled handle .inc()') <= 2 * ns('floor: Float64Array[0]++'),
  histogramRecordAtMost10ns: ourRecord <= 10,
  histogram4xFasterThanHdr: ns('hdr-histogram-js recordValue(µs)') >= 4 * ourRecord,
  histogram4xFasterThanDDSketch: ns('DDSketch.accept(v)') >= 4 * ourRecord,
  histogram15xFasterThanPromObserve: ns('prom-client Histogram.observe(v)') >= 15 * ourRecord,
  zeroBytesPerCall: rows
    .filter((r) => r.name.startsWith('tidewatch'))
    .every((r) => r.bytesPerCall !== null && r.bytesPerCall < 1),
  tickAtMost2msCpu: tick.cpuMsMedian <= 2,
  tickBlocksEventLoopAtMost5ms: tick.longestSliceHoldMs <= 5,
};

const pad = (s: string, n: number) => s.padEnd(n);
console.log(`\n${pad('case', 40)} ${'ns/call'.padStart(9)} ${'x floor'.padStart(8)} ${'B/call'.padStart(8)}`);
for (const r of rows) {
  console.log(
    `${pad(r.name, 40)} ${r.nsPerCall.toFixed(2).padStart(9)} ${r.ratio.toFixed(2).padStart(8)} ${(r.bytesPerCall === null ? 'n/a' : r.bytesPerCall.toFixed(1)).padStart(8)}`,
  );
}
console.log(
  `\nreport tick, ${tick.series} series: ${tick.cpuMsMedian.toFixed(2)} ms CPU median (max ${tick.cpuMsMax.toFixed(2)}), ` +
    `${tick.reportBytes} bytes protobuf, event-loop delay ${tick.eventLoopDelayMsMedian.toFixed(2)} ms median, ` +
    `${tick.maxEventLoopDelayMs.toFixed(2)} ms max (includes the OS scheduling this process on a shared machine); ` +
    `longest synchronous slice ${tick.longestSliceHoldMs.toFixed(2)} ms (the smaller of its CPU and wall time; ` +
    `${tick.longestSliceCpuMs.toFixed(2)} ms CPU of all threads, ` +
    `${tick.longestSliceWallMs.toFixed(2)} ms wall, ${tick.longestSliceWallMsWithoutGc.toFixed(2)} ms wall without the garbage collections that fell into it)`,
);
console.log(
  `histogram.record vs peers: ${(ns('hdr-histogram-js recordValue(µs)') / ourRecord).toFixed(1)}x hdr, ` +
    `${(ns('DDSketch.accept(v)') / ourRecord).toFixed(1)}x DDSketch, ` +
    `${(ns('prom-client Histogram.observe(v)') / ourRecord).toFixed(1)}x prom-client, ` +
    `${(ns('otel Histogram.record(v)') / ourRecord).toFixed(1)}x otel`,
);
console.log('\ngoals (issue 3):');
for (const [goal, met] of Object.entries(goals)) console.log(`  ${met ? 'met    ' : 'NOT MET'} ${goal}`);

mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(
  args.out!,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      calls: CALLS,
      rounds: ROUNDS,
      rows,
      reportTick: tick,
      goals,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${args.out}`);
void sink;
await meterProvider.shutdown();
