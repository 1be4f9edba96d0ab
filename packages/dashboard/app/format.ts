// How numbers, durations and days are shown, and days typed in the range read. Pure functions (no
// DOM): the end-to-end test uses them to compare what the page shows with what the API answers.

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

/**
 * A share given in percent, whole: a share that is not zero never reads "0%" ("<1%"). The API's
 * shares (release pickup) come rounded to 0.1, and so are computed ones (sharePercent), so that one
 * share reads the same in every table.
 */
export function formatShare(percent: number): string {
  if (percent > 0 && percent < 0.5) return '<1%';
  return `${Math.round(percent)}%`;
}

/** `part` of `whole` in percent, rounded to 0.1 as the API rounds its shares. */
export function sharePercent(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10;
}

export function formatPercent(part: number, whole: number): string {
  return formatShare(sharePercent(part, whole));
}

/** Durations in the UCUM units OpenTelemetry uses, as seconds per unit. */
const DURATION_UNITS: Record<string, number> = {
  d: 86_400,
  h: 3_600,
  min: 60,
  s: 1,
  ms: 1e-3,
  us: 1e-6,
  ns: 1e-9,
};
/** Byte units (UCUM `By` with SI and binary prefixes), as bytes per unit. */
const BYTE_UNITS: Record<string, number> = {
  By: 1,
  kBy: 1e3,
  MBy: 1e6,
  GBy: 1e9,
  TBy: 1e12,
  KiBy: 1024,
  MiBy: 1024 ** 2,
  GiBy: 1024 ** 3,
  TiBy: 1024 ** 4,
};

/** Bytes with a binary prefix, to three significant digits (`1.5 KiB`). */
export function formatBytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const prefixes = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let scaled = value;
  let i = 0;
  while (Math.abs(scaled) >= 1024 && i < prefixes.length - 1) {
    scaled /= 1024;
    i++;
  }
  return `${i === 0 ? formatNumber(scaled) : Number(scaled.toPrecision(3))} ${prefixes[i]}`;
}

/**
 * How a metric's values are shown, from the unit the agent reported with it (UCUM, as OpenTelemetry
 * uses: `s`, `ms`, `By`, `KiBy`, `{query}`…), never guessed from the metric's name: a duration or a
 * size is scaled, an annotation (`{query}`), `1` (a ratio or a plain count) or a unit this does not
 * know is a plain number.
 */
export function unitFormat(unit: string | null | undefined): (value: number | null) => string {
  const seconds = unit ? DURATION_UNITS[unit] : undefined;
  if (seconds !== undefined) return (v) => formatSeconds(v === null ? null : v * seconds);
  const bytes = unit ? BYTE_UNITS[unit] : undefined;
  if (bytes !== undefined) return (v) => formatBytes(v === null ? null : v * bytes);
  return formatNumber;
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

/** The longest range the query routes answer (MAX_RANGE_DAYS in the collector). */
export const MAX_DAYS = 400;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar day written YYYY-MM-DD (not 2026-02-31, which Date would roll over). */
export function isDay(text: string | null): text is string {
  return (
    text !== null && DAY.test(text) && !Number.isNaN(Date.parse(text)) && isoDay(Date.parse(text)) === text
  );
}

/** The days every store can hold (FIRST_DAY and LAST_DAY in the collector's day-range.ts). */
export const FIRST_DAY = '1970-01-01';
export const LAST_DAY = '2105-12-31';

/** What the header's From or To field holds: a day, or what is wrong with it. */
function typedDay(name: 'From' | 'To', text: string): { day: string } | { problem: string } {
  const day = text.trim();
  const example = `e.g. ${lastDays(1).to}`;
  if (day === '') return { problem: `${name} is empty: type a UTC day as YYYY-MM-DD (${example}).` };
  // The browser's locale plays no part: 11/29/2026 or 29.11.2026 would read differently elsewhere.
  if (!DAY.test(day)) return { problem: `${name} “${day}” is not written YYYY-MM-DD (${example}).` };
  if (!isDay(day)) return { problem: `${name} “${day}” is no calendar day.` };
  if (day < FIRST_DAY || day > LAST_DAY)
    return { problem: `${name} “${day}” is outside the days stored, ${FIRST_DAY} to ${LAST_DAY}.` };
  return { day };
}

/**
 * The range typed in the header (UTC days, YYYY-MM-DD), or what is wrong with it and in which field:
 * a range that is not used says why instead (usableRange would silently change it). An inverted
 * range is turned around.
 */
export function typedRange(
  fromText: string,
  toText: string,
): { range: { from: string; to: string } } | { problem: string; field: 'from' | 'to' } {
  const from = typedDay('From', fromText);
  if ('problem' in from) return { problem: from.problem, field: 'from' };
  const to = typedDay('To', toText);
  if ('problem' in to) return { problem: to.problem, field: 'to' };
  const [first, last] = [from.day, to.day].sort() as [string, string];
  const days = Math.round((Date.parse(last) - Date.parse(first)) / DAY_MS) + 1;
  if (days > MAX_DAYS)
    return { problem: `That range is ${days} days: at most ${MAX_DAYS} can be shown.`, field: 'from' };
  return { range: { from: first, to: last } };
}

const GIB = 1024 ** 3;

/** Bytes as GiB with one decimal (memory sizes). */
export function formatGiB(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  return `${DECIMAL.format(Math.round((bytes / GIB) * 10) / 10)} GiB`;
}

/**
 * The label of the band that sums the versions not shown on their own. Clusters whose version is
 * unknown (null) may be among them: said, not hidden in a count of versions.
 */
export function othersLabel(versions: readonly (string | null)[]): string {
  const known = versions.filter((v) => v !== null).length;
  const count = `${known} other ${known === 1 ? 'version' : 'versions'}`;
  return known === versions.length ? count : known === 0 ? 'unknown' : `${count} and unknown`;
}
