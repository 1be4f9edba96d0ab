// What the database integrations record, shared by every driver: the metric and event names, their
// labels and units, and the hot path that turns one settled query into counter and histogram updates.
import type { Agent, Counter, Histogram, Labels } from '@tidewatch/agent';
import { type DdlStatement, ddlStatements } from './ddl.js';

export interface IntegrationOptions {
  /**
   * Extra labels on every series this integration creates, bound once at attach time: for example
   * `{ db: 'orders' }` when one process attaches several databases. Keep them few and constant.
   */
  labels?: Labels;
}

/** Returned by every attach call: puts the original methods back; recording stops. */
export interface Attachment {
  detach(): void;
}

/** What attaching to a disabled agent returns: nothing was put on the driver, nothing to undo. */
export const DETACHED: Attachment = Object.freeze({ detach() {} });

export const METRICS = {
  queries: 'db.queries',
  duration: 'db.query.duration',
  errors: 'db.query.errors',
  ddl: 'db.ddl',
} as const;
export const DDL_EVENT = 'db.ddl';

// SQLSTATE classes (PostgreSQL 17, appendix A). A code's first two characters are its class; an
// error label is one of these, `other` (a code outside the list) or `none` (no SQLSTATE: a broken
// connection, a closed transaction). So the error series are bounded whatever the errors say.
const SQLSTATE_CLASSES = new Set(
  (
    '00 01 02 03 08 09 0A 0B 0F 0L 0P 0Z 20 21 22 23 24 25 26 27 28 2B 2D 2F 34 38 39 3B 3D 3F ' +
    '40 42 44 53 54 55 57 58 72 F0 HV P0 XX'
  ).split(' '),
);

/** The SQLSTATE class label of a thrown value: `42` for a syntax error, `23` for a unique violation. */
export function sqlstateClass(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code !== 'string' || code.length !== 5) return 'none';
  const cls = code.slice(0, 2);
  return SQLSTATE_CLASSES.has(cls) ? cls : 'other';
}

const hrtime = process.hrtime;

/**
 * Milliseconds on the monotonic clock, for timing queries. process.hrtime() rather than
 * performance.now() (the same clock): between the queries of a real database the CPU caches are
 * cold, and there performance.now()'s longer path (a brand check, then the same binding) cost
 * ~550 ns per query's two reads against ~85 ns (two reads after an 8 MiB cache sweep,
 * docs/DESIGN-LOG.md), for a two-number array of young garbage per read. The result is
 * exact to a few ns for years of uptime.
 */
export function nowMs(): number {
  const t = hrtime();
  return t[0] * 1e3 + t[1] / 1e6;
}

/** The text a driver ran, when it is known (a string, a `{ text }` config, a template's strings). */
export type SqlSource = unknown;

/**
 * One per attached database. Handles are bound once here (the query counter and the latency
 * histogram at construction, one error counter per SQLSTATE class and one DDL counter per
 * action/object on first use), so that a query costs two handle updates and no lookup.
 */
export class QueryRecorder {
  private readonly queries: Counter;
  private readonly duration: Histogram;
  private readonly errorsByClass = new Map<string, Counter>();
  private readonly ddlByKind = new Map<string, Counter>();
  private readonly labels: Labels;

  constructor(
    private readonly agent: Agent,
    private readonly system: string,
    options: IntegrationOptions = {},
  ) {
    this.labels = { ...options.labels, system };
    this.queries = agent.counter(METRICS.queries, this.labels, {
      unit: '{query}',
      description: 'Queries and exec() calls that finished (successfully or not)',
    });
    this.duration = agent.histogram(METRICS.duration, this.labels, {
      unit: 's',
      description: 'Query latency as the caller sees it, from the call to the answer (queueing included)',
    });
    agent.describe(METRICS.errors, { unit: '{error}', description: 'Failed queries by SQLSTATE class' });
    agent.describe(METRICS.ddl, {
      unit: '{statement}',
      description: 'Successful CREATE/DROP statements by object kind (table, view, index, …)',
    });
  }

  // The hot path: called once per settled query with the nowMs() taken before the call.
  // Two handle updates and one clock read (its two-number array is the only allocation); never
  // throws (the caller's query must not notice us).
  succeeded(startMs: number, sql: SqlSource, result: unknown, pending?: DdlStatement[]): void {
    try {
      this.settle(startMs);
      if (isDdlResult(result) || (hasSelectTag(result) && mayStartWithCreate(sql))) this.ddl(sql, pending);
    } catch {
      // Nothing the integration does may reach the query's caller.
    }
  }

  failed(startMs: number, error: unknown): void {
    try {
      this.settle(startMs);
      this.errorCounter(sqlstateClass(error)).inc();
    } catch {
      // As above.
    }
  }

  /** DDL seen inside a transaction is reported once the transaction committed. */
  emitDdl(statements: readonly DdlStatement[]): void {
    try {
      for (const s of statements) {
        this.ddlCounter(s).inc();
        // With the attachment's labels (`db: 'orders'`), so that two attached databases' DDL
        // can be told apart.
        this.agent.event(DDL_EVENT, { ...this.labels, action: s.action, object: s.object });
      }
    } catch {
      // As above.
    }
  }

  private settle(startMs: number): void {
    this.queries.inc();
    this.duration.record((nowMs() - startMs) / 1000);
  }

  private ddl(sql: SqlSource, pending: DdlStatement[] | undefined): void {
    const text = typeof sql === 'string' ? sql : Array.isArray(sql) ? sql.join('$1') : null;
    if (text === null) return;
    const statements = ddlStatements(text, { liveQueryObjects: this.system === 'pglite' });
    if (pending) pending.push(...statements);
    else this.emitDdl(statements);
  }

  private errorCounter(cls: string): Counter {
    let counter = this.errorsByClass.get(cls);
    if (!counter) {
      counter = this.agent.counter(METRICS.errors, { ...this.labels, sqlstate_class: cls });
      this.errorsByClass.set(cls, counter);
    }
    return counter;
  }

  private ddlCounter(s: DdlStatement): Counter {
    const key = `${s.action} ${s.object}`;
    let counter = this.ddlByKind.get(key);
    if (!counter) {
      counter = this.agent.counter(METRICS.ddl, { ...this.labels, action: s.action, object: s.object });
      this.ddlByKind.set(key, counter);
    }
    return counter;
  }
}

/**
 * PostgreSQL tags `CREATE TABLE … AS` and `CREATE MATERIALIZED VIEW … AS` (with data) `SELECT`, like
 * a query: those are told apart by their text, which is read only when it may start with CREATE
 * (its first character after blanks is a c, or a comment), so a plain SELECT costs one character
 * test. A multi-statement text (an array of results) is read whenever it mentions create.
 */
function hasSelectTag(result: unknown): boolean {
  if (Array.isArray(result)) return result.some(hasSelectTag);
  return (
    typeof result === 'object' && result !== null && (result as { command?: unknown }).command === 'SELECT'
  );
}

function mayStartWithCreate(sql: SqlSource): boolean {
  const text = typeof sql === 'string' ? sql : Array.isArray(sql) ? sql[0] : null;
  if (typeof text !== 'string') return false;
  let i = 0;
  while (i < text.length && text.charCodeAt(i) <= 32) i++;
  const c = text.charCodeAt(i);
  // c or C, or a comment (- or /) that may hide a CREATE; a multi-statement text may have one later.
  return c === 99 || c === 67 || c === 45 || c === 47 || (text.includes(';') && /create/i.test(text));
}

/** PostgreSQL's command tag says CREATE or DROP (for one result, or any of a multi-statement run). */
function isDdlResult(result: unknown): boolean {
  if (Array.isArray(result)) return result.some(isDdlResult);
  if (typeof result !== 'object' || result === null) return false;
  const command = (result as { command?: unknown }).command;
  return command === 'CREATE' || command === 'DROP';
}
