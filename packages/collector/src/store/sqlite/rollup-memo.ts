// What the SQLite writer thread knows it already wrote to the per-day rollups, so that steady
// ingest (the same clusters reporting again the same day, with the same version) skips the three
// statements that would change nothing: the cluster_days upsert, linking the day's facts row to
// its neighbours, and carrying the version forward. Those were ~18 of the ~60 µs of statements per
// report (docs/DESIGN-LOG.md, session 21).
//
// Only what the writer itself committed is remembered, and all of it is forgotten as soon as any
// other connection committed (an erase, retention, a token: PRAGMA data_version moves), so a
// remembered row can only be out of date in the direction that makes the skipped statement a no-op.
// What a transaction learns is staged and kept only once it committed.

/** Per (cluster, UTC day): what the store holds for it, as far as this writer knows. */
interface DayState {
  /** cluster_days.ci is at most this (the row exists), or undefined if unknown. */
  ci?: number;
  /** The cluster_day_facts row exists and holds this version (the newest facts_at's). */
  facts?: { version: string | null };
}

/** Far above the clusters × days one day of live ingest brings; past it the memo starts over. */
const MAX_ENTRIES = 200_000;

const key = (trackingId: string, day: string) => `${trackingId}\0${day}`;

export class RollupMemo {
  private committed = new Map<string, DayState>();
  private staged = new Map<string, DayState>();
  private dataVersion: number | null = null;

  /**
   * At the start of each write transaction (the write lock held, so no other commit can follow):
   * forgets everything if another connection committed since the last look.
   */
  begin(dataVersion: number): void {
    this.staged.clear();
    if (dataVersion !== this.dataVersion) this.committed.clear();
    this.dataVersion = dataVersion;
  }

  /** The transaction committed: what it staged is now true of the store. */
  commit(): void {
    if (this.committed.size + this.staged.size > MAX_ENTRIES) this.committed.clear();
    for (const [k, state] of this.staged) this.committed.set(k, state);
    this.staged.clear();
  }

  /** The transaction rolled back: nothing it staged happened. */
  rollback(): void {
    this.staged.clear();
  }

  private get(trackingId: string, day: string): DayState | undefined {
    const k = key(trackingId, day);
    return this.staged.get(k) ?? this.committed.get(k);
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

  /**
   * After the facts upsert of this row (`written`: it changed the stored row, which the upsert
   * does only for facts at least as new). Returns whether the stored version may have changed.
   */
  factsWritten(row: { day: string; tracking_id: string; version: string | null }, written: boolean): boolean {
    const before = this.get(row.tracking_id, row.day)?.facts;
    if (!written) {
      // Newer facts are stored, which this writer may not know: nothing changed, nothing learned.
      return false;
    }
    this.stage(row.tracking_id, row.day, (state) => {
      state.facts = { version: row.version };
    });
    return before === undefined || before.version !== row.version;
  }
}
