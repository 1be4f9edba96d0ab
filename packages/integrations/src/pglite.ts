// `@tidewatch/integrations/pglite`: one call attaches the agent to a PGlite instance.
//
//   const db = new PGlite();
//   instrumentPGlite(db, agent);
//
// It puts timed wrappers on the instance (not the class) for query() (and so sql``), exec() and
// transaction(), whose transaction object gets the same wrappers for its query(), sql`` and exec().
// The caller's code, results and errors stay exactly as they were.
import type { PGliteInterface, Transaction } from '@electric-sql/pglite';
import type { Agent } from '@tidewatch/agent';
import type { DdlStatement } from './ddl.js';
import { type Attachment, DETACHED, type IntegrationOptions, nowMs, QueryRecorder } from './recorder.js';

export { type Attachment, DDL_EVENT, type IntegrationOptions, METRICS } from './recorder.js';

type Method = (this: unknown, a?: unknown, b?: unknown, c?: unknown) => Promise<unknown>;
type Instrumented = 'query' | 'exec' | 'transaction';

/**
 * Records every query()/sql``/exec() (also inside transaction()) of `db` through `agent`: the
 * `db.queries` counter, the `db.query.duration` histogram (seconds), `db.query.errors` by SQLSTATE
 * class, and `db.ddl` counters and events for CREATE/DROP (object kind only; DDL inside a
 * transaction() is reported once it committed). Labels: `system: 'pglite'` plus `options.labels`.
 */
export function instrumentPGlite(
  db: PGliteInterface,
  agent: Agent,
  options: IntegrationOptions = {},
): Attachment {
  // Telemetry off: nothing is put on the instance, so it runs exactly as without us.
  if (!agent.enabled) return DETACHED;
  const recorder = new QueryRecorder(agent, 'pglite', options);
  const target = db as unknown as Record<Instrumented, Method>;
  const own = (['query', 'exec', 'transaction'] as const).map(
    (name) => [name, Object.hasOwn(target, name), target[name]] as const,
  );
  const state = { active: true };
  target.query = timed(target.query, recorder, undefined, state);
  target.exec = timed(target.exec, recorder, undefined, state);
  const transaction = target.transaction;
  target.transaction = function (this: unknown, callback: unknown) {
    if (typeof callback !== 'function' || !state.active) return transaction.call(this, callback);
    const pending: DdlStatement[] = [];
    const body = (tx: Transaction) => callback(instrumentTransaction(tx, recorder, pending));
    return transaction.call(this, body).then((value) => {
      recorder.emitDdl(pending); // committed: the objects exist now
      return value;
    });
  };
  const instrumented = new Set<Method>([target.query, target.exec, target.transaction]);
  return {
    detach() {
      state.active = false;
      // A second attachment on top of this one keeps working: ours stays below it as a pass-through.
      if (own.some(([name]) => !instrumented.has(target[name]))) return;
      // Last added, first removed: V8 then returns the instance to its shape from before
      // (deleting in any other order leaves it a dictionary of properties, slower for good).
      for (const [name, wasOwn, original] of own.toReversed()) {
        if (wasOwn) target[name] = original;
        else delete (target as Partial<Record<Instrumented, Method>>)[name];
      }
    },
  };
}

function instrumentTransaction(
  tx: Transaction,
  recorder: QueryRecorder,
  pending: DdlStatement[],
): Transaction {
  const target = tx as unknown as Record<'query' | 'exec' | 'sql' | 'rollback', Method>;
  target.query = timed(target.query, recorder, pending);
  target.exec = timed(target.exec, recorder, pending);
  const sql = target.sql as (this: unknown, strings: unknown, ...params: unknown[]) => Promise<unknown>;
  target.sql = function (this: unknown, strings: unknown, ...params: unknown[]) {
    const start = nowMs();
    return observed(sql.call(this, strings, ...params), start, strings, recorder, pending);
  };
  const rollback = target.rollback;
  target.rollback = function (this: unknown) {
    pending.length = 0; // rolled back: nothing was created or dropped
    return rollback.call(this);
  };
  return tx;
}

// Fixed arity (PGlite's methods take at most three arguments) so that a call allocates no rest array.
function timed(
  original: Method,
  recorder: QueryRecorder,
  pending?: DdlStatement[],
  state: { active: boolean } = { active: true },
): Method {
  return function (this: unknown, a?: unknown, b?: unknown, c?: unknown) {
    if (!state.active) return original.call(this, a, b, c);
    const start = nowMs();
    return observed(original.call(this, a, b, c), start, a, recorder, pending);
  };
}

/**
 * The caller gets a promise that settles exactly like the original (same value, same error) once
 * the outcome is recorded. Chaining rather than observing on the side keeps an ignored rejection
 * unhandled, as it was without the integration. The two closures are the one allocation timing needs.
 */
function observed(
  promise: Promise<unknown>,
  start: number,
  sql: unknown,
  recorder: QueryRecorder,
  pending: DdlStatement[] | undefined,
): Promise<unknown> {
  return promise.then(
    (result) => {
      recorder.succeeded(start, sql, result, pending);
      return result;
    },
    (error: unknown) => {
      recorder.failed(start, error);
      throw error;
    },
  );
}
