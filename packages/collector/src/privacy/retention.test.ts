// The retention cut-off: "older than N calendar months" by UTC receive day.
import { describe, expect, it } from 'vitest';
import { CollectorMetrics } from '../ops/metrics.js';
import { RetentionJob, retentionCutoffDay } from './retention.js';

const at = (iso: string) => Date.parse(iso);

describe('retentionCutoffDay', () => {
  it('keeps the same day of the month N months back', () => {
    expect(retentionCutoffDay(at('2026-11-27T12:00:00Z'), 13)).toBe('2025-10-27');
    expect(retentionCutoffDay(at('2026-11-27T00:00:00Z'), 1)).toBe('2026-10-27');
    expect(retentionCutoffDay(at('2026-01-15T23:59:59.999Z'), 1)).toBe('2025-12-15');
  });

  it("takes a shorter month's last day instead of rolling into the next month", () => {
    expect(retentionCutoffDay(at('2026-03-31T08:00:00Z'), 1)).toBe('2026-02-28');
    expect(retentionCutoffDay(at('2028-03-31T08:00:00Z'), 1)).toBe('2028-02-29');
    expect(retentionCutoffDay(at('2026-12-31T08:00:00Z'), 10)).toBe('2026-02-28');
    expect(retentionCutoffDay(at('2027-03-29T08:00:00Z'), 13)).toBe('2026-02-28');
    expect(retentionCutoffDay(at('2026-05-31T08:00:00Z'), 1)).toBe('2026-04-30');
    expect(retentionCutoffDay(at('2026-08-31T08:00:00Z'), 2)).toBe('2026-06-30');
  });

  it('never keeps less than N whole months, whatever the day', () => {
    // Every day of four years: the cut-off is at most N months back and never in the month after.
    for (let t = at('2026-01-01T00:00:00Z'); t < at('2030-01-01T00:00:00Z'); t += 86_400_000) {
      for (const months of [1, 2, 13]) {
        const cut = retentionCutoffDay(t, months);
        const today = new Date(t);
        const monthsBack =
          (today.getUTCFullYear() - Number(cut.slice(0, 4))) * 12 +
          (today.getUTCMonth() + 1 - Number(cut.slice(5, 7)));
        expect(monthsBack, `${new Date(t).toISOString()} less ${months}: ${cut}`).toBe(months);
        expect(Number(cut.slice(8, 10))).toBeLessThanOrEqual(today.getUTCDate());
      }
    }
  });
});

describe('a retention pass that fails', () => {
  it('is counted in /metrics and logged with what the store said, and never throws', async () => {
    const metrics = new CollectorMetrics();
    const errors: string[] = [];
    const log = { error: (_: unknown, msg: string) => errors.push(msg), info: () => {} } as never;
    const failing = Object.assign(new Error('canceling statement due to statement timeout'), {
      code: '57014',
    });
    const store = { deleteBefore: async () => Promise.reject(failing) } as never;
    const job = new RetentionJob(store, 13, log, metrics);
    expect(await job.runOnce(at('2026-11-27T00:00:00Z'))).toBeNull();
    expect(await metrics.registry.metrics()).toMatch(/^tidewatch_retention_failures_total 1$/m);
    expect(errors).toEqual([
      expect.stringMatching(
        /^retention pass failed; it runs again tomorrow \(canceling statement due to statement timeout \(a statement_timeout set on the collector’s role/,
      ),
    ]);
  });
});

describe('a retention pass that succeeds', () => {
  it('logs how many rows it deleted and before which day, naming only the tables it deleted from', async () => {
    const lines: { fields: { retention: { deleted: Record<string, number> } }; msg: string }[] = [];
    const log = {
      info: (fields: never, msg: string) => lines.push({ fields, msg }),
      error: () => {},
    } as never;
    const results = [
      { reports: 13_000, events: 469, clusters: 0, agent_reports: 0 },
      { reports: 0, events: 0, clusters: 0, agent_reports: 0 },
    ];
    const store = { deleteBefore: async () => results.shift() } as never;
    const job = new RetentionJob(store, 1, log, new CollectorMetrics());
    await job.runOnce(at('2026-11-27T00:00:00Z'));
    await job.runOnce(at('2026-11-28T00:00:00Z'));
    expect(lines.map((l) => l.msg)).toEqual([
      'retention pass: deleted 13,469 rows received before 2026-10-27 (1 month kept, --retention-months)',
      'retention pass: nothing received before 2026-10-28 (1 month kept)',
    ]);
    expect(lines[0]!.fields.retention.deleted).toEqual({ reports: 13_000, events: 469 });
  });
});
