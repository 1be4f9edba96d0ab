// What a writer knows it already wrote to the per-day rollups, so that steady ingest (the same
// clusters reporting again the same day) skips statements that would change nothing: the
// cluster_days upsert, linking the day's facts row to its neighbours, and (on SQLite, whose writer
// thread is the only writer) carrying the version forward. On SQLite those were ~18 of the ~60 µs
// of statements per report; on PostgreSQL two of a batch's ~9 round trips (docs/DESIGN-LOG.md,
// sessions 21 and 22).
//
// Only what committed transactions wrote is remembered: a transaction stages what it learns, and
// its commit adds that to the memo. Everything is forgotten when the memo's epoch moves: the SQLite
// writer's PRAGMA data_version (any other connection committed), or the store's rollup epoch,
// which every erase and retention pass increments in its own transaction (the rows it deletes are
// the only way a remembered row can stop existing). A transaction that began under an older epoch
// adds nothing. Other writers (another collector on a shared PostgreSQL store) only ever add rows
// and lower ci, so what is remembered stays true for them: a row known to exist exists, a ci known
// to be at most c is at most c. The stored version is not: another collector may write newer
// facts, so only the SQLite writer relies on it.

import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Rollup rows were deleted: writers that remember which ones exist must forget. Run in the
 * deleting transaction, so that the epoch moves exactly when the rows are gone.
 */
export async function bumpRollupEpoch(trx: Kysely<Database>): Promise<void> {
  await trx
    .updateTable('rollup_epoch')
    .set((eb) => ({ epoch: eb('epoch', '+', 1) }))
    .execute();
}

/** Per (cluster, UTC day): what the store holds for it, as far as this writer knows. */
interface DayState {
  /** cluster_days.ci is at most this (the row exists), or undefined if unknown. */
  ci?: number;
  /** The cluster_day_facts row exists. */
  facts?: true;
  /** Its version, when this writer is the store's only writer (SQLite); undefined if unknown. */
  version?: string | null;
}

/** Far above the clusters × days one day of live ingest brings; past it the memo starts over. */
const MAX_ENTRIES = 200_000;

const key = (trackingId: string, day: string) => `${trackingId}\0${day}`;

export class RollupMemo {
  private committed = new Map<string, DayState>();
  private epoch: number | null = null;

  /**
   * At the start of a write transaction, with the epoch read inside it (after its locks, so that
   * no erase of its clusters can commit until it ends). A moved epoch forgets everything.
   */
  begin(epoch: number): MemoTransaction {
    if (epoch !== this.epoch) this.committed.clear();
    this.epoch = epoch;
    return new MemoTransaction(this, epoch);
  }

  /** @internal What a committed transaction learned, unless an erase or retention came since. */
  absorb(epoch: number, staged: ReadonlyMap<string, DayState>): void {
    if (epoch !== this.epoch) return;
    if (this.committed.size + staged.size > MAX_ENTRIES) this.committed.clear();
    for (const [k, state] of staged) this.committed.set(k, state);
  }

  /** @internal */
  known(k: string): DayState | undefined {
    return this.committed.get(k);
  }
}

/** One write transaction's view: the memo plus what it wrote itself. Dropped if it rolls back. */
export class MemoTransaction {
  private readonly staged = new Map<string, DayState>();

  constructor(
    private readonly memo: RollupMemo,
    private readonly epoch: number,
  ) {}

  /** The transaction committed: what it staged is now true of the store. */
  commit(): void {
    this.memo.absorb(this.epoch, this.staged);
  }

  private get(trackingId: string, day: string): DayState | undefined {
    const k = key(trackingId, day);
    return this.staged.get(k) ?? this.memo.known(k);
  }

  private stage(trackingId: string, day: string, change: (state: DayState) => void): void {
    const state = { ...this.get(trackingId, day) };
    change(state);
    this.staged.set(key(trackingId, day), state);
  }

  /** The cluster's cluster_days row of that day exists. */
  dayKnown(row: { day: string; tracking_id: string }): boolean {
    return this.get(row.tracking_id, row.day)?.ci !== undefined;
  }

  /** The cluster_days upsert of this row would change nothing (ci only goes down). */
  dayUnchanged(row: { day: string; tracking_id: string; ci: number }): boolean {
    const ci = this.get(row.tracking_id, row.day)?.ci;
    return ci !== undefined && ci <= row.ci;
  }

  /** After the cluster_days upsert of this row: the row exists, its ci at most the row's. */
  dayWritten(row: { day: string; tracking_id: string; ci: number }): void {
    this.stage(row.tracking_id, row.day, (state) => {
      state.ci = state.ci === undefined ? row.ci : Math.min(state.ci, row.ci);
    });
  }

  /** The cluster's facts row of that day existed before this transaction's upsert of it. */
  factsKnown(row: { day: string; tracking_id: string }): boolean {
    return this.get(row.tracking_id, row.day)?.facts !== undefined;
  }

  /** After the facts upsert of this row: the row exists (its version unknown to this writer). */
  factsExist(row: { day: string; tracking_id: string }): void {
    this.stage(row.tracking_id, row.day, (state) => {
      state.facts = true;
    });
  }

  /**
   * The only writer's (SQLite's) facts upsert of this row (`written`: it changed the stored row,
   * which the upsert does only for facts at least as new). Returns whether the stored version may
   * have changed.
   */
  factsWritten(row: { day: string; tracking_id: string; version: string | null }, written: boolean): boolean {
    const before = this.get(row.tracking_id, row.day);
    this.factsExist(row);
    // Not written: newer facts are stored, which this writer may not know; nothing changed.
    if (!written) return false;
    this.stage(row.tracking_id, row.day, (state) => {
      state.version = row.version;
    });
    return before?.version === undefined || before.version !== row.version;
  }
}
