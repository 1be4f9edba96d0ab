// Field-level checks shared by every decoder: identifiers, strings a store can hold, numbers that
// fit. Each check either returns the cleaned value or throws a ProtocolError naming the field.
import { ProtocolError } from './errors.js';
import { LIMITS } from './limits.js';
import type { ReportFlag } from './model.js';
import { DOT_SEGMENT } from './native/model.js';

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

export function trackingId(value: unknown, field = 'tracking_id'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ProtocolError('invalid_tracking_id', `${field} is missing or empty`);
  }
  if (value.length > LIMITS.trackingIdMax || !PRINTABLE_ASCII.test(value)) {
    throw new ProtocolError(
      'invalid_tracking_id',
      `${field} must be 1-${LIMITS.trackingIdMax} printable ASCII characters`,
    );
  }
  if (DOT_SEGMENT.test(value)) throw dotSegment(field, value);
  return value;
}

/** The error for a tracking id `.` or `..` (DOT_SEGMENT). */
export function dotSegment(field: string, value: string): ProtocolError {
  return new ProtocolError(
    'invalid_tracking_id',
    `${field} "${value}" is not usable: no URL can address a cluster called . or ..`,
  );
}

export function sessionId(value: unknown, field = 'session_id'): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ProtocolError('invalid_field', `${field} must be a string`);
  if (value.length > LIMITS.sessionIdMax || (value.length > 0 && !PRINTABLE_ASCII.test(value))) {
    throw new ProtocolError(
      'invalid_field',
      `${field} must be at most ${LIMITS.sessionIdMax} printable ASCII characters`,
    );
  }
  return value;
}

/** Collects flags for one decoded message. */
export class Flags {
  readonly list: ReportFlag[] = [];
  add(flag: ReportFlag): void {
    if (!this.list.includes(flag)) this.list.push(flag);
  }
}

/**
 * A free-text string: length-limited (over the limit is abuse, a 400), NUL replaced (no store can
 * hold it, and rejecting would lose a RisingWave report for good). Empty becomes null.
 */
export function text(value: unknown, field: string, flags: Flags, max: number = LIMITS.shortStringMax) {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ProtocolError('invalid_field', `${field} must be a string`);
  checkLength(value, field, max);
  if (value.length === 0) return null;
  return storable(value, flags);
}

/**
 * Characters of s, counted as Unicode code points: what every length limit means (the README says
 * characters, and the query routes' schemas count the same way), not UTF-16 code units, in which
 * an emoji is two.
 */
function characters(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** A string over `max` characters is abuse: a 400 naming the field. */
export function checkLength(value: string, field: string, max: number): void {
  // Code units are never fewer than code points: count only when the cheap check fails.
  if (value.length <= max) return;
  const n = characters(value);
  if (n > max) throw new ProtocolError('string_too_long', `${field} is ${n} characters; the limit is ${max}`);
}

/** A lone UTF-16 surrogate: in a `u` regex, the halves of a well-formed pair never match. */
const LONE_SURROGATE = /\p{Cs}/gu;

/**
 * A string every store can hold, and flagged where it had to change: NUL (no store can hold it)
 * and lone surrogates (a JSON `\ud800` escape; not UTF-8, so a store would keep mangled bytes)
 * become U+FFFD. Rejecting instead would lose a RisingWave report for good.
 */
export function storable(value: string, flags: Flags): string {
  let out = value;
  if (out.includes('\0')) {
    flags.add('nul_replaced');
    out = out.replaceAll('\0', '\uFFFD');
  }
  LONE_SURROGATE.lastIndex = 0;
  if (LONE_SURROGATE.test(out)) {
    flags.add('surrogate_replaced');
    out = out.replace(LONE_SURROGATE, '\uFFFD');
  }
  return out;
}

/** An unsigned integer that may arrive as a bigint (protobuf uint64) or a JSON number. */
export function unsigned(value: unknown, field: string, flags: Flags): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'bigint') {
    if (value < 0n) throw new ProtocolError('invalid_field', `${field} must not be negative`);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      flags.add('number_clamped');
      return Number.MAX_SAFE_INTEGER;
    }
    return Number(value);
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ProtocolError('invalid_field', `${field} must be a non-negative number`);
  }
  if (value > Number.MAX_SAFE_INTEGER) {
    flags.add('number_clamped');
    return Number.MAX_SAFE_INTEGER;
  }
  return Math.trunc(value);
}

/** A signed 64-bit integer (protobuf int64), clamped to the safe integer range. */
export function signed(value: bigint | number, flags: Flags): number {
  const big = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
    flags.add('number_clamped');
    return Number.MAX_SAFE_INTEGER;
  }
  if (big < BigInt(Number.MIN_SAFE_INTEGER)) {
    flags.add('number_clamped');
    return Number.MIN_SAFE_INTEGER;
  }
  return Number(big);
}

/** A float such as available CPUs: finite, or null. */
export function finite(value: unknown, field: string, flags: Flags): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number') throw new ProtocolError('invalid_field', `${field} must be a number`);
  if (!Number.isFinite(value)) {
    // NaN or ±Infinity (a float on the wire can be either): no store answers alike for them, so
    // the value is kept as unknown and the report flagged, like any other odd value.
    flags.add('number_not_finite');
    return null;
  }
  // A subnormal (below 2^-1022, only a v1 JSON number can be one) is 0: ClickHouse flushes them
  // to 0, so every store keeps 0 and answers alike.
  return Math.abs(value) < SMALLEST_NORMAL ? value * 0 : value; // keeps the sign of -0
}

const SMALLEST_NORMAL = 2 ** -1022;

/** Enum number → name by table; UNSPECIFIED (0) or unknown numbers become null. */
export function enumName<T extends string>(value: number, names: readonly T[]): T | null {
  return value >= 1 && value <= names.length ? names[value - 1]! : null;
}
