// What the newest-first event list routes share (`/query/events`, `/query/agent-events`): the day
// range, cluster filter, `limit` and an opaque `before` cursor, how a page and its `next` cursor are
// cut from limit + 1 rows, and JSON fields shown parsed.
import { parseEmbeddedJson } from '@tidewatch/protocol';
import { CollectorError } from '../errors.js';
import { dayRange, dayRangeQuerySchema } from './day-range.js';
import { trackingIdParam } from './tracking-id.js';

export const MAX_PAGE = 1000;

/** Querystring properties of a paged list of a cluster's or the fleet's events in a day range. */
export function pageQuerySchema(cursorLength: number) {
  return {
    from: dayRangeQuerySchema.from,
    to: dayRangeQuerySchema.to,
    trackingId: { type: 'string' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
    before: {
      type: 'string',
      maxLength: cursorLength,
      description: 'The `next` cursor of the previous page',
    },
  } as const;
}

/** The 200 answer of a paged list: `{events: [items], next}`. */
export function pageResponseSchema(itemProperties: Record<string, unknown>) {
  return {
    200: {
      type: 'object',
      properties: {
        events: { type: 'array', items: { type: 'object', properties: itemProperties } },
        next: { type: ['string', 'null'] },
      },
    },
  } as const;
}

export function invalidCursor(): CollectorError {
  return new CollectorError('invalid_cursor', 'before must be a `next` value from an earlier answer');
}

/** The first `limit` of `rows` (fetched as limit + 1), and the cursor after them if there are more. */
export function cutPage<T>(
  rows: T[],
  limit: number,
  cursor: (last: T) => string,
): { page: T[]; next: string | null } {
  const page = rows.slice(0, limit);
  return { page, next: rows.length > limit ? cursor(page.at(-1)!) : null };
}

/**
 * JSON text as a client sent it: an object or array when it parses and serializes back to exactly
 * the text that was sent, else the text itself (a string). So an answer is never a changed value:
 * `1e400`, integers past 2^53, `-0`, duplicate keys or extra whitespace would not survive a
 * parse and re-serialize, a scalar would be mistaken for text, and text nesting deeper than the
 * answer's serializer can write out (parseEmbeddedJson) cannot be written back at all.
 */
export function jsonOrText(text: string | null): unknown {
  if (text === null) return null;
  const parsed = parseEmbeddedJson(text);
  if (typeof parsed !== 'object' || parsed === null) return text;
  return JSON.stringify(parsed) === text ? parsed : text;
}

/** The querystring every paged list shares. */
export interface PageQuery {
  from?: string;
  to?: string;
  trackingId?: string;
  limit: number;
  before?: string;
}

/**
 * The store filter of a paged list: the validated day range and tracking id, one row more than the
 * page (cutPage uses it to know whether there is a next page), and the decoded `before` cursor.
 */
export function pageFilter<C>(query: PageQuery, decodeCursor: (cursor: string) => C) {
  return {
    ...dayRange(query),
    trackingId: query.trackingId === undefined ? undefined : trackingIdParam(query.trackingId),
    limit: query.limit + 1,
    before: query.before === undefined ? undefined : decodeCursor(query.before),
  };
}
