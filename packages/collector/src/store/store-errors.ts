// Which failures of a query, admin or ops request are the store's state (unreachable, out of
// connections, locked, full, a statement cut short) rather than a bug of ours: those are answered
// 503 `store_unavailable` (try again later) instead of 500 `internal`, with what the store said,
// and logged like an outage (once per 10 s), not with a stack per request.
import { withDeadline } from '../deadline.js';
import { CollectorError } from '../errors.js';

/**
 * SQLSTATE classes of a PostgreSQL server that is there but cannot answer now: 08 connection
 * exception, 40 transaction rollback (serialization, deadlock), 53 insufficient resources (too many
 * connections, disk full), 55 object not in prerequisite state (lock not available), 57 operator
 * intervention (statement timeout, shutdown).
 */
const UNAVAILABLE_SQLSTATE_CLASSES = new Set(['08', '40', '53', '55', '57']);
/** better-sqlite3's codes for a database that is busy, full or unwritable just now. */
const UNAVAILABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL)/;
/** Socket-level failures (PostgreSQL, ClickHouse over HTTP). */
const UNAVAILABLE_SOCKET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);
/**
 * ClickHouse's codes for a server that is there but cannot answer now: 159 timeout exceeded, 160
 * too slow, 202 too many simultaneous queries, 203 no free connection, 209 socket timeout, 210
 * network error, 241 memory limit exceeded, 242 table is read-only, 252 too many parts, 319
 * unknown status of insert, 394 query was cancelled, 425 system error, 439 cannot schedule task,
 * 473 deadlock avoided.
 */
const UNAVAILABLE_CLICKHOUSE = new Set([
  159, 160, 202, 203, 209, 210, 241, 242, 252, 319, 394, 425, 439, 473,
]);

/** The ClickHouse error code of a failure: the client's own, or the server's text (18.16 has no type). */
function clickHouseCode(code: string, message: string): number | null {
  if (/^\d{1,4}$/.test(code)) return Number(code);
  const found = /\bCode: (\d{1,4})\b/.exec(message);
  return found ? Number(found[1]) : null;
}

/** node-postgres and pg-pool failures that carry no code, and the ClickHouse client's timeout. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Timeout error|socket hang up/i;

/** Extra words for a failure whose cause an operator can fix where the store is configured. */
function hint(code: string, message: string): string {
  if (code === '57014' && /statement timeout/.test(message))
    return ' (a statement_timeout set on the collector’s role or database cut it short; see docs/deploy.md)';
  if (code === '53300')
    return ' (the role or server has no connection left; see the pool size in docs/deploy.md)';
  if (/prepared statement "tw_\d+"/.test(message))
    return ' (a connection pooler in transaction mode, such as PgBouncer without max_prepared_statements, cannot keep the collector’s prepared statements: add ?prepare=off to the store URL)';
  return '';
}

/** What the store said, with a hint when its cause is in the store's configuration. */
export function storeReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return `${error.message}${hint(String((error as { code?: unknown }).code ?? ''), error.message)}`;
}

/** The 503 for a request the store could not serve, or null when `error` is not the store's state. */
export function storeUnavailable(error: unknown): CollectorError | null {
  if (!(error instanceof Error) || error instanceof CollectorError) return null;
  // An error that already carries an HTTP status is the request's (a client gone mid-body).
  if (typeof (error as { statusCode?: unknown }).statusCode === 'number') return null;
  const code = String((error as { code?: unknown }).code ?? '');
  const unavailable =
    (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2))) ||
    UNAVAILABLE_SQLITE.test(code) ||
    UNAVAILABLE_SOCKET.has(code) ||
    UNAVAILABLE_CLICKHOUSE.has(clickHouseCode(code, error.message) ?? -1) ||
    UNAVAILABLE_MESSAGE.test(error.message);
  if (!unavailable) return null;
  return new CollectorError(
    'store_unavailable',
    `the store could not answer this request; nothing was changed, try again later (${storeReason(error)})`,
    503,
  );
}

/**
 * A read a write depends on, bounded by the store timeout (0: no limit): its answer, or a 503
 * store_unavailable saying `failure` and what the store said (a lock held the request as long).
 */
export async function boundedStoreRead<T>(read: Promise<T>, timeoutMs: number, failure: string): Promise<T> {
  const within = `the store did not answer within ${Math.round(timeoutMs / 1000)} s`;
  try {
    return await withDeadline(read, timeoutMs, within);
  } catch (error) {
    throw new CollectorError('store_unavailable', `${failure} (${storeReason(error)})`, 503);
  }
}
