// Fixed-window counters per key (client address, tracking id), held in this process's memory, that
// forget a key once its window has passed. By hand: @fastify/rate-limit's own in-memory store is
// an LRU without expiry, so the keys of one burst (100,000 made-up tracking ids: ~60 MB over the
// limiters) stayed for the collector's life; here they go within a window of the burst's end.

export interface Window {
  /** When the window started (ms, the clock passed in). */
  start: number;
  /** What was counted in it: requests, or body bytes. */
  count: number;
}

export class MinuteWindows {
  // A Map keeps insertion order, and a key's window is re-inserted when it starts again, so the
  // windows are in the order they started: the expired ones are always at the front.
  private readonly windows = new Map<string, Window>();

  constructor(
    /** Keys kept at most; past it the oldest window goes (a burst within one window). */
    private readonly maxKeys: number,
    private readonly windowMs = 60_000,
  ) {}

  /** The key's current window, a fresh one if it had none or it has passed. */
  current(key: string, now: number): Window {
    this.forgetExpired(now);
    let window = this.windows.get(key);
    if (window === undefined) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
      if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
    }
    return window;
  }

  /** Milliseconds left in a window at `now` (at least 0). */
  remainingMs(window: Window, now: number): number {
    return Math.max(0, window.start + this.windowMs - now);
  }

  /** Keys held. */
  get size(): number {
    return this.windows.size;
  }

  private forgetExpired(now: number): void {
    for (const [key, window] of this.windows) {
      // A window from a clock that later went back is kept until the clock passes it again.
      if (now - window.start < this.windowMs) return;
      this.windows.delete(key);
    }
  }
}

/**
 * A store for @fastify/rate-limit (its `store` option) on MinuteWindows: the library's default
 * LocalStore counts the same fixed windows (without continueExceeding or exponentialBackoff,
 * which we do not use) but never forgets a key. Each limiter gets its own windows (`child`).
 */
export function expiringRateLimitStore(maxKeys: number, windowMs: number, clock: () => number = Date.now) {
  return class ExpiringRateLimitStore {
    readonly windows = new MinuteWindows(maxKeys, windowMs);

    incr(key: string, done: (error: Error | null, result: { current: number; ttl: number }) => void): void {
      const now = clock();
      const window = this.windows.current(key, now);
      window.count++;
      done(null, { current: window.count, ttl: this.windows.remainingMs(window, now) });
    }

    child(): ExpiringRateLimitStore {
      return new ExpiringRateLimitStore();
    }
  };
}
