// The SQLite writer's memory of its own rollup writes: it may only ever claim what a committed
// transaction of this writer wrote, since no other connection committed (end to end: the store
// contract's erase-and-report-again and version-change tests).
import { describe, expect, it } from 'vitest';
import { RollupMemo } from './rollup-memo.js';

const day = { day: '2026-11-20', tracking_id: 'c1', ci: 0 };
const facts = (version: string | null) => ({ ...day, version });

describe('RollupMemo', () => {
  it('knows a cluster-day only once the transaction that wrote it committed', () => {
    const memo = new RollupMemo();
    memo.begin(1);
    memo.dayWritten(day);
    expect(memo.dayKnown(day)).toBe(true); // within the transaction
    memo.rollback();
    memo.begin(1);
    expect(memo.dayKnown(day)).toBe(false);
    memo.dayWritten(day);
    memo.commit();
    memo.begin(1);
    expect(memo.dayUnchanged(day)).toBe(true);
    expect(memo.dayUnchanged({ ...day, ci: 1 })).toBe(true); // ci only goes down
    expect(memo.dayUnchanged({ ...day, tracking_id: 'c2' })).toBe(false);
  });

  it('forgets everything once another connection committed (data_version moved)', () => {
    const memo = new RollupMemo();
    memo.begin(7);
    memo.dayWritten(day);
    memo.factsWritten(facts('2.4.0'), true);
    memo.commit();
    memo.begin(8);
    expect(memo.dayKnown(day)).toBe(false);
    expect(memo.factsKnown(day)).toBe(false);
  });

  it('says a lower ci changes the day, and which facts writes may change the carried version', () => {
    const memo = new RollupMemo();
    memo.begin(1);
    memo.dayWritten({ ...day, ci: 1 });
    expect(memo.dayUnchanged(day)).toBe(false); // ci 1 → 0 is a change
    expect(memo.factsWritten(facts('2.4.0'), true)).toBe(true); // first facts of the day
    expect(memo.factsWritten(facts('2.4.0'), true)).toBe(false); // same version
    expect(memo.factsWritten(facts('2.5.0'), true)).toBe(true);
    expect(memo.factsWritten(facts('2.6.0'), false)).toBe(false); // older: not stored
    expect(memo.factsWritten(facts(null), true)).toBe(true);
  });
});
