// Limits applied while decoding, so that nothing a store cannot hold (or should not have to) gets
// past the protocol package. Documented in the README's "Limits" table.
export const LIMITS = {
  /** tracking_id: 1–128 printable ASCII characters (CONTRACT.md). */
  trackingIdMax: 128,
  sessionIdMax: 128,
  /** Names, versions, OS strings, connector names: generous for real values, small for abuse. */
  shortStringMax: 1024,
  /**
   * Event attributes, a JSON text RisingWave embeds in each event. Connector usage and license
   * texts have no limit of their own: a real cluster lists every source and sink (~90 characters
   * each), so one with a few thousand writes more than this, and refusing its meta report would
   * lose it for good; the body limit bounds them.
   */
  jsonStringMax: 256 * 1024,
  /** Stream jobs listed in one meta report. */
  streamJobsMax: 100_000,
  /** Events in one `BatchEventMessage` (RisingWave sends at most 100). */
  eventsPerBatchMax: 1000,
} as const;
