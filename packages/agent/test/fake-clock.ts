// A manual clock for tests: time moves only when advance() says so, timers fire in order.
import type { Clock } from '../src/options.js';

export class FakeClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  constructor(public time = Date.UTC(2026, 0, 1)) {}

  now = (): number => this.time;

  /** Time that passed (advance), not counting wall-clock steps (stepWallClock). */
  elapsed = (): number => this.time - this.stepped;
  private stepped = 0;

  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; `settle` runs after each one so that
   * the async work a timer starts (disk, HTTP) can finish before time moves on.
   */
  async advance(ms: number, settle: () => Promise<void> = () => this.rearmed()): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].callback();
      await settle();
    }
    this.time = end;
  }

  /**
   * Steps the wall clock by `ms` (negative: back, as NTP or an operator may) while every pending
   * timer still fires after the time it was set to wait, as Node's timers do.
   */
  stepWallClock(ms: number): void {
    this.time += ms;
    this.stepped += ms;
    for (const timer of this.timers.values()) timer.at += ms;
  }

  /**
   * Waits until the agent armed its next timer (it does so once the work a timer started is done,
   * however slow the disk), or 5 s at most for work that arms none; then a few more turns.
   */
  async rearmed(): Promise<void> {
    const deadline = Date.now() + 5000;
    while (this.timers.size === 0 && Date.now() < deadline) await tick(5);
    await tick();
  }
}

/** Lets real I/O started by a timer run to completion (a few event-loop turns). */
export const tick = (ms = 30): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
