import { describe, expect, it } from 'vitest';
import { nowMs } from './recorder.js';

describe('nowMs (the clock queries are timed with)', () => {
  it('reads milliseconds that agree with performance.now() over the same interval', async () => {
    const a = [nowMs(), performance.now()];
    await new Promise((r) => setTimeout(r, 30));
    const b = [performance.now(), nowMs()];
    const ours = b[1]! - a[0]!;
    const theirs = b[0]! - a[1]!;
    // Read back to back, the two deltas bracket each other: ours spans theirs plus two reads.
    expect(ours).toBeGreaterThanOrEqual(theirs);
    expect(ours - theirs).toBeLessThan(5);
    expect(theirs).toBeGreaterThan(25); // milliseconds, not seconds or microseconds
  });

  it('never goes backwards', () => {
    let last = nowMs();
    for (let i = 0; i < 10_000; i++) {
      const t = nowMs();
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
  });
});
