// `npm run bench:metric-rollup`: what the daily metric rollup costs at ingest and saves at read.
// Writes agent reports (a counter, a labelled counter and a histogram each) for N clusters, R
// reports per cluster and day, over D days into a fresh SQLite file store (through the writer
// thread, as the collector does), then answers "p99 of db.query.duration by version" twice: from
// metric_rollup (what `GET /query/metrics/{name}` reads) and from the raw metric_points (what it
// read before), five times each, and prints the medians. A small, quick run (under a minute).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type AgentReport,
  type ExpHistogramData,
  histogramOf,
  mergeHistograms,
  quantile,
} from '@tidewatch/protocol';
import { agentReportWrite } from '../packages/collector/src/ingest/native-rows.js';
import { aggregateMetric } from '../packages/collector/src/query/metric-aggregate.js';
import { openStore } from '../packages/collector/src/store/open-store.js';

const { values } = parseArgs({
  options: {
    clusters: { type: 'string', default: '200' },
    days: { type: 'string', default: '30' },
    'reports-per-day': { type: 'string', default: '8' },
  },
});
const CLUSTERS = Number(values.clusters);
const DAYS = Number(values.days);
const PER_DAY = Number(values['reports-per-day']);
const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 9, 1);

const dir = mkdtempSync(join(tmpdir(), 'tidewatch-rollup-bench-'));
const store = openStore(`sqlite:${join(dir, 'bench.db')}`);
// The writer thread keeps the process alive only while a write is pending.
const keepAlive = setInterval(() => {}, 1000);
try {
  await store.migrate();
  const clusters = Array.from({ length: CLUSTERS }, () => randomUUID());
  const latencies = histogramOf(
    Array.from({ length: 50 }, (_, i) => 0.001 * (i + 1)),
    5,
    160,
  );
  const series = (
    name: string,
    kind: 'counter' | 'histogram',
    labels: Record<string, string>,
    value: number,
  ) => ({
    name,
    unit: '',
    description: name,
    kind,
    labels,
    value,
    histogram: kind === 'histogram' ? latencies : null,
  });
  const none = () => ({ names: new Set<string>(), series: new Set<string>() });
  let written = 0;
  let writeMs = 0;
  for (let d = 0; d < DAYS; d++) {
    for (let k = 0; k < PER_DAY; k++) {
      const at = START + d * DAY_MS + Math.floor((k * DAY_MS) / PER_DAY);
      const batch = clusters.map((trackingId, i) => {
        const report: AgentReport = {
          protocol: 3,
          reportId: randomUUID(),
          sequence: d * PER_DAY + k,
          trackingId,
          sessionId: trackingId,
          nodeType: 'pglite',
          isLeader: true,
          version: i % 3 === 0 ? '1.1.0' : '1.0.0',
          gitSha: 'abc1234',
          clusterType: 'single_node',
          ci: false,
          isTest: false,
          intervalStartMs: at - DAY_MS / PER_DAY,
          intervalEndMs: at,
          system: {
            memoryUsed: 1,
            memoryTotal: 2,
            osName: 'Linux',
            osVersion: '1',
            osKernel: '1',
            cpuAvailable: 2,
          },
          process: { heapUsed: 1, eventLoopDelayP99: 0.01, uptime: 1, runtime: 'node' },
          cluster: {},
          metrics: [
            series('db.queries', 'counter', {}, 10),
            series('db.query.errors', 'counter', { sqlstate_class: '42' }, 1),
            series('db.query.duration', 'histogram', {}, 0),
          ],
          events: [],
          drops: { series: 0, events: 0, reports: 0, values: 0, errors: 0 },
          agentVersion: '0.1.0',
        };
        return agentReportWrite(report, new TextEncoder().encode(JSON.stringify(report)), at + i, none())
          .write;
      });
      const t = performance.now();
      await store.writeBatch({ reports: [], events: [], agentReports: batch });
      writeMs += performance.now() - t;
      written += batch.length;
    }
  }
  console.log(
    `wrote ${written} agent reports (${CLUSTERS} clusters × ${PER_DAY}/day × ${DAYS} days) in batches of ${CLUSTERS}: ${Math.round((writeMs * 1000) / written)} µs per report`,
  );

  const query = {
    name: 'db.query.duration',
    fromDay: '2026-10-01',
    toDay: new Date(START + (DAYS - 1) * DAY_MS).toISOString().slice(0, 10),
    includeCi: false,
  };
  const median = async (f: () => Promise<unknown>) => {
    await f();
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await f();
      runs.push(performance.now() - t);
    }
    return runs.sort((a, b) => a - b)[2]!.toFixed(1);
  };
  const rollupRows = async () => {
    const rows = [];
    for await (const page of store.metricRollupPages(query)) rows.push(...page);
    return rows;
  };
  const rollupRowCount = (await rollupRows()).length;
  const fromRollup = await median(async () => aggregateMetric(await rollupRows(), 'version'));
  const pointRows = (await store.metricPoints(query)).length;
  const fromPoints = await median(async () => {
    const byVersion = new Map<string | null, ExpHistogramData[]>();
    for (const p of await store.metricPoints(query)) {
      const list = byVersion.get(p.version) ?? [];
      list.push(JSON.parse(p.histogram!) as ExpHistogramData);
      byVersion.set(p.version, list);
    }
    return [...byVersion].map(([v, hs]) => [v, quantile(mergeHistograms(hs), 0.99)]);
  });
  console.log(`p99 by version from metric_rollup (${rollupRowCount} rows): median ${fromRollup} ms`);
  console.log(`p99 by version from metric_points (${pointRows} rows): median ${fromPoints} ms`);
} finally {
  await store.close();
  clearInterval(keepAlive);
  rmSync(dir, { recursive: true, force: true });
}
