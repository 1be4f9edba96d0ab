// Retention: raw rows and rollups are kept for `retentionMonths` calendar months of receive days
// (default 13, so a year-over-year comparison still has its month), then deleted by
// Store.deleteBefore. The job runs at start and once a day; with several collectors each runs it,
// which is harmless (deleting what is already gone deletes nothing).
import type { FastifyBaseLogger } from 'fastify';
import type { CollectorMetrics } from '../ops/metrics.js';
import type { RetentionResult, Store } from '../store/store.js';
import { storeReason } from '../store/store-errors.js';
import { DAY_MS } from '../utc-day.js';

/**
 * The first UTC day kept: today's date `months` calendar months ago, or that month's last day when
 * it is shorter (31 March less one month is 28 or 29 February, not 3 March: Date.UTC rolls an
 * overflowing day into the next month, which deleted days less than a month old).
 */
export function retentionCutoffDay(now: number, months: number): string {
  const today = new Date(now);
  const year = today.getUTCFullYear();
  const month = today.getUTCMonth() - months;
  const lastDayOfMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, month, Math.min(today.getUTCDate(), lastDayOfMonth)))
    .toISOString()
    .slice(0, 10);
}

export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionResult | null> | null = null;

  constructor(
    private readonly store: Store,
    private readonly months: number,
    private readonly log: FastifyBaseLogger,
    private readonly metrics: CollectorMetrics,
  ) {}

  /**
   * Runs now (resolving once that pass is done) and then every day; does nothing when retention is
   * off (0 months). The server awaits the first pass before it accepts requests: on SQLite the pass
   * holds the write lock across event-loop turns, and a busy loop meanwhile (a large import being
   * decoded) would keep the writer thread waiting past its busy timeout.
   */
  async start(): Promise<void> {
    if (this.months <= 0) return;
    this.timer = setInterval(() => void this.runOnce(), DAY_MS);
    this.timer.unref();
    await this.runOnce();
  }

  /** One pass; never throws (a failure is logged and retried the next day). */
  runOnce(now: number = Date.now()): Promise<RetentionResult | null> {
    this.running ??= (async () => {
      const fromDay = retentionCutoffDay(now, this.months);
      try {
        const deleted = await this.store.deleteBefore(fromDay);
        for (const [table, rows] of Object.entries(deleted))
          this.metrics.retentionDeleted.inc({ table }, rows);
        // Only the tables it deleted from, and the total in words: a first start's line was an
        // object of a dozen zeros, and a lowered --retention-months deleting months of data read
        // the same as a quiet day.
        const touched = Object.fromEntries(Object.entries(deleted).filter(([, rows]) => rows > 0));
        const total = Object.values(touched).reduce((sum, rows) => sum + rows, 0);
        const kept = `${this.months} month${this.months === 1 ? '' : 's'} kept`;
        this.log.info(
          { retention: { keptFrom: fromDay, months: this.months, deleted: touched } },
          total === 0
            ? `retention pass: nothing received before ${fromDay} (${kept})`
            : `retention pass: deleted ${total.toLocaleString('en-US')} rows received before ${fromDay} (${kept}, --retention-months)`,
        );
        return deleted;
      } catch (error) {
        this.metrics.retentionFailures.inc();
        this.log.error(
          { err: error },
          `retention pass failed; it runs again tomorrow (${storeReason(error)})`,
        );
        return null;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Stops the daily timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
