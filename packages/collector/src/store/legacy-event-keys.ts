// Events stored before commit b2b470f (2026-11-28) hold retry keys without the hash of the request
// that carried them (ingest/rows.ts, eventRows), and no migration can give them the new key: the
// request's bytes were not kept. So every event (up to the boundary below) also carries the key it had then (`legacyKey`), and
// each store drops an event whose legacy key it holds: a replayed import or an exact resend of such
// an event is then stored once. Only events whose own time is up to the store's boundary are looked
// up (a setting written once, at the upgrade: see boundaryValue), so a store that held no events
// then looks up nothing, and live events (newer than the boundary) cost nothing: ingest asks the
// store for the boundary (Store.legacyEventKeysUntil) and gives them no legacy key at all.
import type { EventRow, WriteBatch } from './store.js';

/** The settings key of the boundary: unix seconds, or '' when the store held no events then. */
export const LEGACY_EVENT_KEYS_SETTING = 'legacy_event_keys_until';

/**
 * Past the upgrade: an old collector still draining its last requests while the new one starts,
 * and backdated imports (receive times up to 5 minutes ahead). Running old and new collectors on
 * one store for longer is not supported (docs/deploy.md, Upgrading).
 */
const AFTER_UPGRADE_SEC = 86_400;

/**
 * The boundary to store at the upgrade. From the upgrade's time, not the newest event's own time:
 * anyone can send an event timed 2^53 s, which would have made every later event look itself up.
 * Events stored before the upgrade were received before it; one whose own time is later (a client
 * clock ahead by over a day) is not looked up, and a replay stores it again.
 */
export function boundaryValue(storeHasEvents: boolean, nowMs: number): string {
  return storeHasEvents ? String(Math.floor(nowMs / 1000) + AFTER_UPGRADE_SEC) : '';
}

/** The stored setting as a boundary (null: nothing to look up). */
export function parseBoundary(value: string | undefined | null): number | null {
  if (value === undefined || value === null || value === '') return null;
  const until = Number(value);
  return Number.isFinite(until) ? until : null;
}

/**
 * A store's boundary, read from its settings at the first write of events and kept: the setting
 * is written once, at the upgrade (boundaryValue).
 */
export class LegacyBoundary {
  private until: number | null | undefined;

  /** The boundary; `readSetting` (the setting's stored value) runs only the first time. */
  async read(readSetting: () => Promise<string | undefined>): Promise<number | null> {
    if (this.until === undefined) this.until = parseBoundary(await readSetting());
    return this.until;
  }

  /** read() on a synchronous connection (the SQLite writer thread). */
  readSync(readSetting: () => string | undefined): number | null {
    if (this.until === undefined) this.until = parseBoundary(readSetting());
    return this.until;
  }
}

/** The events of a batch whose legacy key must be looked up. */
export function legacyCandidates(events: readonly EventRow[], until: number | null): EventRow[] {
  if (until === null) return [];
  return events.filter((e) => e.legacyKey !== undefined && e.eventTimeSec <= until);
}

/** The batch without the events whose legacy key is stored (already stored before the upgrade). */
export function withoutLegacyCopies(batch: WriteBatch, storedLegacyKeys: ReadonlySet<string>): WriteBatch {
  if (storedLegacyKeys.size === 0) return batch;
  return {
    ...batch,
    events: batch.events.filter((e) => e.legacyKey === undefined || !storedLegacyKeys.has(e.legacyKey)),
  };
}
