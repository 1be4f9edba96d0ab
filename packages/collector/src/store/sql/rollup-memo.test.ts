// A writer's memory of its own rollup writes: it may only ever claim what a committed transaction
// wrote, under the epoch it still has (end to end: the store contract's erase-and-report-again,
// version-change and two-collector tests).
import { describe, expect, it } from 'vitest';
import { RollupMemo } from './rollup-memo.js';

const day = { day: '2026-11-20', tracking_id: 'c1', ci: 0 };
const facts = (version: string | null) => ({ ...day, version });

describe('RollupMemo', () => {
  it('knows a cluster-day only once the transaction that wrote it committed', () => {
    const memo = new RollupMemo();
    const rolledBack = memo.begin(1);
    rolledBack.dayWritten(day);
    expect(rolledBack.dayKnown(day)).toBe(true); // within the transaction
    expect(memo.begin(1).dayKnown(day)).toBe(false); // never committed
    const committed = memo.begin(1);
    committed.dayWritten(day);
    committed.commit();
    const next = memo.begin(1);
    expect(next.dayUnchanged(day)).toBe(true);
    expect(next.dayUnchanged({ ...day, ci: 1 })).toBe(true); // ci only goes down
    expect(next.dayUnchanged({ ...day, tracking_id: 'c2' })).toBe(false);
  });

  it('forgets everything when the epoch moves, and keeps nothing from a transaction of an older epoch', () => {
    const memo = new RollupMemo();
    const t = memo.begin(7);
    t.dayWritten(day);
    t.factsExist(day);
    t.commit();
    const late = memo.begin(7); // began before an erase …
    late.dayWritten({ ...day, tracking_id: 'c2' });
    const after = memo.begin(8); // … that the next transaction sees
    expect(after.dayKnown(day)).toBe(false);
    expect(after.factsKnown(day)).toBe(false);
    late.commit();
    expect(memo.begin(8).dayKnown({ ...day, tracking_id: 'c2' })).toBe(false);
  });

  it('says a lower ci changes the day, and which facts writes may change the carried version', () => {
    const t = new RollupMemo().begin(1);
    t.dayWritten({ ...day, ci: 1 });
    expect(t.dayUnchanged(day)).toBe(false); // ci 1 → 0 is a change
    expect(t.factsWritten(facts('2.4.0'), true)).toBe(true); // first facts of the day
    expect(t.factsWritten(facts('2.4.0'), true)).toBe(false); // same version
    expect(t.factsWritten(facts('2.5.0'), true)).toBe(true);
    expect(t.factsWritten(facts('2.6.0'), false)).toBe(false); // older: not stored
    expect(t.factsWritten(facts(null), true)).toBe(true);
    // Existence alone (a shared store's writer): the version stays unknown, so a write may change it.
    const shared = new RollupMemo().begin(1);
    shared.factsExist(day);
    expect(shared.factsKnown(day)).toBe(true);
    expect(shared.factsWritten(facts('2.4.0'), true)).toBe(true);
  });
});
