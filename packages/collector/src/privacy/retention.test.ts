// The retention cut-off: "older than N calendar months" by UTC receive day.
import { describe, expect, it } from 'vitest';
import { retentionCutoffDay } from './retention.js';

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
