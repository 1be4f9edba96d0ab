// The dashboard's pure formatting (packages/dashboard/app/format.ts): units, shares and the days typed
// in the range.
import { describe, expect, it } from 'vitest';
import {
  formatPercent,
  formatShare,
  othersLabel,
  typedRange,
  unitFormat,
} from '../packages/dashboard/app/format.js';

describe('unitFormat: values shown in the unit the agent reported, never guessed from a name', () => {
  it('scales durations given in s, ms, us and ns', () => {
    expect(unitFormat('ms')(29)).toBe('29 ms');
    expect(unitFormat('ms')(1500)).toBe('1.5 s');
    expect(unitFormat('s')(0.0042)).toBe('4.2 ms');
    expect(unitFormat('us')(250)).toBe('250 µs');
    expect(unitFormat('ns')(2_000_000)).toBe('2 ms');
  });

  it('shows sizes in bytes with binary prefixes', () => {
    expect(unitFormat('By')(512)).toBe('512 B');
    expect(unitFormat('By')(1536)).toBe('1.5 KiB');
    expect(unitFormat('KiBy')(2048)).toBe('2 MiB');
    expect(unitFormat('MBy')(3)).toBe('2.86 MiB');
  });

  it('shows annotations, ratios and unknown or missing units as plain numbers', () => {
    for (const unit of ['{timeout}', '{query}', '1', '', 'furlong', null, undefined]) {
      expect(unitFormat(unit)(3), String(unit)).toBe('3');
      expect(unitFormat(unit)(12_345), String(unit)).toBe('12,345');
    }
    expect(unitFormat('s')(null)).toBe('—');
  });
});

describe('shares', () => {
  it('a share that is not zero never reads 0%', () => {
    expect(formatPercent(1, 1000)).toBe('<1%');
    expect(formatPercent(0, 1000)).toBe('0%');
    expect(formatPercent(5, 1000)).toBe('1%');
    expect(formatShare(0.3)).toBe('<1%');
    expect(formatShare(0)).toBe('0%');
  });

  it('a computed share reads as the API rounds its shares (to 0.1, then whole)', () => {
    // 12.46% is 12.5 in the API's release pickup: both tables say 13%.
    expect(formatPercent(1246, 10_000)).toBe(formatShare(12.5));
    expect(formatPercent(1, 3)).toBe(formatShare(33.3));
  });
});

describe('othersLabel: the band of versions not shown on their own', () => {
  it('says when clusters of unknown version are in it', () => {
    expect(othersLabel(['2.1.0', '2.0.0', '1.9.0'])).toBe('3 other versions');
    expect(othersLabel(['2.1.0', null, '1.9.0'])).toBe('2 other versions and unknown');
    expect(othersLabel(['2.1.0', null])).toBe('1 other version and unknown');
    expect(othersLabel([null])).toBe('unknown');
  });
});

describe('typedRange: the range fields take UTC days written YYYY-MM-DD, and say what is wrong', () => {
  it('takes two days, trimmed, and turns an inverted range around', () => {
    expect(typedRange(' 2026-11-01 ', '2026-11-29')).toEqual({
      range: { from: '2026-11-01', to: '2026-11-29' },
    });
    expect(typedRange('2026-11-29', '2026-11-01')).toEqual({
      range: { from: '2026-11-01', to: '2026-11-29' },
    });
    expect(typedRange('2026-11-29', '2026-11-29')).toEqual({
      range: { from: '2026-11-29', to: '2026-11-29' },
    });
  });

  it('refuses days in a locale format, impossible days, days no store holds and too long a range', () => {
    const cases: [string, string, 'from' | 'to', RegExp][] = [
      [
        '29.11.2026',
        '2026-11-29',
        'from',
        /^From “29\.11\.2026” is not written YYYY-MM-DD \(e\.g\. \d{4}-\d{2}-\d{2}\)\.$/,
      ],
      ['2026-11-01', '11/29/2026', 'to', /^To “11\/29\/2026” is not written YYYY-MM-DD/],
      ['2026-11-1', '2026-11-29', 'from', /is not written YYYY-MM-DD/],
      ['2026-02-30', '2026-03-01', 'from', /^From “2026-02-30” is no calendar day\.$/],
      ['2026-11-01', '2026-13-01', 'to', /^To “2026-13-01” is no calendar day\.$/],
      ['', '2026-11-29', 'from', /^From is empty: type a UTC day as YYYY-MM-DD/],
      ['1969-12-31', '2026-11-29', 'from', /outside the days stored, 1970-01-01 to 2105-12-31/],
      ['2025-01-01', '2026-11-29', 'from', /^That range is 698 days: at most 400 can be shown\.$/],
    ];
    for (const [from, to, field, problem] of cases) {
      const typed = typedRange(from, to);
      expect(typed, `${from} ${to}`).toEqual({ problem: expect.stringMatching(problem), field });
    }
    // 400 days is the longest range shown.
    expect(typedRange('2025-10-26', '2026-11-29')).toEqual({
      range: { from: '2025-10-26', to: '2026-11-29' },
    });
  });
});
