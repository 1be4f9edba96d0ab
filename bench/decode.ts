// `npm run bench:decode`: what parsing a report costs the collector's main thread, our hand-written
// protobuf readers against protobuf-es's reflective `fromBinary` (the generated schema, the peer) on
// the same bytes, in one process run. Cases: a RisingWave v2 meta report (every report of a real
// cluster), an agent report of 500 series (the agent's default tick), and agent reports near the
// 1 MiB body limit made of wide histograms, the last as many counts as a body can hold (the most
// CPU one request can buy).
//
//   npx tsx bench/decode.ts [--out bench/results/decode.json]
//
// Each case is timed warm (median over rounds of a loop sized to ~100 ms), parse only and parse plus
// validation (what the ingest route runs), and prints the ratio fromBinary / ours.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type AgentReport,
  decodeNativeReport,
  decodeV2Report,
  encodeReportProtobuf,
  histogramOf,
  lowerBoundary,
  parseReportProtobuf,
} from '@tidewatch/protocol';
import { MetaReportSchema } from '../packages/protocol/src/gen/risingwave/telemetry_pb.js';
import { AgentReportSchema } from '../packages/protocol/src/gen/tidewatch/report_pb.js';
import { readNodeReport } from '../packages/protocol/src/risingwave/node-report-reader.js';

const { values: flags } = parseArgs({
  options: { out: { type: 'string', default: 'bench/results/decode.json' } },
});

function agentReport(series: number, values: number): AgentReport {
  const metrics: AgentReport['metrics'] = [];
  for (let i = 0; i < series; i++) {
    const samples = Array.from({ length: values }, (_, k) => 1e-4 * 1.0219 ** ((k * 7 + i) % (values + 40)));
    metrics.push({
      name: `db.query.duration.${i % 50}`,
      unit: 's',
      description: 'Query latency',
      kind: 'histogram',
      labels: { system: 'pglite', kind: `k${i}` },
      value: 0,
      histogram: histogramOf(samples, 5),
    });
  }
  return { ...GOLDEN, metrics };
}
/**
 * The most counts a 1 MiB body holds: 480 histograms of 2,048 buckets (the most one may span),
 * each count 1 (one byte on the wire), ~1,000,000 counts in all.
 */
function limitReport(): AgentReport {
  const metrics: AgentReport['metrics'] = Array.from({ length: 480 }, (_, i) => ({
    name: `m.${i}`,
    unit: 's',
    description: '',
    kind: 'histogram',
    labels: {},
    value: 0,
    histogram: {
      scale: 5,
      zeroCount: 0,
      positive: { offset: -1024, bucketCounts: new Array<number>(2048).fill(1) },
      count: 2048,
      sum: 1,
      min: lowerBoundary(-1024, 5) * 1.0001,
      max: lowerBoundary(1024, 5),
    },
  }));
  return { ...GOLDEN, metrics };
}

/** The protocol package's golden report: the fields around the metrics. */
const GOLDEN = JSON.parse(
  readFileSync(
    new URL('../packages/protocol/src/native/testdata/report-v3.json.golden', import.meta.url),
    'utf8',
  ),
) as AgentReport;

const metaReport = toBinary(
  MetaReportSchema,
  create(MetaReportSchema, {
    base: {
      trackingId: 'c8a1f0e2-5b7d-4e1a-9f3c-2d6b8e4a1c7f',
      sessionId: '0f6e2d1c-3b4a-4958-8776-a5b4c3d2e1f0',
      systemData: {
        memory: { used: 3_221_225_472n, total: 8_589_934_592n },
        os: { name: 'Linux', version: 'Debian 12', kernelVersion: '6.1.0' },
        cpu: { available: 4 },
      },
      upTime: 86_400n,
      reportTime: 1_764_194_400n,
      nodeType: 1,
    },
    metaBackend: 3,
    nodeCount: { meta: 1, compute: 3, frontend: 2, compactor: 1 },
    rwVersion: { rwVersion: '2.1.0', gitSha: 'a1b2c3d4e5f6' },
    streamJobCount: 12,
    streamJobs: Array.from({ length: 12 }, (_, i) => ({ tableId: 1000 + i, connectorName: 'kafka' })),
    clusterType: 1,
    objectStoreMediaType: 's3',
    connectorUsageJsonStr: '{"source":{"kafka":3,"postgres-cdc":1},"sink":{"iceberg":2}}',
    licenseInfoJsonStr: '{"tier":"free"}',
  }),
);

interface Case {
  name: string;
  bytes: Uint8Array;
  ours: () => unknown;
  theirs: () => unknown;
  oursValidated: () => unknown;
}

const native = (name: string, report: AgentReport): Case => {
  const bytes = encodeReportProtobuf(report);
  return {
    name: `${name} (${(bytes.length / 1024).toFixed(0)} KiB)`,
    bytes,
    ours: () => parseReportProtobuf(bytes),
    theirs: () => fromBinary(AgentReportSchema, bytes, { readUnknownFields: false }),
    oursValidated: () => decodeNativeReport(bytes, 'application/x-protobuf'),
  };
};

const CASES: Case[] = [
  {
    name: `RisingWave v2 meta report (${metaReport.length} B)`,
    bytes: metaReport,
    ours: () => readNodeReport(metaReport, true, 10_000),
    theirs: () => fromBinary(MetaReportSchema, metaReport, { readUnknownFields: false }),
    oursValidated: () => decodeV2Report('meta', metaReport),
  },
  native('agent report, 500 series of ~20 buckets', agentReport(500, 20)),
  native('agent report, 2,000 series of 160 buckets', agentReport(2000, 160)),
  native('agent report, 480 series of 2,048 one-count buckets', limitReport()),
];

/** Milliseconds per call: the median of 7 rounds, each a loop of ~100 ms after a warm-up. */
function time(fn: () => unknown): number {
  let n = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    if (performance.now() - start > 50) break;
    n *= 2;
  }
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    rounds.push((performance.now() - start) / n);
  }
  return rounds.sort((a, b) => a - b)[3]!;
}

const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);
const results = [];
console.log(`node ${process.version}; each time is the median of 7 warm rounds`);
console.log(
  `${'case'.padEnd(64)} ${'ours'.padStart(10)} ${'fromBinary'.padStart(11)} ${'ratio'.padStart(6)} ${'ours+validate'.padStart(14)}`,
);
for (const c of CASES) {
  const ours = time(c.ours);
  const theirs = time(c.theirs);
  const validated = time(c.oursValidated);
  const ratio = theirs / ours;
  console.log(
    `${c.name.padEnd(64)} ${fmt(ours).padStart(10)} ${fmt(theirs).padStart(11)} ${`${ratio.toFixed(1)}x`.padStart(6)} ${fmt(validated).padStart(14)}`,
  );
  results.push({
    case: c.name,
    bytes: c.bytes.length,
    oursMs: ours,
    fromBinaryMs: theirs,
    ratio,
    oursValidatedMs: validated,
  });
}
writeFileSync(
  flags.out,
  `${JSON.stringify({ node: process.version, at: new Date().toISOString(), results }, null, 2)}\n`,
);
console.log(`wrote ${flags.out}`);
