// Odd reports over real HTTP: stored as received (RisingWave never retries), flagged on their row
// and counted in /metrics.
import { randomUUID } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { risingwaveWire as rw } from '@tidewatch/protocol';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReport } from '../../test-support/agent-report.js';
import { startTestCollector, type TestCollector } from '../../test-support/collector.js';
import { event, metaReport, nodeReport } from '../../test-support/risingwave.js';
import { tempDir } from '../../test-support/services.js';
import type { Database } from '../store/sql/schema.js';
import { PLAUSIBLE } from './plausibility.js';

const dir = tempDir();
let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector(`sqlite:${dir.path}/odd.db`);
});
afterAll(async () => {
  await c.close();
  dir.remove();
});

const db = () => (c.collector.store as unknown as { db: Kysely<Database> }).db;
const nowSec = () => Math.floor(Date.now() / 1000);

async function flagsOf(table: 'reports' | 'events' | 'agent_reports', trackingId: string) {
  const rows = await db().selectFrom(table).select('flags').where('tracking_id', '=', trackingId).execute();
  return rows.map((r) => r.flags);
}

async function flagged(flag: string): Promise<number> {
  const text = await (await c.get('/metrics', null)).text();
  const line = text.split('\n').find((l) => l.startsWith(`tidewatch_reports_flagged_total{flag="${flag}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('plausibility checks', () => {
  it('stores a report from a clock two days ahead, flagged clock_skew and counted', async () => {
    const before = await flagged('clock_skew');
    const id = randomUUID();
    const res = await c.postProto(
      '/api/v2/report/compute',
      nodeReport('compute', { trackingId: id, reportTime: nowSec() + 2 * 86_400 }),
    );
    expect(res.status).toBe(200);
    expect(await flagsOf('reports', id)).toEqual(['clock_skew']);
    expect(await flagged('clock_skew')).toBe(before + 1);
  });

  it('does not flag a report whose clock is right', async () => {
    const id = randomUUID();
    await c.postProto(
      '/api/v2/report/compute',
      nodeReport('compute', { trackingId: id, reportTime: nowSec() }),
    );
    expect(await flagsOf('reports', id)).toEqual([null]);
  });

  it('stores absurd counts and sizes, flagged', async () => {
    const id = randomUUID();
    const base = create(rw.ReportBaseSchema, {
      trackingId: id,
      sessionId: randomUUID(),
      reportTime: BigInt(nowSec()),
      upTime: BigInt(PLAUSIBLE.upTimeSec + 1),
      nodeType: rw.TelemetryNodeType.META,
      systemData: { memory: { used: 1n, total: 2n ** 50n }, cpu: { available: 100_000 } },
    });
    const body = toBinary(
      rw.MetaReportSchema,
      create(rw.MetaReportSchema, { base, nodeCount: { compute: 5_000_000 }, streamJobCount: 4_000_000_000 }),
    );
    expect((await c.postProto('/api/v2/report/meta', body)).status).toBe(200);
    const [flags] = await flagsOf('reports', id);
    expect(flags?.split(',').sort()).toEqual(['implausible_count', 'implausible_size']);
    const cluster = (await (await c.get(`/query/clusters/${id}`)).json()) as {
      nodeCount: { compute: number };
    };
    expect(cluster.nodeCount.compute).toBe(5_000_000);
    expect(await flagged('implausible_size')).toBeGreaterThanOrEqual(1);
  });

  it('flags a negative CPU count and a NaN or infinite one (stored as unknown)', async () => {
    const before = await flagged('number_not_finite');
    const cpuReport = async (available: number) => {
      const id = randomUUID();
      const base = create(rw.ReportBaseSchema, {
        trackingId: id,
        sessionId: randomUUID(),
        reportTime: BigInt(nowSec()),
        nodeType: rw.TelemetryNodeType.COMPUTE,
        systemData: { cpu: { available } },
      });
      const body = toBinary(rw.ComputeReportSchema, create(rw.ComputeReportSchema, { base }));
      expect((await c.postProto('/api/v2/report/compute', body)).status).toBe(200);
      return id;
    };
    const negative = await cpuReport(-4);
    expect(await flagsOf('reports', negative)).toEqual(['implausible_size']);
    for (const odd of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const id = await cpuReport(odd);
      expect(await flagsOf('reports', id)).toEqual(['number_not_finite']);
      const [row] = await db()
        .selectFrom('reports')
        .select('cpu_available')
        .where('tracking_id', '=', id)
        .execute();
      expect(row?.cpu_available).toBeNull();
    }
    expect(await flagged('number_not_finite')).toBe(before + 3);
  });
  it('flags events from a clock far off and agent reports from the future, storing both', async () => {
    const id = randomUUID();
    const body = event({ trackingId: id, eventTimeSec: nowSec() - 60 * 86_400 });
    expect((await c.postProto('/api/v2/report/event', body)).status).toBe(200);
    expect(await flagsOf('events', id)).toEqual(['clock_skew']);

    const report = agentReport({ trackingId: id, intervalEndMs: Date.now() + 3 * 86_400_000 });
    const res = await c.post('/api/v3/report', JSON.stringify(report), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
    expect(await flagsOf('agent_reports', id)).toEqual(['clock_skew']);
  });

  it('keeps the flags a decoder set next to its own', async () => {
    const id = randomUUID();
    const raw = metaReport({ trackingId: id, reportTime: 1 });
    expect((await c.postProto('/api/v2/report/meta', raw)).status).toBe(200);
    expect(await flagsOf('reports', id)).toEqual(['clock_skew']);
  });
});
