// How numbers, durations and days are shown. Pure functions (no DOM): the end-to-end test uses them
// to compare what the page shows with what the API answers.

const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const DECIMAL = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : INTEGER.format(value);
}

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  // Past 10^15 digits stop meaning anything (and up to 1e300, which agents may send, they would
  // run off the table): four significant digits and an exponent.
  if (Math.abs(value) >= 1e15) return value.toExponential(3);
  return Number.isInteger(value) ? INTEGER.format(value) : DECIMAL.format(Number(value.toPrecision(4)));
}

/** A duration given in seconds (the agent records durations in seconds), to three significant digits. */
export function formatSeconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value === 0) return '0 ms';
  const abs = Math.abs(value);
  if (abs < 1e-3) return `${Number((value * 1e6).toPrecision(3))} µs`;
  if (abs < 1) return `${Number((value * 1e3).toPrecision(3))} ms`;
  return `${Number(value.toPrecision(3))} s`;
}

/** `2026-11-25T22:14:20.671Z` → `2026-11-25 22:14:20 UTC`. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

export function formatPercent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${Math.round((part / whole) * 100)}%`;
}

/** A missing value (unknown or unspecified in the report) is shown as "unknown". */
export function label(value: string | null | undefined): string {
  return value === null || value === undefined || value === '' ? 'unknown' : value;
}

/**
 * A metric's group: like label(), but an empty label value is a value of its own, apart from
 * series without the label at all (null, "unknown").
 */
export function groupLabel(value: string | null): string {
  return value === '' ? '(empty)' : label(value);
}

const DAY_MS = 86_400_000;

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function todayUtc(now = Date.now()): string {
  return isoDay(now);
}

export function shiftDay(day: string, days: number): string {
  return isoDay(Date.parse(day) + days * DAY_MS);
}

/** The last `days` UTC days, today included. */
export function lastDays(days: number, now = Date.now()): { from: string; to: string } {
  const to = todayUtc(now);
  return { from: shiftDay(to, -(days - 1)), to };
}

const GIB = 1024 ** 3;

/** Bytes as GiB with one decimal (memory sizes). */
export function formatGiB(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  return `${DECIMAL.format(Math.round((bytes / GIB) * 10) / 10)} GiB`;
}
