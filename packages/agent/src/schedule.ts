// When reports are due. The first one comes `firstReportDelay` after the very first start; then
// one every `interval`, each with random extra delay (jitter) so that a fleet restarted together
// does not report in the same second. A restart resumes the cycle from the last report persisted
// in state.json (due at once if overdue) instead of resetting or repeating it.
// Failed deliveries are retried with exponential backoff and jitter, honouring Retry-After.
import type { Clock } from './options.js';

export interface ScheduleOptions {
  interval: number;
  firstReportDelay: number;
  jitter: number;
  retryBase: number;
  maxBackoff: number;
  random: () => number;
}

/**
 * When the first report of this process is due. `firstStartMs` is when the agent first started on
 * this dataDir (state.json's noticeShownMs): before any report, the first is due firstReportDelay
 * after that, not after each start, so a host that never lives that long (a crash loop, frequent
 * redeploys, short runs) still reports, at its next start once the delay has passed.
 */
export function firstReportAt(
  now: number,
  lastReportMs: number | null,
  firstStartMs: number | null,
  o: ScheduleOptions,
): number {
  const spread = o.random() * o.jitter * o.firstReportDelay;
  // A last report in the future (the clock was ahead when it was saved, or state.json was edited)
  // would silence the agent until then: start a fresh cycle, as for no state at all.
  if (lastReportMs === null || lastReportMs > now) {
    const since = firstStartMs !== null && firstStartMs <= now && lastReportMs === null ? firstStartMs : now;
    return Math.max(now, since + o.firstReportDelay) + spread;
  }
  const due = lastReportMs + o.interval;
  return due <= now ? now + spread : due + o.random() * o.jitter * o.interval;
}

export function nextReportAt(now: number, o: ScheduleOptions): number {
  return now + o.interval + o.random() * o.jitter * o.interval;
}

/**
 * Delay before retry number `failures` (1, 2, …): retryBase·2^(failures-1), capped at maxBackoff
 * and at the interval, drawn from its upper half (jitter); never sooner than Retry-After asks.
 */
export function retryDelay(failures: number, retryAfterMs: number | null, o: ScheduleOptions): number {
  const cap = Math.min(o.retryBase * 2 ** Math.min(failures - 1, 40), o.maxBackoff, o.interval);
  const backoff = cap * (0.5 + 0.5 * o.random());
  return retryAfterMs === null ? backoff : Math.max(Math.min(retryAfterMs, o.interval), backoff);
}

/** setTimeout's longest wait; longer ones are made of several. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * One pending wake-up on the injected clock (unref'd by the clock). It waits for the time that
 * remained when it was set, as elapsed time (a timer keeps counting whatever the wall clock does),
 * so a wall clock stepped back while it waits (NTP fixing a VM that booted in the future, an
 * operator) does not hold it back; the agent moves its own times (Agent.followClockSteps).
 */
export class Alarm {
  private handle: unknown = null;
  private at = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly onFire: () => void,
  ) {}

  /** Fires at `at` (or keeps an earlier pending time). */
  set(at: number): void {
    if (this.handle !== null && this.at <= at) return;
    this.cancel();
    this.at = at;
    this.arm(Math.max(0, at - this.clock.now()));
  }

  private arm(remaining: number): void {
    const delay = Math.min(remaining, MAX_TIMEOUT_MS);
    this.handle = this.clock.setTimeout(() => {
      this.handle = null;
      if (remaining > delay) {
        this.arm(remaining - delay);
        return;
      }
      this.at = Number.POSITIVE_INFINITY;
      this.onFire();
    }, delay);
  }

  cancel(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.at = Number.POSITIVE_INFINITY;
  }
}
