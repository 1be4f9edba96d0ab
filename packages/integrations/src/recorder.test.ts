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
    expect(theirs).toBeGreaterThan(25); // performance.now() counts milliseconds
    // Ours is not microseconds (1000x theirs); no tighter bound, as a loaded machine may pause
    // this process between two reads for any time.
    expect(ours).toBeLessThan(theirs * 100);
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
