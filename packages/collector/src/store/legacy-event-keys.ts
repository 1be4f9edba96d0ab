// Events stored before commit b2b470f (2026-11-28) hold retry keys without the hash of the request
// that carried them (ingest/rows.ts, eventRows), and no migration can give them the new key: the
// request's bytes were not kept. So every event also carries the key it had then (`legacyKey`), and
// each store drops an event whose legacy key it holds: a replayed import or an exact resend of such
// an event is then stored once. Only events up to the store's boundary are looked up (a setting
// written once, at the upgrade: see boundaryValue), so a store with none of those rows looks up
// nothing, and live events (newer than the boundary) cost nothing.
import type { EventRow, WriteBatch } from './store.js';

/** The settings key of the boundary: unix seconds, or '' when the store held no events then. */
export const LEGACY_EVENT_KEYS_SETTING = 'legacy_event_keys_until';

/**
 * A rolling upgrade leaves older collectors writing legacy keys for a while after the boundary is
 * set: a day past the later of the newest event and now covers it.
 */
const ROLLING_UPGRADE_SEC = 86_400;

/** The boundary to store at the upgrade, from the newest stored event's time (null: no events). */
export function boundaryValue(newestEventSec: number | null, nowMs: number): string {
  if (newestEventSec === null) return '';
  return String(Math.max(newestEventSec, Math.floor(nowMs / 1000)) + ROLLING_UPGRADE_SEC);
}

/** The stored setting as a boundary (null: nothing to look up). */
export function parseBoundary(value: string | undefined | null): number | null {
  if (value === undefined || value === null || value === '') return null;
  const until = Number(value);
  return Number.isFinite(until) ? until : null;
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
