// Group commit: concurrent requests' rows are written in one transaction, and each request is
// answered only after the transaction holding its rows committed. Durability (an fsync per commit
// on SQLite, a round trip per commit on PostgreSQL) is then paid once per batch, not per report.
import type { Store, WriteBatch, WriteResult } from '../store/store.js';

interface Pending {
  batch: WriteBatch;
  rows: number;
  /** performance.now() when it was queued. */
  at: number;
  /** Answered (committed, failed or timed out): later outcomes are ignored. */
  done: boolean;
  /** Taken into a transaction: a timeout then cannot stop its rows from being committed. */
  sent: boolean;
  /** With the tracking ids of the transaction that were blocked (erased): none of them is stored. */
  resolve(blocked: ReadonlySet<string>): void;
  reject(error: unknown): void;
}

/** Why a write was answered without a commit: the store is stalled or too far behind. */
export class StoreBehindError extends Error {}

export interface BatcherObserver {
  /** Called after each committed transaction. */
  committed(batch: {
    /** Rows written, metric points and agent events included. */
    rows: number;
    /** Reports, events and agent reports submitted (each either inserted or a retry). */
    submitted: number;
    requests: number;
    seconds: number;
    result: WriteResult;
  }): void;
  failed(error: unknown): void;
}

export interface WriteBatcherOptions {
  /** Rows per transaction; more wait for the next one. */
  maxRows?: number;
  /** Transactions in flight at once (default 2: one committing, the next being sent). */
  maxInFlight?: number;
  observer?: BatcherObserver;
  /**
   * A write not committed within this many ms is answered with an error (the route's 503) instead
   * of waiting for a stalled store (a lock, a hung connection); its rows may still be committed
   * later, which a retry's dedup key makes harmless. 0: wait for ever. Default 30 s.
   */
  timeoutMs?: number;
  /** Rows queued for a transaction beyond which new writes are refused at once. Default 200,000. */
  maxQueuedRows?: number;
}

/** Rows a write adds (an agent report counts with its metric points and events). */
function rowCount(batch: WriteBatch): number {
  let rows = batch.reports.length + batch.events.length;
  for (const w of batch.agentReports ?? []) rows += 1 + w.metrics.length + w.events.length;
  return rows;
}

function merge(items: Pending[]): WriteBatch {
  if (items.length === 1) return items[0]!.batch;
  return {
    reports: items.flatMap((p) => p.batch.reports),
    events: items.flatMap((p) => p.batch.events),
    agentReports: items.flatMap((p) => p.batch.agentReports ?? []),
  };
}

export class WriteBatcher {
  private queue: Pending[] = [];
  private queuedRows = 0;
  /** Every write not yet answered, for the timeout sweep. */
  private readonly unanswered = new Set<Pending>();
  private sweeper: NodeJS.Timeout | null = null;
  /** Transactions under way (each lane runs one at a time). */
  private lanes = 0;
  private idleWaiters: (() => void)[] = [];
  /** Transactions being committed, oldest first. */
  private readonly committing = new Set<{ at: number }>();
  /** The last transaction that failed, until one commits again. */
  private lastFailure: { at: number; message: string } | null = null;
  private readonly maxRows: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly store: Store,
    private readonly options: WriteBatcherOptions = {},
  ) {
    this.maxRows = options.maxRows ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  /**
   * Resolves once the rows are committed, with the tracking ids whose rows the store dropped
   * because the cluster is blocked (its transaction's, a superset of this batch's); rejects if the
   * store failed to commit them, or with a StoreBehindError when it did not commit them in time or
   * too many rows already wait.
   */
  write(batch: WriteBatch): Promise<ReadonlySet<string>> {
    const rows = rowCount(batch);
    const maxQueued = this.options.maxQueuedRows ?? 200_000;
    if (this.queuedRows > 0 && this.queuedRows + rows > maxQueued) {
      return Promise.reject(
        new StoreBehindError(`the store is behind: ${this.queuedRows} rows are already waiting for it`),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        batch,
        rows,
        at: performance.now(),
        done: false,
        sent: false,
        resolve: (blocked) => this.answer(pending, () => resolve(blocked)),
        reject: (error) => this.answer(pending, () => reject(error)),
      };
      this.queue.push(pending);
      this.queuedRows += rows;
      this.unanswered.add(pending);
      this.watch();
      // While transactions run, new requests queue up and go into the next one together. A second
      // lane lets the next batch be sent while the store still commits the previous one.
      if (this.lanes < this.maxInFlight) {
        this.lanes++;
        void this.lane();
      }
    });
  }

  /**
   * Why writes are not being committed right now, or null: the oldest unanswered write has waited
   * past `stallMs` (a lock, a hung connection, a full disk being retried), or a transaction failed
   * within the last `recentMs` and none has committed since. The store may still answer a ping
   * then, so this is what tells a load balancer to send the traffic elsewhere (/readyz). A failure
   * stops counting after `recentMs` without traffic, so the next request can find out whether the
   * store is back.
   */
  writeTrouble(stallMs: number, recentMs: number): string | null {
    const now = performance.now();
    // A Set iterates in insertion order: the first unanswered write is the oldest.
    const oldest = this.unanswered.values().next().value as Pending | undefined;
    if (oldest && now - oldest.at > stallMs)
      return `a write has waited ${((now - oldest.at) / 1000).toFixed(1)} s for the store to commit it`;
    // Writes past the store timeout were answered 503 and left `unanswered`, but their
    // transaction may still be stuck: with few requests, it is the only sign of the stall.
    const transaction = this.committing.values().next().value as { at: number } | undefined;
    if (transaction && now - transaction.at > stallMs)
      return `a transaction has waited ${((now - transaction.at) / 1000).toFixed(1)} s for the store to commit it`;
    if (this.lastFailure && now - this.lastFailure.at < recentMs)
      return `the last write failed: ${this.lastFailure.message}`;
    return null;
  }

  /** Resolves when everything queued so far is committed or failed. */
  flush(): Promise<void> {
    if (this.lanes === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async lane(): Promise<void> {
    // Yield once so that requests parsed in the same tick join the same transaction.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) await this.commit(this.take());
    this.lanes--;
    if (this.lanes === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private take(): Pending[] {
    let rows = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || rows + this.queue[n]!.rows <= this.maxRows)) {
      rows += this.queue[n]!.rows;
      n++;
    }
    this.queuedRows -= rows;
    const taken = this.queue.splice(0, n);
    for (const p of taken) p.sent = true;
    return taken;
  }

  private answer(pending: Pending, settle: () => void): void {
    if (pending.done) return;
    pending.done = true;
    this.unanswered.delete(pending);
    settle();
  }

  /** While writes wait, a sweep every second answers those past the timeout. */
  private watch(): void {
    const timeout = this.options.timeoutMs ?? 30_000;
    if (this.sweeper !== null || timeout <= 0) return;
    this.sweeper = setInterval(() => this.sweep(timeout), Math.min(1000, timeout / 2));
    this.sweeper.unref();
  }

  private sweep(timeout: number): void {
    const now = performance.now();
    for (const pending of this.unanswered) {
      if (now - pending.at < timeout) continue;
      const within = `the store did not commit it within ${Math.round(timeout / 1000)} s`;
      // Said so, because a 503 otherwise reads as "nothing was stored" (a review found the row later).
      const after = pending.sent
        ? '; its transaction is still running and may yet store it, and a resend is stored once'
        : '; it was still queued and is not written';
      pending.reject(new StoreBehindError(within + after));
    }
    // What timed out while still queued is not written at all.
    if (this.queue.some((p) => p.done)) {
      this.queue = this.queue.filter((p) => !p.done);
      this.queuedRows = this.queue.reduce((sum, p) => sum + p.rows, 0);
    }
    if (this.unanswered.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  private async commit(items: Pending[]): Promise<void> {
    const started = performance.now();
    // Watched by writeTrouble() for as long as it runs, even once its writes were answered 503.
    const running = { at: started };
    this.committing.add(running);
    try {
      await this.commitOnce(items, started);
    } finally {
      this.committing.delete(running);
    }
  }

  private async commitOnce(items: Pending[], started: number): Promise<void> {
    const batch = merge(items);
    let result: WriteResult;
    try {
      result = await this.store.writeBatch(batch);
    } catch (error) {
      this.lastFailure = {
        at: performance.now(),
        message: error instanceof Error ? error.message : String(error),
      };
      this.options.observer?.failed(error);
      if (items.length === 1) {
        items[0]!.reject(error);
        return;
      }
      // One bad request must not fail its neighbours: retry each alone, so only it is refused.
      for (const item of items) if (!item.done) await this.commit([item]);
      return;
    }
    this.lastFailure = null;
    const blocked: ReadonlySet<string> = new Set(result.blockedIds);
    for (const item of items) item.resolve(blocked);
    const rows = items.reduce((sum, p) => sum + p.rows, 0);
    const submitted = batch.reports.length + batch.events.length + (batch.agentReports?.length ?? 0);
    const seconds = (performance.now() - started) / 1000;
    // After the answers: a metrics failure must never turn a committed write into a refused one.
    try {
      this.options.observer?.committed({ rows, submitted, requests: items.length, seconds, result });
    } catch {
      // Metrics are best effort.
    }
  }
}
