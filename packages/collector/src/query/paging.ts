// What the newest-first list routes share (`/query/events`, `/query/agent-events`): `limit` and an
// opaque `before` cursor, and how a page and its `next` cursor are cut from limit + 1 rows.
import { CollectorError } from '../errors.js';

export const MAX_PAGE = 1000;

/** Querystring properties of a paged list; `cursorLength` bounds the cursor text. */
export function pageQuerySchema(cursorLength: number) {
  return {
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
    before: {
      type: 'string',
      maxLength: cursorLength,
      description: 'The `next` cursor of the previous page',
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
