// Group commit: concurrent requests' rows are written in one transaction, and each request is
// answered only after the transaction holding its rows committed. Durability (an fsync per commit
// on SQLite, a round trip per commit on PostgreSQL) is then paid once per batch, not per report.
import type { Store, WriteBatch, WriteResult } from '../store/store.js';

interface Pending {
  batch: WriteBatch;
  rows: number;
  resolve(): void;
  reject(error: unknown): void;
}

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
  /** Transactions under way (each lane runs one at a time). */
  private lanes = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly maxRows: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly store: Store,
    private readonly options: WriteBatcherOptions = {},
  ) {
    this.maxRows = options.maxRows ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  /** Resolves once the rows are committed; rejects if the store failed to commit them. */
  write(batch: WriteBatch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, rows: rowCount(batch), resolve, reject });
      // While transactions run, new requests queue up and go into the next one together. A second
      // lane lets the next batch be sent while the store still commits the previous one.
      if (this.lanes < this.maxInFlight) {
        this.lanes++;
        void this.lane();
      }
    });
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
    return this.queue.splice(0, n);
  }

  private async commit(items: Pending[]): Promise<void> {
    const started = performance.now();
    const batch = merge(items);
    let result: WriteResult;
    try {
      result = await this.store.writeBatch(batch);
    } catch (error) {
      this.options.observer?.failed(error);
      if (items.length === 1) {
        items[0]!.reject(error);
        return;
      }
      // One bad request must not fail its neighbours: retry each alone, so only it is refused.
      for (const item of items) await this.commit([item]);
      return;
    }
    for (const item of items) item.resolve();
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
