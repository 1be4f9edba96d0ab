// The `from`/`to` day range every query route takes (CONTRACT.md): inclusive UTC days, the last
// 30 days by default, at most 400 days, never inverted.
import { CollectorError } from '../errors.js';
import { DAY_MS, utcDay } from '../utc-day.js';

export const MAX_RANGE_DAYS = 400;
export const DEFAULT_RANGE_DAYS = 30;

export interface DayRange {
  fromDay: string;
  toDay: string;
}

/**
 * The days a question may name: ClickHouse's Date runs from 1970 and ends in 2106 (there
 * `toDate('2106-01-01')` is 0000-00-00, so a question about 2106 answered as if no cluster had
 * ever reported, where SQLite and PostgreSQL counted them). No report is received outside them.
 */
const FIRST_DAY = '1970-01-01';
const LAST_DAY = '2105-12-31';
const FIRST_DAY_MS = Date.parse(FIRST_DAY);
const LAST_DAY_MS = Date.parse(LAST_DAY);

/** The UTC midnight of `value` if it is a real calendar day written like 2026-11-25, else null. */
export function calendarDay(value: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999 (0001-01-02 was "not a date").
  const ms = match
    ? new Date(0).setUTCFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]))
    : Number.NaN;
  // Date rolls 2026-02-31 over to March: a real date must print back the same.
  return !Number.isNaN(ms) && utcDay(ms) === value ? ms : null;
}

/** The UTC midnight of a real calendar day written like 2026-11-25; a 400 `invalid_date` otherwise. */
export function parseDay(value: string, name: string): number {
  const ms = calendarDay(value);
  if (ms === null) {
    throw new CollectorError(
      'invalid_date',
      `${name} must be a date like 2026-11-25, not "${value.slice(0, 40)}"`,
    );
  }
  if (ms < FIRST_DAY_MS || ms > LAST_DAY_MS) {
    throw new CollectorError(
      'invalid_date',
      `${name} must be a day from ${FIRST_DAY} to ${LAST_DAY} (the days every store can hold), not ${value}`,
    );
  }
  return ms;
}

export function dayRange(
  query: { from?: string | undefined; to?: string | undefined },
  now = Date.now(),
): DayRange {
  const today = Date.UTC(
    new Date(now).getUTCFullYear(),
    new Date(now).getUTCMonth(),
    new Date(now).getUTCDate(),
  );
  const to = query.to === undefined ? today : parseDay(query.to, 'to');
  const from =
    query.from === undefined ? to - (DEFAULT_RANGE_DAYS - 1) * DAY_MS : parseDay(query.from, 'from');
  if (from > to)
    throw new CollectorError('invalid_range', `from (${query.from}) is after to (${query.to ?? 'today'})`);
  const days = (to - from) / DAY_MS + 1;
  if (days > MAX_RANGE_DAYS) {
    throw new CollectorError('range_too_long', `the range is ${days} days; the limit is ${MAX_RANGE_DAYS}`);
  }
  return { fromDay: utcDay(from), toDay: utcDay(to) };
}

export function booleanParam(value: string | undefined, name: string): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new CollectorError('invalid_parameter', `${name} must be true or false`);
}

/** What every fleet statistic takes: a day range and which clusters to leave out. */
export interface FleetFilter extends DayRange {
  includeCi: boolean;
  includeInternal: boolean;
}

export interface FleetQuery {
  from?: string | undefined;
  to?: string | undefined;
  includeCi?: string | undefined;
  includeInternal?: string | undefined;
}

export function fleetFilter(query: FleetQuery): FleetFilter {
  return {
    ...dayRange(query),
    includeCi: booleanParam(query.includeCi, 'includeCi'),
    includeInternal: booleanParam(query.includeInternal, 'includeInternal'),
  };
}

export const dayRangeQuerySchema = {
  from: {
    type: 'string',
    description: 'First UTC day, inclusive (YYYY-MM-DD); default: 29 days before `to`',
  },
  to: { type: 'string', description: 'Last UTC day, inclusive (YYYY-MM-DD); default: today' },
  includeCi: {
    type: 'string',
    enum: ['true', 'false', '1', '0'],
    description: 'Include reports from CI runs',
  },
  includeInternal: {
    type: 'string',
    enum: ['true', 'false', '1', '0'],
    description: 'Include clusters an admin tagged as internal',
  },
} as const;

/** The `excluded` part of a statistic's answer: what it left out and why (counts of clusters). */
export const excludedSchema = {
  type: 'object',
  description: 'Clusters with reports in the range that this answer leaves out',
  properties: { ci: { type: 'integer' }, internal: { type: 'integer' } },
} as const;

export async function excluded(
  store: { leftOut(q: { fromDay: string; toDay: string }): Promise<{ ci: number; internal: number }> },
  filter: FleetFilter,
): Promise<{ ci: number; internal: number }> {
  if (filter.includeCi && filter.includeInternal) return { ci: 0, internal: 0 };
  const left = await store.leftOut(filter);
  return { ci: filter.includeCi ? 0 : left.ci, internal: filter.includeInternal ? 0 : left.internal };
}

/** Every day of a range, in order. */
export function daysOf(range: DayRange): string[] {
  const days: string[] = [];
  for (let ms = Date.parse(range.fromDay); ms <= Date.parse(range.toDay); ms += DAY_MS) {
    days.push(utcDay(ms));
  }
  return days;
}
