// Query and path parameters every store can take: no NUL character (PostgreSQL text cannot hold
// it; a query with one fails inside the driver) and no infinite number (a schema coerces "1e309"
// to Infinity, which no LIMIT takes). Checked once for every route, after schema validation. And a
// query string that is not valid percent-encoded UTF-8 is refused as the router refuses such a path:
// the query-string parser would take `%ZZ` literally and drop bad UTF-8 silently.
import type { FastifyInstance } from 'fastify';
import { roleForPath } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';

function check(values: unknown, where: string): void {
  if (typeof values !== 'object' || values === null) return;
  for (const [name, value] of Object.entries(values)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && v.includes('\0')) {
        throw new CollectorError('invalid_parameter', `${where} ${name} must not contain a NUL character`);
      }
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new CollectorError('invalid_parameter', `${where} ${name} must be a finite number`);
      }
    }
  }
}

/** A number as people write one in a URL: decimal digits, a sign, a fraction. */
const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * The schema coerces any string that JavaScript reads as a number: `0x10` became 16, `1e3` 1000,
 * ` 5` 5. A query parameter that became a number must have been written in decimal.
 */
function decimalNumbers(query: unknown, url: string): void {
  if (typeof query !== 'object' || query === null) return;
  const numeric = Object.entries(query).filter(([, v]) => typeof v === 'number');
  if (numeric.length === 0) return;
  const start = url.indexOf('?');
  const raw = new URLSearchParams(start === -1 ? '' : url.slice(start + 1));
  for (const [name] of numeric) {
    const written = raw.get(name);
    if (written !== null && !DECIMAL.test(written)) {
      throw new CollectorError(
        'invalid_parameter',
        `query parameter ${name} must be a decimal number, not ${JSON.stringify(written.slice(0, 40))}`,
      );
    }
  }
}

/**
 * A query or admin route refuses a parameter it does not take: ignored, a filter the reader meant
 * (`/query/clusters?from=…`, which filters with `seenFrom`) answered unfiltered rows as if it had
 * applied. The message lists what the route takes.
 */
function knownParameters(url: string, schema: unknown): void {
  const start = url.indexOf('?');
  if (start === -1) return;
  const properties = (schema as { querystring?: { properties?: Record<string, unknown> } } | undefined)
    ?.querystring?.properties;
  const known = Object.keys(properties ?? {});
  for (const name of new URLSearchParams(url.slice(start + 1)).keys()) {
    if (!known.includes(name)) {
      const takes = known.length === 0 ? 'takes no query parameters' : `takes ${known.join(', ')}`;
      throw new CollectorError(
        'invalid_parameter',
        `unknown query parameter ${JSON.stringify(name.slice(0, 40))}: this route ${takes}`,
      );
    }
  }
}

/** Every name and value of the URL's query string decodes (well-formed %XX, valid UTF-8). */
function wellEncodedQuery(url: string): boolean {
  const start = url.indexOf('?');
  if (start === -1 || !url.includes('%', start)) return true;
  try {
    decodeURIComponent(url.slice(start + 1)); // leaves & and = alone; throws URIError on bad input
    return true;
  } catch {
    return false;
  }
}

export function requireUsableParameters(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    if (!wellEncodedQuery(request.url)) {
      throw new CollectorError(
        'invalid_url',
        'the query string is not valid percent-encoding (each % takes two hex digits, of UTF-8 bytes)',
      );
    }
  });
  app.addHook('preHandler', async (request) => {
    if (roleForPath(request.url) !== null) {
      knownParameters(request.url, request.routeOptions.schema);
    }
    check(request.params, 'path parameter');
    check(request.query, 'query parameter');
    decimalNumbers(request.query, request.url);
  });
}
