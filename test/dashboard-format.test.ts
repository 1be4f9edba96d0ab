// The dashboard's pure formatting (packages/dashboard/app/format.ts): units and shares.
import { describe, expect, it } from 'vitest';
import { formatPercent, formatShare, othersLabel, unitFormat } from '../packages/dashboard/app/format.js';

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
