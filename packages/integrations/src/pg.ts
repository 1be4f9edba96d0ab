// `@tidewatch/integrations/pg`: one call attaches the agent to a node-postgres Client or Pool.
//
//   const pool = new pg.Pool({ connectionString });
//   instrumentPg(pool, agent);
//
// A client gets a timed wrapper on its own query() (the class is left alone); a pool instruments
// each client it connects (its 'connect' event) and those it already holds, so pool.query() and
// pool.connect() + client.query() are both counted. Promise and callback styles are kept as they
// are. Submittables (pg-cursor, pg-query-stream, a `new Query()`) pass through unrecorded.
import type { Agent } from '@tidewatch/agent';
import type { Client, Pool, PoolClient } from 'pg';
import { type Attachment, DETACHED, type IntegrationOptions, nowMs, QueryRecorder } from './recorder.js';

export { type Attachment, DDL_EVENT, type IntegrationOptions, METRICS } from './recorder.js';

type Query = (this: unknown, config?: unknown, values?: unknown, callback?: unknown) => unknown;
type Callback = (error: unknown, result: unknown) => void;
interface QueryHolder {
  query: Query;
}

/**
 * Records every query of `target` through `agent`: `db.queries`, `db.query.duration` (seconds),
 * `db.query.errors` by SQLSTATE class and `db.ddl` counters and events for CREATE/DROP (object
 * kind only), labelled `system: 'postgresql'` plus `options.labels`. DDL is reported when the
 * statement succeeds (a later ROLLBACK of an explicit transaction is not seen).
 */
export function instrumentPg(
  target: Client | Pool | PoolClient,
  agent: Agent,
  options: IntegrationOptions = {},
): Attachment {
  // Telemetry off: nothing is put on the driver, so it runs exactly as without us.
  if (!agent.enabled) return DETACHED;
  const recorder = new QueryRecorder(agent, 'postgresql', options);
  const restore = new Map<QueryHolder, () => void>();
  const attach = (client: unknown) => {
    const holder = client as QueryHolder;
    if (!restore.has(holder)) restore.set(holder, instrumentClient(holder, recorder));
  };
  // A pool closes idle clients (every 10 s by default) and opens new ones: forget those it removed.
  const forget = (client: unknown) => restore.delete(client as QueryHolder);
  let pool: Pool | null = null;
  let unwrapPool = () => {};
  if (isPool(target)) {
    pool = target;
    unwrapPool = instrumentPoolQuery(pool as unknown as QueryHolder, recorder);
    pool.on('connect', attach);
    pool.on('remove', forget);
    // Clients connected before the attach call: pg-pool keeps them in _clients (not a public API,
    // hence the guard; attach right after creating the pool and this list is empty anyway).
    const held = (pool as unknown as { _clients?: unknown })._clients;
    if (Array.isArray(held)) for (const client of held) attach(client);
  } else attach(target);
  return {
    detach() {
      unwrapPool();
      pool?.off('connect', attach);
      pool?.off('remove', forget);
      for (const undo of restore.values()) undo();
      restore.clear();
    },
  };
}

function isPool(target: Client | Pool | PoolClient): target is Pool {
  return 'totalCount' in target && 'idleCount' in target;
}

/** Puts the timed query() on one client; returns what undoes it. */
function instrumentClient(client: QueryHolder, recorder: QueryRecorder): () => void {
  const wasOwn = Object.hasOwn(client, 'query');
  const original = client.query;
  let active = true;
  const timedQuery = function (this: unknown, config?: unknown, values?: unknown, callback?: unknown) {
    // Not ours to time: a submittable, a missing query, or a callback that is not a function (pg
    // throws a TypeError for those at once, and so it still should).
    if (!active || !isQueryText(config) || !callable(values) || !callable(callback)) {
      return original.call(this, config, values, callback);
    }
    const start = nowMs();
    const sql = typeof config === 'string' ? config : (config as { text?: unknown }).text;
    // Callback style: (config, callback) or (config, values, callback).
    const given = typeof values === 'function' ? values : callback;
    if (typeof given === 'function') {
      const timed = timedCallback(given as Callback, start, sql, recorder);
      return callLeavingConfig(original, this, config, given === values ? undefined : values, timed);
    }
    const inConfig = typeof config === 'object' ? (config as { callback?: unknown }).callback : undefined;
    if (typeof inConfig === 'function') {
      // A copy with the same prototype and accessors (a config class with `get text()` must still
      // work), whose callback is timed.
      const copy = configCopy(config as object, timedCallback(inConfig as Callback, start, sql, recorder));
      return original.call(this, copy, values);
    }
    if (inConfig !== undefined && inConfig !== null) return original.call(this, config, values, callback);
    // Promise style: pg is called in its callback style and our promise stands in for the one pg
    // would have made (pg's own takes two closures and a catch; chaining a then() on it cost
    // ~250 ns more per query, this ~300 ns less). Like pg's, it settles with pg's value or error, an
    // ignored rejection stays unhandled, and an error's stack is taken again in a catch so that it
    // leads back to the caller instead of to the socket.
    // The promise class the client was configured with (pg's `Promise` option), as pg would use.
    const PromiseClass = (this as { _Promise?: PromiseConstructor } | undefined)?._Promise ?? Promise;
    return promiseOf(PromiseClass, (settle) =>
      callLeavingConfig(original, this, config, values, (error: unknown, result: unknown) => {
        if (error) failed(recorder, start, error);
        else recorder.succeeded(start, sql, result);
        settle(error, result);
      }),
    );
  };
  client.query = timedQuery;
  return () => {
    active = false;
    unwrap(client, timedQuery, original, wasOwn);
  };
}

/**
 * Calls pg with our callback, and takes that callback back off the caller's config object: pg
 * before 8.23 writes the callback it is given onto the config (normalizeQueryConfig), so a config
 * reused for its next call carried our stale callback, which made that call answer undefined
 * instead of its rows. pg reads it synchronously, in the call.
 */
function callLeavingConfig(
  original: Query,
  self: unknown,
  config: unknown,
  values: unknown,
  callback: Callback,
): unknown {
  // pg before 8.23 writes the callback onto the config: a frozen one (Object.freeze on a shared
  // constant) goes to pg as a copy, which takes it.
  if (typeof config === 'object' && config !== null && !Object.isExtensible(config)) {
    config = configCopy(config);
  }
  const target = typeof config === 'object' && config !== null ? (config as { callback?: unknown }) : null;
  const had = target !== null && Object.hasOwn(target, 'callback');
  const before = target?.callback;
  const returned =
    values === undefined
      ? original.call(self, config, callback)
      : original.call(self, config, values, callback);
  if (target !== null && target.callback === callback) {
    if (had) target.callback = before;
    else delete target.callback;
  }
  return returned;
}

/**
 * A copy of a query config with the same prototype and accessors (a config class with `get text()`
 * must still work), extensible, whose `callback` is writable (and is `callback` when given): a
 * frozen config's own descriptors would refuse the timed callback.
 */
function configCopy(config: object, callback?: Callback): object {
  const descriptors = Object.getOwnPropertyDescriptors(config);
  if (callback !== undefined || 'callback' in descriptors) {
    descriptors['callback'] = {
      value: callback ?? descriptors['callback']?.value,
      writable: true,
      configurable: true,
      enumerable: true,
    };
  }
  return Object.create(Object.getPrototypeOf(config) as object | null, descriptors) as object;
}

/**
 * Takes `wrapper` off `holder`, putting back what was there. Another wrapper (a second
 * attachment) put on top of ours stays and keeps working; ours is then a pass-through below it.
 */
function unwrap(holder: QueryHolder, wrapper: Query, original: Query, wasOwn: boolean): void {
  if (holder.query !== wrapper) return;
  if (wasOwn) holder.query = original;
  else delete (holder as Partial<QueryHolder>).query;
}

/**
 * The promise a promise-style call gets, settled by the callback `call` hands to pg, with the
 * error's stack taken again (restack). `call` runs outside the promise's executor: what pg throws
 * at once (a TypeError for a bad config) reaches the caller as without us, not as a rejection.
 */
function promiseOf(PromiseClass: PromiseConstructor, call: (settle: Callback) => unknown): Promise<unknown> {
  let settle: Callback = () => {};
  const promise = new PromiseClass((resolve, reject) => {
    settle = (error, result) => (error ? reject(error) : resolve(result));
  });
  call(settle);
  return promise.catch(restack);
}

/**
 * What pg's promise does with an error: its stack, taken again here, shows the caller's awaits.
 * Without this function's own frame, so that the stack does not start in Tidewatch (an error
 * tracker grouping by top frame would file every database error under it).
 */
function restack(error: unknown): never {
  if (error instanceof Error) Error.captureStackTrace(error, restack);
  throw error;
}

/**
 * Absent, a function or an object (a values array): what pg takes in its second and third place.
 * Anything else (a string where the callback goes) makes pg throw at once, so it goes to pg as is.
 */
function callable(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || (typeof value === 'object' && value !== null);
}

/**
 * A string or a `{ text }` config: what we time. The rest goes to pg untouched: a submittable, and
 * a missing query (pg throws synchronously for it, and so it should still).
 */
function isQueryText(config: unknown): boolean {
  if (typeof config === 'string') return true;
  return (
    typeof config === 'object' &&
    config !== null &&
    typeof (config as { submit?: unknown }).submit !== 'function'
  );
}

/** Errors a client's timed query() recorded: pool.query() must not record them again. */
const recorded = new WeakSet<object>();

function failed(recorder: QueryRecorder, start: number, error: unknown): void {
  recorder.failed(start, error);
  if (typeof error === 'object' && error !== null) recorded.add(error);
}

/**
 * pool.query() fails without any client query when the pool cannot connect (the database is
 * down, a bad password, `connectionTimeoutMillis` passed while waiting for a client): such a
 * failure is recorded here, timed from the call; every other query is recorded by its client.
 */
function instrumentPoolQuery(pool: QueryHolder, recorder: QueryRecorder): () => void {
  const wasOwn = Object.hasOwn(pool, 'query');
  const original = pool.query;
  let active = true;
  const observe =
    (start: number, callback: Callback): Callback =>
    (error, result) => {
      if (error && !(typeof error === 'object' && recorded.has(error))) recorder.failed(start, error);
      callback(error, result);
    };
  const poolQuery = function (this: unknown, config?: unknown, values?: unknown, callback?: unknown) {
    if (!active || !isQueryText(config) || !callable(values) || !callable(callback)) {
      return original.call(this, config, values, callback);
    }
    const inConfig = typeof config === 'object' ? (config as { callback?: unknown }).callback : undefined;
    if (inConfig !== undefined && inConfig !== null) return original.call(this, config, values, callback);
    const start = nowMs();
    if (typeof values === 'function') return original.call(this, config, observe(start, values as Callback));
    if (typeof callback === 'function') {
      return original.call(this, config, values, observe(start, callback as Callback));
    }
    // Promise style through pg-pool's callback style, as for clients (an ignored rejection stays
    // unhandled; pg-pool's own promise also takes the stack again).
    const PromiseClass = (this as { Promise?: PromiseConstructor } | undefined)?.Promise ?? Promise;
    return promiseOf(PromiseClass, (settle) => original.call(this, config, values, observe(start, settle)));
  };
  pool.query = poolQuery;
  return () => {
    active = false;
    unwrap(pool, poolQuery, original, wasOwn);
  };
}

function timedCallback(callback: Callback, start: number, sql: unknown, recorder: QueryRecorder): Callback {
  return (error, result) => {
    if (error) failed(recorder, start, error);
    else recorder.succeeded(start, sql, result);
    callback(error, result);
  };
}
