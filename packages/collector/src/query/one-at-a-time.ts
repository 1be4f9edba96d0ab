// Work that runs one at a time, in arrival order. A metric question folded from per-cluster rollup
// rows brings every row of its range into the collector's main thread (117k rows for 80 clusters
// over 400 days, ~0.5 s of that thread's CPU on PostgreSQL): four such questions at once kept the
// thread busy with nothing but them, and reports arriving meanwhile waited 15–20 s, hundreds timing
// out (`npm run bench:contention`). One at a time answers as many questions a second, and leaves
// the thread's gaps to ingest.
import { CollectorError } from '../errors.js';

export class OneAtATime {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** `limit`: how many may wait at once (one client must not queue a thousand). */
  constructor(private readonly limit: number) {}

  /** As many are waiting as may: run() would refuse. */
  get full(): boolean {
    return this.waiting >= this.limit;
  }

  /** Runs `work` after everything queued before it has settled; skipped if `gone()` by then. */
  run<T>(work: () => Promise<T>, gone: () => boolean): Promise<T> {
    if (this.full) {
      return Promise.reject(
        new CollectorError(
          'queue_full',
          `${this.limit} metric questions are already waiting for their turn on this collector; ask again in a few seconds`,
          503,
        ),
      );
    }
    this.waiting++;
    const turn = this.tail.then(() => {
      this.waiting--;
      if (gone())
        throw new CollectorError('client_gone', 'the client closed the connection before its turn', 400);
      return work();
    });
    this.tail = turn.catch(() => {});
    return turn;
  }
}
